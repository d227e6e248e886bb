"""Make a copy of autograd_mini with some reference bodies removed (invariant 6).

A fenced region (``### BEGIN SOLUTION`` .. ``### END SOLUTION``) belongs to the registry name of the
function around it: ``@reference("name")`` on a function, or ``@op("name")`` on a class for its
``forward``/``backward`` methods (``"name.forward"``). Regions of the requested names become
``raise NotImplementedError(...)`` at the fence's indentation; everything else stays as it is.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def _decorator_name(decorator: ast.expr, func: str) -> str | None:
    if isinstance(decorator, ast.Call) and decorator.args and isinstance(decorator.args[0], ast.Constant):
        called = decorator.func.id if isinstance(decorator.func, ast.Name) else getattr(decorator.func, "attr", "")
        if called == func and isinstance(decorator.args[0].value, str):
            return decorator.args[0].value
    return None


def registry_spans(source: str) -> list[tuple[str, int, int]]:
    """(registry name, first line, last line) of every registered function in ``source``."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                name = _decorator_name(dec, "reference")
                if name:
                    spans.append((name, node.lineno, node.end_lineno))
        if isinstance(node, ast.ClassDef):
            for dec in node.decorator_list:
                name = _decorator_name(dec, "op")
                if name:
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef):
                            spans.append((f"{name}.{item.name}", item.lineno, item.end_lineno))
    return spans


def stub(indent: str, owner: str) -> str:
    """What a removed reference raises: a NotImplementedError whose type carries the registry name, so the
    harness recognises it by type (never by its message) and says "your code calls autograd_mini's own ..."."""
    return (f'{indent}raise type("StrippedReference", (NotImplementedError,), {{"reference_name": {owner!r}}})'
            f'("{owner} is removed while it is graded")\n')


def _in(owner) -> str:
    return f" (in the body of {owner!r})" if owner else ""


def strip_source(source: str, names: set[str]) -> tuple[str, set[str]]:
    """``source`` with the fenced regions of ``names`` replaced by a raise; also the names stripped."""
    lines = source.splitlines(keepends=True)
    spans = registry_spans(source)
    out, stripped, i = [], set(), 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith(BEGIN):
            owner = next((n for n, a, b in spans if a <= i + 1 <= b), None)
            end = i + 1  # the fence closes before the next one opens (comments trail a function's last line)
            while end < len(lines) and not lines[end].strip().startswith((END, BEGIN)):
                end += 1
            if end == len(lines) or not lines[end].strip().startswith(END):
                raise ValueError(f"{BEGIN} on line {i + 1} has no {END} after it{_in(owner)}")
            if owner in names:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(stub(indent, owner))
                stripped.add(owner)
                i = end + 1
                continue
        out.append(line)
        i += 1
    return "".join(out), stripped


def make_stripped_copy(package_dir: Path, dest: Path, names) -> set[str]:
    """Copy ``package_dir`` to ``dest/<package>`` with ``names`` stripped; returns the names found."""
    package_dir = Path(package_dir)
    target = Path(dest) / package_dir.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(package_dir, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    found: set[str] = set()
    for path in target.rglob("*.py"):
        text = path.read_text()
        if BEGIN in text:
            try:
                new, stripped = strip_source(text, set(names))
            except ValueError as error:
                raise ValueError(f"{package_dir.name}/{path.relative_to(target)}: {error}") from None
            if stripped:
                path.write_text(new)
                found |= stripped
    return found

"""``grader student-edition OUT``: the course as a student clones it, with no answer readable in it.

OUT holds the released notebooks (generated from solutions/ as ``grader release`` does), the checks (grader/
without the instructor's pipeline), and an autograd_mini in which every function holding a fenced reference
body (``### BEGIN SOLUTION`` .. ``### END SOLUTION``) keeps its signature and docstring but whose body is one
fenced line, ``return compiled_reference("<registry name>", globals())(<its arguments>)``. The original
functions ship as marshalled Python bytecode (``autograd_mini/_references.bin``), loaded by
``autograd_mini/_compiled.py``: the library works as a whole (lesson 05 runs without lesson 03 done), and the
fence stays where ``sandbox/strip.py`` looks for it, so ``grader check`` in OUT still removes what it grades.

Bytecode keeps casual reading and copy-paste away from the answers; it does not stop a determined student,
since Python bytecode can be disassembled (``dis``) and decompiled.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import marshal
import re
import shutil
import sys
import types
from pathlib import Path

from grader import __version__
from grader.config import REPO
from grader.sandbox.strip import BEGIN, END, registry_spans
from grader.spec import GRADER_DIR

TEMPLATE = GRADER_DIR / "student_edition_template"
MARKER = ".student-edition"
BLOB = "_references.bin"
LOADER = "autograd_mini._compiled"
# Of the instructor's pipeline (release, collect, autograde, gradebook, feedback, report ...) a student needs only
# what `grader check` runs; sandbox/, harness/, checks/ and lessons/ stay whole.
PIPELINE_FOR_STUDENTS = ("__init__.py", "grade.py")
INSTRUCTOR_ONLY = ("README.md", "student_edition_template")
# Tools the repository's own tests need and a student's do not (browser tests, property tests, xdist).
NOT_FOR_STUDENTS = ("playwright", "hypothesis", "pytest-xdist")


def build(out: Path, source: Path = REPO / "solutions") -> dict:
    """Write the student edition to ``out`` (empty, absent or an earlier edition); return what it holds."""
    out = _fresh(Path(out))
    hidden = _library(REPO / "autograd_mini", out / "autograd_mini")
    _grader(GRADER_DIR, out / "grader")
    notebooks = _notebooks(Path(source), out / "notebooks")
    _project(out)
    summary = {"version": __version__, "python": _python(), "hidden": sorted(hidden),
               "notebooks": [p.name for p in notebooks]}
    (out / MARKER).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _fresh(out: Path) -> Path:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise FileExistsError(f"{out} is not empty and is not a student edition: choose another folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


# ---- autograd_mini: fenced functions become calls into compiled bytecode -------------------------------

def _function_at(tree: ast.AST, line: int):
    """The innermost function (with its qualified name) whose lines hold ``line``."""
    best = None

    def visit(node, prefix):
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if child.lineno <= line <= child.end_lineno and not isinstance(child, ast.ClassDef):
                    best = (child, name)
                inner = ".<locals>." if not isinstance(child, ast.ClassDef) else "."
                visit(child, name + inner)
            else:
                visit(child, prefix)

    visit(tree, "")
    return best


def _forwarding_call(args: ast.arguments) -> str:
    """``a, b, *rest, key=key, **more``: the call that passes a function's own arguments on unchanged."""
    parts = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg:
        parts.append("*" + args.vararg.arg)
    parts += [f"{a.arg}={a.arg}" for a in args.kwonlyargs]
    if args.kwarg:
        parts.append("**" + args.kwarg.arg)
    return ", ".join(parts)


def _code_named(code: types.CodeType, qualname: str) -> list:
    found = [code] if code.co_qualname == qualname else []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found += _code_named(const, qualname)
    return found


def _anonymous(code: types.CodeType, label: str) -> types.CodeType:
    """``code`` (and the code nested in it) with a file name that points to no source."""
    consts = tuple(_anonymous(c, label) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=label, co_consts=consts)


def hide_references(source: str, filename: str) -> tuple[str, dict]:
    """``source`` with every function that holds a fenced body reduced to a call into compiled code, and
    registry name -> that function's code object (compiled from ``source`` as it was)."""
    tree = ast.parse(source)
    spans = registry_spans(source)
    lines = source.splitlines(keepends=True)
    functions: dict = {}  # qualname -> [node, owner, first line, last line of its fences]
    for number, line in enumerate(lines, 1):
        if not line.strip().startswith(BEGIN):
            continue
        found = _function_at(tree, number)
        owner = next((n for n, a, b in spans if a <= number <= b), None)
        if found is None or owner is None:
            raise ValueError(f"{filename}:{number}: {BEGIN} outside a registered function")
        end = next((i for i in range(number, len(lines)) if lines[i].strip().startswith(END)), None)
        if end is None:
            raise ValueError(f"{filename}:{number}: {BEGIN} has no {END} after it")
        node, qualname = found
        entry = functions.setdefault(qualname, [node, owner, number, 0])
        entry[3] = max(entry[3], end + 1)

    module = compile(source, filename, "exec")
    codes, replaced = {}, []
    for qualname, (node, owner, first_fence, last_fence) in functions.items():
        (code,) = _code_named(module, qualname)
        if code.co_freevars:
            raise ValueError(f"{filename}: {qualname} uses {code.co_freevars} from around it; "
                             "a compiled reference must be a plain function")
        codes[owner] = _anonymous(code, f"<compiled reference {owner}>")
        body = node.body
        has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str)
        first = min(body[1].lineno if has_doc else body[0].lineno, first_fence)
        indent = re.match(r"\s*", lines[first - 1]).group()
        stub = (f"{indent}{BEGIN}\n"
                f"{indent}return compiled_reference({owner!r}, globals())({_forwarding_call(node.args)})\n"
                f"{indent}{END}\n")
        replaced.append((first, max(node.end_lineno, last_fence), stub))
    for first, last, stub in sorted(replaced, reverse=True):
        lines[first - 1:last] = [stub]
    if replaced:
        lines.insert(_import_line(tree), f"from {LOADER} import compiled_reference\n")
    return "".join(lines), codes


def _import_line(tree: ast.Module) -> int:
    """Where the loader's import goes: after the docstring and the imports that open the module (0-based)."""
    after = 0
    for node in tree.body:
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]
        if docstring or isinstance(node, (ast.Import, ast.ImportFrom)):
            after = node.end_lineno
        else:
            break
    return after


def _library(package: Path, target: Path) -> set:
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    codes: dict = {}
    for path in sorted(target.rglob("*.py")):
        text = path.read_text()
        if BEGIN in text:
            new, found = hide_references(text, str(path.relative_to(target.parent)))
            path.write_text(new)
            codes.update(found)
    shutil.copy(TEMPLATE / "compiled_references.py", target / "_compiled.py")
    header = f"python {_python()}\n".encode() + importlib.util.MAGIC_NUMBER
    (target / BLOB).write_bytes(header + marshal.dumps(codes))
    return set(codes)


# ---- grader, notebooks and the project files -------------------------------------------------------------

def _grader(package: Path, target: Path) -> None:
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in INSTRUCTOR_ONLY:
        path = target / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in (target / "pipeline").iterdir():
        if path.name not in PIPELINE_FOR_STUDENTS:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _notebooks(source: Path, target: Path) -> list:
    from grader.pipeline.release import generate

    target.mkdir()
    written = []
    for notebook in sorted(source.glob("*.ipynb")):
        path = target / notebook.name
        path.write_text(generate(notebook))
        written.append(path)
    if not written:
        raise FileNotFoundError(f"no solution notebooks in {source}")
    return written


def _requirements(text: str) -> str:
    keep = [line for line in text.splitlines()
            if not any(re.match(rf"{re.escape(name)}\s*==", line) for name in NOT_FOR_STUDENTS)]
    return "\n".join(keep) + "\n"


def _project(out: Path) -> None:
    for name in ("README.md", "Makefile", "pyproject.toml", ".gitignore"):
        text = (TEMPLATE / name).read_text()
        (out / name).write_text(text.replace("@VERSION@", __version__).replace("@PYTHON@", _python()))
    shutil.copytree(TEMPLATE / "tests", out / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    (out / "requirements.txt").write_text(_requirements((REPO / "requirements.txt").read_text()))
    for name in ("LICENSE", "LICENSE-lessons.md", "CHANGELOG.md"):
        shutil.copy(REPO / name, out / name)
    (out / "jupyter").mkdir()
    shutil.copy(REPO / "jupyter" / "overrides.json", out / "jupyter" / "overrides.json")

"""Invariant 1: an exercise that is a piece of autograd_mini has one source of truth.

For every solution notebook in solutions/, every exercise plugged into autograd_mini must have fenced
lines (``### BEGIN SOLUTION`` .. ``### END SOLUTION``) identical to the fenced lines of its reference in
autograd_mini, found with ``registry.reference_of(name)`` and ``inspect.getsource``. Indentation is
compared relative to each block (a method's body sits deeper than a notebook function's).

An exercise names its registry entry in one place, the lesson's declaration (grader/lessons/lesson_NN.py):
an exercise whose id is a registry name implements it as ``function`` in its solution cell.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from pathlib import Path

import nbformat
import pytest

import autograd_mini
from autograd_mini import registry
from grader.spec import load_lesson

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))
SPECS = REPO / "grader" / "lessons"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

# Every module of the package, so that references registered outside autograd_mini/__init__'s imports count.
for module in pkgutil.walk_packages(autograd_mini.__path__, "autograd_mini."):
    if ".widgets" not in module.name:
        importlib.import_module(module.name)


def fenced_blocks(source: str) -> list[list[str]]:
    """The lines of every fenced region, each block dedented on its own, trailing spaces dropped."""
    blocks, current = [], None
    for line in source.splitlines():
        if line.strip().startswith(BEGIN):
            current = []
        elif line.strip().startswith(END):
            if current is not None:
                blocks.append([l.rstrip() for l in textwrap.dedent("\n".join(current)).splitlines()])
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def linked_exercises() -> list[tuple[str, tuple[str, ...], str | None, str]]:
    """(notebook stem, solution cell grade_ids, function, registry name) per plugged-in exercise
    (the declaration names the function: a cell may define several exercises)."""
    found = []
    for path in SOLUTIONS:
        lesson = load_lesson(SPECS, path.stem)
        for exercise in lesson.exercises if lesson else []:
            if exercise.id in registry.names():
                found.append((path.stem, (exercise.solution_cell,), exercise.function, exercise.id))
    return sorted(found)


def function_source(source: str, function: str) -> str:
    """The lines of ``def function`` up to the next top-level statement (so a closing fence is kept)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for k, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            end = tree.body[k + 1].lineno - 1 if k + 1 < len(tree.body) else len(lines)
            return "\n".join(lines[first - 1:end])
    raise AssertionError(f"the solution cells define no function {function!r}")


LINKED = linked_exercises()


def test_lesson_01s_exercises_are_all_linked_to_the_library():
    linked = {(function, name) for stem, _, function, name in LINKED if stem == "01_forward_pass"}
    assert linked == {("linear", "linear"), ("relu_forward", "relu.forward"), ("sigmoid_forward", "sigmoid.forward"),
                      ("tanh_forward", "tanh.forward"), ("softmax_forward", "softmax.forward"),
                      ("sequential_forward", "nn.sequential.forward")}


@pytest.mark.parametrize("stem, cells, function, name", LINKED, ids=[f"{s}:{n}" for s, _, _, n in LINKED])
def test_fenced_lines_equal_the_library_reference(stem, cells, function, name):
    nb = nbformat.read(str(REPO / "solutions" / f"{stem}.ipynb"), as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    missing = [c for c in cells if c not in by_id]
    assert not missing, f"{stem}: no cell with grade_id {missing}"
    notebook = fenced_blocks(function_source("\n".join(by_id[c].source for c in cells), function))
    reference = fenced_blocks(inspect.getsource(registry.reference_of(name)))
    assert reference, f"the reference of {name!r} has no ### BEGIN SOLUTION fence"
    differences = [f"  notebook:  {n}\n  library:   {r}" for n, r in zip(sum(notebook, []), sum(reference, [])) if n != r]
    assert notebook == reference, (f"{stem} {function} and autograd_mini's {name!r} differ:\n"
                                   + ("\n".join(differences) or f"{len(notebook)} vs {len(reference)} fenced blocks"))


def test_fenced_blocks_reads_every_region_and_dedents_each():
    assert function_source("import x\n\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n\ny = 2\n", "f") \
        == "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    source = "def f():\n    ### BEGIN SOLUTION\n    x = 1\n        # deeper\n    ### END SOLUTION\n    ### BEGIN SOLUTION\n    y = 2\n    ### END SOLUTION\n"
    assert fenced_blocks(source) == [["x = 1", "    # deeper"], ["y = 2"]]

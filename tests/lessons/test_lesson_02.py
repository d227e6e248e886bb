"""Lesson 02 (chain rule): its checks, its diagnoses, its notebook, and its grading spec.

* every reference implementation passes its check, visible and hidden;
* for every exercise, typical wrong implementations fail with the right diagnosis;
* the solution notebook carries the reference's fenced lines (invariant 1) and the spec's cells;
* (slow) the solution notebook runs headless in < 60 s with every graded cell passing, the released
  notebook fails only at the stubs, and the grader's pipeline gives full marks / 0.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograd_mini import numerical, value
from autograd_mini.registry import reference_of
from autograd_mini.value import graph_order, local_derivatives, topological_order
from grader.lessons import lesson_02

from notebook_run import run_notebook

REPO = Path(__file__).resolve().parents[2]
LESSON = "02_chain_rule"
SOURCE = REPO / "solutions" / f"{LESSON}.ipynb"
RELEASE = REPO / "notebooks" / f"{LESSON}.ipynb"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

REFERENCES = {
    "numerical_gradient": numerical.numerical_gradient,
    "add_local": value.add_local, "mul_local": value.mul_local, "pow_local": value.pow_local,
    "exp_local": value.exp_local, "tanh_local": value.tanh_local, "relu_local": value.relu_local,
    "topological_order": value.topological_order, "backward": value.backward,
}


# ---- the references pass ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(lesson_02.EXERCISES))
@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_reference_passes(name, hidden):
    result = lesson_02.check(name, REFERENCES[name], hidden=hidden)
    assert result.passed, result.message()
    assert result.lines and all("matches" in line for line in result.lines if line.startswith("vs "))


def test_every_exercise_compares_with_both_frameworks():
    for name in lesson_02.EXERCISES:
        labels = [o.label for o in lesson_02.make_check(name).oracles]
        assert any("PyTorch" in label for label in labels) and any("TensorFlow" in label for label in labels), name


def test_stub_is_reported_as_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for name in lesson_02.EXERCISES:
        result = lesson_02.check(name, stub)
        assert not result.passed and result.mistake == "not_implemented", name


# ---- typical mistakes get the right diagnosis ------------------------------------------------------

def _finite(kind):
    def numerical_gradient(f, x, h=None):
        h = numerical.default_step(x.dtype) if h is None else h
        if kind == "tiny_h":
            h = 1e-7
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            original = x[i]
            at = f(x)
            x[i] = original + h
            up = f(x)
            x[i] = original - h
            down = f(x)
            if kind != "no_restore":
                x[i] = original
            grad[i] = {"forward": (up - at) / h, "over_h": (up - down) / h}.get(kind, (up - down) / (2 * h))
        return grad
    return numerical_gradient


def _topo_recursive(root):
    order, seen = [], set()

    def visit(node):
        if node not in seen:
            seen.add(node)
            for parent in node.parents:
                visit(parent)
            order.append(node)
    visit(root)
    return order


def _topo_without_visited(root):
    order, stack = [], [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((parent, False) for parent in node.parents)
    return order


def _topo_preorder(root):
    order, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            order.append(node)
            stack.extend(node.parents)
    return order


def _backward(kind):
    def backward(root):
        if kind != "no_seed":
            root.grad = 1.0
        order = graph_order(root)
        for node in (order if kind == "not_reversed" else reversed(order)):
            for parent, local in zip(node.parents, local_derivatives(node)):
                if kind == "assign":
                    parent.grad = local * node.grad
                elif kind == "subtract":
                    parent.grad -= local * node.grad
                else:
                    parent.grad += local * node.grad
    return backward


MISTAKES = [
    # (exercise, wrong implementation, expected mistake key, words the diagnosis must contain)
    ("numerical_gradient", _finite("forward"), "forward_difference", "central difference"),
    ("numerical_gradient", _finite("over_h"), "over_h", "2 * h"),
    ("numerical_gradient", _finite("no_restore"), "exception", "put its original value back"),
    ("numerical_gradient", _finite("tiny_h"), "float32_step", "step is too small for float32"),
    ("add_local", lambda a, b, out: (1.0, -1.0), "sign", "rule for a - b"),
    ("add_local", lambda a, b, out: (b, a), "mul_rule", "rule for a * b"),
    ("mul_local", lambda a, b, out: (a, b), "swapped", "swapped"),
    ("mul_local", lambda a, b, out: (1.0, 1.0), "add_rule", "rule for a + b"),
    ("pow_local", lambda a, n, out: n * a**n, "forgot_minus_one", "n * a**(n - 1)"),
    ("pow_local", lambda a, n, out: a ** (n - 1), "forgot_factor", "exponent down as a factor"),
    ("exp_local", lambda a, out: a * out, "times_a", "exp(a) itself"),
    ("exp_local", lambda a, out: a, "input", "exp(a) itself"),
    ("tanh_local", lambda a, out: 1 - a**2, "input_squared", "1 - out**2"),
    ("tanh_local", lambda a, out: 1 - out, "no_square", "missing a square"),
    ("relu_local", lambda a, out: 1.0 if a >= 0 else 0.0, "kink", "a > 0, not a >= 0"),
    ("relu_local", lambda a, out: out, "output", "relu(a) itself"),
    ("topological_order", _topo_recursive, "exception", "recursed too deeply"),
    ("topological_order", _topo_without_visited, "exception", "appears twice"),
    ("topological_order", _topo_preorder, "exception", "must come after all of its parents"),
    ("topological_order", lambda root: topological_order(root)[:-1], "exception", "the root itself"),
    ("backward", _backward("assign"), "assign", "forks"),
    ("backward", _backward("not_reversed"), "not_reversed", "reversed* topological order"),
    ("backward", _backward("no_seed"), "no_seed", "root.grad = 1.0"),
    ("backward", _backward("subtract"), "subtract", "parent.grad -="),
    # delegating to the engine's own version of the exercise passes nothing, in the notebook as in grading
    ("topological_order", lambda root: graph_order(root), "exception", "build the order yourself"),
    ("backward", lambda root: root.backward(), "exception", "write the loop over the nodes yourself"),
]


@pytest.mark.parametrize("exercise, wrong, key, words", MISTAKES,
                         ids=[f"{m[0]}-{m[2]}-{i}" for i, m in enumerate(MISTAKES)])
@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_typical_mistake_is_diagnosed(exercise, wrong, key, words, hidden):
    result = lesson_02.check(exercise, wrong, hidden=hidden)
    assert not result.passed
    assert result.mistake == key, result.message()
    assert words in result.diagnosis, result.diagnosis
    with pytest.raises(AssertionError, match="NOT YET"):
        result.assert_passed()


def test_mistake_rules_do_not_match_the_reference():
    """A Mistake that the correct answer also satisfies would be a useless (or misleading) diagnosis."""
    for name, spec in lesson_02.EXERCISES.items():
        check = spec.make_check(True)
        reference = [REFERENCES[name]]
        outcomes = check.student_outcomes(reference[0])
        for mistake in check.mistakes:
            wrong = [mistake.wrong(case) for case in check.cases]
            same = all(np.allclose(np.asarray(w, dtype=float).ravel(), np.concatenate([o.ravel() for o in out]))
                       for w, out in zip(wrong, outcomes))
            assert not same, f"{name}: mistake {mistake.key} equals the correct answer"


# ---- the autograder's view: cases cross the sandbox as JSON + npz -------------------------------------

def test_cases_survive_the_sandbox_protocol(tmp_path):
    from grader.sandbox.protocol import load_cases, save_cases
    from grader.spec import load_spec

    spec = load_spec(REPO / "grader" / "lessons", LESSON)
    assert spec is not None
    by_id = {e.id: e.make_check(seed=7 + i).cases for i, e in enumerate(spec.exercises)}
    save_cases(tmp_path / "c.npz", tmp_path / "c.json", by_id)
    loaded = load_cases(tmp_path / "c.npz", tmp_path / "c.json")
    for e in spec.exercises:
        check = e.make_check(cases=loaded[e.id])
        result = check.judge(check.student_outcomes(REFERENCES[e.function]))
        assert result.passed, result.message()


def test_seeded_cases_differ_from_the_notebooks():
    for name in lesson_02.EXERCISES:
        notebook = lesson_02.make_check(name, hidden=True).cases
        graded = lesson_02.exercise_check(seed=12345, exercise=name).cases
        assert json.dumps([c.params for c in notebook]) != json.dumps([c.params for c in graded]) or \
            any(not np.array_equal(a, b) for c, d in zip(notebook, graded) for a, b in zip(c.arrays, d.arrays)), name


def test_spec_matches_the_exercise_table_and_the_notebook():
    from grader.spec import load_spec

    spec = load_spec(REPO / "grader" / "lessons", LESSON)
    assert {e.id for e in spec.exercises} == set(lesson_02.EXERCISES)
    nb = nbformat.read(str(SOURCE), as_version=4)
    meta = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata}
    for e in spec.exercises:
        ex = lesson_02.EXERCISES[e.id]
        assert e.points == ex.points and e.strip == [ex.registry] and e.function == e.id
        assert all(meta[c]["solution"] for c in e.cells), e.cells
        assert meta[f"test_{e.id}"]["grade"] and meta[f"test_{e.id}"]["points"] == ex.points
    assert spec.max_points == sum(ex.points for ex in lesson_02.EXERCISES.values()) == 12


# ---- invariant 1: the notebook's fenced lines are the library's --------------------------------------

def _fenced(text: str) -> list[list[str]]:
    regions, current = [], None
    for line in text.splitlines():
        if line.strip() == BEGIN:
            current = []
        elif line.strip() == END:
            regions.append(current)
            current = None
        elif current is not None:
            current.append(line.rstrip())
    return regions


def test_solution_cells_carry_the_reference_fenced_lines():
    from grader.spec import load_spec

    spec = load_spec(REPO / "grader" / "lessons", LESSON)
    nb = nbformat.read(str(SOURCE), as_version=4)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if "nbgrader" in c.metadata}
    for e in spec.exercises:
        (registry,) = e.strip
        reference = _fenced(inspect.getsource(reference_of(registry)))
        assert len(reference) == 1, registry
        cell = by_id[e.cells[0]]
        # the function's own region inside the (possibly multi-function) cell
        start = cell.index(f"def {e.function}(")
        end = cell.find("\ndef ", start + 1)
        assert _fenced(cell[start: end if end != -1 else None]) == reference, registry


# ---- the notebooks (slow) --------------------------------------------------------------------------

def _errors(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                yield cell.metadata.get("nbgrader", {}).get("grade_id"), out.ename, out.evalue


@pytest.mark.slow
def test_solution_notebook_runs_headless_and_passes_every_graded_cell():
    nb, seconds = run_notebook(SOURCE, allow_errors=True)
    assert not list(_errors(nb)), list(_errors(nb))
    assert seconds < 60, f"the solution notebook took {seconds:.0f} s"
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == len(lesson_02.EXERCISES)
    for cell in graded:
        assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], cell.source
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("check_")]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in checks for o in c.outputs)
    assert text.count("PASSED") == len(lesson_02.EXERCISES) and "NOT YET" not in text


@pytest.mark.slow
def test_released_notebook_is_current_and_fails_only_at_the_stubs():
    from grader.config import Course
    from grader.pipeline.release import generate

    assert RELEASE.read_text() == generate(SOURCE), "notebooks/ drifted: run `grader release 02_chain_rule`"
    text = RELEASE.read_text()
    assert "### BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    nb, seconds = run_notebook(RELEASE, allow_errors=True)
    errors = list(_errors(nb))
    assert errors, "the released notebook should stop at the unimplemented exercises"
    for grade_id, ename, evalue in errors:
        assert grade_id and grade_id.startswith("test_"), (grade_id, ename, evalue)
        assert ename == "NotImplementedError", (grade_id, ename, evalue)
    assert {g for g, _, _ in errors} == {f"test_{name}" for name in lesson_02.EXERCISES}
    # the check cells explain instead of crashing
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("check_")]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in checks for o in c.outputs)
    assert text.count("not implemented yet") >= len(lesson_02.EXERCISES)
    assert Course().release.resolve() == RELEASE.parent.resolve()


@pytest.mark.slow
def test_grader_pipeline_gives_full_marks_to_the_solution_and_zero_to_the_release():
    from grader.pipeline import grade
    from grader.sandbox.launch import Limits
    from grader.spec import load_spec

    spec = load_spec(REPO / "grader" / "lessons", LESSON)
    full = grade.grade_file("solution", LESSON, SOURCE, spec, seed=3, limits=Limits())
    assert full.score == full.max_score == 12, [(e.exercise, e.result["diagnosis"]) for e in full.exercises]
    empty = grade.grade_file("release", LESSON, RELEASE, spec, seed=3, limits=Limits())
    assert empty.score == 0
    assert {e.result["mistake"] for e in empty.exercises} == {"not_implemented"}


@pytest.mark.slow
def test_grader_pipeline_diagnoses_a_fork_bug_and_costs_only_that_exercise(tmp_path):
    """Invariant 3 in practice: a broken backward loses the backward exercise and nothing else."""
    from grader.pipeline import grade
    from grader.sandbox.launch import Limits
    from grader.spec import load_spec

    nb = nbformat.read(str(SOURCE), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "backward":
            assert "parent.grad += local * node.grad" in cell.source
            cell.source = cell.source.replace("parent.grad += local * node.grad", "parent.grad = local * node.grad")
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "topological_order":
            cell.source = "def topological_order(root):\n    raise NotImplementedError()\n"
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, str(path))
    spec = load_spec(REPO / "grader" / "lessons", LESSON)
    result = grade.grade_file("student", LESSON, path, spec, seed=5, limits=Limits())
    by_id = {e.exercise: e for e in result.exercises}
    assert by_id["backward"].points == 0 and by_id["backward"].result["mistake"] == "assign"
    assert "forks" in by_id["backward"].result["diagnosis"]
    assert by_id["topological_order"].points == 0
    assert result.score == 12 - 2 - 2

"""Lesson 03 (tensor backprop): the notebook, its graded exercises, and the diagnoses of typical mistakes."""
from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograd_mini.broadcasting import reduce_to
from autograd_mini.engine import input_gradients
from autograd_mini.ops.reductions import _restore_reduced_axes
from autograd_mini.registry import active, reference_of
from grader.config import Course
from grader.lessons import lesson_03
from grader.spec import load_spec

from notebook_run import run_notebook

REPO = Path(__file__).resolve().parents[2]
LESSON = "03_tensor_backprop"
SOLUTION = REPO / "solutions" / f"{LESSON}.ipynb"
RELEASED = REPO / "notebooks" / f"{LESSON}.ipynb"
FENCE = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION", re.S | re.M)


def solution_cells() -> dict:
    nb = nbformat.read(str(SOLUTION), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def fenced(source: str) -> str:
    (body,) = FENCE.findall(source)
    return textwrap.dedent(body)


# ---- the notebook and the spec agree with the library --------------------------------------------------

@pytest.mark.parametrize("name", list(lesson_03.EXERCISES))
def test_solution_cell_carries_the_reference_fenced_lines(name):
    exercise = lesson_03.EXERCISES[name]
    cell_id = next(e.id for e in load_spec(Course().specs, LESSON).exercises if e.params["args"]["exercise"] == name)
    cell = solution_cells()[cell_id]
    assert cell.metadata["nbgrader"]["solution"] is True
    assert f"def {exercise.function}(" in cell.source
    assert fenced(cell.source) == fenced(inspect.getsource(reference_of(exercise.registry)))


def test_spec_points_cells_and_functions_match_the_notebook():
    spec = load_spec(Course().specs, LESSON)
    cells = solution_cells()
    assert [e.params["args"]["exercise"] for e in spec.exercises] == list(lesson_03.EXERCISES)
    for e in spec.exercises:
        exercise = lesson_03.EXERCISES[e.params["args"]["exercise"]]
        (cell_id,) = e.cells
        test_cell = cells[f"test_{cell_id}"]
        assert e.function == exercise.function
        assert e.points == exercise.points == test_cell.metadata["nbgrader"]["points"]
        assert e.strip == [exercise.registry]
        assert f"lesson_03.grade({exercise.registry!r}, {exercise.function})" in test_cell.source
        assert "### BEGIN HIDDEN TESTS" in test_cell.source
    assert spec.max_points == lesson_03.TOTAL_POINTS == 17


# ---- every exercise: the reference passes, typical mistakes fail with the right diagnosis ---------------

@pytest.mark.parametrize("name", list(lesson_03.EXERCISES))
def test_reference_passes_visible_and_hidden_checks(name):
    reference = reference_of(lesson_03.EXERCISES[name].registry)
    assert lesson_03.check(name, reference).passed
    lesson_03.grade(name, reference)  # raises on failure
    assert lesson_03.graded_check(seed=12345, exercise=name).run(reference).passed


def unbroadcast_leading_axes_only(grad, shape):
    extra = grad.ndim - len(shape)
    return grad.sum(axis=tuple(range(extra))) if extra else grad


def unbroadcast_without_keepdims(grad, shape):
    grad = unbroadcast_leading_axes_only(grad, shape)
    stretched = tuple(a for a, s in enumerate(shape) if s == 1 and grad.shape[a] != 1)
    return grad.sum(axis=stretched) if stretched else grad


def mul_without_reduction(ctx, grad):
    a, b = ctx.saved_tensors
    return grad * b, grad * a


def mul_own_factor(ctx, grad):
    a, b = ctx.saved_tensors
    return reduce_to(grad * a, a.shape), reduce_to(grad * b, b.shape)


def matmul_2d_wrong_order(ctx, grad):
    a, b = ctx.saved_tensors
    return b.T @ grad, grad @ a.T


def matmul_grad_b_transposed(ctx, grad):
    grad_a, grad_b = reference_of("matmul.backward")(ctx, grad)
    return grad_a, grad_b.T if grad_b.ndim == 2 else grad_b


def matmul_returned_swapped(ctx, grad):
    grad_a, grad_b = reference_of("matmul.backward")(ctx, grad)
    return grad_b, grad_a


def sum_divided_by_n(ctx, grad):
    grad = _restore_reduced_axes(grad, ctx.shape, ctx.axis, ctx.keepdims)
    n = np.prod(ctx.shape) // grad.size
    return (np.broadcast_to(grad / n, ctx.shape).copy(),)


def mean_not_divided(ctx, grad):
    grad = _restore_reduced_axes(grad, ctx.shape, ctx.axis, ctx.keepdims)
    return (np.broadcast_to(grad, ctx.shape).copy(),)


def mean_divided_twice(ctx, grad):
    grad = _restore_reduced_axes(grad, ctx.shape, ctx.axis, ctx.keepdims)
    return (np.broadcast_to(grad / ctx.count / ctx.count, ctx.shape).copy(),)


def max_to_all_elements(ctx, grad):
    a, out = ctx.saved_tensors
    grad = _restore_reduced_axes(grad, a.shape, ctx.axis, ctx.keepdims)
    return (np.broadcast_to(grad, a.shape).copy(),)


def max_ties_get_everything(ctx, grad):
    a, out = ctx.saved_tensors
    out = _restore_reduced_axes(out, a.shape, ctx.axis, ctx.keepdims)
    grad = _restore_reduced_axes(grad, a.shape, ctx.axis, ctx.keepdims)
    return ((a == out) * grad,)


def getitem_assigns(ctx, grad):
    full = np.zeros(ctx.shape)
    full[ctx.index] = grad
    return (full,)


def engine_overwrites_at_forks(root, grad):
    grads = {id(root): grad}
    for node in reversed(active["engine.topological_order"](root)):
        node_grad = grads.pop(id(node), None)
        if node_grad is None:
            continue
        if node.is_leaf:
            node.grad = node_grad
            continue
        for parent, parent_grad in zip(node.parents, input_gradients(node, node_grad)):
            if parent_grad is not None:
                grads[id(parent)] = parent_grad


def engine_flips_the_sign(root, grad):
    reference_of("engine.backward")(root, -grad)


def engine_walks_forwards(root, grad):
    grads = {id(root): grad}
    for node in active["engine.topological_order"](root):
        node_grad = grads.pop(id(node), None)
        if node_grad is None:
            continue
        if node.is_leaf:
            node.grad = node_grad
            continue
        for parent, parent_grad in zip(node.parents, input_gradients(node, node_grad)):
            grads[id(parent)] = grads.get(id(parent), 0) + parent_grad


def stub(*args):
    raise NotImplementedError()


MISTAKES = [
    ("unbroadcast", unbroadcast_leading_axes_only, "stretched_axes_not_summed", "axes of size 1 it stretched"),
    ("unbroadcast", unbroadcast_without_keepdims, "keepdims_missing", "keepdims=True"),
    ("unbroadcast", stub, "not_implemented", "not implemented yet"),
    ("mul.backward", mul_without_reduction, "unreduced", "sum the gradient over the broadcast axes"),
    ("mul.backward", mul_own_factor, "self_not_other", "the *other* factor"),
    ("matmul.backward", matmul_2d_wrong_order, "exception", "dA = dC @ B.T is (2, 4) @ (4, 3)"),
    ("matmul.backward", matmul_grad_b_transposed, "transposed", "looks transposed"),
    ("matmul.backward", matmul_returned_swapped, "returned_in_wrong_order", "wrong order"),
    ("sum.backward", sum_divided_by_n, "divided", "there is no 1/N"),
    ("mean.backward", mean_not_divided, "not_divided", "N times too large"),
    ("mean.backward", mean_divided_twice, "divided_twice", "divide by N once"),
    ("max.backward", max_to_all_elements, "to_all_elements", "only the maximum influenced the output"),
    ("max.backward", max_ties_get_everything, "ties_not_shared", "share it equally"),
    ("getitem.backward", getitem_assigns, "repeated_index_overwritten", "np.add.at"),
    ("engine.backward", engine_overwrites_at_forks, "fork_not_accumulated", "where the graph forks, add"),
    ("engine.backward", engine_flips_the_sign, "sign", "wrong sign"),
    ("engine.backward", engine_walks_forwards, "exception", "reversed topological order"),
]


@pytest.mark.parametrize("name, wrong, key, words", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_typical_mistake_fails_the_hidden_test_with_its_diagnosis(name, wrong, key, words):
    result = lesson_03.make_check(name, hidden=True).run(wrong)
    assert not result.passed
    assert result.mistake == key, result.message()
    assert words in result.diagnosis
    with pytest.raises(AssertionError, match=re.escape(words)):
        lesson_03.grade(name, wrong)  # what the notebook's graded cell runs


def test_checks_of_other_exercises_stand_on_a_trusted_unbroadcast():
    """A broken unbroadcast (lesson 03's first exercise) must not cost the mul exercise its points."""
    def broken_unbroadcast(grad, shape):
        raise NotImplementedError()

    from autograd_mini import use

    with use({"unbroadcast": broken_unbroadcast}):
        assert lesson_03.check("mul.backward", reference_of("mul.backward")).passed
        assert lesson_03.check("engine.backward", reference_of("engine.backward")).passed


# ---- the notebooks, run headless ------------------------------------------------------------------------

@pytest.mark.slow
def test_solution_notebook_runs_headless_in_under_a_minute_and_passes_every_graded_cell():
    nb, seconds = run_notebook(SOLUTION, allow_errors=False)
    assert seconds < 60, f"the lesson took {seconds:.0f} s"
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == len(lesson_03.EXERCISES)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], cell.source[:80]
    for cell in graded:
        printed = "".join(o.text for o in cell.outputs if o.output_type == "stream")
        assert "all hidden tests passed" in printed, cell.source[:80]
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("check_")]
    for cell in checks:
        shown = "".join(str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        assert "PASSED" in shown and shown.count("matches") == 2, shown  # PyTorch and TensorFlow
    widget_views = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widget_views) == 1


@pytest.mark.slow
def test_released_notebook_is_generated_and_fails_only_at_the_stubs(tmp_path):
    from grader.pipeline import release

    assert RELEASED.read_text() == release.generate(SOLUTION), "notebooks/ drifted: run `grader release 03_tensor_backprop`"
    for cell in nbformat.read(str(RELEASED), as_version=4).cells:
        assert "### BEGIN SOLUTION" not in cell.source and "HIDDEN TESTS" not in cell.source
    assert release.execution_problems(RELEASED, solution=False) == []


@pytest.mark.slow
def test_autograder_gives_full_marks_zero_and_per_exercise_diagnoses(tmp_path):
    """Through the sandboxed pipeline: the solution scores 17/17, the release 0, and a submission with
    two typical mistakes loses exactly those two exercises, each with its diagnosis."""
    from grader.pipeline import grade

    spec = load_spec(Course().specs, LESSON)
    full = grade.grade_file("solution", LESSON, SOLUTION, spec, seed=7)
    assert full.score == full.max_score == 17, [e.result["diagnosis"] for e in full.exercises]

    empty = grade.grade_file("release", LESSON, RELEASED, spec, seed=7)
    assert empty.score == 0
    assert {e.result["mistake"] for e in empty.exercises} == {"not_implemented"}

    nb = nbformat.read(str(SOLUTION), as_version=4)
    wrong = {"getitem_backward": inspect.getsource(getitem_assigns).replace("getitem_assigns", "getitem_backward"),
             "mean_backward": inspect.getsource(mean_not_divided).replace("mean_not_divided", "mean_backward")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in wrong:
            cell.source = wrong[grade_id]
    submission = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, str(submission))
    graded = {e.exercise: e for e in grade.grade_file("student", LESSON, submission, spec, seed=7).exercises}
    assert graded["getitem_backward"].points == 0 and "np.add.at" in graded["getitem_backward"].result["diagnosis"]
    assert graded["mean_backward"].points == 0 and "N times too large" in graded["mean_backward"].result["diagnosis"]
    assert sum(e.points for e in graded.values()) == 17 - 2 - 2

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
from autograd_mini.ops.reductions import restore_reduced_axes
from autograd_mini.registry import active, reference_of
from grader.lessons import lesson_03

from notebook_run import executed
from lesson_checks import assert_autograder_verdicts, assert_diagnosed, widget_views

REPO = Path(__file__).resolve().parents[2]
LESSON = lesson_03.LESSON
SOLUTION = REPO / "solutions" / f"{LESSON.name}.ipynb"
FENCE = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION", re.S | re.M)
IDS = [e.id for e in LESSON.exercises]


def solution_cells() -> dict:
    nb = nbformat.read(str(SOLUTION), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def fenced(source: str) -> str:
    (body,) = FENCE.findall(source)
    return textwrap.dedent(body)


@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_cell_carries_the_reference_fenced_lines(exercise_id):
    exercise = LESSON.exercise(exercise_id)
    cell = solution_cells()[exercise.solution_cell]
    assert cell.metadata["nbgrader"]["solution"] is True
    assert f"def {exercise.function}(" in cell.source
    assert fenced(cell.source) == fenced(inspect.getsource(reference_of(exercise.id)))


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_passes_visible_and_hidden_checks(exercise_id):
    for hidden in (False, True):
        result = LESSON.make_check(exercise_id, hidden=hidden).run(reference_of(exercise_id))
        assert result.passed, result.message()
        assert "PASSED" in result.message()


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
    grad = restore_reduced_axes(grad, ctx.shape, ctx.axis, ctx.keepdims)
    n = np.prod(ctx.shape) // grad.size
    return (np.broadcast_to(grad / n, ctx.shape).copy(),)


def mean_not_divided(ctx, grad):
    grad = restore_reduced_axes(grad, ctx.shape, ctx.axis, ctx.keepdims)
    return (np.broadcast_to(grad, ctx.shape).copy(),)


def mean_divided_twice(ctx, grad):
    grad = restore_reduced_axes(grad, ctx.shape, ctx.axis, ctx.keepdims)
    return (np.broadcast_to(grad / ctx.count / ctx.count, ctx.shape).copy(),)


def max_to_all_elements(ctx, grad):
    a, out = ctx.saved_tensors
    grad = restore_reduced_axes(grad, a.shape, ctx.axis, ctx.keepdims)
    return (np.broadcast_to(grad, a.shape).copy(),)


def max_ties_get_everything(ctx, grad):
    a, out = ctx.saved_tensors
    out = restore_reduced_axes(out, a.shape, ctx.axis, ctx.keepdims)
    grad = restore_reduced_axes(grad, a.shape, ctx.axis, ctx.keepdims)
    return ((a == out) * grad,)


def getitem_assigns(ctx, grad):
    full = np.zeros(ctx.shape)
    full[ctx.index] = grad
    return (full,)


def engine(store=None, at_fork=None, retained=True):
    """The reference engine's loop with one thing done wrong: how a node's gradient is stored
    (``store(old, new)``), how two gradients meeting at a fork combine (``at_fork(previous, new)``), or
    whether retain_grad() is honoured."""
    store = store or (lambda old, new: new.copy() if old is None else old + new)
    at_fork = at_fork or (lambda previous, new: new if previous is None else previous + new)

    def backward(root, grad):
        grads = {id(root): grad}
        for node in reversed(active["engine.topological_order"](root)):
            node_grad = grads.pop(id(node), None)
            if node_grad is None:
                continue
            if node.is_leaf or (retained and node._retains_grad):
                node.grad = store(node.grad, node_grad)
            if not node.is_leaf:
                for parent, parent_grad in zip(node.parents, input_gradients(node, node_grad)):
                    if parent_grad is not None:
                        grads[id(parent)] = at_fork(grads.get(id(parent)), parent_grad)
    return backward


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


def unbroadcast_averaging(grad, shape):
    extra = grad.ndim - len(shape)
    grad = grad.mean(axis=tuple(range(extra))) if extra else grad
    stretched = tuple(a for a, s in enumerate(shape) if s == 1 and grad.shape[a] != 1)
    return grad.mean(axis=stretched, keepdims=True) if stretched else grad


def unbroadcast_aligned_left(grad, shape):
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(len(shape), grad.ndim))) if extra else grad
    stretched = tuple(a for a, s in enumerate(shape) if s == 1 and grad.shape[a] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def matmul_wrong_for_transposed_views(ctx, grad):
    """Right for contiguous operands; a transposed B (what nn.Linear passes, W.T) gets B's memory order wrong."""
    a, b = ctx.saved_tensors
    grad_a, grad_b = reference_of("matmul.backward")(ctx, grad)
    if b.ndim == 2 and not b.flags.c_contiguous:
        grad_b = np.ascontiguousarray(grad_b).reshape(grad_b.shape[::-1]).T
    return grad_a, grad_b


def matmul_wrong_transpose_everywhere(ctx, grad):
    a, b = ctx.saved_tensors
    return grad @ b, a.T @ grad


def sum_without_restoring_axes(ctx, grad):
    return (np.broadcast_to(grad, ctx.shape).copy(),)


def engine_path_by_path(root, grad):
    """Recursive: sends every gradient down every path separately (correct sums, exponential work)."""
    def send(node, g):
        if node.is_leaf or node._retains_grad:
            node.grad = g.copy() if node.grad is None else node.grad + g
        if not node.is_leaf:
            for parent, parent_grad in zip(node.parents, input_gradients(node, g)):
                if parent_grad is not None:
                    send(parent, parent_grad)
    send(root, grad)


def stub(*args):
    raise NotImplementedError()


MISTAKES = [
    ("unbroadcast", unbroadcast_leading_axes_only, "stretched_axes_not_summed", "size-1 axes it stretched"),
    ("unbroadcast", unbroadcast_without_keepdims, "keepdims_missing", "keepdims=True"),
    ("unbroadcast", unbroadcast_averaging, "mean_not_sum", "so sum them"),
    ("unbroadcast", unbroadcast_aligned_left, "aligned_left", "aligns shapes from the *right*"),
    ("unbroadcast", stub, "not_implemented", "not implemented yet"),
    ("mul.backward", mul_without_reduction, "unreduced", "size-1 axes it stretched"),
    ("mul.backward", mul_own_factor, "self_not_other", "the *other* factor"),
    ("matmul.backward", matmul_2d_wrong_order, "matmul_shapes", "For C = A @ B: dA = dC @ B.T is (1, 1) @ (1, 6)"),
    ("matmul.backward", matmul_wrong_transpose_everywhere, "matmul_shapes", "A is [1, 6], B is [6, 1]"),
    ("matmul.backward", matmul_grad_b_transposed, "transposed", "transpose"),
    ("matmul.backward", matmul_returned_swapped, "returned_in_wrong_order", "wrong order"),
    ("matmul.backward", matmul_wrong_for_transposed_views, "transposed", "transpose"),
    ("sum.backward", sum_divided_by_n, "divided", "there is no 1/N"),
    ("sum.backward", sum_without_restoring_axes, "reduced_axes_missing", "np.expand_dims"),
    ("mean.backward", mean_not_divided, "not_divided", "N times too large"),
    ("mean.backward", mean_divided_twice, "factor", "too small"),
    ("max.backward", max_ties_get_everything, "ties_full", "share it equally"),
    ("getitem.backward", getitem_assigns, "repeated_index_overwritten", "np.add.at"),
    ("engine.backward", engine(at_fork=lambda previous, new: new), "fork_not_accumulated", "where the graph forks, add"),
    ("engine.backward", engine_flips_the_sign, "sign", "wrong sign"),
    ("engine.backward", engine(store=lambda old, new: new.copy()), "leaf_overwritten",
     "*accumulate* across backward() calls"),
    ("engine.backward", engine(store=lambda old, new: new.copy() if old is None else old - new), "leaf_subtracted",
     "you subtracted it"),
    ("engine.backward", engine(store=lambda old, new: new if old is None else old + new), "aliased_leaves",
     "share one gradient array"),
    ("engine.backward", engine(retained=False), "retain_grad_ignored", "_retains_grad"),
    ("engine.backward", engine(store=lambda old, new: old + new), "none_grad_added", ".grad starts as None"),
    ("engine.backward", engine_path_by_path, "node_visited_twice", "Visit each node once"),
]


@pytest.mark.parametrize("exercise_id, wrong, key, words", MISTAKES, ids=[m[2] for m in MISTAKES])
def test_typical_mistake_fails_the_hidden_test_with_its_diagnosis(exercise_id, wrong, key, words):
    assert_diagnosed(LESSON, exercise_id, wrong, key, words)


def test_a_failed_call_shows_no_error_number():
    result = LESSON.make_check("unbroadcast").run(stub)
    assert result.max_rel_error is None and "relative error" not in result.message().splitlines()[0]


# ---- the notebooks, run headless ------------------------------------------------------------------------

@pytest.mark.slow
def test_the_gradient_flow_widget_is_shown_once():
    nb, _ = executed(LESSON.name)
    assert widget_views(nb) == 1


@pytest.mark.slow
def test_autograder_gives_full_marks_zero_and_per_exercise_diagnoses(tmp_path):
    """Through the sandboxed pipeline: the solution scores 17/17, the release 0, and a submission with
    two typical mistakes loses exactly those two exercises, each with its diagnosis."""
    wrong = {"getitem_backward": inspect.getsource(getitem_assigns).replace("getitem_assigns", "getitem_backward"),
             "mean_backward": inspect.getsource(mean_not_divided).replace("mean_not_divided", "mean_backward")}
    assert_autograder_verdicts(LESSON, tmp_path, wrong, {"getitem.backward": "np.add.at", "mean.backward": "N times too large"})


def test_in_the_notebook_too_the_exercise_cannot_call_its_own_reference():
    def mul_via_the_registry(ctx, grad):
        return active["mul.backward"](ctx, grad)

    result = lesson_03.check("mul.backward", mul_via_the_registry)
    assert result.mistake == "uses_reference" and "autograd_mini's own mul.backward" in result.diagnosis
    assert active["mul.backward"] is reference_of("mul.backward")  # restored after the check


HUNT_FOR_THE_REFERENCE = '''
import os
def unbroadcast(grad, shape):
    """Look for a copy of autograd_mini whose unbroadcast still has its body, anywhere this process can read."""
    for top in ("/", os.getcwd()):
        for folder, _, files in os.walk(top):
            if "broadcasting.py" in files:
                text = open(os.path.join(folder, "broadcasting.py")).read()
                if "extra = grad.ndim - len(shape)" in text:
                    namespace = {}
                    exec(text.replace("@reference", "(lambda name: (lambda f: f))"), namespace)
                    return namespace["unbroadcast"](grad, shape)
    raise LookupError("no reference found")
'''


@pytest.mark.slow
def test_no_run_of_a_submission_can_read_a_library_that_keeps_this_exercise(tmp_path):
    """mul.backward's sandbox keeps unbroadcast (it stands on it): unbroadcast's own sandbox must not be able to
    read that library, nor any other copy of autograd_mini with the body in it."""
    from grader.pipeline import grade
    from grader.sandbox.launch import isolation_available

    if not isolation_available():
        pytest.skip("needs root: without the chroot sandbox a student's own machine's files are readable anyway")
    nb = nbformat.read(str(SOLUTION), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "unbroadcast":
            cell.source = HUNT_FOR_THE_REFERENCE
    submission = tmp_path / f"{LESSON.name}.ipynb"
    nbformat.write(nb, str(submission))
    graded = {e.exercise: e for e in grade.grade_file("hunter", LESSON, submission, b"secret").exercises}
    assert graded["unbroadcast"].points == 0, graded["unbroadcast"].result
    assert "LookupError" in graded["unbroadcast"].result["diagnosis"]
    assert graded["mul.backward"].points == 2  # its own run still has unbroadcast to stand on

"""Lesson 04 (losses): the notebook, its graded exercises, and the diagnoses of typical mistakes."""
from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograd_mini import Tensor
from autograd_mini.broadcasting import reduce_to
from autograd_mini.losses import _reduce
from autograd_mini.registry import names, reference_of
from grader.lessons import lesson_04

from notebook_run import executed
from lesson_checks import assert_autograder_verdicts, assert_diagnosed, widget_views

REPO = Path(__file__).resolve().parents[2]
LESSON = lesson_04.LESSON
SOLUTION = REPO / "solutions" / f"{LESSON.name}.ipynb"
RELEASED = REPO / "notebooks" / f"{LESSON.name}.ipynb"
FENCE = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION", re.S | re.M)
LIBRARY_IDS = [e.id for e in LESSON.exercises if e.id in names()]
ANSWERS = {"predict_broadcast_terms": 16, "predict_ce_gradient": -0.375, "predict_bce_at_zero": 100.0}


def solution_cells() -> dict:
    nb = nbformat.read(str(SOLUTION), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def right_answer(exercise_id):
    if exercise_id in names():
        return reference_of(exercise_id)
    if exercise_id in ANSWERS:
        return lambda: ANSWERS[exercise_id]
    namespace = {"np": np}
    exec(solution_cells()[exercise_id].source, namespace)
    return namespace[LESSON.exercise(exercise_id).function]


@pytest.mark.parametrize("exercise_id", LIBRARY_IDS)
def test_solution_cell_carries_the_reference_fenced_lines(exercise_id):
    exercise = LESSON.exercise(exercise_id)
    cell = solution_cells()[exercise.solution_cell]
    assert cell.metadata["nbgrader"]["solution"] is True
    assert f"def {exercise.function}(" in cell.source
    (mine,) = FENCE.findall(cell.source)
    (library,) = FENCE.findall(inspect.getsource(reference_of(exercise_id)))
    assert textwrap.dedent(mine) == textwrap.dedent(library)


@pytest.mark.parametrize("exercise_id", [e.id for e in LESSON.exercises])
def test_reference_passes_visible_and_hidden_checks(exercise_id):
    for hidden in (False, True):
        result = LESSON.make_check(exercise_id, hidden=hidden).run(right_answer(exercise_id))
        assert result.passed, result.message()
        assert "PASSED" in result.message()


# ---- deliberately wrong implementations -----------------------------------------------------------------------

def mse_halved(input, target, reduction):
    return _reduce(0.5 * (input - target) ** 2, reduction)


def mse_sum_averaged(input, target, reduction):
    return _reduce((input - target) ** 2, "mean" if reduction == "sum" else reduction)


def mse_in_numpy(input, target, reduction):
    return np.mean((input.data - target.data) ** 2)


def mse_detached(input, target, reduction):
    return _reduce(Tensor((input.data - target.data) ** 2), reduction)


def mse_always_mean(input, target, reduction):
    return ((input - target) ** 2).mean()


def mse_backward_no_two(input, target, grad, reduction):
    diff = (input - target) * grad
    return diff / input.size if reduction == "mean" else diff


def mse_backward_always_divided(input, target, grad, reduction):
    return 2 * (input - target) * grad / input.size


def mse_backward_never_divided(input, target, grad, reduction):
    return 2 * (input - target) * grad


def mse_backward_flipped(input, target, grad, reduction):
    diff = 2 * (target - input) * grad
    return diff / input.size if reduction == "mean" else diff


def mse_backward_without_grad(input, target, grad, reduction):
    diff = 2 * (input - target)
    return diff / input.size if reduction == "mean" else diff


def l1_sqrt_of_square(input, target, reduction):
    return _reduce(((input - target) ** 2) ** 0.5, reduction)


def mse_always_squared(input, target, reduction):
    return _reduce((input - target) ** 2, reduction)


def huber_unshifted(input, target, reduction, delta):
    error = (input - target).abs()
    small = Tensor((error.data < delta).astype(input.dtype))
    return _reduce(small * (0.5 * error**2) + (1 - small) * (delta * error), reduction)


def huber_half_square(input, target, reduction, delta):
    return _reduce(0.5 * (input - target) ** 2, reduction)


def logsumexp_naive(ctx, a, axis=-1):
    return np.log(np.exp(a).sum(axis=axis))


def logsumexp_not_added_back(ctx, a, axis=-1):
    peak = a.max(axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - peak).sum(axis=axis))


def logsumexp_global_max(ctx, a, axis=-1):
    with np.errstate(divide="ignore"):
        return a.max() + np.log(np.exp(a - a.max()).sum(axis=axis))


def logsumexp_unguarded(ctx, a, axis=-1):
    peak = a.max(axis=axis, keepdims=True)
    return np.squeeze(peak, axis) + np.log(np.exp(a - peak).sum(axis=axis))


def log_softmax_of_softmax(ctx, a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    with np.errstate(divide="ignore"):
        return np.log(e / e.sum(axis=axis, keepdims=True))


def log_softmax_without_logsumexp(ctx, a, axis=-1):
    return a - a.max(axis=axis, keepdims=True)


def log_softmax_backward_softmax_rule(ctx, grad):
    (out,) = ctx.saved_tensors
    return (out * (grad - (grad * out).sum(axis=ctx.axis, keepdims=True)),)


def log_softmax_backward_without_exp(ctx, grad):
    (out,) = ctx.saved_tensors
    return (grad - out * grad.sum(axis=ctx.axis, keepdims=True),)


def log_softmax_backward_without_sum(ctx, grad):
    (out,) = ctx.saved_tensors
    return (grad - np.exp(out) * grad,)


def _reduced(losses, reduction):
    return losses if reduction == "none" else losses.sum() / (len(losses) if reduction == "mean" else 1)


def ce_log_of_softmax(ctx, logits, target, reduction):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    with np.errstate(divide="ignore"):
        return _reduced(-np.log(e / e.sum(axis=1, keepdims=True))[np.arange(len(target)), target], reduction)


def _log_probs(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def ce_picked_by_column(ctx, logits, target, reduction):
    return _reduced(-_log_probs(logits)[:, target].mean(axis=1), reduction)


def ce_mean_over_classes(ctx, logits, target, reduction):
    return _reduced(-_log_probs(logits).mean(axis=1), reduction)


def ce_backward_not_divided(ctx, grad):
    probs, target = ctx.saved_tensors
    g = probs.copy()
    g[np.arange(len(target)), target] -= 1.0
    return (g * grad[:, None] if ctx.reduction == "none" else g * grad,)


def ce_backward_no_one_hot(ctx, grad):
    probs, target = ctx.saved_tensors
    if ctx.reduction == "none":
        return (probs * grad[:, None],)
    return (probs * (grad / len(target) if ctx.reduction == "mean" else grad),)


def bce_logits_of_probabilities(ctx, x, t):
    e = np.exp(-np.abs(x))
    p = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    with np.errstate(divide="ignore"):
        return -(t * np.log(p) + (1 - t) * np.log1p(-p))


def bce_logits_naive_sigmoid(ctx, x, t):
    p = 1 / (1 + np.exp(-x))
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def bce_logits_backward_flipped(ctx, grad):
    x, t = ctx.saved_tensors
    e = np.exp(-np.abs(x))
    sigmoid = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return reduce_to(grad * (t - sigmoid), x.shape), reduce_to(-grad * x, t.shape)


def bce_logits_backward_target_sign(ctx, grad):
    x, t = ctx.saved_tensors
    e = np.exp(-np.abs(x))
    sigmoid = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return reduce_to(grad * (sigmoid - t), x.shape), reduce_to(grad * x, t.shape)


def bce_logits_backward_without_grad(ctx, grad):
    x, t = ctx.saved_tensors
    e = np.exp(-np.abs(x))
    sigmoid = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return sigmoid - t, -x


def bce_unclamped(ctx, p, t):
    with np.errstate(divide="ignore"):
        return -(t * np.log(p) + (1 - t) * np.log1p(-p))


def bce_keras_clip(ctx, p, t):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(t * np.log(p) + (1 - t) * np.log1p(-p))


def bce_clamped_loss(ctx, p, t):
    return np.minimum(bce_unclamped(ctx, p, t), 100.0)


def stub(*args):
    raise NotImplementedError()


MISTAKES = [
    ("loss.mse_loss", mse_halved, "halved", "½"),
    ("loss.mse_loss", mse_sum_averaged, "numpy_mean_of_sum", "only 'mean' divides"),
    ("loss.mse_loss", mse_in_numpy, "loss_not_tensor", "not an autograd_mini Tensor"),
    ("loss.mse_loss", mse_detached, "loss_no_graph", "not connected to `input`"),
    ("loss.mse_loss", mse_always_mean, "loss_shape", "'none' one loss per element"),
    ("mse_backward", mse_backward_no_two, "missing_two", "2 (x - t)"),
    ("mse_backward", mse_backward_always_divided, "always_divided", "only reduction='mean' divides"),
    ("mse_backward", mse_backward_never_divided, "never_divided", "divided by N too"),
    ("mse_backward", mse_backward_flipped, "sign", "wrong sign"),
    ("mse_backward", mse_backward_without_grad, "upstream_ignored", "you ignored `grad`"),
    ("loss.l1_loss", l1_sqrt_of_square, "loss_nan_gradient", "sqrt(e**2)"),
    ("loss.l1_loss", mse_always_squared, "squared", "absolute error"),
    ("loss.huber_loss", huber_unshifted, "linear_part_not_shifted", "delta * (|e| - delta/2)"),
    ("loss.huber_loss", huber_half_square, "half_square_everywhere", "robust to outliers"),
    ("logsumexp.forward", logsumexp_naive, "overflow_logsumexp", "Shift by the slice's max"),
    ("logsumexp.forward", logsumexp_not_added_back, "max_not_added_back", "did not add it back"),
    ("logsumexp.forward", logsumexp_unguarded, "invalid_logsumexp", "np.isfinite"),
    ("log_softmax.forward", log_softmax_of_softmax, "log_of_softmax", "log(softmax(a)) underflows"),
    ("log_softmax.forward", log_softmax_without_logsumexp, "logsumexp_forgotten", "also subtract"),
    ("log_softmax.backward", log_softmax_backward_softmax_rule, "softmax_rule", "softmax's backward rule"),
    ("log_softmax.backward", log_softmax_backward_without_exp, "exp_forgotten", "exp(out)"),
    ("log_softmax.backward", log_softmax_backward_without_sum, "sum_forgotten", "the sum over the slice"),
    ("cross_entropy.forward", ce_log_of_softmax, "log_of_softmax", "log(softmax) underflows"),
    ("cross_entropy.forward", ce_picked_by_column, "picked_by_column", "np.arange(N), target"),
    ("cross_entropy.forward", ce_mean_over_classes, "mean_over_classes", "only its target class"),
    ("cross_entropy.backward", ce_backward_not_divided, "not_divided", "/ N"),
    ("cross_entropy.backward", ce_backward_no_one_hot, "one_hot_missing", "softmax - one_hot"),
    ("binary_cross_entropy_with_logits.forward", bce_logits_of_probabilities, "probabilities_first", "Stay in logits"),
    ("binary_cross_entropy_with_logits.forward", bce_logits_naive_sigmoid, "overflow_binary_cross_entropy_with_logits",
     "exp of a non-positive number never overflows"),
    ("binary_cross_entropy_with_logits.backward", bce_logits_backward_flipped, "sign", "sigmoid(x) - t"),
    ("binary_cross_entropy_with_logits.backward", bce_logits_backward_target_sign, "target_gradient_sign", "-x * grad"),
    ("binary_cross_entropy_with_logits.backward", bce_logits_backward_without_grad, "upstream_ignored", "ignored `grad`"),
    ("binary_cross_entropy.forward", bce_unclamped, "no_clamp", "clamps each log at -100"),
    ("binary_cross_entropy.forward", bce_keras_clip, "keras_clip", "as Keras does"),
    ("binary_cross_entropy.forward", bce_clamped_loss, "clamped_loss", "instead of each log"),
    ("binary_cross_entropy.forward", stub, "not_implemented", "not implemented yet"),
]


@pytest.mark.parametrize("exercise_id, wrong, key, words", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_typical_mistake_fails_the_hidden_test_with_its_diagnosis(exercise_id, wrong, key, words):
    assert_diagnosed(LESSON, exercise_id, wrong, key, words)


WRONG_PREDICTIONS = [
    ("predict_broadcast_terms", 4, "if the two shapes matched"),
    ("predict_broadcast_terms", 9, "right-aligned"),
    ("predict_ce_gradient", -0.75, "divides by the number of rows"),
    ("predict_ce_gradient", 0.125, "one-hot"),
    ("predict_bce_at_zero", 16.118, "Keras' answer"),
    ("predict_bce_at_zero", float("inf"), "stays finite"),
]


@pytest.mark.parametrize("exercise_id, answer, words", WRONG_PREDICTIONS)
def test_a_wrong_prediction_is_told_why_without_the_answer(exercise_id, answer, words):
    for hidden in (False, True):
        result = LESSON.make_check(exercise_id, hidden=hidden).run(lambda: answer)
        assert not result.passed and result.mistake, result.message()
        shown = result.message()
        assert words in shown, shown
        assert str(ANSWERS[exercise_id]) not in shown and f"{ANSWERS[exercise_id]:g}" not in shown, shown


def test_no_prediction_answer_is_printed_by_the_solution_notebooks_cells():
    """The answers live only in the solution cells: no other cell mentions them."""
    for cell in nbformat.read(str(SOLUTION), as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in ANSWERS:
            continue
        for number in ("-0.375", "0.375"):
            assert number not in cell.source, cell.source[:80]


# ---- the notebooks, run headless ------------------------------------------------------------------------

@pytest.mark.slow
def test_the_loss_explorer_is_shown_once():
    nb, _ = executed(LESSON.name)
    assert widget_views(nb) == 1


def test_the_released_notebook_does_not_give_the_predictions_away():
    for cell in nbformat.read(str(RELEASED), as_version=4).cells:
        for answer in ("return 16", "return -0.375", "return 100.0"):
            assert answer not in cell.source


@pytest.mark.slow
def test_autograder_gives_full_marks_zero_and_per_exercise_diagnoses(tmp_path):
    """Through the sandboxed pipeline: the solution scores full marks, the release 0, and a submission with two
    typical mistakes loses exactly those two exercises, each with its diagnosis."""
    wrong = {"log_softmax_backward": inspect.getsource(log_softmax_backward_without_sum).replace(
                 "log_softmax_backward_without_sum", "log_softmax_backward"),
             "bce_forward": inspect.getsource(bce_keras_clip).replace("bce_keras_clip", "bce_forward")}
    assert_autograder_verdicts(LESSON, tmp_path, wrong, {"log_softmax.backward": "the sum over the slice",
                                                  "binary_cross_entropy.forward": "as Keras does"})

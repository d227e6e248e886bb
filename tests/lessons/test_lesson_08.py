"""Lesson 08 (efficiency): references pass, typical mistakes get their diagnosis, predictions are never told."""
from __future__ import annotations

import nbformat
import numpy as np
import pytest

from autograd_mini import Tensor
from autograd_mini.registry import names, reference_of
from grader.lessons import lesson_08

from lesson_checks import assert_diagnosed

LESSON = lesson_08.LESSON
ANSWERS = {"predict_jacobian_passes": 3, "predict_checkpoint_forwards": 24}


def right_answer(exercise_id):
    return reference_of(exercise_id) if exercise_id in names() else (lambda: ANSWERS[exercise_id])


@pytest.mark.parametrize("exercise_id", [e.id for e in LESSON.exercises])
def test_reference_passes_visible_and_hidden_checks(exercise_id):
    for hidden in (False, True):
        result = LESSON.make_check(exercise_id, hidden=hidden).run(right_answer(exercise_id))
        assert result.passed, result.message()


def linear_without_bias(ctx, x, weight, bias):
    return x @ weight.T


def linear_backward(average_bias=False, average_weight=False):
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        rows = grad.reshape(-1, grad.shape[-1])
        n = len(rows)
        return grad @ weight, rows.T @ x.reshape(-1, x.shape[-1]) / (n if average_weight else 1), \
            rows.sum(axis=0) / (n if average_bias else 1)
    return backward


def checkpoint_backward(clear=True, restore=True, upstream=True):
    def backward(ctx, grad):
        leaves = [Tensor(a, requires_grad=need) for a, need in zip(ctx.saved_tensors, ctx.needs_input_grad)]
        kept = [p.grad for p in ctx.params]
        if clear:
            for p in ctx.params:
                p.grad = None
        out = ctx.function(*leaves)
        out.backward(grad if upstream else np.ones_like(grad))
        found = tuple([t.grad for t in leaves] + [p.grad.copy() for p in ctx.params])
        if restore:
            for p, g in zip(ctx.params, kept):
                p.grad = g
        return found
    return backward


def stub(*args):
    raise NotImplementedError()


MISTAKES = [
    ("fused_linear.forward", linear_without_bias, "bias_forgotten", "bias is missing"),
    ("fused_linear.backward", linear_backward(average_bias=True), "bias_averaged", "*sum*"),
    ("fused_linear.backward", linear_backward(average_weight=True), "weight_averaged", "summed over the batch"),
    ("checkpoint.backward", checkpoint_backward(clear=False), "earlier_gradients_kept", "set each parameter's"),
    ("checkpoint.backward", checkpoint_backward(upstream=False), "upstream_ignored", "out.backward(grad)"),
    ("checkpoint.backward", checkpoint_backward(restore=False), "checkpoint_grads_left", "put back"),
    ("fused_linear.backward", stub, "not_implemented", "not implemented yet"),
]


@pytest.mark.parametrize("exercise_id, wrong, key, words", MISTAKES, ids=[m[2] for m in MISTAKES])
def test_typical_mistake_fails_the_hidden_test_with_its_diagnosis(exercise_id, wrong, key, words):
    assert_diagnosed(LESSON, exercise_id, wrong, key, words)


@pytest.mark.parametrize("exercise_id, answer, words", [
    ("predict_jacobian_passes", 200, "one column at a time"), ("predict_jacobian_passes", 600, "whole row"),
    ("predict_checkpoint_forwards", 12, "without checkpointing"), ("predict_checkpoint_forwards", 15, "not only one")])
def test_a_wrong_prediction_is_told_why_without_the_answer(exercise_id, answer, words):
    result = LESSON.make_check(exercise_id, hidden=True).run(lambda: answer)
    assert not result.passed and result.mistake, result.message()
    assert words in result.message() and f" {ANSWERS[exercise_id]} " not in result.message()


def test_no_cell_but_the_answers_own_gives_a_prediction_away():
    path = lesson_08.LESSON.name
    for folder in ("solutions", "notebooks"):
        nb = nbformat.read(f"{__file__.rsplit('/tests/', 1)[0]}/{folder}/{path}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in ANSWERS and folder == "solutions":
                continue
            assert "return 3\n" not in cell.source and "return 24" not in cell.source

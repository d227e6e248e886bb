"""Lesson 01 (forward pass): the declaration matches the notebook, the references pass, mistakes are diagnosed.

The mistake tests run the graded check (hidden cases) on deliberately wrong implementations and assert
the diagnosis key and the words a student would read.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograd_mini.registry import reference_of
from grader.lessons import lesson_01

from notebook_run import nbgrader_meta

REPO = Path(__file__).resolve().parents[2]
LESSON = lesson_01.LESSON
SOURCE = REPO / "solutions" / f"{LESSON.name}.ipynb"
RELEASED = REPO / "notebooks" / f"{LESSON.name}.ipynb"
IDS = [e.id for e in LESSON.exercises]


def cells() -> dict:
    return {nbgrader_meta(c).get("grade_id"): c for c in nbformat.read(str(SOURCE), as_version=4).cells}


@pytest.mark.parametrize("exercise_id", IDS)
def test_declaration_matches_the_notebooks_cells(exercise_id):
    exercise, by_id = LESSON.exercise(exercise_id), cells()
    solution = by_id[exercise.solution_cell]
    assert nbgrader_meta(solution)["solution"] and f"def {exercise.function}(" in solution.source
    assert nbgrader_meta(by_id[exercise.test_cell])["points"] == exercise.points
    assert f'lesson_01.check("{exercise_id}", {exercise.function})' in by_id["check_" + exercise.function].source
    hidden = by_id[exercise.test_cell].source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
    assert f'lesson_01.grade("{exercise_id}", {exercise.function})' in hidden


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_passes_visible_and_hidden_checks(exercise_id):
    for check in (LESSON.make_check(exercise_id), LESSON.make_check(exercise_id, hidden=True),
                  LESSON.make_check(exercise_id, hidden=True, seed=12345)):
        result = check.run(reference_of(exercise_id))
        assert result.passed and "PASSED" in result.message(), result.message()
    lesson_01.grade(exercise_id, reference_of(exercise_id))  # what the graded cell runs: raises on failure


@pytest.mark.parametrize("exercise_id", ["linear", "sigmoid.forward", "softmax.forward"])
def test_hidden_cases_include_a_non_contiguous_input(exercise_id):
    cases = LESSON.make_check(exercise_id, hidden=True).cases
    assert any(not case.arrays[0].flags.c_contiguous for case in cases)


def test_sequential_cases_record_every_layer_with_its_torch_style_name():
    case = LESSON.make_check("nn.sequential.forward").cases[0]
    assert case.params["layers"] == ["Linear(in_features=3, out_features=5, bias=True)", "ReLU()",
                                     "Linear(in_features=5, out_features=2, bias=True)"]
    assert [a.shape for a in case.arrays] == [(4, 3), (4, 5), (4, 5), (4, 2)]


# ---- typical mistakes and their diagnoses -----------------------------------------------------------

def naive_softmax(ctx, a, axis=-1):
    e = np.exp(a)
    return e / e.sum(axis=axis, keepdims=True)


def global_max_softmax(ctx, a, axis=-1):
    e = np.exp(a - a.max())
    return e / e.sum(axis=axis, keepdims=True)


def softmax_without_keepdims(ctx, a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis)


def softmax_last_axis_only(ctx, a, axis=-1):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_over_whole_array(ctx, a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum()


def naive_sigmoid(ctx, a):
    return 1 / (1 + np.exp(-a))


def sigmoid_with_where(ctx, a):
    return np.where(a >= 0, 1 / (1 + np.exp(-a)), np.exp(a) / (1 + np.exp(a)))


def sigmoid_wrong_sign(ctx, a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, e / (1 + e), 1 / (1 + e))


def sigmoid_clipping_at_500(ctx, a):
    return 1 / (1 + np.exp(-np.clip(a, -500, 500)))


def tanh_from_exp(ctx, a):
    return (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))


def tanh_from_sigmoid_without_the_2(ctx, a):
    return 2 / (1 + np.exp(-np.clip(a, -700, 700))) - 1


def leaky_relu(ctx, a):
    return np.where(a > 0, a, 0.01 * a)


def relu_reduction(ctx, a):
    return np.max(a, 0)


def relu_mask(ctx, a):
    return (a > 0).astype(float)


def linear_without_transpose(x, weight, bias):
    out = x @ weight
    return out if bias is None else out + bias


def linear_without_bias(x, weight, bias):
    return x @ weight.T


def linear_bias_as_column(x, weight, bias):
    out = x @ weight.T
    return out if bias is None else out + bias[:, None]


def linear_ignoring_none(x, weight, bias):
    return x @ weight.T + bias


def sequential_stale_input(layers, x):
    out = x
    for layer in layers:
        out = layer(x)
    return out


def sequential_returns_in_loop(layers, x):
    for layer in layers:
        return layer(x)


def stub(*args, **kwargs):
    raise NotImplementedError()


MISTAKES = [
    ("softmax.forward", naive_softmax, "overflow_softmax", "subtract each slice's max"),
    ("softmax.forward", global_max_softmax, "invalid_softmax", "not the max of the whole array"),
    ("softmax.forward", softmax_without_keepdims, "keepdims", "keepdims=True"),
    ("softmax.forward", softmax_last_axis_only, "axis", "normalise along the `axis` argument"),
    ("softmax.forward", softmax_over_whole_array, "whole_array", "each slice along `axis` must sum to 1"),
    ("sigmoid.forward", naive_sigmoid, "overflow_sigmoid", "np.exp(-np.abs(a))"),
    ("sigmoid.forward", sigmoid_with_where, "overflow_sigmoid", "np.where computes both of its branches"),
    ("sigmoid.forward", sigmoid_wrong_sign, "sign", "sigma(-a)"),
    ("sigmoid.forward", stub, "not_implemented", "not implemented yet"),
    ("tanh.forward", tanh_from_exp, "overflow_tanh", "np.tanh"),
    ("tanh.forward", tanh_from_sigmoid_without_the_2, "half", "tanh(a) = 2*sigmoid(2a) - 1"),
    ("relu.forward", leaky_relu, "leaky", "*leaky* ReLU"),
    ("relu.forward", relu_reduction, "reduction", "np.maximum(a, 0)"),
    ("relu.forward", relu_mask, "mask", "ReLU's *derivative*"),
    ("linear", linear_without_transpose, "linear_weight", "x @ weight.T"),
    ("linear", linear_without_bias, "no_bias", "you left out the bias"),
    ("linear", linear_bias_as_column, "linear_bias", "no [:, None]"),
    ("linear", linear_ignoring_none, "bias_none", "bias=None"),
    ("nn.sequential.forward", sequential_stale_input, "layer_input", "previous layer's output"),
    ("nn.sequential.forward", sequential_returns_in_loop, "first_only", "only the first layer ran"),
]


@pytest.mark.parametrize("exercise_id, wrong, key, words", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_a_typical_mistake_fails_the_hidden_test_with_its_diagnosis(exercise_id, wrong, key, words):
    result = LESSON.make_check(exercise_id, hidden=True).run(wrong)
    assert not result.passed
    assert result.mistake == key, result.message()
    assert words in result.diagnosis, result.diagnosis
    assert result.max_rel_error is None or result.max_rel_error > 1e-10, result.message()
    with pytest.raises(AssertionError, match=re.escape(words)):
        lesson_01.grade(exercise_id, wrong)


@pytest.mark.parametrize("hidden", [False, True])
def test_the_clipping_sigmoid_fails_and_shows_its_error(hidden):
    result = LESSON.make_check("sigmoid.forward", hidden=hidden).run(sigmoid_clipping_at_500)
    assert not result.passed and result.max_rel_error > 1e-10, result.message()
    assert "PASSED" not in result.message()
    assert "1e-10 relative" in result.message()


@pytest.mark.parametrize("hidden", [False, True])
def test_the_clipping_sigmoid_is_diagnosed_as_clipped(hidden):
    result = LESSON.make_check("sigmoid.forward", hidden=hidden).run(sigmoid_clipping_at_500)
    assert result.mistake == "clipped", result.message()
    assert "you clipped the input to +-500" in result.diagnosis


@pytest.mark.parametrize("relative_error, passes", [(1e-11, True), (1e-9, False)])
def test_the_verdict_and_the_error_it_shows_agree_even_near_1e_minus_300(relative_error, passes):
    def nearly(ctx, a):
        return reference_of("sigmoid.forward")(ctx, a) * (1 + relative_error)

    result = LESSON.make_check("sigmoid.forward", hidden=True).run(nearly)
    assert result.passed is passes
    assert (result.max_rel_error <= 1e-10) is passes, result.message()
    assert ("PASSED" in result.message()) is passes


def test_relu_with_greater_or_equal_is_still_correct():
    # a * (a >= 0) and max(a, 0) agree everywhere, including at 0: the forward has no kink problem.
    assert LESSON.make_check("relu.forward", hidden=True).run(lambda ctx, a: a * (a >= 0)).passed


# ---- the notebooks, run headless ----------------------------------------------------------------------

def test_released_notebook_has_stubs_and_no_answers_or_hidden_tests():
    text = RELEASED.read_text()
    assert "### BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "np.maximum(a, 0)" not in text and "np.exp(-np.abs(a))" not in text
    assert text.count("raise NotImplementedError()") == len(IDS)

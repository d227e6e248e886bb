"""Lesson 09 (capstone): references pass, typical mistakes get their diagnosis, answers are never told, the notebook
trains on the loaded library to the stated accuracy with curves that agree, and the autograder scores it."""
from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest
from scipy.special import erf

from autograd_mini.registry import names, reference_of
from grader.config import REPO
from grader.lessons import lesson_09

from notebook_run import executed, outputs_text
from lesson_checks import assert_diagnosed

LESSON = lesson_09.LESSON
ANSWERS = {"predict_gelu_slope": lambda: 0.5, "faq_wrong_statements": lambda: {0, 1, 3, 4, 6}}


def right_answer(exercise_id):
    return reference_of(exercise_id) if exercise_id in names() else ANSWERS[exercise_id]


@pytest.mark.parametrize("exercise_id", [e.id for e in LESSON.exercises])
def test_reference_passes_visible_and_hidden_checks(exercise_id):
    for hidden in (False, True):
        result = LESSON.make_check(exercise_id, hidden=hidden).run(right_answer(exercise_id))
        assert result.passed, result.message()


def gelu_forward(weight):
    def forward(ctx, a):
        cdf = weight(a)
        ctx.save_for_backward(a, cdf)
        return a * cdf
    return forward


def gelu_backward(local):
    def backward(ctx, grad):
        a, cdf = ctx.saved_tensors
        return (local(a, cdf, grad),)
    return backward


def density(a):
    return np.exp(-a * a / 2) / np.sqrt(2 * np.pi)


def only_the_cdf(ctx, a):
    cdf = 0.5 * (1 + erf(a / np.sqrt(2)))
    ctx.save_for_backward(a, cdf)
    return cdf


def stub(*args):
    raise NotImplementedError()


MISTAKES = [
    ("gelu.forward", gelu_forward(lambda a: 0.5 * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))),
     "tanh_approximation", "tanh approximation"),
    ("gelu.forward", gelu_forward(lambda a: 1 / (1 + np.exp(-a))), "silu", "SiLU"),
    ("gelu.forward", gelu_forward(lambda a: 1 / (1 + np.exp(-1.702 * a))), "sigmoid_approximation", "1.702"),
    ("gelu.forward", gelu_forward(lambda a: 0.5 * (1 + erf(a))), "erf_without_sqrt2", "divided by sqrt(2)"),
    ("gelu.forward", only_the_cdf, "cdf_only", "without multiplying by a"),
    ("gelu.backward", gelu_backward(lambda a, cdf, grad: grad * cdf), "cdf_only", "product rule"),
    ("gelu.backward", gelu_backward(lambda a, cdf, grad: grad * a * density(a)), "density_only", "CDF term"),
    ("gelu.backward", gelu_backward(lambda a, cdf, grad: grad * (cdf + a * np.exp(-a * a / 2))),
     "density_unnormalised", "1 / sqrt(2 pi)"),
    ("gelu.backward", gelu_backward(lambda a, cdf, grad: cdf + a * density(a)), "upstream_ignored", "chain rule"),
    ("faq_wrong_statements", lambda: {1, 3, 4, 6}, "backprop_updates", "only *computes*"),
    ("faq_wrong_statements", lambda: [0, 3, 4, 6], "no_other_way", "finite differences"),
    ("faq_wrong_statements", lambda: (0, 1, 4, 6), "full_batch_stochastic", "nothing is random"),
    ("faq_wrong_statements", lambda: {0, 1, 3, 6}, "same_update", "momentum adds up"),
    ("faq_wrong_statements", lambda: {0, 1, 3, 4}, "replay_fixed_shape", "new batch size"),
    ("faq_wrong_statements", lambda: {2, 5}, "true_ones", "*wrong* ones"),
    ("faq_wrong_statements", lambda: {0, 2}, "statements_misjudged", "5 of the 7 statements"),
    ("faq_wrong_statements", lambda: "0, 1", "statements_not_indices", "set or list of integers"),
    ("faq_wrong_statements", lambda: {0, 9}, "statement_out_of_range", "numbered 0 to 6"),
    ("gelu.backward", stub, "not_implemented", "not implemented yet"),
]


@pytest.mark.parametrize("exercise_id, wrong, key, words", MISTAKES, ids=[m[2] + ":" + m[0] for m in MISTAKES])
def test_typical_mistake_fails_the_hidden_test_with_its_diagnosis(exercise_id, wrong, key, words):
    assert_diagnosed(LESSON, exercise_id, wrong, key, words)


@pytest.mark.parametrize("answer, words", [(0, "ReLU's slope left"), (1, "ReLU's slope right"),
                                           (0.3989422804014327, "density alone"), (0.7, "product rule")])
def test_a_wrong_slope_is_told_why_without_the_answer(answer, words):
    result = LESSON.make_check("predict_gelu_slope", hidden=True).run(lambda: answer)
    assert not result.passed and result.mistake, result.message()
    assert words in result.message() and "0.5" not in result.message()


def test_the_faq_key_is_what_each_framework_measures():
    torch_key = LESSON.exercise("faq_wrong_statements").oracles[0].compute(None)
    tf_key = LESSON.exercise("faq_wrong_statements").oracles[1].compute(None)
    assert torch_key.tolist() == tf_key.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    assert len(lesson_09.FAQ) == 7


def test_no_cell_but_the_answers_own_gives_an_answer_away():
    for folder in ("solutions", "notebooks"):
        nb = nbformat.read(REPO / folder / "09_capstone.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in ANSWERS and folder == "solutions":
                continue
            assert "{0, 1, 3, 4, 6}" not in cell.source and "return 0.5" not in cell.source


@pytest.mark.slow
def test_the_notebook_trains_on_the_loaded_library_and_the_three_curves_agree():
    nb, _ = executed("09_capstone")
    text = "\n".join(outputs_text(c) for c in nb.cells if c.cell_type == "code")
    loaded = int(re.search(r"read from solutions/: (\d+) pieces of autograd_mini are yours", text).group(1))
    assert loaded > 40
    accuracy = float(re.search(r"validation accuracy ([\d.]+)%", text).group(1)) / 100
    assert accuracy > lesson_09.ACCURACY_THRESHOLD
    gap = float(re.search(r"largest difference between any two curves in the first 20 steps: (\S+)", text).group(1))
    assert gap < lesson_09.AGREEMENT_TOLERANCE
    saliency = [float(g) for g in re.findall(r"input gradients, yours vs \w+ *: largest difference (\S+)", text)]
    assert len(saliency) == 2 and max(saliency) < 1e-12


@pytest.mark.slow
def test_autograder_gives_the_solution_full_marks_and_the_release_zero(tmp_path):
    from grader.pipeline.grade import grade_file

    solution = grade_file("solution", LESSON, REPO / "solutions" / "09_capstone.ipynb", secret=b"s")
    assert solution.score == solution.max_score == LESSON.max_points, solution.to_dict()
    released = grade_file("release", LESSON, REPO / "notebooks" / "09_capstone.ipynb", secret=b"s")
    assert released.score == 0 and {e.result["mistake"] for e in released.exercises} == {"not_implemented"}

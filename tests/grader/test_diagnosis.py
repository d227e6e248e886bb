"""The judge's generic half: the error measure, the verdict, and every generic diagnosis, through ``compare``
(what a demo cell calls) on seeded float64 cases against PyTorch and TensorFlow. Each lesson's own mistakes
are tested with the lesson (tests/lessons/test_lesson_NN.py)."""
import subprocess
import sys

import numpy as np
import pytest

from grader.checks import frameworks as fw
from grader.checks.core import compare, output_error
from grader.checks.diagnose import Mistake

RNG = np.random.default_rng(0)
CASES = [(RNG.standard_normal(s), RNG.standard_normal(s)) for s in [(3,), (2, 4), (3, 2)]]


def torch_product(a, b):
    torch = fw.torch()
    return torch.from_numpy(a) * torch.from_numpy(b)


def tf_product(a, b):
    return fw.tf().multiply(a, b)


def check(fn, cases=CASES, **kwargs):
    return compare(fn, torch_fn=torch_product, tf_fn=tf_product, cases=cases, name="product", **kwargs)


def test_a_right_answer_passes_against_both_frameworks():
    result = check(lambda a, b: a * b)
    assert result.passed and bool(result)
    assert "product: PASSED" in repr(result) and "vs PyTorch: matches" in repr(result)
    assert "vs TensorFlow: matches" in repr(result) and "passed" in result._repr_html_()
    result.assert_passed()


@pytest.mark.parametrize("wrong, key, words", [
    (lambda a, b: 2 * a * b, "factor", "exactly 2x too large"),
    (lambda a, b: a * b / 2, "factor", "exactly 2x too small"),
    (lambda a, b: 3 * a * b, "factor", "exactly 3x too large"),
    (lambda a, b: -a * b, "sign", "wrong sign"),
    (lambda a, b: a * b * a.size, "factor", "changes with the input's shape (x6, x3, x8)"),
    (lambda a, b: a * b / a.size, "factor", "too small by a factor that changes"),
    (lambda a, b: (a * b)[..., None], "shape", "expected"),
    (lambda a, b: np.where(a > 10, a, np.nan), "nan", "NaN or inf where PyTorch's is finite"),
    (lambda a, b: a * b + (a > 1), "mismatch", "differs from PyTorch's on inputs"),
])
def test_generic_diagnoses_name_the_mistake(wrong, key, words):
    result = check(wrong)
    assert not result.passed and result.mistake == key, result.message()
    assert words in result.diagnosis, result.diagnosis


def test_a_known_mistake_is_named_before_the_generic_rules():
    result = check(lambda a, b: a + b, mistakes=[Mistake("added", "you added instead of multiplying",
                                                             lambda case: case.arrays[0] + case.arrays[1])])
    assert result.mistake == "added" and result.diagnosis == "you added instead of multiplying"


def test_the_mismatch_speaks_of_the_simplest_failing_case_first():
    """Every case fails; the message names the smallest 2-D one, not the first in the list (a vector)."""
    result = check(lambda a, b: a * b + 1e-3 * (a.ndim == 2) + 1e-3 * (a.ndim == 1))
    assert "on inputs (3, 2), (3, 2)" in result.diagnosis, result.diagnosis


@pytest.mark.parametrize("fn, key, words", [
    (lambda a, b: (_ for _ in ()).throw(NotImplementedError()), "not_implemented", "not implemented yet"),
    (lambda a, b: None, "returned_none", "forget the `return`"),
    (lambda a, b: fw.torch().from_numpy(a * b), "framework_object", "return a numpy array"),
    (lambda a, b: fw.tf().constant(a * b), "framework_object", "return a numpy array"),
    (lambda a, b: {"a": 1}, "wrong_type", "not a numpy array"),
    (lambda a, b: a.reshape(-1, 7), "exception", "ValueError"),
    ("not a function", "missing", "not defined"),
])
def test_failed_calls_are_explained_in_the_graders_words(fn, key, words):
    result = check(fn)
    assert not result.passed and result.mistake == key and words in result.diagnosis, result.message()
    assert result.max_rel_error is None and "relative error" not in result.message().splitlines()[0]
    with pytest.raises(AssertionError, match=words.replace("(", r"\(").replace("`", ".")):
        result.assert_passed()


def test_an_object_that_claims_to_equal_anything_is_not_a_number():
    class Anything:
        def __eq__(self, other):
            return True
        __array_priority__ = 1000

    result = check(lambda a, b: Anything())
    assert result.mistake == "wrong_type"


def test_the_error_shown_is_the_error_the_verdict_uses():
    """|yours - theirs| / max(|theirs|, atol/rtol): below atol/rtol it counts in units of the tolerance."""
    want = (np.array([1.0, 1e-300, 0.0]),)
    assert output_error((np.array([1.0 + 1e-11, 2e-300, 0.0]),), want, 1e-10, 1e-12) == (pytest.approx(1e-11), True)
    err, ok = output_error((np.array([1.0 + 1e-9, 1e-300, 0.0]),), want, 1e-10, 1e-12)
    assert not ok and err == pytest.approx(1e-9)
    err, ok = output_error((np.array([1.0, 2e-300, 0.0]),), want, 1e-10, 0.0)  # no atol: relative everywhere
    assert not ok and err == pytest.approx(1.0)
    assert output_error((np.array([np.nan, np.inf]),), (np.array([np.nan, np.inf]),), 1e-10, 0.0) == (0.0, True)
    assert output_error((np.ones(2),), (np.ones(3),), 1e-10, 0.0) == (float("inf"), False)


def test_checks_write_nothing_to_stderr(capfd):
    check(lambda a, b: a + b)
    check(lambda a, b: 1 / 0)
    assert capfd.readouterr().err == ""


def test_import_grader_does_not_import_frameworks():
    code = "import grader, grader.checks, grader.lesson, sys; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

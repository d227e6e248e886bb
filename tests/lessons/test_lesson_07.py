"""Lesson 07 (gradient pathologies): the notebook, its graded exercises, and the diagnoses of typical mistakes."""
from __future__ import annotations

import inspect
import math
import re
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograd_mini import Tensor
from autograd_mini.nn.init import calculate_gain
from autograd_mini.registry import names, reference_of
from grader.lessons import lesson_07

from notebook_run import executed
from lesson_checks import assert_autograder_verdicts, assert_diagnosed, widget_views

REPO = Path(__file__).resolve().parents[2]
LESSON = lesson_07.LESSON
SOLUTION = REPO / "solutions" / f"{LESSON.name}.ipynb"
RELEASED = REPO / "notebooks" / f"{LESSON.name}.ipynb"
FENCE = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION", re.S | re.M)
LIBRARY_IDS = [e.id for e in LESSON.exercises if e.id in names()]
ANSWERS = {"predict_he_std": 0.0625, "predict_sigmoid_chain": 0.75 ** 10}


def solution_cells() -> dict:
    nb = nbformat.read(str(SOLUTION), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def right_answer(exercise_id):
    return reference_of(exercise_id) if exercise_id in names() else lambda: ANSWERS[exercise_id]


def test_the_declaration_matches_the_notebook():
    cells = solution_cells()
    for exercise in LESSON.exercises:
        solution, test = cells[exercise.solution_cell], cells[exercise.test_cell]
        assert solution.metadata["nbgrader"]["solution"] is True and f"def {exercise.function}(" in solution.source
        assert test.metadata["nbgrader"]["points"] == exercise.points
        assert f"lesson_07.grade({exercise.id!r}, {exercise.function})" in test.source


@pytest.mark.parametrize("exercise_id", LIBRARY_IDS)
def test_solution_cell_carries_the_reference_fenced_lines(exercise_id):
    exercise = LESSON.exercise(exercise_id)
    (mine,) = FENCE.findall(solution_cells()[exercise.solution_cell].source)
    (library,) = FENCE.findall(inspect.getsource(reference_of(exercise_id)))
    assert textwrap.dedent(mine) == textwrap.dedent(library)


@pytest.mark.parametrize("exercise_id", [e.id for e in LESSON.exercises])
def test_reference_passes_visible_and_hidden_checks(exercise_id):
    for hidden in (False, True):
        result = LESSON.make_check(exercise_id, hidden=hidden).run(right_answer(exercise_id))
        assert result.passed, result.message()
        assert "PASSED" in result.message()


def test_the_initialisers_state_their_statistical_tolerance():
    shown = LESSON.check("nn.init.kaiming_normal", reference_of("nn.init.kaiming_normal")).message()
    assert "tolerance 1e-10 / 2e-02 relative" in shown and "200,000 draws" in shown and "6 standard errors" in shown


# ---- deliberately wrong implementations -----------------------------------------------------------------------

def _fans(shape):
    return math.prod(shape[1:]), shape[0] * math.prod(shape[2:])


def _uniform(bound_of):
    def initialiser(shape, gain=1.0, rng=None):
        bound = bound_of(shape, gain)
        return np.random.default_rng(rng).uniform(-bound, bound, shape)
    return initialiser


def _normal(std_of):
    def initialiser(shape, nonlinearity="relu", rng=None):
        return np.random.default_rng(rng).normal(0.0, std_of(shape, calculate_gain(nonlinearity)), shape)
    return initialiser


def _named(fn, name):
    fn.__name__ = name
    return fn


xavier_fan_in_only = _named(_uniform(lambda s, g: g * math.sqrt(3 / _fans(s)[0])), "xavier_fan_in_only")
xavier_fan_out_only = _named(_uniform(lambda s, g: g * math.sqrt(3 / _fans(s)[1])), "xavier_fan_out_only")
xavier_std_as_bound = _named(_uniform(lambda s, g: g * math.sqrt(2 / sum(_fans(s)))), "xavier_std_as_bound")
xavier_sum_not_average = _named(_uniform(lambda s, g: g * math.sqrt(3 / sum(_fans(s)))), "xavier_sum_not_average")
xavier_gain_ignored = _named(_uniform(lambda s, g: math.sqrt(6 / sum(_fans(s)))), "xavier_gain_ignored")
xavier_gain_squared = _named(_uniform(lambda s, g: g * g * math.sqrt(6 / sum(_fans(s)))), "xavier_gain_squared")


def xavier_normal_instead(shape, gain=1.0, rng=None):
    return np.random.default_rng(rng).normal(0.0, gain * math.sqrt(6 / sum(_fans(shape))), shape)


def xavier_from_zero(shape, gain=1.0, rng=None):
    return np.random.default_rng(rng).uniform(0.0, gain * math.sqrt(6 / sum(_fans(shape))), shape)


def xavier_global_state(shape, gain=1.0, rng=None):
    bound = gain * math.sqrt(6 / sum(_fans(shape)))
    return np.random.uniform(-bound, bound, shape)


def xavier_fixed_seed(shape, gain=1.0, rng=None):
    bound = gain * math.sqrt(6 / sum(_fans(shape)))
    return np.random.default_rng(0).uniform(-bound, bound, shape)


def xavier_reversed_shape(shape, gain=1.0, rng=None):
    bound = gain * math.sqrt(6 / sum(_fans(shape)))
    return np.random.default_rng(rng).uniform(-bound, bound, shape[::-1])


kaiming_fan_out = _named(_normal(lambda s, g: g / math.sqrt(_fans(s)[1])), "kaiming_fan_out")
kaiming_no_gain = _named(_normal(lambda s, g: 1 / math.sqrt(_fans(s)[0])), "kaiming_no_gain")
kaiming_shape0 = _named(_normal(lambda s, g: g / math.sqrt(s[0])), "kaiming_shape0")
kaiming_kernel_ignored = _named(_normal(lambda s, g: g / math.sqrt(s[1])), "kaiming_kernel_ignored")
xavier_shape0_only = _named(_uniform(lambda s, g: g * math.sqrt(3 / s[0])), "xavier_shape0_only")
kaiming_bound_as_std = _named(_normal(lambda s, g: g * math.sqrt(3 / _fans(s)[0])), "kaiming_bound_as_std")
kaiming_variance_as_std = _named(_normal(lambda s, g: g * g / _fans(s)[0]), "kaiming_variance_as_std")
kaiming_xavier_std = _named(_normal(lambda s, g: g * math.sqrt(2 / sum(_fans(s)))), "kaiming_xavier_std")


def kaiming_uniform_instead(shape, nonlinearity="relu", rng=None):
    bound = calculate_gain(nonlinearity) * math.sqrt(3 / _fans(shape)[0])
    return np.random.default_rng(rng).uniform(-bound, bound, shape)


def kaiming_as_tensor(shape, nonlinearity="relu", rng=None):
    return Tensor(reference_of("nn.init.kaiming_normal")(shape, nonlinearity, rng))


def _global_norm(grads):
    return math.sqrt(sum(float(np.sum(g * g)) for g in grads))


def _grads(parameters):
    return [p.grad for p in parameters if p.grad is not None]


def clip_per_parameter(parameters, max_norm, eps=1e-6):
    grads = _grads(parameters)
    total = _global_norm(grads)
    for g in grads:
        g *= min(1.0, max_norm / (_global_norm([g]) + eps))
    return total


def clip_always(parameters, max_norm, eps=1e-6):
    grads = _grads(parameters)
    total = _global_norm(grads)
    for g in grads:
        g *= max_norm / (total + eps)
    return total


def clip_without_eps(parameters, max_norm, eps=1e-6):
    grads = _grads(parameters)
    total = _global_norm(grads)
    for g in grads:
        g *= min(1.0, max_norm / total)
    return total


def clip_local_names(parameters, max_norm, eps=1e-6):
    grads = _grads(parameters)
    total = _global_norm(grads)
    for g in grads:
        g = g * min(1.0, max_norm / (total + eps))  # noqa: F841 — rebinds the name only
    return total


def clip_rebinding_grad(parameters, max_norm, eps=1e-6):
    total = _global_norm(_grads(parameters))
    for p in parameters:
        if p.grad is not None:
            p.grad = p.grad * min(1.0, max_norm / (total + eps))
    return total


def clip_returns_norm_after(parameters, max_norm, eps=1e-6):
    grads = _grads(parameters)
    scale = min(1.0, max_norm / (_global_norm(grads) + eps))
    for g in grads:
        g *= scale
    return _global_norm(grads)


def clip_squared_norm(parameters, max_norm, eps=1e-6):
    grads = _grads(parameters)
    total = sum(float(np.sum(g * g)) for g in grads)
    for g in grads:
        g *= min(1.0, max_norm / (total + eps))
    return total


def clip_sum_of_norms(parameters, max_norm, eps=1e-6):
    grads = _grads(parameters)
    total = sum(_global_norm([g]) for g in grads)
    for g in grads:
        g *= min(1.0, max_norm / (total + eps))
    return total


def clip_only_above(parameters, max_norm, eps=1e-6):
    grads = _grads(parameters)
    total = _global_norm(grads)
    if total > max_norm:
        for g in grads:
            g *= max_norm / (total + eps)
    return total


def clip_zero_filled(parameters, max_norm, eps=1e-6):
    for p in parameters:
        if p.grad is None:
            p.grad = np.zeros(p.shape)
    return reference_of("nn.utils.clip_grad_norm")(parameters, max_norm, eps)


def clip_returns_list(parameters, max_norm, eps=1e-6):
    return [reference_of("nn.utils.clip_grad_norm")(parameters, max_norm, eps)]


def dead_entries(z):
    return int(np.sum(z <= 0))


def dead_strict(z):
    return int(np.all(z < 0, axis=0).sum())


def dead_any(z):
    return int(np.any(z <= 0, axis=0).sum())


def dead_rows(z):
    return int(np.all(z <= 0, axis=1).sum())


def dead_fraction(z):
    return float(np.all(z <= 0, axis=0).mean())


def dead_alive(z):
    return int(np.any(z > 0, axis=0).sum())


def stub(*args, **kwargs):
    raise NotImplementedError()


MISTAKES = [
    ("nn.init.xavier_uniform", xavier_fan_in_only, "fan_in_only", "LeCun's uniform"),
    ("nn.init.xavier_uniform", xavier_fan_out_only, "fan_out_only", "fan_out alone"),
    ("nn.init.xavier_uniform", xavier_shape0_only, "fan_out_only", "fan_out alone"),
    ("nn.init.xavier_uniform", xavier_std_as_bound, "std_as_bound", "std b / sqrt(3)"),
    ("nn.init.xavier_uniform", xavier_sum_not_average, "sum_not_average", "average of the two fans"),
    ("nn.init.xavier_uniform", xavier_gain_ignored, "gain_ignored", "you ignored `gain`"),
    ("nn.init.xavier_uniform", xavier_gain_squared, "gain_squared", "Keras' `scale`"),
    ("nn.init.xavier_uniform", xavier_normal_instead, "init_normal_not_uniform", "your values are normal"),
    ("nn.init.xavier_uniform", xavier_from_zero, "init_other_stream", "centred on 0"),
    ("nn.init.xavier_uniform", xavier_global_state, "init_ignores_rng", "np.random's global state"),
    ("nn.init.xavier_uniform", xavier_fixed_seed, "init_repeats", "instead of making a new one"),
    ("nn.init.xavier_uniform", xavier_reversed_shape, "init_shape", "draw exactly `shape` values"),
    ("nn.init.xavier_uniform", stub, "not_implemented", "not implemented yet"),
    ("nn.init.kaiming_normal", kaiming_fan_out, "fan_out", "you divided by fan_out"),
    ("nn.init.kaiming_normal", kaiming_shape0, "fan_out", "you divided by fan_out"),
    ("nn.init.kaiming_normal", kaiming_kernel_ignored, "kernel_ignored", "in_channels x kernel-size"),
    ("nn.init.kaiming_normal", kaiming_no_gain, "gain_missing", "LeCun's init"),
    ("nn.init.kaiming_normal", kaiming_bound_as_std, "bound_as_std", "uniform bound"),
    ("nn.init.kaiming_normal", kaiming_variance_as_std, "variance_as_std", "square root"),
    ("nn.init.kaiming_normal", kaiming_xavier_std, "xavier_std", "Glorot's std"),
    ("nn.init.kaiming_normal", kaiming_uniform_instead, "init_uniform_not_normal", "your values are uniform"),
    ("nn.init.kaiming_normal", kaiming_as_tensor, "init_not_array", "returned a Tensor"),
    ("nn.utils.clip_grad_norm", clip_per_parameter, "per_parameter", "*global* norm"),
    ("nn.utils.clip_grad_norm", clip_always, "scaled_up", "clipping only ever shrinks"),
    ("nn.utils.clip_grad_norm", clip_without_eps, "no_eps", "tf.clip_by_global_norm has no eps"),
    ("nn.utils.clip_grad_norm", clip_local_names, "not_in_place", "only rebinds your local name"),
    ("nn.utils.clip_grad_norm", clip_rebinding_grad, "clip_rebound", "is a new array"),
    ("nn.utils.clip_grad_norm", clip_returns_norm_after, "norm_after_clipping", "measured before"),
    ("nn.utils.clip_grad_norm", clip_squared_norm, "squared_norm", "square root"),
    ("nn.utils.clip_grad_norm", clip_sum_of_norms, "sum_of_norms", "not ||g_1|| + ||g_2||"),
    ("nn.utils.clip_grad_norm", clip_only_above, "threshold_test", "when the norm equals max_norm"),
    ("nn.utils.clip_grad_norm", clip_zero_filled, "clip_grad_created", "skip such parameters"),
    ("nn.utils.clip_grad_norm", clip_returns_list, "clip_norm_not_a_number", "returned a list"),
    ("nn.utils.count_dead_relus", dead_entries, "entries", "Count columns"),
    ("nn.utils.count_dead_relus", dead_strict, "strict", "exactly 0"),
    ("nn.utils.count_dead_relus", dead_any, "any_example", "not np.any"),
    ("nn.utils.count_dead_relus", dead_rows, "examples", "axis=0"),
    ("nn.utils.count_dead_relus", dead_fraction, "fraction", "how many there are"),
    ("nn.utils.count_dead_relus", dead_alive, "alive", "units that are alive"),
]


@pytest.mark.parametrize("exercise_id, wrong, key, words", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_typical_mistake_fails_the_hidden_test_with_its_diagnosis(exercise_id, wrong, key, words):
    assert_diagnosed(LESSON, exercise_id, wrong, key, words)


@pytest.mark.parametrize("exercise_id, wrong", [("nn.init.xavier_uniform", xavier_fan_in_only),
                                                ("nn.init.kaiming_normal", kaiming_fan_out)])
def test_the_visible_check_already_names_the_fan_mistakes(exercise_id, wrong):
    result = LESSON.check(exercise_id, wrong)
    assert not result.passed and result.mistake in ("fan_in_only", "fan_out"), result.message()


WRONG_PREDICTIONS = [
    ("predict_he_std", math.sqrt(1 / 512), "gain of ReLU"),
    ("predict_he_std", math.sqrt(2 / 256), "which of the two numbers"),
    ("predict_he_std", 2 / 512, "that is the variance"),
    ("predict_he_std", math.sqrt(6 / 512), "uniform"),
    ("predict_he_std", 0.5, "which gain, which fan"),
    ("predict_sigmoid_chain", 3.0 ** 10, "derivative is missing"),
    ("predict_sigmoid_chain", 0.25 ** 10, "the weight w"),
    ("predict_sigmoid_chain", 1.5 ** 10, "the derivative at 0"),
    ("predict_sigmoid_chain", 0.75, "ten layers"),
    ("predict_sigmoid_chain", 7.5, "does not add"),
    ("predict_sigmoid_chain", 0.1, "w times sigmoid's derivative"),
]


@pytest.mark.parametrize("exercise_id, answer, words", WRONG_PREDICTIONS)
def test_a_wrong_prediction_is_told_why_without_the_answer(exercise_id, answer, words):
    for hidden in (False, True):
        result = LESSON.make_check(exercise_id, hidden=hidden).run(lambda: answer)
        assert not result.passed and result.mistake, result.message()
        shown = result.message()
        assert words in shown, shown
        right = ANSWERS[exercise_id]
        assert f"{right:g}" not in shown and f"{right:.3g}" not in shown and f"{right:.2g}" not in shown, shown


def test_no_cell_but_the_answer_cells_states_a_prediction():
    for cell in nbformat.read(str(SOLUTION), as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in ANSWERS:
            continue
        for number in ("0.0625", "0.75 ** 10", "0.0563", "0.056"):
            assert number not in cell.source, cell.source[:80]


@pytest.mark.slow
def test_no_output_states_a_prediction():
    nb, _ = executed(LESSON.name)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") + out.get("data", {}).get("text/plain", "")
            assert "0.0625" not in text and "0.0563" not in text, text[:200]


def test_the_released_notebook_does_not_give_the_predictions_away():
    for cell in nbformat.read(str(RELEASED), as_version=4).cells:
        for answer in ("0.0625", "0.75 ** 10", "math.sqrt(2 / 512)"):
            assert answer not in cell.source


@pytest.mark.slow
def test_the_widget_is_shown_once_and_states_its_settings():
    nb, _ = executed(LESSON.name)
    assert widget_views(nb) == 1


@pytest.mark.slow
def test_autograder_gives_full_marks_zero_and_per_exercise_diagnoses(tmp_path):
    """Through the sandboxed pipeline: the solution scores full marks, the release 0, and a submission with two
    typical mistakes loses exactly those two exercises, each with its diagnosis."""
    wrong = {"kaiming_normal": textwrap.dedent('''
                 def kaiming_normal(shape, nonlinearity="relu", rng=None):
                     return np.random.default_rng(rng).normal(0.0, calculate_gain(nonlinearity) / math.sqrt(shape[0]), shape)
                 '''),
             "clip_grad_norm": inspect.getsource(clip_per_parameter).replace("clip_per_parameter", "clip_grad_norm")
             .replace("_grads(parameters)", "[p.grad for p in parameters if p.grad is not None]")
             .replace("_global_norm(grads)", "math.sqrt(sum(float(np.sum(g * g)) for g in grads))")
             .replace("_global_norm([g])", "math.sqrt(float(np.sum(g * g)))")}
    assert_autograder_verdicts(LESSON, tmp_path, wrong, {"nn.init.kaiming_normal": "you divided by fan_out",
                                                  "nn.utils.clip_grad_norm": "*global* norm"})

"""Lesson 05 (optimizers): the notebook, its graded exercises, the predictions, and the diagnoses of typical mistakes."""
from __future__ import annotations

import inspect
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograd_mini.registry import reference_of
from grader.lessons import lesson_05

from notebook_run import executed
from lesson_checks import assert_autograder_verdicts, assert_diagnosed, widget_views

REPO = Path(__file__).resolve().parents[2]
LESSON = lesson_05.LESSON
SOLUTION = REPO / "solutions" / f"{LESSON.name}.ipynb"
RULES = [e.id for e in LESSON.exercises if not e.id.startswith("predict.")]
# The answers the solution notebook gives (computed here by hand, never printed by the notebook)
RATIO = (math.sqrt(0.01 * 1e-8) + 1e-8) / math.sqrt(0.01 * 1e-8 + 1e-8)
ANSWERS = {"predict.first_to_the_valley": lambda: 1, "predict.keras_rmsprop_step": lambda: RATIO}


def solution_cells() -> dict:
    nb = nbformat.read(str(SOLUTION), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


@pytest.mark.parametrize("exercise_id", [e.id for e in LESSON.exercises])
def test_reference_passes_visible_and_hidden_checks(exercise_id):
    fn = ANSWERS.get(exercise_id) or reference_of(exercise_id)
    for hidden in (False, True):
        result = LESSON.make_check(exercise_id, hidden=hidden).run(fn)
        assert result.passed, result.message()
        assert "PASSED" in result.message() and result.message().count("matches") == 2


def test_the_hidden_cases_hold_the_edge_cases():
    sgd = LESSON.make_check("optim.sgd", hidden=True).cases
    assert any(len(c.arrays) == 2 and c.params["hyper"].get("momentum") for c in sgd), "the first step of momentum"
    assert any("lrs" in c.params for c in sgd), "a changing learning rate"
    for exercise_id in RULES[:-1]:
        cases = LESSON.make_check(exercise_id, hidden=True).cases
        assert any(not np.any(c.arrays[1]) for c in cases), f"{exercise_id}: a step with a zero gradient"
        assert any(c.params["hyper"].get("weight_decay") for c in cases), f"{exercise_id}: weight decay"


# ---- deliberately wrong implementations, written as a student would --------------------------------------

def sgd_averaging(param, grad, state, *, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    grad = grad + weight_decay * param
    if momentum:
        state["v"] = momentum * state.get("v", np.zeros_like(param)) + (1 - momentum) * grad
        grad = grad + momentum * state["v"] if nesterov else state["v"]
    param -= lr * grad


def sgd_keras_velocity(param, grad, state, *, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    grad = grad + weight_decay * param
    v = state["v"] = momentum * state.get("v", 0.0) - lr * grad
    if nesterov:
        param += momentum * v - lr * grad
    else:
        param += v


def sgd_without_nesterov(param, grad, state, **hyper):
    reference_of("optim.sgd")(param, grad, state, **{**hyper, "nesterov": False})


def sgd_without_weight_decay(param, grad, state, **hyper):
    reference_of("optim.sgd")(param, grad, state, **{**hyper, "weight_decay": 0.0})


def sgd_rebinding(param, grad, state, *, lr, **hyper):
    param = param - lr * grad  # noqa: F841  (the mistake: a new local array)


def adagrad_eps_inside(param, grad, state, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                       eps=1e-10):
    state.setdefault("t", 0)
    state.setdefault("s", np.full_like(param, initial_accumulator_value))
    state["t"] += 1
    grad = grad + weight_decay * param
    state["s"] += grad * grad
    param -= lr / (1 + (state["t"] - 1) * lr_decay) * grad / np.sqrt(state["s"] + eps)


def adagrad_decay_from_the_first_step(param, grad, state, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                                      initial_accumulator_value=0.0, eps=1e-10):
    state.setdefault("t", 0)
    state.setdefault("s", np.full_like(param, initial_accumulator_value))
    state["t"] += 1
    grad = grad + weight_decay * param
    state["s"] += grad * grad
    param -= lr / (1 + state["t"] * lr_decay) * grad / (np.sqrt(state["s"]) + eps)


def adagrad_from_zero(param, grad, state, **hyper):
    reference_of("optim.adagrad")(param, grad, state, **{**hyper, "initial_accumulator_value": 0.0})


def rmsprop_eps_inside(param, grad, state, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                       centered=False):
    for key in ("v", "a", "b"):
        state.setdefault(key, np.zeros_like(param))
    grad = grad + weight_decay * param
    state["v"] = alpha * state["v"] + (1 - alpha) * grad ** 2
    state["a"] = alpha * state["a"] + (1 - alpha) * grad
    denom = np.sqrt(state["v"] - (state["a"] ** 2 if centered else 0) + eps)
    state["b"] = momentum * state["b"] + grad / denom
    param -= lr * (state["b"] if momentum else grad / denom)


def rmsprop_alpha_swapped(param, grad, state, *, alpha=0.99, **hyper):
    reference_of("optim.rmsprop")(param, grad, state, alpha=1 - alpha, **hyper)


def adam_like(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
              correct=True, eps_hat=False, decoupled=False):
    b1, b2 = betas
    for key in ("m", "v", "vmax"):
        state.setdefault(key, np.zeros_like(param))
    state["t"] = state.get("t", 0) + 1
    if decoupled:
        param *= 1 - lr * weight_decay
    else:
        grad = grad + weight_decay * param
    state["m"] = b1 * state["m"] + (1 - b1) * grad
    state["v"] = b2 * state["v"] + (1 - b2) * grad * grad
    v = state["vmax"] = np.maximum(state["vmax"], state["v"]) if amsgrad else state["v"]
    c1, c2 = (1 - b1 ** state["t"], 1 - b2 ** state["t"]) if correct else (1.0, 1.0)
    if eps_hat:
        param -= lr * math.sqrt(c2) / c1 * state["m"] / (np.sqrt(v) + eps)
    else:
        param -= lr * (state["m"] / c1) / (np.sqrt(v / c2) + eps)


def adam_without_bias_correction(param, grad, state, **hyper):
    adam_like(param, grad, state, correct=False, **hyper)


def adam_epsilon_hat(param, grad, state, **hyper):
    adam_like(param, grad, state, eps_hat=True, **hyper)


def adam_decoupled(param, grad, state, **hyper):
    adam_like(param, grad, state, decoupled=True, **hyper)


def adamw_coupled(param, grad, state, *, weight_decay=1e-2, **hyper):
    adam_like(param, grad, state, weight_decay=weight_decay, **hyper)


def adamw_decay_without_lr(param, grad, state, *, lr=1e-3, weight_decay=1e-2, **hyper):
    param *= 1 - weight_decay
    adam_like(param, grad, state, lr=lr, **hyper)


def adamw_decay_after_the_step(param, grad, state, *, lr=1e-3, weight_decay=1e-2, **hyper):
    adam_like(param, grad, state, lr=lr, **hyper)
    param *= 1 - lr * weight_decay


def schedule(step, *, base_lr, warmup_steps, total_steps, start_factor=0.1, eta_min=0.0, start=None, ahead=0,
             cosine_from_zero=False):
    start = start_factor if start is None else start
    if step < warmup_steps:
        return base_lr * (start + (1 - start) * min(step + ahead, warmup_steps) / warmup_steps)
    done = step if cosine_from_zero else step - warmup_steps
    span = total_steps if cosine_from_zero else total_steps - warmup_steps
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * min(done, span) / span)) / 2


def warmup_from_zero(step, **settings):
    return schedule(step, start=0.0, **settings)


def warmup_one_step_ahead(step, **settings):
    return schedule(step, ahead=1, **settings)


def cosine_counted_from_zero(step, **settings):
    return schedule(step, cosine_from_zero=True, **settings)


def stub(*args, **kwargs):
    raise NotImplementedError()


MISTAKES = [
    ("optim.sgd", sgd_averaging, "momentum_averaged", "(1 - momentum) times too small"),
    ("optim.sgd", sgd_keras_velocity, "lr_inside_velocity", "wrong once it changes"),
    ("optim.sgd", sgd_without_nesterov, "nesterov_ignored", "g + momentum * b"),
    ("optim.sgd", sgd_without_weight_decay, "weight_decay_ignored", "weight_decay is ignored"),
    ("optim.sgd", sgd_rebinding, "not_in_place", "update it in place"),
    ("optim.sgd", stub, "not_implemented", "not implemented yet"),
    ("optim.adagrad", adagrad_eps_inside, "eps_inside_root", "sqrt(s + eps)"),
    ("optim.adagrad", adagrad_decay_from_the_first_step, "decay_off_by_one", "lr / (1 + (t - 1) lr_decay)"),
    ("optim.adagrad", adagrad_from_zero, "initial_accumulator_ignored", "initial_accumulator_value is ignored"),
    ("optim.rmsprop", rmsprop_eps_inside, "eps_inside_root", "sqrt(v + eps)"),
    ("optim.rmsprop", rmsprop_alpha_swapped, "alpha_swapped", "v = alpha v + (1 - alpha) g^2"),
    ("optim.adam", adam_without_bias_correction, "no_bias_correction", "Divide m by 1 - beta1^t"),
    ("optim.adam", adam_epsilon_hat, "epsilon_hat", "epsilon hat"),
    ("optim.adam", adam_decoupled, "decoupled_in_adam", "an L2 penalty"),
    ("optim.adamw", adamw_coupled, "coupled_decay", "AdamW decouples it"),
    ("optim.adamw", adamw_decay_without_lr, "decay_without_lr", "p *= 1 - lr * weight_decay"),
    ("optim.adamw", adamw_decay_after_the_step, "decay_after_step", "decay first, then step"),
    ("lr_scheduler.warmup_cosine", warmup_from_zero, "warmup_from_zero", "your warmup starts at 0"),
    ("lr_scheduler.warmup_cosine", warmup_one_step_ahead, "warmup_one_step_ahead", "step / warmup_steps"),
    ("lr_scheduler.warmup_cosine", cosine_counted_from_zero, "cosine_from_zero", "(step - warmup_steps)"),
    ("predict.first_to_the_valley", lambda: 0, "gd_not_first", "not plain gradient descent"),
    ("predict.first_to_the_valley", lambda: 2, "adam_not_first", "not Adam"),
    ("predict.first_to_the_valley", lambda: 3, "prediction_choice", "one of the numbers 0, 1, 2"),
    ("predict.first_to_the_valley", lambda: "momentum", "prediction_not_a_number", "not a str"),
    ("predict.keras_rmsprop_step", lambda: 1 / RATIO, "inverted", "PyTorch's step divided by Keras'"),
    ("predict.keras_rmsprop_step", lambda: (1e-4 + 1e-8) / math.sqrt(1e-8 + 1e-8), "full_square", "(1 - alpha) g^2"),
    ("predict.keras_rmsprop_step", lambda: 0.5, "prediction_high", "too large"),
    ("predict.keras_rmsprop_step", lambda: 0.01, "prediction_low", "too small"),
]


@pytest.mark.parametrize("exercise_id, wrong, key, words", MISTAKES, ids=[f"{m[0]}-{m[2]}" for m in MISTAKES])
def test_typical_mistake_fails_the_hidden_test_with_its_diagnosis(exercise_id, wrong, key, words):
    assert_diagnosed(LESSON, exercise_id, wrong, key, words)


def test_the_keras_velocity_passes_while_lr_is_constant_and_fails_when_a_schedule_changes_it():
    check = LESSON.make_check("optim.sgd", hidden=True)
    constant = [c for c in check.cases if "lrs" not in c.params]
    assert type(check)(check.name, constant, check.oracles, check.call).run(sgd_keras_velocity).passed
    assert not check.run(sgd_keras_velocity).passed


@pytest.mark.parametrize("answer", [0.5, 0.01, 1 / RATIO])
def test_a_wrong_prediction_is_not_told_the_measured_value(answer):
    result = LESSON.make_check("predict.keras_rmsprop_step", hidden=True).run(lambda: answer)
    assert f"{RATIO:.3g}" not in result.message() and f"{RATIO:.2g}" not in result.message(), result.message()


# ---- the notebooks, run headless ------------------------------------------------------------------------

@pytest.mark.slow
def test_the_notebook_shows_the_race_once_and_never_a_predictions_answer():
    nb, _ = executed(LESSON.name)
    shown_everywhere = "".join(str(o) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"{RATIO:.3g}" not in shown_everywhere and f"{RATIO:.4f}" not in shown_everywhere
    assert widget_views(nb) == 1


@pytest.mark.slow
def test_autograder_gives_full_marks_zero_and_per_exercise_diagnoses(tmp_path):
    """Through the sandboxed pipeline: the solution scores full marks, the release 0, and a submission with two
    typical mistakes loses exactly those two exercises, each with its diagnosis."""
    adam = inspect.getsource(adam_epsilon_hat).replace("adam_epsilon_hat", "adam_update")
    wrong = {"adam_update": "import math\n" + inspect.getsource(adam_like) + "\n\n" + adam,
             "first_to_the_valley": "def first_to_the_valley():\n    return 2\n"}
    assert_autograder_verdicts(LESSON, tmp_path, wrong,
                               {"optim.adam": "epsilon hat", "predict.first_to_the_valley": "not Adam"})

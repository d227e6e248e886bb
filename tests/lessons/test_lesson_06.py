"""Lesson 06 (training): the notebook, its graded exercises, and the diagnoses of typical mistakes.

The exercises are lesson-local (not pieces of autograd_mini), so the reference answers are the solution
notebook's own cells, run here with the lesson's setup.
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograd_mini import Tensor, losses, optim
from grader.lessons import lesson_06

from notebook_run import run_notebook
from lesson_checks import assert_autograder_verdicts, assert_diagnosed

REPO = Path(__file__).resolve().parents[2]
LESSON = lesson_06.LESSON
SOLUTION = REPO / "solutions" / f"{LESSON.name}.ipynb"
RELEASED = REPO / "notebooks" / f"{LESSON.name}.ipynb"
IDS = [e.id for e in LESSON.exercises]


def solution_cells() -> dict:
    nb = nbformat.read(str(SOLUTION), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


@pytest.fixture(scope="module")
def reference() -> dict:
    """exercise id -> the function its solution cell defines, run with the lesson's setup."""
    cells = solution_cells()
    namespace: dict = {"lesson_06": lesson_06}
    exec(LESSON.setup, namespace)
    for exercise in LESSON.exercises:
        exec(cells[exercise.solution_cell].source, namespace)
    return {e.id: namespace[e.function] for e in LESSON.exercises}


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_passes_visible_and_hidden_checks(reference, exercise_id):
    for hidden in (False, True):
        result = LESSON.make_check(exercise_id, hidden=hidden).run(reference[exercise_id])
        assert result.passed, result.message()
        assert "PASSED" in result.message() and result.message().count("matches") == 2


def test_the_notebook_states_what_the_predictions_are_about():
    """The questions' data in the notebook is the data the oracles use."""
    text = "".join(c.source for c in nbformat.read(str(SOLUTION), as_version=4).cells if c.cell_type == "markdown")
    x = ", ".join(f"{v:g}" for v in lesson_06.STABLE_LR_X)
    y = ", ".join(f"{v:g}" for v in lesson_06.STABLE_LR_Y)
    assert f"$x = ({x})$" in text and f"$y = ({y})$" in text
    from sklearn.datasets import load_digits

    assert len(load_digits().target) - 360 == lesson_06.TRAIN_SIZE
    assert "n_validation = 360" in solution_cells_source()


def solution_cells_source() -> str:
    return "".join(c.source for c in nbformat.read(str(SOLUTION), as_version=4).cells if c.cell_type == "code")


# ---- deliberately wrong implementations ---------------------------------------------------------------

def _gd(step):
    def train(X, y, weight, bias, lr, steps):
        weight, bias = Tensor(weight, requires_grad=True), Tensor(bias, requires_grad=True)
        optimizer = optim.SGD([weight, bias], lr=lr)
        curve = [step(Tensor(X), Tensor(y), weight, bias, optimizer) for _ in range(steps)]
        return np.array(curve), weight.data, bias.data
    return train


def _forgets_zero_grad(X, y, weight, bias, optimizer):
    loss = losses.mse_loss(X @ weight.T + bias, y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _sums(X, y, weight, bias, optimizer):
    optimizer.zero_grad()
    loss = ((X @ weight.T + bias - y) ** 2).sum()
    loss.backward()
    optimizer.step()
    return loss.item()


def _halves(X, y, weight, bias, optimizer):
    optimizer.zero_grad()
    loss = ((X @ weight.T + bias - y) ** 2).mean() / 2
    loss.backward()
    optimizer.step()
    return loss.item()


def _records_after_step(X, y, weight, bias, optimizer):
    optimizer.zero_grad()
    losses.mse_loss(X @ weight.T + bias, y).backward()
    optimizer.step()
    return losses.mse_loss(X @ weight.T + bias, y).item()


def _forgets_step(X, y, weight, bias, optimizer):
    optimizer.zero_grad()
    loss = losses.mse_loss(X @ weight.T + bias, y)
    loss.backward()
    return loss.item()


def regression_rebinding(X, y, weight, bias, lr, steps):
    w, b = Tensor(weight, requires_grad=True), Tensor(bias, requires_grad=True)
    curve = []
    for _ in range(steps):
        loss = losses.mse_loss(Tensor(X) @ w.T + b, Tensor(y))
        loss.backward()
        w = w - lr * w.grad  # a new tensor, not the parameter changed in place
        b = b - lr * b.grad
        curve.append(loss.item())
    return np.array(curve), w.data, b.data


def step_forgets_zero_grad(model, optimizer, x, labels):
    loss = losses.cross_entropy(model(x), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_sums(model, optimizer, x, labels):
    optimizer.zero_grad()
    loss = losses.cross_entropy(model(x), labels, reduction="sum")
    loss.backward()
    optimizer.step()
    return loss.item()


def step_zero_grad_after_backward(model, optimizer, x, labels):
    loss = losses.cross_entropy(model(x), labels)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def step_returns_tensor(model, optimizer, x, labels):
    optimizer.zero_grad()
    loss = losses.cross_entropy(model(x), labels)
    loss.backward()
    optimizer.step()
    return loss


def accuracy_count(logits, labels):
    return float(np.sum(np.argmax(logits, axis=1) == labels))


def accuracy_percent(logits, labels):
    return 100 * np.mean(np.argmax(logits, axis=1) == labels)


def stub(*args, **kwargs):
    raise NotImplementedError()


MISTAKES = [
    ("linear_regression", _gd(_forgets_zero_grad), "gradients_accumulate", "zero_grad"),
    ("linear_regression", _gd(_sums), "loss_summed", "N times too large"),
    ("linear_regression", _gd(_halves), "loss_halved", "half the mean squared error"),
    ("linear_regression", _gd(_records_after_step), "loss_after_step", "one step late"),
    ("linear_regression", _gd(_forgets_step), "never_updated", "optimizer.step()"),
    ("linear_regression", regression_rebinding, "parameter_rebound", "in place"),
    ("linear_regression", stub, "not_implemented", "not implemented yet"),
    ("training_step", step_forgets_zero_grad, "gradients_accumulate", "optimizer.zero_grad()"),
    ("training_step", step_sums, "loss_summed", "B times too large"),
    ("training_step", step_zero_grad_after_backward, "parameters_unchanged", "not between backward and step"),
    ("training_step", step_returns_tensor, "loss_not_a_number", "loss.item()"),
    ("accuracy", accuracy_count, "count_not_fraction", "*fraction*"),
    ("accuracy", accuracy_percent, "percent", "percentage"),
    ("predict_stable_lr", lambda: 0.1, "one_over_lambda", "1/lambda_max"),
    ("predict_stable_lr", lambda: 0.4, "hessian_without_two", "2 mean(x^2)"),
    ("predict_stable_lr", lambda: 1.0, "smallest_curvature", "largest eigenvalue"),
    ("predict_stable_lr", lambda: 0.25, "prediction_high", "too large"),
    ("predict_stable_lr", lambda: 0.05, "prediction_low", "too small"),
    ("predict_stable_lr", lambda: "0.2", "prediction_not_a_number", "not a str"),
    ("predict_lr_factor", lambda: lesson_06.TRAIN_SIZE, "training_set_size", "*minibatch*"),
    ("predict_lr_factor", lambda: 1 / lesson_06.BATCH_SIZE, "inverse_factor", "the other way round"),
    ("predict_lr_factor", lambda: 10, "number_of_classes", "not over the classes"),
    ("predict_lr_factor", lambda: 64, "prediction_high", "too large"),
]


def _name(mistake) -> str:
    exercise_id, wrong, key, _ = mistake
    return f"{exercise_id}-{key}-{getattr(wrong, '__name__', 'fn')}"


@pytest.mark.parametrize("exercise_id, wrong, key, words", MISTAKES, ids=[_name(m) for m in MISTAKES])
def test_typical_mistake_fails_the_hidden_test_with_its_diagnosis(exercise_id, wrong, key, words):
    assert_diagnosed(LESSON, exercise_id, wrong, key, words)


@pytest.mark.parametrize("exercise_id, answer", [("predict_stable_lr", 0.3), ("predict_lr_factor", 16)])
def test_a_wrong_prediction_is_not_told_the_answer(reference, exercise_id, answer):
    truth = float(reference[exercise_id]())
    result = LESSON.make_check(exercise_id, hidden=True).run(lambda: answer)
    assert not result.passed
    for shown in {f"{truth:g}", f"{truth:.6g}", repr(truth)}:
        assert shown not in result.message(), result.message()


# ---- the notebooks, run headless ------------------------------------------------------------------------

def _printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.slow
def test_solution_notebook_runs_headless_in_under_a_minute_and_passes_every_graded_cell():
    nb, seconds = run_notebook(SOLUTION, allow_errors=False)
    assert seconds < 60, f"the lesson took {seconds:.0f} s"
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == len(LESSON.exercises)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], cell.source[:80]
    for cell in graded:
        assert "all hidden tests passed" in _printed(cell), cell.source[:80]
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("check_")]
    assert len(checks) == len(LESSON.exercises)
    for cell in checks:
        shown = "".join(str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        assert "PASSED" in shown and shown.count("matches") == 2, shown
    widget_views = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widget_views) == 2  # the descent contours and the training monitor

    text = "\n".join(_printed(c) for c in nb.cells if c.cell_type == "code")
    gap = float(re.search(r"largest relative difference between any two of the three curves: (\S+)", text).group(1))
    assert gap < 1e-10
    assert text.count("(distance to lstsq") == 3
    for distance in re.findall(r"distance to lstsq (\S+)\)", text):
        assert float(distance) < 1e-10
    assert re.search(r"1\.02 x bound .* \(DIVERGES\)", text) and re.search(r"0\.98 x bound .* \(converges\)", text)
    assert float(re.search(r"validation accuracy (\S+)%", text).group(1)) >= 95.0
    for framework in ("PyTorch", "TensorFlow"):
        difference = re.search(rf"your loss vs {framework}\s*: largest difference over the \d+ steps (\S+)", text)
        assert float(difference.group(1)) < 1e-10
    for cell in nb.cells:  # the predictions' answers are never printed
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith(("check_predict", "test_predict")):
            shown = _printed(cell) + "".join(str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
            assert "0.2" not in shown.replace("0.0e+00", "") and " 32" not in shown, shown


@pytest.mark.slow
def test_released_notebook_is_generated_and_fails_only_at_the_stubs():
    from grader.pipeline import release

    assert RELEASED.read_text() == release.generate(SOLUTION), "notebooks/ drifted: run `grader release 06_training`"
    for cell in nbformat.read(str(RELEASED), as_version=4).cells:
        assert "### BEGIN SOLUTION" not in cell.source and "HIDDEN TESTS" not in cell.source
    assert release.execution_problems(RELEASED, solution=False) == []


@pytest.mark.slow
def test_autograder_gives_full_marks_zero_and_per_exercise_diagnoses(tmp_path):
    """Through the sandboxed pipeline: the solution scores full marks, the release 0, and a submission with two
    typical mistakes loses exactly those two exercises, each with its diagnosis."""
    wrong = {"training_step": inspect.getsource(step_forgets_zero_grad).replace("step_forgets_zero_grad",
                                                                                "training_step"),
             "accuracy": inspect.getsource(accuracy_percent).replace("accuracy_percent", "accuracy")}
    assert_autograder_verdicts(LESSON, tmp_path, wrong, {"training_step": "zero_grad", "accuracy": "percentage"})

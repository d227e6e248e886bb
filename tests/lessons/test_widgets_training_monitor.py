"""Lesson 06's widgets, headless: the training monitor redraws its curves in place and states what it shows; the
descent contours draw the path of the training function they are given, and its loss, equal to PyTorch's, and
follow their learning-rate slider across the stability bound."""
from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

pytest.importorskip("ipywidgets")  # a course dependency; the tests below need it to mean anything
from autograd_mini.widgets.training_monitor import DescentContours, TrainingMonitor  # noqa: E402
from grader.checks import frameworks  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SERIES = ["train loss", "validation loss", "validation accuracy"]


@pytest.fixture(scope="module")
def torch():
    return frameworks.torch()


def stated(markup: str) -> dict:
    (found,) = re.findall(r'data-settings="([^"]*)"', markup)
    return json.loads(html.unescape(found))


# ---- the training monitor --------------------------------------------------------------------------------

def test_monitor_draws_what_was_recorded_in_the_same_figure_and_image():
    monitor = TrainingMonitor(SERIES)
    box = monitor.widget()
    image, figure, first_picture = monitor.image, monitor.figure, bytes(monitor.image.value)
    for step in range(1, 11):
        monitor.record(step, {"train loss": 2.0 / step})
    monitor.record(10, {"validation loss": 0.4, "validation accuracy": 0.91})
    monitor.redraw()

    assert monitor.image is image and monitor.figure is figure and box.children == (image, monitor.status)
    picture = bytes(image.value)
    assert picture.startswith(PNG_MAGIC) and picture != first_picture
    steps, values = monitor.lines["train loss"].get_data()
    np.testing.assert_array_equal(steps, np.arange(1, 11))
    np.testing.assert_array_equal(values, 2.0 / np.arange(1, 11))
    assert monitor.lines["validation accuracy"].axes is monitor.accuracy_ax
    assert monitor.lines["validation loss"].axes is monitor.loss_ax
    assert stated(monitor.status.value) == {"points": {"train loss": 10, "validation loss": 1,
                                                       "validation accuracy": 1}, "done": False}
    assert "validation accuracy 0.91" in monitor.status.value


def test_recording_draws_nothing_until_redraw_and_finish_says_so():
    monitor = TrainingMonitor(SERIES)
    monitor.widget()
    picture = bytes(monitor.image.value)
    monitor.record(1, {"train loss": 1.0})
    assert bytes(monitor.image.value) == picture and monitor.redraws == 0
    monitor.finish()
    assert monitor.redraws == 1 and bytes(monitor.image.value) != picture
    assert stated(monitor.status.value)["done"] is True and "finished" in monitor.status.value


def test_monitor_works_headless_without_a_widget_and_refuses_unknown_series():
    monitor = TrainingMonitor(["train loss"])
    monitor.record(1, {"train loss": 0.5})
    monitor.redraw()  # no widget was made: draws into the figure only
    assert monitor.latest() == {"train loss": 0.5}
    with pytest.raises(KeyError, match="unknown series"):
        monitor.record(2, {"validation accuracy": 0.5})
    with pytest.raises(ValueError, match="at least one series"):
        TrainingMonitor([])


# ---- the descent contours ------------------------------------------------------------------------------

rng = np.random.default_rng(3)
X = rng.uniform(0.0, 2.0, size=(30, 1))
Y = 1.5 * X - 0.5 + 0.3 * rng.standard_normal((30, 1))


def torch_train(torch):
    """Gradient descent on the mean squared error with torch.optim.SGD: what the widget is given to draw."""
    def train(x, y, weight, bias, lr, steps):
        w, b = torch.tensor(weight, requires_grad=True), torch.tensor(bias, requires_grad=True)
        optimizer = torch.optim.SGD([w, b], lr=lr)
        curve = []
        for _ in range(steps):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(torch.tensor(x) @ w.T + b, torch.tensor(y))
            loss.backward()
            optimizer.step()
            curve.append(loss.item())
        return np.array(curve), w.detach().numpy(), b.detach().numpy()
    return train


def torch_bound(torch) -> float:
    """2 / lambda_max of the Hessian of the loss in (w, b), by PyTorch."""
    def loss(p):
        return ((p[0] * torch.tensor(X[:, 0]) + p[1] - torch.tensor(Y[:, 0])) ** 2).mean()
    hessian = torch.autograd.functional.hessian(loss, torch.zeros(2, dtype=torch.float64))
    return 2 / torch.linalg.eigvalsh(hessian).max().item()


def torch_path(torch, lr: float, start, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(w, b) after 0..steps steps of torch.optim.SGD, one optimizer throughout, and the loss at each."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=lr)
    x, y = torch.tensor(X[:, 0]), torch.tensor(Y[:, 0])
    path, curve = [], []
    for _ in range(steps + 1):
        optimizer.zero_grad()
        loss = ((p[0] * x + p[1] - y) ** 2).mean()
        path.append(p.detach().numpy().copy())
        curve.append(loss.item())
        loss.backward()
        optimizer.step()
    return np.array(path), np.array(curve)


def test_path_and_losses_equal_pytorchs_gradient_descent(torch):
    contours = DescentContours(X, Y, train=torch_train(torch), lr=0.2, start=(-1.0, 3.0), steps=12)
    path, curve = torch_path(torch, 0.2, (-1.0, 3.0), 12)
    np.testing.assert_allclose(contours.path, path, rtol=1e-12)
    np.testing.assert_allclose(contours.curve, curve, rtol=1e-12)
    contours.draw()
    drawn = [line for line in contours.figure.axes[0].lines if line.get_label() == "gradient descent"]
    np.testing.assert_array_equal(np.column_stack(drawn[0].get_data()), contours.path)


def test_the_student_training_function_is_what_runs():
    calls = []

    def recording_train(x, y, weight, bias, lr, steps):
        calls.append((steps, lr, weight.item(), bias.item()))
        return np.zeros(steps), weight + steps, bias - steps  # a made-up "training": w + k, b - k after k steps

    contours = DescentContours(X, Y, train=recording_train, lr=0.05, start=(0.5, 1.0), steps=4)
    assert calls == [(k, 0.05, 0.5, 1.0) for k in range(1, 5)]
    np.testing.assert_array_equal(contours.path, [[0.5 + k, 1.0 - k] for k in range(5)])


@pytest.mark.parametrize("fraction, verdict", [(0.95, "converges"), (1.05, "diverges")])
def test_slider_recomputes_and_states_the_learning_rate_across_the_bound(torch, fraction, verdict):
    bound = torch_bound(torch)
    contours = DescentContours(X, Y, train=torch_train(torch), lr=0.1, start=(-1.0, 3.0), steps=40, bound=bound)
    box = contours.widget()
    picture = bytes(contours.image.value)

    contours.slider.value = fraction * bound           # what a student's drag does

    assert contours.lr == fraction * bound
    path, curve = torch_path(torch, fraction * bound, (-1.0, 3.0), 40)
    np.testing.assert_allclose(contours.path, path, rtol=1e-10)
    assert (curve[-1] > curve[0]) == (verdict == "diverges") and contours.diverged == (verdict == "diverges")
    assert verdict in contours.status.value and f"{fraction:.2f} x the bound" in contours.status.value
    assert bytes(contours.image.value).startswith(PNG_MAGIC) and bytes(contours.image.value) != picture
    assert stated(contours.status.value) == {"learning rate": contours.slider.value}
    assert contours.slider.description == "learning rate" and contours.slider.max == pytest.approx(1.2 * bound)
    assert contours.image in box.children and contours.status in box.children


def test_programmatic_set_moves_the_slider_and_validates(torch):
    contours = DescentContours(X, Y, train=torch_train(torch), lr=0.1, steps=5, bound=torch_bound(torch))
    contours.widget()
    contours.set(0.3)
    assert contours.slider.value == 0.3 and stated(contours.status.value) == {"learning rate": 0.3}
    with pytest.raises(ValueError, match="must be positive"):
        contours.set(0.0)
    with pytest.raises(ValueError, match="one number per example"):
        DescentContours(X, Y[:5], train=torch_train(torch), lr=0.1)


def test_loss_surface_is_the_mean_squared_error(torch):
    contours = DescentContours(X, Y, train=torch_train(torch), lr=0.1, steps=2)
    w, b = np.array([[0.5, 1.0], [2.0, -1.0]]), np.array([[0.0, 1.0], [-0.5, 0.2]])
    expected = [[torch.nn.functional.mse_loss(wi * torch.tensor(X[:, 0]) + bi, torch.tensor(Y[:, 0])).item()
                 for wi, bi in zip(wr, br)] for wr, br in zip(w, b)]
    np.testing.assert_allclose(contours.loss_at(w, b), expected, rtol=1e-12)

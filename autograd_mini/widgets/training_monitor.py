"""Training widgets (lesson 06): live loss / accuracy curves, and gradient descent on a regression's loss contours.

``TrainingMonitor`` shows curves that grow while a training loop runs: ``record`` adds points, ``redraw``
updates the lines of one matplotlib figure and puts the new picture into the same ``ipywidgets.Image``
(in place, no new figure or output per step)::

    monitor = TrainingMonitor(["train loss", "validation loss", "validation accuracy"])
    display(monitor.widget())
    for step ...:
        monitor.record(step, {"train loss": loss})
        ...
        monitor.redraw()                  # e.g. once per epoch
    monitor.finish()

Series whose name ends in "accuracy" go to the right panel, the others to the left (the losses).

``DescentContours`` draws the mean squared error of ``w x + b`` over a (w, b) grid and the path of gradient
descent from a start point, with a learning-rate slider. The path is computed by the training function it is
given (lesson 06's ``train_linear_regression``), so it shows the student's own gradient descent.

Both state what their current drawing shows in a ``data-settings`` attribute (JSON): the monitor its points
and whether training has finished, the contours the learning rate (keyed like its slider's label), so a
browser test can wait until the drawing has settled.
"""
from __future__ import annotations

import html
import io
import json
from typing import Callable, Sequence

import numpy as np

from .. import losses
from ..tensor import Tensor, no_grad


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _settings_span(settings: dict, text: str) -> str:
    return f'<span data-settings="{html.escape(json.dumps(settings))}">{text}</span>'


class TrainingMonitor:
    """Curves of named series against the training step, redrawn in place."""

    def __init__(self, series: Sequence[str] = ("train loss", "validation accuracy"), title: str = ""):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if not series:
            raise ValueError("a TrainingMonitor needs at least one series")
        self.series = list(series)
        self.title = title
        self.points: dict[str, tuple[list, list]] = {name: ([], []) for name in self.series}
        self.done = False
        self.redraws = 0
        self.figure = Figure(figsize=(8.4, 3.0), dpi=80)
        FigureCanvasAgg(self.figure)
        self.loss_ax, self.accuracy_ax = self.figure.subplots(1, 2)
        self.lines = {}
        for name in self.series:
            ax = self.accuracy_ax if self._is_accuracy(name) else self.loss_ax
            (self.lines[name],) = ax.plot([], [], marker="." if self._is_accuracy(name) else None, label=name)
        for ax, label in ((self.loss_ax, "loss"), (self.accuracy_ax, "accuracy")):
            ax.set_xlabel("step")
            ax.set_ylabel(label)
            if ax.lines:
                ax.legend(loc="best", fontsize=8)
        # a fixed layout: tight_layout would render the figure once more at every redraw
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.88, wspace=0.28)
        self.image = self.status = None

    @staticmethod
    def _is_accuracy(name: str) -> bool:
        return name.endswith("accuracy")

    def record(self, step: int, values: dict) -> None:
        """Add one point per named series at ``step`` (nothing is drawn until ``redraw``)."""
        unknown = set(values) - set(self.series)
        if unknown:
            raise KeyError(f"unknown series {sorted(unknown)}; this monitor shows {', '.join(self.series)}")
        for name, value in values.items():
            steps, ys = self.points[name]
            steps.append(int(step))
            ys.append(float(value))

    def latest(self) -> dict:
        return {name: ys[-1] for name, (_, ys) in self.points.items() if ys}

    def settings(self) -> dict:
        """What the current drawing shows: the number of points per series, and whether training has finished."""
        return {"points": {name: len(steps) for name, (steps, _) in self.points.items()}, "done": self.done}

    def summary(self) -> str:
        latest = ", ".join(f"{name} {value:.4g}" for name, value in self.latest().items())
        state = "finished" if self.done else "training"
        return f"{state}: " + (latest or "no points yet")

    def redraw(self) -> None:
        """Move every line to its points, rescale, and replace the picture in the displayed image."""
        for name, (steps, ys) in self.points.items():
            self.lines[name].set_data(steps, ys)
        for ax in (self.loss_ax, self.accuracy_ax):
            ax.relim()
            ax.autoscale_view()
        if any(self.points[name][1] for name in self.series if not self._is_accuracy(name)):
            self.loss_ax.set_yscale("log")
        self.figure.suptitle(self.title, fontsize=10)
        self.redraws += 1
        if self.image is not None:
            self.image.value = _png(self.figure)
            self.status.value = _settings_span(self.settings(), html.escape(self.summary()))

    def finish(self) -> None:
        """Training is over: draw the final curves and say so."""
        self.done = True
        self.redraw()

    def widget(self):
        """The picture and a status line (with data-settings), for a notebook; headless it is inert."""
        import ipywidgets as w

        if self.image is None:
            self.image = w.Image(value=_png(self.figure), format="png")
            self.status = w.HTML(_settings_span(self.settings(), html.escape(self.summary())))
            self.box = w.VBox([self.image, self.status])
        return self.box

    def _repr_mimebundle_(self, **kwargs):
        return self.widget()._repr_mimebundle_(**kwargs)


class DescentContours:
    """The loss surface of a 1-D linear regression and gradient descent's path on it, for a chosen learning rate.

    ``train(x, y, weight, bias, lr, steps) -> (losses, weight, bias)`` is the training function (lesson 06's
    ``train_linear_regression``): the path is the parameters it returns after 0, 1, ..., ``steps`` steps.
    ``bound`` (2 / lambda_max of the loss's Hessian, computed by the caller) is marked on the slider's scale.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, train: Callable, lr: float, start: tuple = (-1.0, 3.0),
                 steps: int = 25, bound: float | None = None, grid: int = 60):
        self.x, self.y = np.asarray(x, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
        if self.x.shape != self.y.shape:
            raise ValueError(f"x and y must hold one number per example, got shapes {np.shape(x)} and {np.shape(y)}")
        self.train, self.start, self.steps, self.bound, self.grid = train, tuple(map(float, start)), steps, bound, grid
        self.lr = float(lr)
        self.slider = self.image = self.status = None
        self.figure = None
        self._recompute()

    # ---- state ---------------------------------------------------------------------------------
    def _recompute(self) -> None:
        self.path, self.curve = self.descent(self.lr)
        if self.image is not None:
            self.image.value = self.png()
            self.status.value = _settings_span(self.settings(), html.escape(self.summary()))

    def descent(self, lr: float) -> tuple[np.ndarray, np.ndarray]:
        """((steps + 1, 2) parameters (w, b) after 0..steps steps, (steps + 1,) their losses) from ``train``."""
        x, y = self.x[:, None], self.y[:, None]
        weight, bias = np.array([[self.start[0]]]), np.array([self.start[1]])
        path = [self.start]
        for k in range(1, self.steps + 1):
            _, w, b = self.train(x, y, weight.copy(), bias.copy(), lr, k)
            path.append((float(np.ravel(w)[0]), float(np.ravel(b)[0])))
        path = np.array(path)
        return path, self.loss_at(path[:, 0], path[:, 1])

    def loss_at(self, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The mean squared error of ``w x + b`` for arrays of (w, b), by autograd_mini's mse_loss."""
        w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
        prediction = w[..., None] * self.x + b[..., None]
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            errors = losses.mse_loss(Tensor(prediction), Tensor(np.broadcast_to(self.y, prediction.shape)),
                                     reduction="none").data
        return errors.mean(axis=-1)

    @property
    def diverged(self) -> bool:
        return not np.isfinite(self.curve[-1]) or self.curve[-1] > self.curve[0]

    def set(self, lr: float) -> np.ndarray:
        """Change the learning rate, recompute the path and redraw (the slider calls this); returns the path."""
        if lr <= 0:
            raise ValueError(f"the learning rate must be positive, got {lr}")
        if self.slider is not None and self.slider.value != lr:
            self.slider.value = lr  # its observer calls set again, with the slider's value
            return self.path
        self.lr = float(lr)
        self._recompute()
        return self.path

    def settings(self) -> dict:
        return {"learning rate": self.lr}

    def summary(self) -> str:
        relative = f" = {self.lr / self.bound:.2f} x the bound 2/lambda_max = {self.bound:.4g}" if self.bound else ""
        verdict = "diverges" if self.diverged else "converges"
        return (f"lr {self.lr:.4g}{relative}: gradient descent {verdict}; loss {self.curve[0]:.4g} at the start, "
                f"{self.curve[-1]:.4g} after {self.steps} steps")

    # ---- drawing -------------------------------------------------------------------------------
    def window(self) -> tuple[float, float, float, float]:
        """(w_lo, w_hi, b_lo, b_hi): the start, the minimum and the first steps, with a margin."""
        visible = self.path[np.all(np.abs(self.path - self.path[0]) < 1e3, axis=1)][:8]
        best = np.linalg.lstsq(np.stack([self.x, np.ones_like(self.x)], axis=1), self.y, rcond=None)[0]
        points = np.vstack([visible, best[None, :]])
        lo, hi = points.min(axis=0), points.max(axis=0)
        pad = 0.25 * np.maximum(hi - lo, 0.5)
        return lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]

    def draw(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(8.4, 3.4), dpi=80)
        FigureCanvasAgg(figure)
        contours, curve = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        w_lo, w_hi, b_lo, b_hi = self.window()
        ws, bs = np.meshgrid(np.linspace(w_lo, w_hi, self.grid), np.linspace(b_lo, b_hi, self.grid))
        surface = self.loss_at(ws, bs)
        contours.contour(ws, bs, surface, levels=np.geomspace(surface.min() + 1e-3, surface.max(), 14), cmap="viridis")
        contours.plot(self.path[:, 0], self.path[:, 1], "o-", color="#d6452b", ms=3, lw=1, label="gradient descent")
        contours.set_xlim(w_lo, w_hi)
        contours.set_ylim(b_lo, b_hi)
        contours.set_xlabel("w")
        contours.set_ylabel("b")
        contours.legend(loc="upper right", fontsize=8)
        finite = np.where(np.isfinite(self.curve), self.curve, np.nan)
        curve.semilogy(np.arange(len(finite)), finite, color="#d6452b")
        curve.set_xlabel("step")
        curve.set_ylabel("loss")
        figure.suptitle(f"lr = {self.lr:.4g}" + (f" ({self.lr / self.bound:.2f} x 2/lambda_max)" if self.bound else ""),
                        fontsize=10)
        figure.tight_layout()
        self.figure = figure
        return figure

    def png(self) -> bytes:
        return _png(self.draw())

    def widget(self):
        """The learning-rate slider, the contours with the path, the loss curve, and a summary line."""
        import ipywidgets as w

        top = 1.2 * self.bound if self.bound else 4 * self.lr
        self.slider = w.FloatSlider(value=self.lr, min=top / 60, max=top, step=top / 600, readout_format=".4f",
                                    description="learning rate", continuous_update=False,
                                    style={"description_width": "initial"}, layout=w.Layout(width="480px"))
        self.slider.observe(lambda change: self.set(change["new"]), names="value")
        self.image = w.Image(value=self.png(), format="png")
        self.status = w.HTML(_settings_span(self.settings(), html.escape(self.summary())))
        return w.VBox([self.slider, self.image, self.status])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget()._repr_mimebundle_(**kwargs)

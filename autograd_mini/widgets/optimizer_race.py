"""Optimizer race (lesson 05): several optimizers descend the same 2-D loss surface from the same start.

The left panel draws the surface's contours and every optimizer's path; the right panel the loss against
the step, on a log scale. Each path is computed twice: by autograd_mini (``optim.SGD``/``Adagrad``/... whose
update rules come from the registry, so ``implementations={"optim.adam": adam_update, ...}`` races the
student's rules) as a line, and by ``torch.optim`` as markers on top. A learning rate that is too large
diverges: the path leaves the plot, and the run stops at the first step whose loss exceeds ``DIVERGED``.

Programmatic use (what the tests and the lesson do)::

    race = OptimizerRace("rosenbrock", optimizers=("GD", "Adam"), steps=300)
    race.runs["Adam"].path            # (steps + 1, 2) iterates; NaN after a divergence
    race.runs["Adam"].torch_path      # the same run in torch.optim
    race.set(lrs={"GD": 0.004})       # recompute and redraw (the controls call this too)
    race.widget()                     # controls, the figure and a summary, for a notebook

The summary's ``data-settings`` states what the drawing was made with, keyed like the controls' labels.
"""
from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .. import optim
from ..registry import use
from ..tensor import Tensor


@dataclass(frozen=True)
class Surface:
    loss: Callable  # p (a 2-vector of autograd_mini or torch) -> scalar, written with operators only
    start: tuple
    box: tuple  # ((x_min, x_max), (y_min, y_max)) of the contour plot
    lrs: dict  # a learning rate per optimizer that converges here


def _quadratic(p):
    return 0.5 * (p[0] ** 2 + 50 * p[1] ** 2)


def _rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def _saddle(p):  # a saddle at the origin, minima at (0, +-1)
    return 0.5 * p[0] ** 2 - 0.5 * p[1] ** 2 + 0.25 * p[1] ** 4


SURFACES = {
    "ill-conditioned quadratic": Surface(_quadratic, (-4.0, 1.0), ((-5.0, 5.0), (-1.5, 1.5)),
                                         {"GD": 0.03, "momentum": 0.01, "Nesterov": 0.01, "AdaGrad": 0.5,
                                          "RMSProp": 0.05, "Adam": 0.1}),
    "rosenbrock": Surface(_rosenbrock, (-1.5, 2.0), ((-2.0, 2.0), (-1.0, 3.0)),
                          {"GD": 0.001, "momentum": 0.001, "Nesterov": 0.001, "AdaGrad": 0.5, "RMSProp": 0.01,
                           "Adam": 0.05}),
    "saddle": Surface(_saddle, (-2.0, 1e-3), ((-2.5, 2.5), (-1.6, 1.6)),
                      {"GD": 0.1, "momentum": 0.05, "Nesterov": 0.05, "AdaGrad": 0.3, "RMSProp": 0.02, "Adam": 0.05}),
}
# name -> (optimizer class name, shared by autograd_mini and torch.optim; its settings besides lr)
OPTIMIZERS = {"GD": ("SGD", {}), "momentum": ("SGD", {"momentum": 0.9}),
              "Nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}), "AdaGrad": ("Adagrad", {}),
              "RMSProp": ("RMSprop", {}), "Adam": ("Adam", {})}
COLOURS = dict(zip(OPTIMIZERS, ["#3b75af", "#e08a2c", "#8c564b", "#9467bd", "#2ca02c", "#d62728"]))
DIVERGED = 1e8  # a loss above this ends the run
TARGET = 1e-3  # "reached the valley": how far above the surface's minimum


@dataclass
class Run:
    path: np.ndarray  # (steps + 1, 2), NaN after a divergence
    losses: np.ndarray  # (steps + 1,)
    torch_path: np.ndarray
    diverged_at: int | None  # the step whose loss exceeded DIVERGED, or None

    def reached(self, floor: float) -> int | None:
        """The first step whose loss is within TARGET of the surface's minimum ``floor``, or None."""
        hits = np.flatnonzero(self.losses - floor < TARGET)
        return int(hits[0]) if hits.size else None


def _descend(start, steps: int, make_optimizer, tensor, loss_of, value) -> tuple[np.ndarray, np.ndarray]:
    p = tensor(np.array(start, dtype=np.float64))
    optimizer = make_optimizer(p)
    path, losses = np.full((steps + 1, 2), np.nan), np.full(steps + 1, np.nan)
    path[0] = start
    for step in range(steps + 1):
        optimizer.zero_grad()
        loss = loss_of(p)
        losses[step] = value(loss)
        if not losses[step] <= DIVERGED:
            path[step] = np.nan
            break
        if step == steps:
            break
        loss.backward()
        optimizer.step()
        path[step + 1] = value(p)
    return path, losses


def race_one(surface: str, optimizer: str, lr: float, steps: int,
             implementations: Mapping[str, Callable] | None = None) -> Run:
    """One optimizer on one surface, in autograd_mini (with ``implementations`` plugged in) and in torch.optim."""
    import torch

    shape = SURFACES[surface]
    name, settings = OPTIMIZERS[optimizer]
    with use(dict(implementations or {})), np.errstate(all="ignore"):
        path, losses = _descend(shape.start, steps, lambda p: getattr(optim, name)([p], lr=lr, **settings),
                                lambda a: Tensor(a, requires_grad=True), shape.loss,
                                lambda t: np.array(t.data, dtype=np.float64) if t.ndim else float(t.data))
    torch_path, _ = _descend(shape.start, steps, lambda p: getattr(torch.optim, name)([p], lr=lr, **settings),
                             lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True), shape.loss,
                             lambda t: t.detach().numpy().astype(np.float64) if t.ndim else float(t.detach()))
    above = np.flatnonzero(~(losses <= DIVERGED))
    return Run(path, losses, torch_path, int(above[0]) if above.size else None)


def surface_minimum(surface: str) -> float:
    return -0.25 if surface == "saddle" else 0.0


class OptimizerRace:
    """Paths and loss curves of several optimizers on one surface, recomputed whenever a setting changes."""

    def __init__(self, surface: str = "ill-conditioned quadratic", optimizers=("GD", "momentum", "Adam"),
                 lrs: Mapping[str, float] | None = None, steps: int = 150,
                 implementations: Mapping[str, Callable] | None = None):
        self._check(surface, optimizers, steps)
        self.surface, self.optimizers, self.steps = surface, tuple(optimizers), steps
        self.lrs = {**SURFACES[surface].lrs, **dict(lrs or {})}
        self.implementations = dict(implementations or {})
        self.controls: dict = {}
        self._image = self._summary = None
        self._syncing = False
        self.figure = None
        self._recompute()

    @staticmethod
    def _check(surface, optimizers, steps):
        if surface not in SURFACES:
            raise ValueError(f"unknown surface {surface!r}; choose one of {', '.join(SURFACES)}")
        unknown = [o for o in optimizers if o not in OPTIMIZERS]
        if unknown:
            raise ValueError(f"unknown optimizer(s) {unknown}; choose from {', '.join(OPTIMIZERS)}")
        if steps < 1:
            raise ValueError("steps must be at least 1")

    def set(self, surface: str | None = None, optimizers=None, lrs: Mapping[str, float] | None = None,
            steps: int | None = None) -> dict:
        """Change settings, recompute and redraw; a new surface brings its own learning rates (then ``lrs``)."""
        surface = self.surface if surface is None else surface
        optimizers = self.optimizers if optimizers is None else tuple(optimizers)
        steps = self.steps if steps is None else steps
        self._check(surface, optimizers, steps)
        if any(o not in OPTIMIZERS for o in dict(lrs or {})):
            raise ValueError(f"unknown optimizer in lrs {sorted(lrs)}; choose from {', '.join(OPTIMIZERS)}")
        if surface != self.surface:
            self.lrs = dict(SURFACES[surface].lrs)
        self.surface, self.optimizers, self.steps = surface, optimizers, steps
        self.lrs.update(dict(lrs or {}))
        self._sync_controls()
        self._recompute()
        return self.runs

    def _recompute(self) -> None:
        self.runs = {name: race_one(self.surface, name, self.lrs[name], self.steps, self.implementations)
                     for name in self.optimizers}
        if self._image is not None:
            self._image.value = self.png()
            self._summary.value = self.summary_html()  # after the image: a new summary means a new image

    # ---- what is shown -------------------------------------------------------------------------
    def settings(self) -> dict:
        """What the current drawing was made with, keyed like the controls' labels."""
        return {"surface": self.surface, "optimizers": list(self.optimizers), "steps": self.steps,
                **{f"lr {name}": self.lrs[name] for name in OPTIMIZERS}}

    def outcome(self, name: str) -> str:
        run, floor = self.runs[name], surface_minimum(self.surface)
        if run.diverged_at is not None:
            return f"diverged at step {run.diverged_at}"
        reached = run.reached(floor)
        final = f"loss {run.losses[-1]:.3g} after {self.steps} steps"
        return final if reached is None else f"within {TARGET:g} of the minimum at step {reached}; " + final

    def torch_difference(self, name: str) -> float:
        """Largest |autograd_mini - torch| over the iterates both computed (0 when both diverged at once)."""
        run = self.runs[name]
        both = np.isfinite(run.path).all(axis=1) & np.isfinite(run.torch_path).all(axis=1)
        return float(np.abs(run.path[both] - run.torch_path[both]).max()) if both.any() else 0.0

    def summary_html(self) -> str:
        rows = "".join(f"<tr><td>{name}</td><td>{self.lrs[name]:g}</td><td>{html.escape(self.outcome(name))}</td>"
                       f"<td>{self.torch_difference(name):.1e}</td></tr>" for name in self.optimizers)
        return (f'<table class="race-table" data-settings="{html.escape(json.dumps(self.settings()))}" '
                f'style="font-family:monospace;font-size:12px"><tr><th>optimizer</th><th>lr</th><th>outcome</th>'
                f"<th>max |yours - PyTorch|</th></tr>{rows}</table>")

    def draw(self):
        """A matplotlib Figure (no pyplot): contours and paths (torch's as markers), loss per step."""
        from matplotlib.figure import Figure

        shape = SURFACES[self.surface]
        figure = Figure(figsize=(9.6, 3.8), dpi=80)
        paths, curves = figure.subplots(1, 2)
        (x0, x1), (y0, y1) = shape.box
        xs, ys = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        height = shape.loss(np.stack([xs, ys])) - surface_minimum(self.surface)
        paths.contour(xs, ys, np.log10(height + 1e-3), levels=20, colors="0.75", linewidths=0.6)
        paths.plot(*shape.start, "ko", ms=5)
        for name in self.optimizers:
            run = self.runs[name]
            paths.plot(run.path[:, 0], run.path[:, 1], "-", color=COLOURS[name], lw=1.5, label=f"{name} (yours)")
            paths.plot(run.torch_path[:, 0], run.torch_path[:, 1], "x", color=COLOURS[name], ms=3, alpha=0.6)
            curves.semilogy(np.maximum(run.losses - surface_minimum(self.surface), 1e-16), color=COLOURS[name],
                            label=name + (f" (diverged at {run.diverged_at})" if run.diverged_at is not None else ""))
        paths.set_xlim(x0, x1)
        paths.set_ylim(y0, y1)
        paths.set_title(f"{self.surface}: paths (x: PyTorch)", fontsize=10)
        curves.axhline(TARGET, color="0.6", lw=0.8, ls="--")
        curves.set_xlabel("step")
        curves.set_ylabel("loss - minimum")
        curves.set_xlim(0, self.steps)
        curves.legend(fontsize=8)
        paths.legend(fontsize=7, loc="lower right")
        figure.tight_layout()
        self.figure = figure
        return figure

    def png(self) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        buffer = io.BytesIO()
        FigureCanvasAgg(self.draw()).print_png(buffer)
        return buffer.getvalue()

    # ---- the widget ----------------------------------------------------------------------------
    def widget(self):
        """Controls, the figure as an image and the summary table: works in JupyterLab and headless."""
        import ipywidgets as w

        self.controls = {
            "surface": w.Dropdown(options=list(SURFACES), value=self.surface, description="surface"),
            "steps": w.IntSlider(value=self.steps, min=10, max=1000, step=10, description="steps",
                                 continuous_update=False),
            "optimizers": w.SelectMultiple(options=list(OPTIMIZERS), value=self.optimizers, rows=6,
                                           description="optimizers"),
            **{f"lr {name}": w.FloatLogSlider(value=self.lrs[name], base=10, min=-4, max=0.5, step=0.05,
                                              description=f"lr {name}", continuous_update=False,
                                              readout_format=".3g") for name in OPTIMIZERS},
        }
        for label, control in self.controls.items():
            control.observe(lambda change, label=label: self._on_control(label, change["new"]), names="value")
        self._image = w.Image(value=self.png(), format="png")
        self._summary = w.HTML(self.summary_html())
        sliders = [self.controls[f"lr {name}"] for name in OPTIMIZERS]
        return w.VBox([w.HBox([self.controls["surface"], self.controls["steps"]]),
                       w.HBox([self.controls["optimizers"], w.VBox(sliders[:3]), w.VBox(sliders[3:])]),
                       self._image, self._summary])

    def _on_control(self, label: str, value) -> None:
        if self._syncing:
            return
        if label == "surface":
            self.set(surface=value)
        elif label == "steps":
            self.set(steps=value)
        elif label == "optimizers":
            self.set(optimizers=value)
        else:
            self.set(lrs={label[len("lr "):]: value})

    def _sync_controls(self) -> None:
        """Move the controls to the settings (a programmatic change, or a surface's own learning rates)."""
        if not self.controls:
            return
        self._syncing = True
        try:
            self.controls["surface"].value = self.surface
            self.controls["steps"].value = self.steps
            self.controls["optimizers"].value = self.optimizers
            for name in OPTIMIZERS:
                self.controls[f"lr {name}"].value = self.lrs[name]
        finally:
            self._syncing = False

    def _repr_mimebundle_(self, **kwargs):
        return self.widget()._repr_mimebundle_(**kwargs)

"""Overlaid loss curves (lesson 09): one training run in several libraries, drawn on top of each other.

``OverlaidCurves({"yours": a, "PyTorch": b, "TensorFlow": c})`` draws the curves on one axes (left) and, on a log
scale, each curve's distance from the first one step by step (right), where curves that coincide to rounding
would otherwise hide each other. A slider chooses how many steps are shown, from the first few to the whole run.
What the drawing shows is stated in a ``data-settings`` attribute (JSON keyed like the slider's label)::

    curves = OverlaidCurves({"yours": mine, "PyTorch": torch_curve, "TensorFlow": tf_curve})
    display(curves)
"""
from __future__ import annotations

import html

import numpy as np

from .training_monitor import _png, _settings_span

FLOOR = 1e-18  # differences of exactly 0 are drawn here (a log scale has no 0)


class OverlaidCurves:
    """Curves of the same length, the first the one the others are compared with."""

    def __init__(self, curves: dict, steps_shown: int | None = None, title: str = "loss per training step"):
        lengths = {name: len(values) for name, values in curves.items()}
        if len(curves) < 2 or len(set(lengths.values())) != 1:
            raise ValueError(f"OverlaidCurves needs two or more curves of one length, got lengths {lengths}")
        self.curves = {name: np.asarray(values, dtype=np.float64) for name, values in curves.items()}
        self.names = list(self.curves)
        self.steps = next(iter(lengths.values()))
        self.steps_shown = self.steps if steps_shown is None else int(np.clip(steps_shown, 2, self.steps))
        self.title = title
        self.slider = self.image = self.status = None

    def differences(self) -> dict:
        """|curve - first curve| at every step, for every curve but the first."""
        first = self.curves[self.names[0]]
        return {name: np.abs(self.curves[name] - first) for name in self.names[1:]}

    def settings(self) -> dict:
        return {"steps shown": self.steps_shown}

    def summary(self) -> str:
        shown = slice(0, self.steps_shown)
        gaps = ", ".join(f"{name} {gap[shown].max():.1e}" for name, gap in self.differences().items())
        return f"first {self.steps_shown} of {self.steps} steps; largest difference from {self.names[0]}: {gaps}"

    def draw(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(8.4, 3.0), dpi=80)
        FigureCanvasAgg(figure)
        curves_ax, gaps_ax = figure.subplots(1, 2)
        steps = np.arange(1, self.steps_shown + 1)
        styles = ["-", "--", ":", "-."]
        for k, name in enumerate(self.names):
            curves_ax.plot(steps, self.curves[name][: self.steps_shown], styles[k % 4], lw=2.5 - 0.5 * k, label=name)
        for name, gap in self.differences().items():
            gaps_ax.semilogy(steps, np.maximum(gap[: self.steps_shown], FLOOR), ".", ms=3, label=f"{name}")
        curves_ax.set(xlabel="step", ylabel="loss", title=self.title)
        gaps_ax.set(xlabel="step", ylabel=f"|loss - {self.names[0]}'s|", title="distance from the first curve")
        for ax in (curves_ax, gaps_ax):
            ax.legend(loc="best", fontsize=8)
        figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.88, wspace=0.3)
        return figure

    def show(self, steps_shown: int) -> None:
        """Show the first ``steps_shown`` steps (the slider calls this) and redraw."""
        self.steps_shown = int(np.clip(steps_shown, 2, self.steps))
        if self.slider is not None and self.slider.value != self.steps_shown:
            self.slider.value = self.steps_shown  # its observer calls show again, with the slider's value
            return
        if self.image is not None:
            self.image.value = _png(self.draw())
            self.status.value = _settings_span(self.settings(), html.escape(self.summary()))

    def widget(self):
        """The steps slider, the two panels, and a summary line (with data-settings)."""
        import ipywidgets as w

        self.slider = w.IntSlider(value=self.steps_shown, min=2, max=self.steps, description="steps shown",
                                  continuous_update=False, style={"description_width": "initial"},
                                  layout=w.Layout(width="480px"))
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.image = w.Image(value=_png(self.draw()), format="png")
        self.status = w.HTML(_settings_span(self.settings(), html.escape(self.summary())))
        return w.VBox([self.slider, self.image, self.status])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget()._repr_mimebundle_(**kwargs)

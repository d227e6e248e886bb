"""Activation explorer (lesson 01): choose an activation, slide the input range, see f and f'.

Both curves come from autograd_mini itself: f from the op's forward, f' from ``backward()`` on
``f(x).sum()`` (each output depends only on its own input, so the gradient is the elementwise
derivative). Pass ``overrides`` (as for ``autograd_mini.use``) to plot the student's own forwards.

The figure is drawn with matplotlib's Agg canvas into an ``ipywidgets.Image``, so the widget works
in JupyterLab 4 without ipympl and creating it headless (tests, nbclient) draws nothing on screen.
"""
from __future__ import annotations

import html
import io
import json
from typing import Callable, Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import functional as F
from ..registry import use
from ..tensor import Tensor

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "sigmoid": F.sigmoid, "tanh": F.tanh}
FORMULAS = {"relu": r"$\max(x, 0)$", "sigmoid": r"$1/(1+e^{-x})$", "tanh": r"$\tanh x$"}
RANGE_LIMIT = 20.0
POINTS = 801


def evaluate(name: str, lo: float, hi: float, points: int = POINTS,
             overrides: Mapping[str, Callable] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, f(x), f'(x)) on ``points`` evenly spaced inputs in [lo, hi], computed by autograd_mini."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    if not lo < hi:
        raise ValueError(f"the input range needs lo < hi, got [{lo}, {hi}]")
    xs = np.linspace(lo, hi, points)
    x = Tensor(xs, requires_grad=True)
    with use(dict(overrides or {})):
        y = ACTIVATIONS[name](x)
        y.sum().backward()
    return xs, y.data.copy(), x.grad.copy()


class ActivationExplorer:
    """The widget: a dropdown (activation), a range slider (inputs), the plot and a one-line summary.

    ``explorer.widget`` is the ipywidgets box; displaying the explorer displays it. The figure's
    lines (``function_line``, ``derivative_line``) and ``ax`` are kept so their data can be inspected.
    """

    def __init__(self, function: str = "sigmoid", x_range: tuple[float, float] = (-6.0, 6.0),
                 overrides: Mapping[str, Callable] | None = None):
        import ipywidgets as widgets

        if function not in ACTIVATIONS:
            raise ValueError(f"unknown activation {function!r}; choose one of {', '.join(ACTIVATIONS)}")
        self.overrides = dict(overrides or {})
        self.function = widgets.Dropdown(options=list(ACTIVATIONS), value=function, description="activation")
        self.x_range = widgets.FloatRangeSlider(
            value=tuple(float(v) for v in x_range), min=-RANGE_LIMIT, max=RANGE_LIMIT, step=0.5,
            description="input x", continuous_update=False, readout_format=".1f",
            layout=widgets.Layout(width="420px"))
        self.image = widgets.Image(format="png")
        self.summary = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([self.function, self.x_range]), self.image, self.summary])

        self.figure = Figure(figsize=(6.4, 3.4), dpi=90)
        FigureCanvasAgg(self.figure)
        self.ax = self.figure.add_subplot()
        (self.function_line,) = self.ax.plot([], [], lw=2, label="f(x)")
        (self.derivative_line,) = self.ax.plot([], [], lw=2, ls="--", label="f'(x)  (autograd_mini backward)")
        self.ax.axhline(0, color="0.6", lw=0.8)
        self.ax.axvline(0, color="0.6", lw=0.8)
        self.ax.set_xlabel("x")
        self.ax.legend(loc="upper left", fontsize=8)
        self.figure.tight_layout()

        self.function.observe(self.update, names="value")
        self.x_range.observe(self.update, names="value")
        self.update()

    def update(self, change=None) -> None:
        """Recompute both curves for the current dropdown and slider values, redraw, re-summarise."""
        name = self.function.value
        lo, hi = self.x_range.value
        drawn_with = {"activation": name, "input x": [lo, hi]}  # keyed like the controls' labels
        if hi - lo < 1e-9:  # the slider allows an empty range; show a sliver around it instead
            lo, hi = lo - 0.5, hi + 0.5
        x, f, df = evaluate(name, lo, hi, overrides=self.overrides)
        self.function_line.set_data(x, f)
        self.derivative_line.set_data(x, df)
        self.ax.set_xlim(lo, hi)
        low, high = min(f.min(), df.min()), max(f.max(), df.max())
        pad = 0.08 * max(high - low, 1e-3)
        self.ax.set_ylim(low - pad, high + pad)
        self.ax.set_title(f"{name}(x) = {FORMULAS[name]} and its derivative")
        self.figure.tight_layout()  # the title changes length with the function: keep it inside the figure
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        self.image.value = buffer.getvalue()
        peak = int(np.argmax(df))
        self.summary.value = (f'<span data-settings="{html.escape(json.dumps(drawn_with))}">'
                              f"on [{lo:g}, {hi:g}]: {name} ranges over [{f.min():.4g}, {f.max():.4g}]; the derivative "
                              f"peaks at {df[peak]:.4g} (x = {x[peak]:.3g}) and is {df[0]:.3g} at the left edge, "
                              f"{df[-1]:.3g} at the right edge</span>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


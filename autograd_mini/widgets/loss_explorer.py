"""Loss explorer (lesson 04): binary cross-entropy and its gradient against the logit z, three ways, in float32
or float64, with the logits where the loss or its gradient becomes inf or nan marked.

The three formulas, each computed by autograd_mini (the gradient by ``backward()``):

* ``naive``: probabilities first, then their log: -log(sigmoid(z)) (target 1) or -log(1 - sigmoid(z))
  (target 0), with sigmoid written as 1 / (1 + exp(-z)). exp overflows, or sigmoid rounds to 0 or 1;
* ``clamped``: PyTorch's ``binary_cross_entropy`` on sigmoid(z): each log clamped at -100, so the loss is
  finite — and flat, with a zero gradient, where the clamp acts;
* ``stable``: ``binary_cross_entropy_with_logits``, written in z itself: finite everywhere.

Drawn with matplotlib's Agg canvas into an ``ipywidgets.Image`` (no ipympl, nothing on screen when headless).
"""
from __future__ import annotations

import html
import io
import json

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import losses
from ..tensor import Tensor

FORMULAS = ("naive", "clamped", "stable")
DTYPES = ("float64", "float32")
RANGE_LIMIT = 1000.0
POINTS = 1201


def evaluate(formula: str, target: int, dtype: str, lo: float, hi: float,
             points: int = POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, loss(z), d loss / dz) on ``points`` logits evenly spaced in [lo, hi], computed in ``dtype``."""
    if formula not in FORMULAS:
        raise ValueError(f"unknown formula {formula!r}; choose one of {', '.join(FORMULAS)}")
    if dtype not in DTYPES or target not in (0, 1):
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)} and target 0 or 1, got {dtype!r} and {target!r}")
    if not lo < hi:
        raise ValueError(f"the logit range needs lo < hi, got [{lo}, {hi}]")
    z = Tensor(np.linspace(lo, hi, points).astype(dtype), requires_grad=True)
    t = np.full(points, float(target), dtype=dtype)
    with np.errstate(all="ignore"):  # the overflows are what this widget shows: no warnings
        if formula == "naive":
            p = 1 / (1 + (-z).exp())
            loss = -(p.log() if target == 1 else (1 - p).log())
        elif formula == "clamped":
            loss = losses.binary_cross_entropy(z.sigmoid(), t, reduction="none")
        else:
            loss = losses.binary_cross_entropy_with_logits(z, t, reduction="none")
        loss.backward(np.ones(points, dtype=dtype))
    return z.data.copy(), loss.data.copy(), z.grad.copy()


def nonfinite_ranges(z: np.ndarray, values: np.ndarray) -> dict:
    """{"inf": [[first z, last z], ...], "nan": [...]}: the runs of consecutive logits where ``values`` is
    infinite, and where it is nan (empty lists where it never is)."""
    found = {}
    for kind, mask in (("inf", np.isinf(values)), ("nan", np.isnan(values))):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
        found[kind] = [[float(z[start]), float(z[stop - 1])] for start, stop in zip(edges[::2], edges[1::2])]
    return found


def _describe(name: str, ranges: dict) -> str:
    parts = [f"{kind} for z in " + " and ".join(f"[{a:.4g}, {b:.4g}]" for a, b in runs)
             for kind, runs in ranges.items() if runs]
    return f"{name}: " + ("; ".join(parts) if parts else "finite everywhere")


class LossExplorer:
    """The widget: formula, target, dtype and logit range; the loss (left) and its gradient (right).

    ``explorer.widget`` is the ipywidgets box; displaying the explorer displays it. The drawn data stays
    inspectable: ``loss_line``/``grad_line`` (the chosen formula), ``reference_lines`` (stable, float64),
    ``markers[(panel, kind)]`` (panel "loss"/"gradient", kind "inf"/"nan": one marker per such logit) and
    ``ranges`` (the logit ranges of the non-finite values, as in the summary).
    """

    def __init__(self, formula: str = "naive", target: int = 1, dtype: str = "float32",
                 z_range: tuple[float, float] = (-120.0, 40.0)):
        import ipywidgets as widgets

        evaluate(formula, target, dtype, -1.0, 1.0, points=3)  # refuse bad settings before building anything
        self.formula = widgets.Dropdown(options=list(FORMULAS), value=formula, description="formula")
        self.target = widgets.Dropdown(options=[1, 0], value=target, description="target")
        self.dtype = widgets.Dropdown(options=list(DTYPES), value=dtype, description="dtype")
        self.z_range = widgets.FloatRangeSlider(
            value=tuple(float(v) for v in z_range), min=-RANGE_LIMIT, max=RANGE_LIMIT, step=1.0,
            description="logit z", continuous_update=False, readout_format=".0f", layout=widgets.Layout(width="480px"))
        self.image = widgets.Image(format="png")
        self.summary = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([self.formula, self.target, self.dtype]), self.z_range,
                                    self.image, self.summary])

        self.figure = Figure(figsize=(8.6, 3.3), dpi=90)
        FigureCanvasAgg(self.figure)
        self.loss_ax, self.grad_ax = self.figure.subplots(1, 2)
        self.reference_lines = (self.loss_ax.plot([], [], color="0.7", lw=3, label="stable, float64")[0],
                                self.grad_ax.plot([], [], color="0.7", lw=3, label="stable, float64")[0])
        (self.loss_line,) = self.loss_ax.plot([], [], lw=1.6, label="loss")
        (self.grad_line,) = self.grad_ax.plot([], [], lw=1.6, color="C1", label="d loss / dz")
        self.markers = {}
        for panel, ax in (("loss", self.loss_ax), ("gradient", self.grad_ax)):
            self.markers[(panel, "inf")] = ax.plot([], [], "x", color="red", ms=6, label="inf")[0]
            self.markers[(panel, "nan")] = ax.plot([], [], "o", color="purple", ms=4, mfc="none", label="nan")[0]
            ax.set_xlabel("logit z")
            ax.legend(loc="best", fontsize=7)
        self.ranges: dict = {}

        for control in (self.formula, self.target, self.dtype, self.z_range):
            control.observe(self.update, names="value")
        self.update()

    def update(self, change=None) -> None:
        """Recompute both curves for the current controls, mark the non-finite points, redraw, re-summarise."""
        formula, target, dtype = self.formula.value, self.target.value, self.dtype.value
        lo, hi = self.z_range.value
        drawn_with = {"formula": formula, "target": target, "dtype": dtype, "logit z": [lo, hi]}
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        z, loss, grad = evaluate(formula, target, dtype, lo, hi)
        zr, loss_ref, grad_ref = evaluate("stable", target, "float64", lo, hi)
        self.ranges = {"loss": nonfinite_ranges(z, loss), "gradient": nonfinite_ranges(z, grad)}
        for ax, line, ref_line, values, ref, panel in ((self.loss_ax, self.loss_line, self.reference_lines[0], loss,
                                                        loss_ref, "loss"),
                                                       (self.grad_ax, self.grad_line, self.reference_lines[1], grad,
                                                        grad_ref, "gradient")):
            line.set_data(z, values)
            ref_line.set_data(zr, ref)
            finite = np.concatenate([values[np.isfinite(values)], ref]).astype(np.float64)
            low, high = finite.min(), finite.max()
            pad = 0.08 * max(high - low, 1e-3)
            ax.set_xlim(lo, hi)
            ax.set_ylim(low - pad, high + pad)
            for kind, mask in (("inf", np.isinf(values)), ("nan", np.isnan(values))):
                self.markers[(panel, kind)].set_data(z[mask], np.full(mask.sum(), high + pad * 0.5))
        self.loss_ax.set_title(f"{formula} BCE, target {target}, {dtype}", fontsize=9)
        self.grad_ax.set_title("gradient d loss / dz (autograd_mini backward)", fontsize=9)
        self.figure.tight_layout()
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        self.image.value = buffer.getvalue()
        self.summary.value = (f'<span data-settings="{html.escape(json.dumps(drawn_with))}">'
                              f"{formula} in {dtype}, target {target}, z in [{lo:g}, {hi:g}]: "
                              f"{html.escape(_describe('loss', self.ranges['loss']))}; "
                              f"{html.escape(_describe('gradient', self.ranges['gradient']))}</span>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

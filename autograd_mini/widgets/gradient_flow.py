"""Signal and gradient flow through a small MLP: how large are the activations and dL/dW at each layer?

A stack of ``depth`` square Linear layers (``width`` features, no bias, an activation after each) and a
last Linear layer to one output; the loss is the mean output over a batch. Per layer, the widget shows
the norm of the layer's output (the forward signal) and the norm of the loss's gradient with respect to
the layer's weight (the backward signal), as bars on log scales and as a table, and recomputes both as
the controls change the input scale, the weight scale, the depth or the activation.

Programmatic use (what the tests and lesson 03 do)::

    flow = GradientFlow(depth=6, activation="tanh")
    flow.activation_norms             # ||h|| per layer, input side first (the last is the output)
    flow.norms                        # ||dL/dW|| per layer, input side first
    flow.set(weight_scale=2.0)        # recompute (the controls call this too)
    flow.widget()                     # controls, the two bar charts and the table, for a notebook

With ``implementations={...}`` every backward runs inside ``autograd_mini.use(implementations)``, so
the bars come from the student's own backward rules.
"""
from __future__ import annotations

import html
import io
import json
from typing import Callable, Mapping

import numpy as np

from ..nn import Linear, ReLU, Sequential, Sigmoid, Tanh
from ..registry import use
from ..tensor import Tensor

ACTIVATIONS = {"tanh": Tanh, "relu": ReLU, "sigmoid": Sigmoid}


def make_weights(depth: int, width: int, weight_scale: float, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) per layer, PyTorch's layout (out, in). Weights are N(0, 1/fan_in) times ``weight_scale``.

    Hidden layer i gets the same numbers whatever the depth, so changing the depth adds or removes
    layers without redrawing the others. Biases are 0, so only the weights scale the signal.
    """
    rng = np.random.default_rng(seed)
    layers = [(weight_scale * rng.standard_normal((width, width)) / np.sqrt(width), np.zeros(width))
              for _ in range(depth)]
    head = np.random.default_rng(seed + 1).standard_normal((1, width)) / np.sqrt(width)
    layers.append((weight_scale * head, np.zeros(1)))
    return layers


def make_input(batch: int, width: int, input_scale: float, seed: int) -> np.ndarray:
    return input_scale * np.random.default_rng(seed + 2).standard_normal((batch, width))


def build_mlp(weights: list[tuple[np.ndarray, np.ndarray]], activation: str) -> Sequential:
    """An autograd_mini Sequential holding copies of ``weights`` (activation after all but the last)."""
    layers = []
    for i, (w, b) in enumerate(weights):
        linear = Linear(w.shape[1], w.shape[0])
        linear.weight = Tensor(w.copy(), requires_grad=True)
        linear.bias = Tensor(b.copy(), requires_grad=True)
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(ACTIVATIONS[activation]())
    return Sequential(*layers)


def layer_norms(weights: list, x: np.ndarray, activation: str = "tanh",
                implementations: Mapping[str, Callable] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, input side first: (||h||, ||dL/dW||), Frobenius norms over the batch.

    h is the layer's output (after its activation; for the last layer, the network's output): the signal
    of the forward pass. dL/dW is the gradient of L = mean of the MLP's output on ``x`` with respect to the
    layer's weight: what the backward pass hands the optimizer.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    model = build_mlp(weights, activation)
    outputs = []
    with use(dict(implementations or {})):
        h = Tensor(x)
        for i, layer in enumerate(model.layers):
            h = layer(h)
            if not isinstance(layer, Linear) or i == len(model.layers) - 1:
                outputs.append(np.linalg.norm(h.data))
        h.mean().backward()
    linears = [layer for layer in model.layers if isinstance(layer, Linear)]
    return np.array(outputs), np.array([np.linalg.norm(layer.weight.grad) for layer in linears])


class GradientFlow:
    """Per-layer gradient norms of an MLP, recomputed whenever a setting changes."""

    SETTINGS = ("depth", "width", "input_scale", "weight_scale", "activation", "batch", "seed")

    def __init__(self, depth: int = 4, width: int = 16, input_scale: float = 1.0, weight_scale: float = 1.0,
                 activation: str = "tanh", batch: int = 32, seed: int = 0,
                 implementations: Mapping[str, Callable] | None = None):
        self.depth, self.width, self.batch, self.seed = depth, width, batch, seed
        self.input_scale, self.weight_scale, self.activation = input_scale, weight_scale, activation
        self.implementations = dict(implementations or {})
        self.sliders: dict = {}
        self._image = self._table = None
        self.figure = None
        self._recompute()

    # ---- state ---------------------------------------------------------------------------------
    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (weight, bias) of every layer, input side first; the last layer maps to one output."""
        return make_weights(self.depth, self.width, self.weight_scale, self.seed)

    @property
    def input(self) -> np.ndarray:
        return make_input(self.batch, self.width, self.input_scale, self.seed)

    def set(self, **changes) -> np.ndarray:
        """Change settings (``depth=6``, ``weight_scale=2.0``, ...), recompute and redraw; returns the norms."""
        unknown = set(changes) - set(self.SETTINGS)
        if unknown:
            raise TypeError(f"unknown setting(s) {sorted(unknown)}; settings are {', '.join(self.SETTINGS)}")
        if "activation" in changes and changes["activation"] not in ACTIVATIONS:
            raise ValueError(f"unknown activation {changes['activation']!r}; choose one of {sorted(ACTIVATIONS)}")
        if changes.get("depth", self.depth) < 1:
            raise ValueError("depth must be at least 1")
        for name, value in changes.items():
            setattr(self, name, value)
        self._recompute()
        return self.norms

    def _recompute(self) -> None:
        self.activation_norms, self.norms = layer_norms(self.weights(), self.input, self.activation,
                                                        self.implementations)
        if self._image is not None:
            self._image.value = self.png()
            self._table.value = self.table_html()  # after the image: when the table is new, so is the image

    @property
    def signal_factor(self) -> float:
        """How much one hidden layer multiplies ||h|| on average (geometric mean over the hidden layers)."""
        hidden = self.activation_norms[:-1]
        if len(hidden) < 2 or np.any(hidden <= 0):
            return float("nan")
        return float(np.exp(np.mean(np.diff(np.log(hidden)))))

    def summary(self) -> str:
        signal = "" if np.isnan(self.signal_factor) else f"||h|| changes x{self.signal_factor:.3g} per hidden layer; "
        return (f"{self.activation}, depth {self.depth}, weights x{self.weight_scale:g}, input x{self.input_scale:g}: "
                + signal
                + f"||dL/dW|| is {self.norms[0]:.1e} at layer 1 and {self.norms[-1]:.1e} at the output layer "
                f"(ratio {self.norms[-1] / self.norms[0]:.3g})")

    def settings(self) -> dict:
        """What the current drawing was made with, keyed like the controls' labels."""
        return {"input scale": self.input_scale, "weight scale": self.weight_scale, "depth": self.depth,
                "activation": self.activation}

    def table_html(self) -> str:
        """The numbers behind the bars, one row per layer, and ``data-settings`` (what they were computed with)."""
        rows = "".join(
            f"<tr><td>{label}</td><td>{h:.3g}</td><td>{ratio}</td><td>{g:.3g}</td></tr>"
            for label, h, ratio, g in zip(self.labels(), self.activation_norms,
                                          ["&ndash;"] + [f"x{b / a:.3g}" if a else "&ndash;" for a, b in
                                                         zip(self.activation_norms, self.activation_norms[1:])],
                                          self.norms))
        return (f'<table class="gf-table" data-settings="{html.escape(json.dumps(self.settings()))}" '
                f'style="font-family:monospace;font-size:12px">'
                f"<tr><th>layer</th><th>||h||</th><th>vs layer before</th><th>||dL/dW||</th></tr>{rows}</table>")

    def labels(self) -> list[str]:
        return [f"{i + 1}" for i in range(self.depth)] + ["out"]

    # ---- drawing -------------------------------------------------------------------------------
    def draw(self):
        """A matplotlib Figure (no pyplot, so nothing global): ||h|| and ||dL/dW|| per layer, log scales."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(8.4, 3.2), dpi=80)
        forward, backward = figure.subplots(1, 2)
        for ax, values, colour, name in ((forward, self.activation_norms, "#e08a2c", "||h||  (forward)"),
                                         (backward, self.norms, "#3b75af", "||dL/dW||  (backward)")):
            heights = np.maximum(values, 1e-300)  # a log axis cannot show 0 (a dead ReLU stack)
            ax.bar(range(len(heights)), heights, color=colour, tick_label=self.labels())
            ax.set_yscale("log")
            ax.set_xlabel("layer (input side left)")
            ax.set_ylabel(name)
        figure.suptitle(f"{self.activation}, depth {self.depth}, input x{self.input_scale:g}, "
                        f"weights x{self.weight_scale:g}", fontsize=10)
        figure.tight_layout()
        self.figure = figure
        return figure

    def png(self) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        figure = self.draw()
        buffer = io.BytesIO()
        FigureCanvasAgg(figure).print_png(buffer)
        return buffer.getvalue()

    def widget(self):
        """Controls for the settings, the bar charts as an image and the table: works in JupyterLab and headless."""
        import ipywidgets as w

        self.sliders = {
            "input_scale": w.FloatLogSlider(value=self.input_scale, base=10, min=-2, max=2, step=0.25,
                                            description="input scale"),
            "weight_scale": w.FloatSlider(value=self.weight_scale, min=0.25, max=3.0, step=0.05,
                                          description="weight scale"),
            "depth": w.IntSlider(value=self.depth, min=1, max=12, description="depth"),
            "activation": w.Dropdown(options=sorted(ACTIVATIONS), value=self.activation, description="activation"),
        }
        for name, control in self.sliders.items():
            control.observe(lambda change, name=name: self.set(**{name: change["new"]}), names="value")
        self._image = w.Image(value=self.png(), format="png")
        self._table = w.HTML(self.table_html())
        return w.VBox([w.HBox([self.sliders["input_scale"], self.sliders["weight_scale"]]),
                       w.HBox([self.sliders["depth"], self.sliders["activation"]]), self._image, self._table])

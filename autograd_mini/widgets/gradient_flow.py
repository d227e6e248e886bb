"""Gradient flow through a small MLP: how large is dL/dW at each layer?

A stack of ``depth`` square Linear layers (``width`` features, an activation after each) and a last
Linear layer to one output; the loss is the mean output over a batch. Per layer, the widget shows the
norm of the loss's gradient with respect to that layer's weight, on a log scale, and recomputes it as
sliders change the input scale, the weight scale, the depth or the activation.

Programmatic use (what the tests and lesson 07 do)::

    flow = GradientFlow(depth=6, activation="tanh")
    flow.norms                        # array of ||dL/dW|| per layer, input side first
    flow.set(weight_scale=2.0)        # recompute (the sliders call this too)
    flow.widget()                     # sliders + the bar chart, for a notebook

With ``implementations={...}`` every backward runs inside ``autograd_mini.use(implementations)``, so
the bars come from the student's own backward rules.
"""
from __future__ import annotations

import io
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


def gradient_norms(weights: list, x: np.ndarray, activation: str = "tanh",
                   implementations: Mapping[str, Callable] | None = None) -> np.ndarray:
    """||dL/dW|| (Frobenius) for every layer's weight, L = mean of the MLP's output on ``x``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    model = build_mlp(weights, activation)
    with use(dict(implementations or {})):
        loss = model(Tensor(x)).mean()
        loss.backward()
    linears = [layer for layer in model.layers if isinstance(layer, Linear)]
    return np.array([np.linalg.norm(layer.weight.grad) for layer in linears])


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
        self._image = None
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
        self.norms = gradient_norms(self.weights(), self.input, self.activation, self.implementations)
        if self._image is not None:
            self._image.value = self.png()

    def summary(self) -> str:
        return (f"{self.activation}, depth {self.depth}, weights x{self.weight_scale:g}, input x{self.input_scale:g}: "
                f"||dL/dW|| is {self.norms[0]:.1e} at layer 1 and {self.norms[-1]:.1e} at the output layer")

    # ---- drawing -------------------------------------------------------------------------------
    def draw(self):
        """A matplotlib Figure (no pyplot, so nothing global): one bar per layer, log scale."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.4, 3.2), dpi=80)
        ax = figure.add_subplot()
        labels = [f"{i + 1}" for i in range(len(self.norms) - 1)] + ["out"]
        heights = np.maximum(self.norms, 1e-300)  # a log axis cannot show 0 (a dead ReLU stack)
        ax.bar(range(len(heights)), heights, color="#3b75af", tick_label=labels)
        ax.set_yscale("log")
        ax.set_xlabel("layer (input side left)")
        ax.set_ylabel("||dL/dW||")
        ax.set_title(f"{self.activation}, depth {self.depth}, input x{self.input_scale:g}, "
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
        """Sliders for the settings and the bar chart as an image: works in JupyterLab and headless."""
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
        return w.VBox([w.HBox([self.sliders["input_scale"], self.sliders["weight_scale"]]),
                       w.HBox([self.sliders["depth"], self.sliders["activation"]]), self._image])

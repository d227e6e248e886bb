"""Gradient pathologies (lesson 07): per-layer activations and gradients of a deep MLP while it trains.

A stack of ``depth`` square Linear layers (``width`` features, biases 0, an activation after each) and a Linear
head to one output learns a fixed regression task (targets sin(x @ v), mean squared error) by SGD. The weights
start from one of ``INITS``; the gradients may be clipped by global norm before each step. After every step the
widget records, per hidden layer, the std of its activations, the norm of the loss's gradient with respect to
its weight (the head's too), and how many of its ReLUs are dead on the batch — and draws them for the step the
slider picks, with histograms of three layers' activations.

Programmatic use (what the tests and lesson 07 do)::

    run = GradientPathologies(depth=12, activation="sigmoid", init="PyTorch default")
    run.history[0]["grad_norms"]       # ||dL/dW|| per layer at step 0, input side first
    run.set(init="xavier_uniform")     # retrain and redraw (the controls call this too)
    run.set(step=20)                   # look at step 20
    run.widget()                       # controls, the picture and the table, for a notebook

The initialisers, the clipping and the dead-ReLU count are the registry's (``nn.init.*``,
``nn.utils.clip_grad_norm``, ``nn.utils.count_dead_relus``), so with ``implementations={...}`` the run uses the
student's own.
"""
from __future__ import annotations

import html
import io
import json
from typing import Callable, Mapping

import numpy as np

from .. import losses, nn, optim
from ..registry import active, use
from ..tensor import Tensor
from .gradient_flow import ACTIVATIONS

INITS = ("PyTorch default", "normal(0, 0.01)", "normal(0, 1)", "xavier_uniform", "kaiming_normal")
CLIPS = ("off", 10.0, 1.0, 0.1)


def initialise(linear: nn.Linear, init: str, activation: str, rng: np.random.Generator) -> None:
    """Set ``linear``'s weight as ``init`` says (PyTorch default: the Linear's own uniform +-1/sqrt(fan_in)) and
    its bias to 0. Xavier and He get the activation's gain."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    if init.startswith("normal"):
        linear.weight.data[...] = rng.normal(0.0, 0.01 if "0.01" in init else 1.0, linear.weight.shape)
    elif init == "xavier_uniform":
        nn.init.xavier_uniform_(linear.weight, gain=nn.init.calculate_gain(activation), rng=rng)
    elif init == "kaiming_normal":
        nn.init.kaiming_normal_(linear.weight, nonlinearity=activation, rng=rng)
    linear.bias.data[...] = 0.0


def build(depth: int, width: int, activation: str, init: str, seed: int) -> nn.Sequential:
    """``depth`` hidden Linear(width, width) + activation, then Linear(width, 1); weights as ``init`` says."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width, rng=rng), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(width, 1, rng=rng))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            initialise(layer, init, activation, rng)
    return nn.Sequential(*layers)


def task(batch: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs x (batch, width) ~ N(0, 1) and targets sin(x @ v) (batch, 1), |v| = 1."""
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, width))
    v = rng.standard_normal((width, 1))
    return x, np.sin(x @ (v / np.linalg.norm(v)))


def layer_statistics(model: nn.Sequential, x: np.ndarray, y: np.ndarray) -> dict:
    """One forward and backward on (x, y); per hidden layer: the activations' std, the activations themselves and
    the dead ReLUs (units with pre-activation <= 0 for every example); per Linear (the head last): ||dL/dW||."""
    model.zero_grad()
    h, stds, activations, dead = Tensor(x), [], [], []
    for layer in model.layers:
        out = layer(h)
        if not isinstance(layer, nn.Linear):
            stds.append(float(out.data.std()))
            activations.append(out.data.copy())
            dead.append(int(active["nn.utils.count_dead_relus"](h.data)) if isinstance(layer, nn.ReLU) else 0)
        h = out
    loss = losses.mse_loss(h, Tensor(y))
    loss.backward()
    grads = [np.linalg.norm(layer.weight.grad) for layer in model.layers if isinstance(layer, nn.Linear)]
    return {"loss": loss.item(), "activation_stds": np.array(stds), "grad_norms": np.array(grads),
            "dead": np.array(dead), "activations": activations}


def train(depth: int = 8, activation: str = "tanh", init: str = "PyTorch default", steps: int = 30,
          clip: float | str = "off", width: int = 32, batch: int = 64, lr: float = 0.05, seed: int = 0) -> list[dict]:
    """``layer_statistics`` before every SGD step and after the last one (``steps + 1`` entries), clipping the
    gradients to global norm ``clip`` first unless it is "off"; entry k also holds the norm before clipping."""
    model = build(depth, width, activation, init, seed)
    x, y = task(batch, width, seed)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    history = []
    with np.errstate(all="ignore"):  # a run may explode: its inf and nan are drawn, not warned about
        for step in range(steps + 1):
            stats = layer_statistics(model, x, y)
            stats["total_norm"] = float(np.sqrt(sum(np.sum(p.grad ** 2) for p in model.parameters())))
            history.append(stats)
            if step == steps or not np.isfinite(stats["loss"]):
                break
            if clip != "off":
                nn.utils.clip_grad_norm_(model.parameters(), float(clip))
            optimizer.step()
    return history


def _drawable(values: np.ndarray) -> np.ndarray:
    """Bar heights a log axis can show: clipped to [1e-50, 1e50] (0 from a dead stack and nan at the bottom, inf
    from an exploded run at the top)."""
    return np.clip(np.nan_to_num(values, nan=0.0, posinf=np.inf, neginf=0.0), 1e-50, 1e50)


class GradientPathologies:
    """A training run's per-layer statistics, recomputed when a setting changes and shown for one step."""

    SETTINGS = ("depth", "activation", "init", "clip", "step")

    def __init__(self, depth: int = 8, activation: str = "tanh", init: str = "PyTorch default", clip="off",
                 steps: int = 30, step: int = 0, width: int = 32, seed: int = 0,
                 implementations: Mapping[str, Callable] | None = None):
        self.depth, self.activation, self.init, self.clip = depth, activation, init, clip
        self.steps, self.step, self.width, self.seed = steps, step, width, seed
        self.implementations = dict(implementations or {})
        self.controls: dict = {}
        self._image = self._table = None
        self._check(depth, activation, init, clip)
        self._retrain()

    @staticmethod
    def _check(depth, activation, init, clip) -> None:
        if not 1 <= depth <= 40:
            raise ValueError(f"depth must be between 1 and 40, got {depth}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        if clip not in CLIPS:
            raise ValueError(f"clip must be one of {CLIPS}, got {clip!r}")

    def _retrain(self) -> None:
        with use(self.implementations):
            self.history = train(self.depth, self.activation, self.init, self.steps, self.clip, self.width,
                                 seed=self.seed)
        self.step = min(self.step, len(self.history) - 1)

    def set(self, **changes) -> dict:
        """Change settings (``depth=12``, ``init="kaiming_normal"``, ``step=10`` ...), retrain if needed and redraw;
        returns the statistics shown."""
        unknown = set(changes) - set(self.SETTINGS)
        if unknown:
            raise TypeError(f"unknown setting(s) {sorted(unknown)}; settings are {', '.join(self.SETTINGS)}")
        merged = {name: changes.get(name, getattr(self, name)) for name in ("depth", "activation", "init", "clip")}
        self._check(**merged)
        retrain = any(merged[name] != getattr(self, name) for name in merged)
        for name, value in changes.items():
            setattr(self, name, value)
        if retrain:
            self._retrain()
        self.step = max(0, min(int(self.step), len(self.history) - 1))
        self._redraw()
        return self.shown

    @property
    def shown(self) -> dict:
        return self.history[self.step]

    def settings(self) -> dict:
        """What the current drawing was made with, keyed like the controls' labels."""
        return {"depth": self.depth, "activation": self.activation, "init": self.init, "clip at": self.clip,
                "step": self.step}

    def summary(self) -> str:
        s = self.shown
        g = s["grad_norms"]
        ratio = g[0] / g[-2] if len(g) > 1 and g[-2] > 0 else float("nan")
        dead = f"; {int(s['dead'].sum())} dead ReLUs" if self.activation == "relu" else ""
        return (f"step {self.step}: loss {s['loss']:.4g}; ||dL/dW|| {g[0]:.2e} at layer 1, {g[-2]:.2e} at layer "
                f"{self.depth} (ratio {ratio:.3g}); total gradient norm {s['total_norm']:.3g}{dead}")

    def table_html(self) -> str:
        """One row per hidden layer (and the head) with ``data-settings``: what the numbers were computed with."""
        s = self.shown
        rows = "".join(f"<tr><td>{i + 1}</td><td>{std:.3g}</td><td>{g:.3g}</td><td>{d}</td></tr>"
                       for i, (std, g, d) in enumerate(zip(s["activation_stds"], s["grad_norms"], s["dead"])))
        rows += f"<tr><td>head</td><td>&ndash;</td><td>{s['grad_norms'][-1]:.3g}</td><td>&ndash;</td></tr>"
        return (f'<div data-settings="{html.escape(json.dumps(self.settings()))}" style="font-family:monospace;'
                f'font-size:12px"><div>{html.escape(self.summary())}</div><table class="gp-table">'
                f"<tr><th>layer</th><th>std(h)</th><th>||dL/dW||</th><th>dead ReLUs</th></tr>{rows}</table></div>")

    # ---- drawing -------------------------------------------------------------------------------------------
    def draw(self):
        """A matplotlib Figure (no pyplot): std(h) and ||dL/dW|| per layer on log scales, and histograms."""
        from matplotlib.figure import Figure

        s = self.shown
        figure = Figure(figsize=(10.5, 3.2), dpi=80)
        forward, backward, hist = figure.subplots(1, 3)
        layers = np.arange(1, self.depth + 1)
        forward.bar(layers, _drawable(s["activation_stds"]), color="#e08a2c")
        backward.bar(np.arange(1, self.depth + 2), _drawable(s["grad_norms"]), color="#3b75af")
        for ax, label in ((forward, "std of activations h"), (backward, "||dL/dW||  (last bar: head)")):
            ax.set_yscale("log")
            ax.set_xlabel("layer (input side left)")
            ax.set_title(label, fontsize=9)
        picks = sorted({0, (self.depth - 1) // 2, self.depth - 1})
        for i in picks:
            values = s["activations"][i].ravel()
            hist.hist(values[np.isfinite(values)], bins=40, histtype="step", label=f"layer {i + 1}")
        hist.set_title("activations", fontsize=9)
        hist.legend(fontsize=8)
        figure.suptitle(f"{self.activation}, depth {self.depth}, {self.init}, clip {self.clip}: step {self.step}, "
                        f"loss {s['loss']:.4g}", fontsize=10)
        figure.subplots_adjust(left=0.06, right=0.98, bottom=0.17, top=0.82, wspace=0.3)
        return figure

    def png(self) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        buffer = io.BytesIO()
        FigureCanvasAgg(self.draw()).print_png(buffer)
        return buffer.getvalue()

    def _redraw(self) -> None:
        if self._image is not None:
            self._image.value = self.png()
            self._table.value = self.table_html()  # after the image: when the table is new, so is the image
            self.controls["step"].max = len(self.history) - 1
            for name, control in self.controls.items():  # a programmatic set() moves the controls too
                control.value = getattr(self, name)

    def widget(self):
        """Controls, the picture and the table; the step slider has a play button to watch training."""
        import ipywidgets as w

        self.controls = {
            "depth": w.IntSlider(value=self.depth, min=1, max=24, description="depth"),
            "activation": w.Dropdown(options=sorted(ACTIVATIONS), value=self.activation, description="activation"),
            "init": w.Dropdown(options=list(INITS), value=self.init, description="init"),
            "clip": w.Dropdown(options=list(CLIPS), value=self.clip, description="clip at"),
            "step": w.IntSlider(value=self.step, min=0, max=len(self.history) - 1, description="step"),
        }
        play = w.Play(value=self.step, min=0, max=len(self.history) - 1, interval=300, description="train")
        w.jslink((play, "value"), (self.controls["step"], "value"))
        for name, control in self.controls.items():
            control.observe(lambda change, name=name: self._on_control(name, change["new"]), names="value")
        self._image = w.Image(value=self.png(), format="png")
        self._table = w.HTML(self.table_html())
        return w.VBox([w.HBox([self.controls["depth"], self.controls["activation"], self.controls["init"]]),
                       w.HBox([self.controls["clip"], play, self.controls["step"]]), self._image, self._table])

    def _on_control(self, name: str, value) -> None:
        if getattr(self, name) != value:
            self.set(**{name: value})

    def _repr_mimebundle_(self, **kwargs):
        return self.widget()._repr_mimebundle_(**kwargs)

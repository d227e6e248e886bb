"""Efficiency bars (lesson 08): the tape's size over one forward and backward pass of a deep MLP, with and without
checkpointing, and bars for the memory peak and the compute of each variant; a slider sets the number of segments.

The numbers are measured, not modelled: the MLP is run in autograd_mini, ``memory.saved_bytes`` is read after every
segment of the forward pass and for each segment's graph as backward rebuilds it, and ``memory.tape_peak`` follows
the tape through the whole run for the peak; compute is counted in layer forwards (a backward counts as two, its two
matrix products). Drawn with matplotlib's Agg canvas into an ``ipywidgets.Image``.
"""
from __future__ import annotations

import html
import io
import json

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import losses, nn
from ..checkpointing import checkpoint, segment_bounds
from ..memory import saved_bytes, tape_peak
from ..tensor import Tensor


def memory_timeline(depth: int, segments: int, width: int = 32, batch: int = 16) -> dict:
    """The tape's bytes after each segment of the forward pass and of backward, for ``depth`` tanh layers cut into
    ``segments`` checkpointed segments (0: no checkpointing); the peak through both, measured by ``tape_peak``;
    and the compute, in layer forwards run plus two per layer for backward."""
    model = nn.MLP([width] * (depth + 1), activation="tanh", rng=np.random.default_rng(0))
    layers = model.layers
    x = Tensor(np.random.default_rng(1).standard_normal((batch, width)))
    # checkpointed: every segment, the last too (the widget shows what each recomputation keeps); plain: layer by layer
    if segments:
        starts, stops = segment_bounds(len(layers), segments)
    else:
        starts, stops = range(len(layers)), range(1, len(layers) + 1)
    forward, h, calls = [], x, [0]

    def counted(layer):
        def run(v):
            calls[0] += isinstance(layer, nn.Linear)
            return layer(v)
        return run

    with tape_peak(x, *model.parameters()) as peak:
        for start, stop in zip(starts, stops):
            def segment(v, part=layers[start:stop]):
                for layer in part:
                    v = counted(layer)(v)
                return v
            h = checkpoint(segment, h) if segments else segment(h)
            forward.append(saved_bytes(h))
        loss = losses.cross_entropy(h, np.zeros(batch, dtype=np.int64))
        forward.append(saved_bytes(loss))
        loss.backward()  # with checkpointing, runs every segment's forward again
    # Backward from the end. The loss's backward frees what it saved. A checkpointed segment's graph, rebuilt,
    # exists while backward runs through it; then its share of the forward pass's tape is freed.
    backward, kept = [], forward[-2]
    for k in range(len(starts) - 1, -1, -1):
        if segments:
            backward.append(kept + saved_bytes(_rebuilt(layers[starts[k]:stops[k]], batch, width)))
        kept -= forward[k] - (forward[k - 1] if k else 0)
        backward.append(kept)
    return {"forward": forward, "backward": backward, "peak": peak.bytes, "compute": calls[0] + 2 * depth}


def _rebuilt(part, batch, width):
    """A segment's graph, as its recomputation builds it inside backward (on an input of the same shape)."""
    v = Tensor(np.ones((batch, width)), requires_grad=True)
    for layer in part:
        v = layer(v)
    return v


class EfficiencyBars:
    """The widget: a segments slider, the tape's size over forward and backward (left) and the peak memory and
    compute of no checkpointing vs the chosen segments (right). ``widget`` is the ipywidgets box."""

    def __init__(self, depth: int = 16, segments: int = 4):
        import ipywidgets as widgets

        self.depth = depth
        self.segments = widgets.IntSlider(value=segments, min=1, max=depth, description="segments")
        self.image = widgets.Image(format="png")
        self.summary = widgets.HTML()
        self.plain = memory_timeline(depth, 0)
        self.widget = widgets.VBox([self.segments, self.image, self.summary])
        self.segments.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def redraw(self) -> None:
        chosen = memory_timeline(self.depth, self.segments.value)
        self.chosen = chosen
        figure = Figure(figsize=(9, 3.2))
        FigureCanvasAgg(figure)
        timeline, bars = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
        for label, run in (("no checkpointing", self.plain), (f"{self.segments.value} segments", chosen)):
            values = np.array(run["forward"] + run["backward"]) / 1024
            # forward on the left half, backward on the right: the two runs turn at the same place
            steps = np.concatenate([np.linspace(0, 0.5, len(run["forward"])),
                                    np.linspace(0.5, 1, len(run["backward"]) + 1)[1:]])
            timeline.plot(steps, values, label=label)
        timeline.axvline(0.5, color="0.8", linewidth=1)
        timeline.set_xticks([0.25, 0.75], ["forward", "backward"])
        timeline.set_ylabel("tape (KiB)")
        timeline.legend()
        names = ["plain", f"{self.segments.value} seg."]
        bars.bar([n + "\nmemory" for n in names], [self.plain["peak"] / self.plain["peak"], chosen["peak"] / self.plain["peak"]])
        bars.bar([n + "\ncompute" for n in names], [1.0, chosen["compute"] / self.plain["compute"]])
        bars.set_ylabel("relative to plain")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        self.image.value = buffer.getvalue()
        settings = html.escape(json.dumps({"segments": self.segments.value}))
        self.summary.value = (f'<div data-settings="{settings}">peak tape {chosen["peak"] / 1024:.0f} KiB vs '
                              f'{self.plain["peak"] / 1024:.0f} KiB without checkpointing; {chosen["compute"]} vs '
                              f'{self.plain["compute"]} layer-forward units of compute</div>')

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

"""A live computation graph of a small scalar expression: values, gradients, and backward step by step.

Every ``Value`` of the expression is a box showing its label, its value and its gradient; a circle
before it names the op that made it. Sliders set the inputs; *step* runs the backward pass one node at
a time (the root first, then in reversed topological order), highlighting the node whose gradient
is being passed on and printing the chain-rule update it makes. Drawn as SVG text, no system binaries.

Programmatic use (what the tests and lesson 02 do)::

    graph = ComputationGraph()            # the default expression, a neuron with a fork
    graph.set_inputs(x=1.5)               # the sliders call this too; the step position is kept
    graph.step()                          # -> label of the node just processed ("y" first)
    graph.highlighted                     # that label (None before the first step and after the last)
    graph.grads()                         # label -> gradient so far (None where nothing arrived yet)
    graph.node_labels()                   # the labels of the drawn boxes
    graph.svg()                           # the drawing; graph.widget() adds the sliders and buttons

With ``implementations={...}`` the sort and the local derivatives run inside
``autograd_mini.use(implementations)``, so the drawing shows the student's own rules at work.
"""
from __future__ import annotations

import html
import inspect
import json
from typing import Callable, Mapping

from ..registry import use
from ..value import Value, graph_order, local_derivatives

OP_SYMBOLS = {"add": "+", "mul": "×", "pow": "^", "exp": "exp", "log": "log", "tanh": "tanh", "relu": "relu"}

BOX_W, BOX_H, COL_W, ROW_H, MARGIN = 126, 58, 180, 78, 16
TOP = 30  # room above the boxes for edges that skip columns


def neuron_with_fork(x: Value, w: Value, b: Value) -> Value:
    """y = tanh(x·w + b) · x: a neuron whose input x is used twice (a fork)."""
    xw = x * w
    xw.label = "x·w"
    n = xw + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    y = o * x
    y.label = "y"
    return y


class ComputationGraph:
    """A small expression's graph with its values and gradients, and the backward pass one step at a time."""

    def __init__(self, expression: Callable[..., Value] = neuron_with_fork, inputs: Mapping[str, float] | None = None,
                 slider_range: tuple[float, float] = (-3.0, 3.0), implementations: Mapping[str, Callable] | None = None):
        self.expression = expression
        names = list(inspect.signature(expression).parameters)
        defaults = {"x": 1.0, "w": -0.5, "b": 0.8}
        self.inputs = {name: float(defaults.get(name, 0.5)) for name in names}
        self.set_inputs(**(inputs or {}), _build=False)
        self.slider_range = slider_range
        self.implementations = dict(implementations or {})
        self._steps_done = 0
        self._widget = None
        self._build()

    # ---- state ---------------------------------------------------------------------------------
    def _build(self) -> None:
        """Rebuild the graph for the current inputs and replay the backward steps taken so far."""
        with use(self.implementations):
            self.leaves = {name: Value(value, label=name) for name, value in self.inputs.items()}
            self.root = self.expression(**self.leaves)
            self.order = graph_order(self.root)
            self._name_nodes()
            # the nodes that pass a gradient on: everything but leaves, root first
            self.schedule = [node for node in reversed(self.order) if node.parents]
            self._grads: dict[int, float] = {}
            self._updates: list[str] = []
            self._current: Value | None = None
            steps, self._steps_done = self._steps_done, 0
            for _ in range(min(steps, self.n_steps)):
                self._advance()

    def _name_nodes(self) -> None:
        taken = {node.label for node in self.order if node.label}
        counts: dict[str, int] = {}
        for node in self.order:
            if node.label:
                continue
            base = f"{node.data:g}" if not node.parents else node.op
            counts[base] = counts.get(base, 0) + 1
            label = base if counts[base] == 1 and base not in taken else f"{base}#{counts[base]}"
            while label in taken:
                counts[base] += 1
                label = f"{base}#{counts[base]}"
            node.label = label
            taken.add(label)

    def _advance(self) -> str | None:
        if self._steps_done >= self.n_steps:
            self._current = None
            return None
        node = self.schedule[self._steps_done]
        if node is self.root:
            self._grads[id(node)] = 1.0
        grad = self._grads.get(id(node), 0.0)
        lines = [f"{node.label}.grad = 1 (d{node.label}/d{node.label})"] if node is self.root else []
        with use(self.implementations):
            locals_ = local_derivatives(node)
        for parent, local in zip(node.parents, locals_):
            second_path = id(parent) in self._grads
            self._grads[id(parent)] = self._grads.get(id(parent), 0.0) + local * grad
            lines.append(f"{parent.label}.grad += {local:.4g} × {grad:.4g}  →  {self._grads[id(parent)]:.4g}"
                         + ("   (adds to what an earlier path sent: a fork)" if second_path else ""))
        self._updates = lines
        self._current = node
        self._steps_done += 1
        return node.label

    @property
    def n_steps(self) -> int:
        """How many steps the whole backward pass takes (one per non-leaf node)."""
        return len(self.schedule)

    @property
    def steps_done(self) -> int:
        return self._steps_done

    @property
    def done(self) -> bool:
        return self._steps_done >= self.n_steps

    @property
    def highlighted(self) -> str | None:
        """Label of the node processed by the last step (None before the first and after reset)."""
        return None if self._current is None else self._current.label

    @property
    def last_update(self) -> list[str]:
        """The chain-rule updates the last step made, one line per parent."""
        return list(self._updates)

    def node_labels(self) -> list[str]:
        """Labels of every drawn value box, in topological order."""
        return [node.label for node in self.order]

    def values(self) -> dict[str, float]:
        return {node.label: node.data for node in self.order}

    def grads(self) -> dict[str, float | None]:
        """Gradient of the root with respect to each node so far; None where nothing has arrived yet."""
        return {node.label: self._grads.get(id(node)) for node in self.order}

    # ---- actions (the buttons and sliders call these) --------------------------------------------
    def set_inputs(self, _build: bool = True, **values: float) -> None:
        unknown = set(values) - set(self.inputs)
        if unknown:
            raise KeyError(f"unknown input(s) {sorted(unknown)}; the inputs are {list(self.inputs)}")
        self.inputs.update({k: float(v) for k, v in values.items()})
        if _build:
            self._build()
            self._sync_sliders()
            self._redraw()

    def step(self) -> str | None:
        """Process the next node of the backward pass; returns its label (None when finished)."""
        label = self._advance()
        self._redraw()
        return label

    def run(self) -> None:
        """Finish the backward pass."""
        while not self.done:
            self.step()

    def reset(self) -> None:
        """Back to before the backward pass: no gradients yet."""
        self._steps_done = 0
        self._build()
        self._redraw()

    # ---- drawing -------------------------------------------------------------------------------
    def layout(self) -> dict[int, tuple[float, float]]:
        """id(node) -> (x, y) of its box's top-left corner: one column per depth, inputs on the left."""
        depth: dict[int, int] = {}
        for node in self.order:
            depth[id(node)] = 1 + max((depth[id(p)] for p in node.parents), default=-1)
        first_use: dict[int, int] = {}
        for node in self.order:
            for parent in node.parents:
                first_use[id(parent)] = min(first_use.get(id(parent), depth[id(node)]), depth[id(node)])
        for node in self.order:  # leaves (inputs, constants) sit just left of the first op that uses them
            if not node.parents and id(node) in first_use:
                depth[id(node)] = max(0, first_use[id(node)] - 1)
        self._depth = depth
        columns: dict[int, list[Value]] = {}
        for node in self.order:
            columns.setdefault(depth[id(node)], []).append(node)
        rows = max(len(c) for c in columns.values())
        pos = {}
        for col, nodes in columns.items():
            offset = (rows - len(nodes)) * ROW_H / 2
            for row, node in enumerate(nodes):
                pos[id(node)] = (MARGIN + 44 + col * COL_W, MARGIN + TOP + offset + row * ROW_H)
        return pos

    def svg(self) -> str:
        pos = self.layout()
        width = max(x for x, _ in pos.values()) + BOX_W + MARGIN
        height = max(y for _, y in pos.values()) + BOX_H + MARGIN
        current = self._current
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="computation-graph" width="{width:.0f}" '
                 f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="12">']
        for node in self.order:  # edges first, boxes on top
            if not node.parents:
                continue
            x, y = pos[id(node)]
            cx, cy = x - 26, y + BOX_H / 2
            hot = node is current
            colour, stroke = ("#d97706", 2.5) if hot else ("#888", 1)
            for parent in node.parents:
                px, py = pos[id(parent)]
                x1, y1, x2 = px + BOX_W, py + BOX_H / 2, cx - 14
                if self._depth[id(node)] - self._depth[id(parent)] > 1:  # skips columns: arc over the boxes
                    top = MARGIN - 20  # control points above the canvas: the curve peaks at ~MARGIN
                    path = f"M{x1:.0f},{y1:.0f} C{x1 + 30:.0f},{top:.0f} {x2 - 30:.0f},{top:.0f} {x2:.0f},{cy:.0f}"
                else:
                    path = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{cy:.0f}"
                parts.append(f'<path class="cg-edge{" cg-active" if hot else ""}" d="{path}" fill="none" '
                             f'stroke="{colour}" stroke-width="{stroke}"/>')
            parts.append(f'<line x1="{cx + 14:.0f}" y1="{cy:.0f}" x2="{x:.0f}" y2="{cy:.0f}" stroke="{colour}" '
                         f'stroke-width="{stroke}"/>')
            symbol = OP_SYMBOLS.get(node.op, node.op) + (f"{node.params[0]:g}" if node.op == "pow" else "")
            parts.append(f'<circle class="cg-op" data-op="{html.escape(node.op)}" cx="{cx:.0f}" cy="{cy:.0f}" r="14" '
                         f'fill="#fff" stroke="{colour}" stroke-width="{stroke}"/>'
                         f'<text x="{cx:.0f}" y="{cy + 4:.0f}" text-anchor="middle" font-size="{11 if len(symbol) < 3 else 9}">'
                         f'{html.escape(symbol)}</text>')
        for node in self.order:
            x, y = pos[id(node)]
            grad = self._grads.get(id(node))
            is_current = node is current
            fill = "#ffe8b3" if is_current else ("#e6f2ff" if grad is not None else "#f4f4f4")
            stroke = "#d97706" if is_current else "#555"
            grad_text = "grad ?" if grad is None else f"grad {grad:.4f}"
            label = html.escape(node.label)
            parts.append(
                f'<g class="cg-node{" cg-highlight" if is_current else ""}" data-label="{label}" '
                f'data-value="{node.data!r}" data-grad="{"" if grad is None else repr(grad)}">'
                f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" '
                f'stroke="{stroke}" stroke-width="{2.5 if is_current else 1}"/>'
                f'<text x="{x + 8:.0f}" y="{y + 17:.0f}" font-weight="bold">{label}</text>'
                f'<text x="{x + 8:.0f}" y="{y + 34:.0f}">data {node.data:.4f}</text>'
                f'<text x="{x + 8:.0f}" y="{y + 50:.0f}" fill="{"#b45309" if grad is not None else "#999"}">'
                f'{grad_text}</text></g>')
        parts.append("</svg>")
        return "".join(parts)

    def status(self) -> str:
        if self._steps_done == 0:
            return f"Backward pass: {self.n_steps} steps. Press step to start at the root {self.root.label}."
        head = f"Step {self._steps_done}/{self.n_steps}: {self.highlighted} passes its gradient to its inputs"
        tail = "  Done: every gradient is complete." if self.done else ""
        return head + "\n  " + "\n  ".join(self._updates) + ("\n" + tail if tail else "")

    def settings_attribute(self) -> str:
        """``data-settings="..."``: the inputs this drawing was made with, keyed like the sliders (JSON)."""
        return f'data-settings="{html.escape(json.dumps(self.inputs))}"'

    def _html(self) -> str:
        return (f'<div class="cg-graph" {self.settings_attribute()}>{self.svg()}</div>'
                f'<pre class="cg-status" style="margin:4px 0">'
                f'{html.escape(self.status())}</pre>')

    # ---- the ipywidgets front end ----------------------------------------------------------------
    def widget(self):
        """Sliders for the inputs, step / run / reset buttons, and the drawing (an ipywidgets VBox)."""
        if self._widget is not None:
            return self._widget
        import ipywidgets as w

        self._view = w.HTML(self._html())
        self._sliders = {}
        for name, value in self.inputs.items():
            slider = w.FloatSlider(value=value, min=self.slider_range[0], max=self.slider_range[1], step=0.05,
                                   description=name, continuous_update=True, readout_format=".2f")
            slider.observe(lambda change, name=name: self._on_slider(name, change["new"]), names="value")
            self._sliders[name] = slider
        buttons = []
        for text, action in (("step ▶", self.step), ("run all", self.run), ("reset", self.reset)):
            button = w.Button(description=text, layout=w.Layout(width="90px"))
            button.on_click(lambda _, action=action: action())
            buttons.append(button)
        self._buttons = buttons
        self._widget = w.VBox([w.HBox(list(self._sliders.values())[:3]), *(
            [w.HBox(list(self._sliders.values())[3:])] if len(self._sliders) > 3 else []),
            w.HBox(buttons), self._view])
        return self._widget

    @property
    def sliders(self) -> dict:
        self.widget()
        return dict(self._sliders)

    def _on_slider(self, name: str, value: float) -> None:
        if self.inputs.get(name) != float(value):
            self.set_inputs(**{name: value})

    def _sync_sliders(self) -> None:
        for name, slider in getattr(self, "_sliders", {}).items():
            if slider.value != self.inputs[name]:
                slider.value = self.inputs[name]

    def _redraw(self) -> None:
        if self._widget is not None:
            self._view.value = self._html()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())

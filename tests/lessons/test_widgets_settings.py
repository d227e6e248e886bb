"""Every course widget states what its current drawing was made with (``data-settings``, JSON keyed by its
controls' labels), and that statement follows the controls. The browser tests wait until each slider's
readout equals it, so they compare the drawing with the controls instead of waiting for a first change."""
from __future__ import annotations

import html
import json
import re

import pytest

pytest.importorskip("ipywidgets")  # a course dependency; the tests below need it to mean anything
from autograd_mini.widgets import ActivationExplorer  # noqa: E402
from autograd_mini.widgets.computation_graph import ComputationGraph  # noqa: E402
from autograd_mini.widgets.gradient_flow import GradientFlow  # noqa: E402


def drawn_settings(markup: str) -> dict:
    found = re.findall(r'data-settings="([^"]*)"', markup)
    assert len(found) == 1, f"expected one data-settings attribute, found {len(found)} in {markup[:200]!r}"
    return json.loads(html.unescape(found[0]))


def controls(box) -> dict:
    """description -> value of every control in an ipywidgets box (nested boxes included)."""
    found = {}
    for child in box.children:
        if hasattr(child, "children"):
            found.update(controls(child))
        elif getattr(child, "description", "") and hasattr(child, "value"):
            value = child.value
            found[child.description] = list(value) if isinstance(value, tuple) else value
    return found


def test_computation_graph_states_its_inputs():
    graph = ComputationGraph()
    box = graph.widget()
    graph.sliders["x"].value = 2.1
    assert drawn_settings(graph._view.value) == controls(box) == {"x": 2.1, "w": -0.5, "b": 0.8}
    graph.set_inputs(w=1.25)       # programmatic changes move the sliders and the statement alike
    assert drawn_settings(graph._view.value) == controls(box) == {"x": 2.1, "w": 1.25, "b": 0.8}


def test_activation_explorer_states_its_function_and_range():
    explorer = ActivationExplorer("sigmoid", x_range=(-6, 6))
    explorer.x_range.value = (-2.5, 4.0)
    explorer.function.value = "tanh"
    stated = drawn_settings(explorer.summary.value)
    assert stated == controls(explorer.widget) == {"activation": "tanh", "input x": [-2.5, 4.0]}


def test_gradient_flow_states_its_settings():
    flow = GradientFlow(depth=3)
    box = flow.widget()
    flow.sliders["weight_scale"].value = 2.5
    flow.sliders["activation"].value = "relu"
    assert drawn_settings(flow._table.value) == controls(box) == {
        "input scale": 1.0, "weight scale": 2.5, "depth": 3, "activation": "relu"}

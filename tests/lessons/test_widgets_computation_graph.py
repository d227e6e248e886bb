"""The live computation graph of lesson 02, driven headlessly: sliders, step button, what it draws."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from autograd_mini.value import Value
from autograd_mini.widgets.computation_graph import ComputationGraph, neuron_with_fork

SVG = "{http://www.w3.org/2000/svg}"


def drawn_nodes(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)  # also proves the drawing is well-formed XML
    return {g.get("data-label"): g for g in root.iter(f"{SVG}g") if "cg-node" in g.get("class", "")}


def reference_grads(x, w, b):
    """By hand: y = tanh(x w + b) x."""
    o = math.tanh(x * w + b)
    dn = x * (1 - o**2)
    return {"x": o + dn * w, "w": dn * x, "b": dn}


def test_default_graph_draws_every_node_with_value_and_no_gradient_yet():
    graph = ComputationGraph()
    labels = graph.node_labels()
    assert set(labels) == {"x", "w", "b", "x·w", "n", "o", "y"}
    nodes = drawn_nodes(graph.svg())
    assert set(nodes) == set(labels)
    assert all(g.get("data-grad") == "" for g in nodes.values())
    assert graph.svg().count("grad ?") == len(labels)
    assert float(nodes["o"].get("data-value")) == pytest.approx(math.tanh(1.0 * -0.5 + 0.8))
    assert graph.highlighted is None and graph.steps_done == 0 and graph.n_steps == 4
    ops = re.findall(r'class="cg-op" data-op="(\w+)"', graph.svg())
    assert sorted(ops) == ["add", "mul", "mul", "tanh"]


def test_stepping_walks_the_backward_pass_root_first_and_highlights_each_node():
    graph = ComputationGraph()
    seen = []
    while (label := graph.step()) is not None:
        seen.append(label)
        assert graph.highlighted == label
        nodes = drawn_nodes(graph.svg())
        assert "cg-highlight" in nodes[label].get("class")
        assert sum("cg-highlight" in g.get("class") for g in nodes.values()) == 1
        assert 'class="cg-edge cg-active"' in graph.svg()
    assert seen == ["y", "o", "n", "x·w"]
    assert graph.done and graph.step() is None and graph.highlighted is None
    grads = graph.grads()
    for name, expected in reference_grads(1.0, -0.5, 0.8).items():
        assert grads[name] == pytest.approx(expected, rel=1e-12)


def test_gradients_appear_only_once_they_have_arrived():
    graph = ComputationGraph()
    graph.step()  # y passes to o and x
    grads = graph.grads()
    assert grads["y"] == 1.0 and grads["o"] == 1.0 and grads["x"] == pytest.approx(math.tanh(0.3))
    assert grads["n"] is None and grads["w"] is None
    assert drawn_nodes(graph.svg())["n"].get("data-grad") == ""
    assert any("y.grad = 1" in line for line in graph.last_update)


def test_the_fork_is_shown_accumulating():
    graph = ComputationGraph()
    graph.run()
    assert graph.highlighted == "x·w"
    x_line = next(line for line in graph.last_update if line.startswith("x.grad"))
    assert "+=" in x_line and "fork" in x_line
    assert "Done" in graph.status()


def test_matches_value_backward_and_torch():
    import torch
    graph = ComputationGraph(inputs={"x": 0.4, "w": 1.7, "b": -0.2})
    graph.run()
    leaves = {k: Value(v) for k, v in graph.inputs.items()}
    neuron_with_fork(**leaves).backward()
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in graph.inputs.items()}
    (torch.tanh(t["x"] * t["w"] + t["b"]) * t["x"]).backward()
    for k in "xwb":
        assert graph.grads()[k] == pytest.approx(leaves[k].grad, rel=1e-14)
        assert graph.grads()[k] == pytest.approx(t[k].grad.item(), rel=1e-12)


def test_set_inputs_redraws_and_keeps_the_step_position():
    graph = ComputationGraph()
    graph.step()
    graph.step()
    graph.set_inputs(x=2.0, b=-1.0)
    assert graph.steps_done == 2 and graph.highlighted == "o"
    assert graph.values()["n"] == pytest.approx(2.0 * -0.5 - 1.0)
    assert float(drawn_nodes(graph.svg())["x"].get("data-value")) == 2.0
    graph.run()
    for name, expected in reference_grads(2.0, -0.5, -1.0).items():
        assert graph.grads()[name] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(KeyError, match="unknown input"):
        graph.set_inputs(z=1.0)


def test_sliders_and_buttons_drive_the_widget_headlessly():
    import ipywidgets
    graph = ComputationGraph()
    box = graph.widget()
    assert isinstance(box, ipywidgets.VBox)
    sliders = graph.sliders
    assert set(sliders) == {"x", "w", "b"} and sliders["x"].value == 1.0
    sliders["w"].value = 1.25           # what dragging the slider does
    assert graph.inputs["w"] == 1.25
    html_views = [w for w in _walk(box) if isinstance(w, ipywidgets.HTML)]
    assert len(html_views) == 1 and "data-value=\"1.25\"" in html_views[0].value
    step, run, reset = graph._buttons
    step.click()
    assert graph.highlighted == "y" and "cg-highlight" in html_views[0].value
    assert "Step 1/4" in html_views[0].value
    run.click()
    assert graph.done
    assert graph.grads()["w"] == pytest.approx(reference_grads(1.0, 1.25, 0.8)["w"], rel=1e-12)
    reset.click()
    assert graph.steps_done == 0 and graph.highlighted is None and "grad ?" in html_views[0].value
    graph.set_inputs(x=-2.0)             # the programmatic side moves the slider too
    assert sliders["x"].value == -2.0


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_students_rules_plug_in_through_implementations():
    wrong_tanh = {"value.tanh.local": lambda a, out: 1.0 - a**2}  # the classic tanh mistake
    right, wrong = ComputationGraph(), ComputationGraph(implementations=wrong_tanh)
    right.run()
    wrong.run()
    assert wrong.grads()["n"] == pytest.approx(1 - 0.3**2)
    assert right.grads()["n"] == pytest.approx(1 - math.tanh(0.3) ** 2)
    with pytest.raises(NotImplementedError):
        ComputationGraph(implementations={"value.tanh.local": _stub}).run()


def _stub(*args):
    raise NotImplementedError()


def test_any_small_expression_with_constants_and_unnamed_nodes():
    def expression(a, b):
        return (a * 2.0 + b).relu() + (a - b) ** 2

    graph = ComputationGraph(expression, inputs={"a": 0.5, "b": 0.25})
    labels = graph.node_labels()
    assert len(labels) == len(set(labels))           # every drawn box has its own label
    assert {"a", "b", "2", "-1", "relu"} <= set(labels)
    graph.run()
    assert graph.grads()["a"] == pytest.approx(2.0 + 2 * (0.5 - 0.25))
    assert graph.grads()["b"] == pytest.approx(1.0 - 2 * (0.5 - 0.25))
    assert set(drawn_nodes(graph.svg())) == set(labels)


def test_display_in_a_headless_kernel_does_not_fail(capsys):
    graph = ComputationGraph()
    graph._ipython_display_()  # outside a kernel IPython prints a text representation
    assert "VBox" in capsys.readouterr().out

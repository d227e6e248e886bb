"""The gradient-flow widget (lesson 03), headless: its state is PyTorch's per-layer activation and gradient
norms, and what it draws and tabulates is that state, after every control change."""
from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from autograd_mini.registry import reference_of
from autograd_mini.widgets.gradient_flow import GradientFlow
from grader.checks import frameworks

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def torch():
    return frameworks.torch()


def torch_norms(torch, flow: GradientFlow) -> tuple[np.ndarray, np.ndarray]:
    """(||h||, ||dL/dW||) per layer in PyTorch for the widget's weights, input, activation and loss (mean output)."""
    activation = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[flow.activation]
    layers = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) for w, b in flow.weights()]
    h, outputs = torch.tensor(flow.input), []
    for i, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if i < len(layers) - 1:
            h = activation(h)
        outputs.append(h.norm().item())
    h.mean().backward()
    return np.array(outputs), np.array([w.grad.norm().item() for w, _ in layers])


def drawn_heights(flow: GradientFlow, panel: int) -> np.ndarray:
    """Bar heights of the forward (0) or backward (1) panel."""
    return np.array([bar.get_height() for bar in flow.figure.axes[panel].patches])


def tabulated(flow: GradientFlow) -> tuple[list[str], list[str]]:
    """The ||h|| and ||dL/dW|| columns of the table under the bars, as printed."""
    rows = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td></tr>", flow._table.value)
    return [h for h, _ in rows], [g for _, g in rows]


def assert_shows(flow: GradientFlow, torch) -> None:
    """State equals PyTorch's; both panels draw it; the table prints it and names the settings it came from."""
    activations, gradients = torch_norms(torch, flow)
    np.testing.assert_allclose(flow.activation_norms, activations, rtol=1e-10)
    np.testing.assert_allclose(flow.norms, gradients, rtol=1e-10)
    np.testing.assert_allclose(drawn_heights(flow, 0), flow.activation_norms, rtol=1e-12)
    np.testing.assert_allclose(drawn_heights(flow, 1), flow.norms, rtol=1e-12)
    assert tabulated(flow) == ([f"{v:.3g}" for v in flow.activation_norms], [f"{v:.3g}" for v in flow.norms])
    settings = json.loads(html.unescape(re.search(r'data-settings="([^"]*)"', flow._table.value).group(1)))
    assert settings == {"input scale": flow.input_scale, "weight scale": flow.weight_scale, "depth": flow.depth,
                        "activation": flow.activation}


def test_initial_state_matches_torch_and_is_drawn(torch):
    flow = GradientFlow(depth=5, activation="tanh", seed=1)
    flow.widget()
    assert flow.norms.shape == flow.activation_norms.shape == (6,)  # five hidden layers and the output layer
    assert_shows(flow, torch)
    for ax, name in zip(flow.figure.axes, ("||h||", "||dL/dW||")):
        assert ax.get_yscale() == "log" and ax.get_ylabel().startswith(name)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4", "5", "out"]


@pytest.mark.parametrize("slider, value", [("weight_scale", 2.5), ("input_scale", 100.0), ("depth", 9),
                                           ("activation", "relu"), ("activation", "sigmoid")])
def test_each_slider_recomputes_state_and_redraws(torch, slider, value):
    flow = GradientFlow(depth=4, activation="tanh")
    box = flow.widget()
    image_before, norms_before = bytes(flow._image.value), flow.norms.copy()

    flow.sliders[slider].value = value          # what a student's drag does

    assert getattr(flow, slider) == value
    assert not np.array_equal(flow.norms, norms_before) or len(flow.norms) != len(norms_before)
    assert_shows(flow, torch)
    assert len(flow.figure.axes[1].patches) == flow.depth + 1
    image = bytes(flow._image.value)
    assert image.startswith(PNG_MAGIC) and image != image_before
    assert flow._image in box.children and flow._table in box.children  # what is displayed is what was redrawn


def test_vanishing_and_exploding_gradients_show_in_the_norms():
    sigmoid = GradientFlow(depth=10, activation="sigmoid").norms
    assert sigmoid[0] < 1e-4 * sigmoid[-1]  # sigmoid' <= 1/4 per layer: the first layer barely learns
    small = GradientFlow(depth=10, activation="relu", weight_scale=0.5).norms
    large = GradientFlow(depth=10, activation="relu", weight_scale=3.0).norms
    assert small.max() < 1e-3 < 1e2 < large.min()


def test_a_bias_free_relu_net_is_homogeneous_in_its_weight_scale():
    """What lesson 03 says: scaling every weight by s scales each ReLU layer's signal by s, and every
    ||dL/dW|| by s**depth, so the ratio between layers' gradients does not depend on the scale."""
    depth, base = 6, GradientFlow(depth=6, activation="relu", weight_scale=1.0)
    for scale in (0.5, 2 ** 0.5, 3.0):
        flow = GradientFlow(depth=depth, activation="relu", weight_scale=scale)
        np.testing.assert_allclose(flow.signal_factor, scale * base.signal_factor, rtol=1e-12)
        np.testing.assert_allclose(flow.norms, scale ** depth * base.norms, rtol=1e-12)


def test_wide_relu_layers_scale_the_signal_by_about_scale_over_root_two():
    flow = GradientFlow(depth=8, width=256, activation="relu", weight_scale=2 ** 0.5)
    assert abs(flow.signal_factor - 1.0) < 0.05  # He initialisation keeps ||h|| from layer to layer


def test_runs_the_implementations_it_is_given():
    calls = []

    def counting_engine(root, grad):
        calls.append(root.shape)
        reference_of("engine.backward")(root, grad)

    flow = GradientFlow(depth=3, implementations={"engine.backward": counting_engine})
    flow.widget()
    flow.sliders["depth"].value = 4
    assert calls == [(), ()]  # one backward of the scalar loss per computation


def test_programmatic_set_validates_settings():
    flow = GradientFlow(depth=2)
    with pytest.raises(TypeError, match="unknown setting"):
        flow.set(colour="red")
    with pytest.raises(ValueError, match="unknown activation"):
        flow.set(activation="gelu")
    with pytest.raises(ValueError, match="depth must be at least 1"):
        flow.set(depth=0)
    assert flow.set(depth=3).shape == (4,)


def test_summary_names_the_signal_factor_and_the_first_and_output_layer():
    flow = GradientFlow(depth=3, activation="relu", weight_scale=1.5)
    text = flow.summary()
    assert "relu, depth 3, weights x1.5" in text
    assert f"||h|| changes x{flow.signal_factor:.3g} per hidden layer" in text
    assert f"{flow.norms[0]:.1e} at layer 1" in text and f"{flow.norms[-1]:.1e} at the output layer" in text

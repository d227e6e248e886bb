"""The gradient-flow widget (lesson 03), headless: its state is PyTorch's per-layer gradient norms, and
what it draws is that state, after every slider change."""
from __future__ import annotations

import numpy as np
import pytest

from autograd_mini.registry import reference_of
from autograd_mini.widgets.gradient_flow import GradientFlow
from grader.checks import frameworks

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def torch():
    return frameworks.torch()


def torch_norms(torch, flow: GradientFlow) -> np.ndarray:
    """||dL/dW|| per layer in PyTorch for the widget's weights, input, activation and loss (mean output)."""
    activation = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[flow.activation]
    layers = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) for w, b in flow.weights()]
    h = torch.tensor(flow.input)
    for i, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if i < len(layers) - 1:
            h = activation(h)
    h.mean().backward()
    return np.array([w.grad.norm().item() for w, _ in layers])


def drawn_heights(flow: GradientFlow) -> np.ndarray:
    return np.array([bar.get_height() for bar in flow.figure.axes[0].patches])


def test_initial_state_matches_torch_and_is_drawn(torch):
    flow = GradientFlow(depth=5, activation="tanh", seed=1)
    flow.widget()
    assert flow.norms.shape == (6,)  # five hidden layers and the output layer
    np.testing.assert_allclose(flow.norms, torch_norms(torch, flow), rtol=1e-10)
    np.testing.assert_allclose(drawn_heights(flow), flow.norms, rtol=1e-12)
    ax = flow.figure.axes[0]
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4", "5", "out"]


@pytest.mark.parametrize("slider, value", [("weight_scale", 2.5), ("input_scale", 100.0), ("depth", 9),
                                           ("activation", "relu"), ("activation", "sigmoid")])
def test_each_slider_recomputes_state_and_redraws(torch, slider, value):
    flow = GradientFlow(depth=4, activation="tanh")
    box = flow.widget()
    image_before, norms_before = bytes(flow._image.value), flow.norms.copy()

    flow.sliders[slider].value = value          # what a student's drag does

    assert getattr(flow, slider) == value
    np.testing.assert_allclose(flow.norms, torch_norms(torch, flow), rtol=1e-10)
    assert not np.array_equal(flow.norms, norms_before) or len(flow.norms) != len(norms_before)
    np.testing.assert_allclose(drawn_heights(flow), flow.norms, rtol=1e-12)
    assert len(flow.figure.axes[0].patches) == flow.depth + 1
    image = bytes(flow._image.value)
    assert image.startswith(PNG_MAGIC) and image != image_before
    assert flow._image in box.children  # the displayed image is the one that was redrawn


def test_vanishing_and_exploding_gradients_show_in_the_norms():
    sigmoid = GradientFlow(depth=10, activation="sigmoid").norms
    assert sigmoid[0] < 1e-4 * sigmoid[-1]  # sigmoid' <= 1/4 per layer: the first layer barely learns
    small = GradientFlow(depth=10, activation="relu", weight_scale=0.5).norms
    large = GradientFlow(depth=10, activation="relu", weight_scale=3.0).norms
    assert small.max() < 1e-3 < 1e2 < large.min()


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


def test_summary_names_the_first_and_output_layer():
    flow = GradientFlow(depth=3, activation="relu", weight_scale=1.5)
    text = flow.summary()
    assert "relu, depth 3, weights x1.5" in text
    assert f"{flow.norms[0]:.1e} at layer 1" in text and f"{flow.norms[-1]:.1e} at the output layer" in text

"""The activation explorer, driven headlessly: change the controls, check what it computes and draws."""
from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("ipywidgets")  # a course dependency; the tests below need it to mean anything
from autograd_mini.widgets import ActivationExplorer  # noqa: E402
from autograd_mini.widgets.activation_explorer import evaluate  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_it_starts_with_the_sigmoid_its_derivative_and_a_rendered_plot():
    explorer = ActivationExplorer("sigmoid", x_range=(-6, 6))
    x, f = explorer.function_line.get_data()
    _, df = explorer.derivative_line.get_data()
    assert x[0] == -6 and x[-1] == 6
    np.testing.assert_allclose(f, _sigmoid(x), rtol=1e-12)
    np.testing.assert_allclose(df, _sigmoid(x) * (1 - _sigmoid(x)), rtol=1e-10, atol=1e-15)
    assert "sigmoid" in explorer.ax.get_title()
    assert bytes(explorer.image.value).startswith(PNG)
    assert "peaks at 0.25" in explorer.summary.value


def test_choosing_relu_in_the_dropdown_redraws_function_derivative_and_title():
    explorer = ActivationExplorer("sigmoid")
    before = bytes(explorer.image.value)
    explorer.function.value = "relu"
    x, f = explorer.function_line.get_data()
    _, df = explorer.derivative_line.get_data()
    np.testing.assert_array_equal(f, np.maximum(x, 0))
    np.testing.assert_array_equal(df, (x > 0).astype(float))  # slope 0 at the kink, as in PyTorch
    assert explorer.ax.get_title().startswith("relu(x)")
    png = bytes(explorer.image.value)  # ipywidgets keeps it as a memoryview
    assert png != before and png.startswith(PNG)


def test_sliding_the_input_range_changes_the_axes_and_the_sampled_inputs():
    explorer = ActivationExplorer("tanh")
    explorer.x_range.value = (-2.0, 3.0)
    x, f = explorer.function_line.get_data()
    assert (x.min(), x.max()) == (-2.0, 3.0)
    assert explorer.ax.get_xlim() == (-2.0, 3.0)
    np.testing.assert_allclose(f, np.tanh(x), rtol=1e-12)
    assert re.sub(r"<[^>]+>", "", explorer.summary.value).startswith("on [-2, 3]: tanh")  # the text, not the tags


def test_the_derivative_vanishes_far_from_zero_for_sigmoid_but_not_for_relu():
    explorer = ActivationExplorer("sigmoid", x_range=(10, 20))
    assert explorer.derivative_line.get_data()[1].max() < 5e-5
    explorer.function.value = "relu"
    assert np.all(explorer.derivative_line.get_data()[1] == 1)


def test_an_empty_range_is_widened_instead_of_failing():
    explorer = ActivationExplorer("relu")
    explorer.x_range.value = (1.0, 1.0)
    assert explorer.ax.get_xlim() == (0.5, 1.5)


def test_overrides_plot_the_students_own_forward():
    def leaky(ctx, a):
        ctx.save_for_backward(a)
        return np.where(a > 0, a, 0.1 * a)

    explorer = ActivationExplorer("relu", x_range=(-4, 4), overrides={"relu.forward": leaky})
    x, f = explorer.function_line.get_data()
    np.testing.assert_allclose(f, np.where(x > 0, x, 0.1 * x))
    # the library's reference is back outside the widget's computation
    assert evaluate("relu", -1, 1, points=3)[1].tolist() == [0.0, 0.0, 1.0]


def test_it_displays_as_a_jupyter_widget_and_creates_no_pyplot_figure():
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    explorer = ActivationExplorer()
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    assert plt.get_fignums() == open_before


def test_unknown_activation_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="relu, sigmoid, tanh"):
        ActivationExplorer("swish")

"""The loss explorer, driven headlessly: change the controls, check what it computes, marks and states."""
from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

pytest.importorskip("ipywidgets")  # a course dependency; the tests below need it to mean anything
from autograd_mini.widgets.loss_explorer import LossExplorer, evaluate, nonfinite_ranges  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def stated(explorer) -> dict:
    (found,) = re.findall(r'data-settings="([^"]*)"', explorer.summary.value)
    return json.loads(html.unescape(found))


def marked(explorer, panel, kind) -> np.ndarray:
    return np.asarray(explorer.markers[(panel, kind)].get_xdata())


def test_it_starts_naive_in_float32_with_the_overflow_marked_and_states_its_settings():
    explorer = LossExplorer("naive", target=1, dtype="float32", z_range=(-120, 40))
    z, loss = explorer.loss_line.get_data()
    assert z.dtype == np.float32 and (z.min(), z.max()) == (-120, 40)
    # exp(-z) overflows float32 below z = -log(float32 max) = -88.72: the loss is inf there, the gradient nan
    assert np.all(np.isinf(loss[z < -88.8])) and np.all(np.isfinite(loss[z > -88.7]))
    np.testing.assert_array_equal(marked(explorer, "loss", "inf"), z[z < -88.72])
    np.testing.assert_array_equal(marked(explorer, "gradient", "nan"), z[z < -88.72])
    assert marked(explorer, "loss", "nan").size == 0 and marked(explorer, "gradient", "inf").size == 0
    assert stated(explorer) == {"formula": "naive", "target": 1, "dtype": "float32", "logit z": [-120.0, 40.0]}
    assert "loss: inf for z in [-120, -88.8]" in explorer.summary.value
    assert bytes(explorer.image.value).startswith(PNG)


def test_float64_moves_the_overflow_to_minus_709():
    explorer = LossExplorer("naive", target=1, dtype="float32", z_range=(-800, 0))
    explorer.dtype.value = "float64"
    z, loss = explorer.loss_line.get_data()
    assert z.dtype == np.float64
    first_finite = z[np.isfinite(loss)].min()
    assert -np.log(np.finfo(np.float64).max) <= first_finite < -np.log(np.finfo(np.float64).max) + 1
    assert explorer.ranges["loss"]["inf"] == [[-800.0, float(z[~np.isfinite(loss)].max())]]
    assert stated(explorer)["dtype"] == "float64"


def test_the_stable_formula_is_finite_everywhere_and_its_gradient_is_sigmoid_minus_target():
    explorer = LossExplorer("stable", target=0, dtype="float32", z_range=(-1000, 1000))
    z, loss = explorer.loss_line.get_data()
    _, grad = explorer.grad_line.get_data()
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert all(marked(explorer, p, k).size == 0 for p in ("loss", "gradient") for k in ("inf", "nan"))
    z64 = z.astype(np.float64)
    np.testing.assert_allclose(grad, np.exp(-np.logaddexp(0, -z64)), rtol=1e-6, atol=1e-30)  # sigmoid(z) - 0
    assert "finite everywhere" in explorer.summary.value


def test_the_clamped_formula_plateaus_at_100_with_a_vanishing_gradient():
    explorer = LossExplorer("clamped", target=1, dtype="float64", z_range=(-1000, -200))
    z, loss = explorer.loss_line.get_data()
    _, grad = explorer.grad_line.get_data()
    plateau = z < -750  # sigmoid(z) underflows to 0, where log is clamped at -100
    np.testing.assert_array_equal(loss[plateau], 100.0)
    assert np.all(grad[plateau] == 0) and np.all(np.isfinite(loss))


def test_naive_target_0_breaks_at_both_ends_and_the_runs_are_reported_separately():
    z, loss, grad = evaluate("naive", 0, "float64", -1000, 1000, points=2001)
    runs = nonfinite_ranges(z, grad)
    assert len(runs["nan"]) == 2 and runs["nan"][0][0] == -1000 and runs["nan"][1][1] == 1000
    assert nonfinite_ranges(z, loss)["inf"][0][0] == 37.0  # 1 - sigmoid(z) rounds to 0 from z = 37 on


def test_controls_redraw_and_the_reference_line_stays_stable_float64():
    explorer = LossExplorer()
    before = bytes(explorer.image.value)
    explorer.target.value = 0
    explorer.z_range.value = (-50.0, 50.0)
    zr, ref = explorer.reference_lines[0].get_data()
    assert zr.dtype == np.float64 and np.all(np.isfinite(ref))
    assert explorer.loss_ax.get_xlim() == (-50.0, 50.0)
    assert bytes(explorer.image.value) != before
    assert stated(explorer) == {"formula": "naive", "target": 0, "dtype": "float32", "logit z": [-50.0, 50.0]}


def test_it_displays_as_a_jupyter_widget_creates_no_pyplot_figure_and_emits_no_warning():
    import warnings

    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explorer = LossExplorer("naive", target=0, dtype="float32", z_range=(-1000, 1000))
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    assert plt.get_fignums() == open_before


def test_bad_settings_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="naive, clamped, stable"):
        LossExplorer("softplus")
    with pytest.raises(ValueError, match="target 0 or 1"):
        evaluate("naive", 2, "float64", -1, 1)

"""Lesson 09's OverlaidCurves: the curves and their step-by-step distances drawn, the slider zooms, the drawing
states what it shows."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipywidgets")  # a course dependency; the tests below need it to mean anything
from autograd_mini.widgets import OverlaidCurves  # noqa: E402

from test_widgets_settings import controls, drawn_settings  # noqa: E402


def curves():
    first = np.exp(-np.linspace(0, 3, 50))
    return {"yours": first, "PyTorch": first + 1e-15, "TensorFlow": first.copy()}


def test_distances_are_measured_from_the_first_curve():
    overlay = OverlaidCurves(curves())
    gaps = overlay.differences()
    assert list(gaps) == ["PyTorch", "TensorFlow"]
    assert np.all(gaps["TensorFlow"] == 0) and np.allclose(gaps["PyTorch"], 1e-15, rtol=0.5)
    assert "TensorFlow 0.0e+00" in overlay.summary() and "first 50 of 50 steps" in overlay.summary()


def test_the_slider_zooms_and_the_drawing_states_it():
    overlay = OverlaidCurves(curves(), steps_shown=20)
    box = overlay.widget()
    assert drawn_settings(overlay.status.value) == controls(box) == {"steps shown": 20}
    before = overlay.image.value
    overlay.slider.value = 35
    assert drawn_settings(overlay.status.value) == controls(box) == {"steps shown": 35}
    assert overlay.image.value != before and overlay.image.value[:4] == b"\x89PNG"
    overlay.show(500)                  # programmatic changes move the slider too, clipped to the run
    assert overlay.slider.value == 50 and drawn_settings(overlay.status.value) == {"steps shown": 50}


def test_curves_of_different_lengths_are_refused_with_their_lengths():
    with pytest.raises(ValueError, match="'PyTorch': 3"):
        OverlaidCurves({"yours": [1.0, 2.0], "PyTorch": [1.0, 2.0, 3.0]})

"""The efficiency bars, driven headlessly: checkpointing lowers the measured peak and raises the compute."""
from __future__ import annotations

import html
import json
import re

import pytest

pytest.importorskip("ipywidgets")
from autograd_mini.widgets import EfficiencyBars  # noqa: E402
from autograd_mini.widgets.efficiency_bars import memory_timeline  # noqa: E402


def test_checkpointing_keeps_less_and_recomputes_each_segment_once():
    """8 tanh layers (15 layers with the activations), activations of 16 x 32 float64 (4096 bytes). Plain: the 7
    tanh outputs and cross-entropy's probabilities and labels (128 bytes), at the end of the forward pass. In 4
    checkpointed segments (layers 0-3, 4-7, 8-10, 11-14): the peak is backward's run through the last segment,
    with the 3 segment inputs kept and its 2 tanh outputs."""
    plain, checkpointed = memory_timeline(8, 0), memory_timeline(8, 4)
    assert plain["peak"] == 8 * 4096 + 128 and checkpointed["peak"] == 5 * 4096
    for timeline in (plain, checkpointed):  # the drawn curve reaches the measured peak and ends with nothing kept
        curve = timeline["forward"] + timeline["backward"]
        assert max(curve) == timeline["peak"] and curve[-1] == 0
    assert plain["compute"] == 8 + 2 * 8 and checkpointed["compute"] == 2 * 8 + 2 * 8


def test_it_states_its_segments_and_follows_the_slider():
    bars = EfficiencyBars(depth=6, segments=3)
    bars.segments.value = 2
    (found,) = re.findall(r'data-settings="([^"]*)"', bars.summary.value)
    assert json.loads(html.unescape(found)) == {"segments": 2} == {"segments": bars.segments.value}
    assert bytes(bars.image.value).startswith(b"\x89PNG")

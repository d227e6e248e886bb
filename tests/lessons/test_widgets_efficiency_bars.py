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
    plain, checkpointed = memory_timeline(8, 0), memory_timeline(8, 4)
    assert checkpointed["peak"] < plain["peak"]
    assert plain["compute"] == 8 + 2 * 8 and checkpointed["compute"] == 2 * 8 + 2 * 8


def test_it_states_its_segments_and_follows_the_slider():
    bars = EfficiencyBars(depth=6, segments=3)
    bars.segments.value = 2
    (found,) = re.findall(r'data-settings="([^"]*)"', bars.summary.value)
    assert json.loads(html.unescape(found)) == {"segments": 2} == {"segments": bars.segments.value}
    assert bytes(bars.image.value).startswith(b"\x89PNG")

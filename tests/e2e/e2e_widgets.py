"""Driving a course widget in the browser and waiting until it has *settled*.

A slider's readout changes in the browser the moment it is dragged; the kernel's redraw arrives later
(seconds later on a loaded machine, after every intermediate value of the drag). So a test never waits
for a first change: it waits until the widget is idle and consistent, i.e. the kernel is idle, every
slider's readout equals the value the drawing was made with, and all of it (screenshot included) is the
same on two consecutive reads.

Every course widget states what its drawing was made with in a ``data-settings`` attribute (JSON, keyed
by the sliders' labels); ``drawn_settings`` reads it.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from playwright.sync_api import Locator, Page

import e2e_lab as lab

# Seconds. Generous: five agents may share the 2 cores while a kernel redraws a figure per drag step.
SETTLE_TIMEOUT_S = 90
SETTLE_INTERVAL_MS = 500

T = TypeVar("T")
NUMBER = re.compile(r"-?\d+(?:\.(\d+))?(?:e([+-]?\d+))?")


def drag_slider(page: Page, slider: Locator, fraction: float) -> None:
    """Drag the slider's (first) handle to ``fraction`` of its track, with the mouse."""
    slider.scroll_into_view_if_needed()
    handle = slider.locator(".noUi-handle").first
    box, track = handle.bounding_box(), slider.locator(".noUi-target").bounding_box()
    assert box and track, "slider has no size: it did not render"
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * fraction, y, steps=10)
    page.mouse.up()


def wait_settled(page: Page, read: Callable[[], T], agrees: Callable[[T], bool], what: str,
                 timeout_s: float = SETTLE_TIMEOUT_S) -> T:
    """Poll ``read()`` until the result ``agrees`` and two consecutive reads are equal; return it."""
    deadline = time.time() + timeout_s
    previous = None
    while True:
        now = read()
        if agrees(now) and now == previous:
            return now
        if time.time() > deadline:
            raise AssertionError(f"{what} did not settle within {timeout_s:.0f}s; last read: {describe(now)}")
        previous = now
        page.wait_for_timeout(SETTLE_INTERVAL_MS)


def describe(state) -> str:
    if isinstance(state, WidgetState):
        return f"kernel {state.kernel!r}; " + ("; ".join(state.disagreements()) or "consistent, but still changing")
    return repr(state)


def parse_readout(text: str) -> list[tuple[float, float]]:
    """The numbers a slider's readout shows, each with the tolerance its printed digits imply.

    "2.10" -> [(2.1, 0.005)]; a range slider's "−6.0 – 6.0" -> two numbers (d3-format prints U+2212 minus).
    """
    numbers = []
    for match in NUMBER.finditer(text.replace("\u2212", "-")):
        decimals, exponent = len(match.group(1) or ""), int(match.group(2) or 0)
        numbers.append((float(match.group(0)), 0.5 * 10.0 ** (exponent - decimals) * (1 + 1e-9)))
    return numbers


@dataclass(frozen=True)
class WidgetState:
    kernel: str | None
    readouts: tuple[tuple[str, str], ...]   # (slider label, readout text)
    settings: str | None                    # the data-settings JSON the drawing was made with
    pixels: bytes

    def disagreements(self) -> list[str]:
        """Sliders whose readout differs from the value the drawing was made with (empty: consistent)."""
        if self.settings is None:
            return ["the widget shows no data-settings"]
        drawn = json.loads(self.settings)
        wrong = []
        for label, text in self.readouts:
            value = drawn.get(label)
            values = value if isinstance(value, list) else [value]
            shown = parse_readout(text)
            if value is None or len(shown) != len(values) or any(
                    not isinstance(v, (int, float)) or abs(v - r) > tol for (r, tol), v in zip(shown, values)):
                wrong.append(f"{label}: readout {text!r}, drawn with {value!r}")
        return wrong


def read_state(page: Page, view: Locator) -> WidgetState:
    sliders = view.locator(".widget-slider")
    readouts = tuple((sliders.nth(i).locator(".widget-label").inner_text().strip(),
                      sliders.nth(i).locator(".widget-readout").inner_text().strip())
                     for i in range(sliders.count()))
    holder = view.locator("[data-settings]")
    settings = holder.first.get_attribute("data-settings") if holder.count() == 1 else None
    return WidgetState(lab.kernel_status(page), readouts, settings, view.screenshot())


def wait_widget_settled(page: Page, view: Locator, what: str) -> WidgetState:
    """Wait until the kernel is idle and every readout equals what the drawing shows, stable over two reads."""
    return wait_settled(page, lambda: read_state(page, view),
                        lambda s: s.kernel == "idle" and not s.disagreements(), what)

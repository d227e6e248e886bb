"""Baseline: ipywidgets render and round-trip to the kernel in this JupyterLab, independent of the lessons.

A temporary notebook (never in the repo's notebooks/) with an IntSlider driving a matplotlib drawing in
an Output widget. If this fails, the lesson journeys cannot pass either, and the cause is the stack
(JupyterLab / ipywidgets / Chromium), not the course.
"""
from __future__ import annotations

import json

import pytest

from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

import e2e_lab as lab
from e2e_widgets import drag_slider, wait_widget_settled

SLIDER_NB = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": [
            "%matplotlib inline\n",
            "import ipywidgets as w, matplotlib.pyplot as plt\n",
            "from IPython.display import display\n",
            "slider = w.IntSlider(value=1, min=1, max=8, description='n')\n",
            "out = w.Output()\n",
            "drawn = w.HTML()  # states what the plot was drawn with, for the test to compare with the readout\n",
            "def draw(change=None):\n",
            "    out.clear_output(wait=True)\n",
            "    with out:\n",
            "        fig, ax = plt.subplots(figsize=(3, 2))\n",
            "        ax.plot(range(10), [x ** slider.value for x in range(10)]); ax.set_title(f'n = {slider.value}')\n",
            "        plt.show()\n",
            "    drawn.value = f\"<span data-settings='{{\\\"n\\\": {slider.value}}}'>n = {slider.value}</span>\"\n",
            "slider.observe(draw, names='value')\n",
            "draw()\n",
            "display(w.VBox([slider, out, drawn]))\n"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_slider_redraws_matplotlib_output(student_lab, new_page, shot):
    (student_lab.root / "smoke").mkdir(exist_ok=True)
    (student_lab.root / "smoke" / "slider.ipynb").write_text(json.dumps(SLIDER_NB))
    page, log = new_page(student_lab, notebook="smoke/slider.ipynb")
    lab.wait_for_lab(page)
    lab.notebook_panel(page).locator(".jp-Cell").first.wait_for()
    lab.wait_kernel_ready(student_lab, "slider.ipynb")
    lab.assert_only_session(student_lab, "slider.ipynb")
    lab.wait_kernel_idle(page)
    lab.run_all(page, code_cells=1, timeout=60_000)
    view = lab.cell(page, 0).locator(".jp-OutputArea")
    widget = view.locator(".widget-vbox")
    expect(widget).to_be_visible(timeout=30_000)
    expect(widget.locator(".widget-slider")).to_be_visible()
    image = widget.locator(".widget-output img")
    expect(image).to_be_visible(timeout=30_000)
    before = wait_widget_settled(page, widget, "the slider demo before the drag")
    before_src = image.get_attribute("src")
    shot(page, "00_smoke_slider_before")
    drag_slider(page, widget.locator(".widget-slider"), 0.7)
    after = wait_widget_settled(page, widget, "the slider demo after the drag")
    shot(page, "00_smoke_slider_after")
    assert after.settings != before.settings, f"the plot is still drawn with {before.settings} after the drag"
    assert image.get_attribute("src") != before_src and after.pixels != before.pixels, \
        "the drawing did not change after moving the slider"
    assert not log.errors, f"page errors: {log.errors}"

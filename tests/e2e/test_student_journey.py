"""A student in JupyterLab, in Chromium: the released lessons as the browser shows them.

1. ``test_lesson_02_journey`` — open the released lesson 02 from the file browser, Run All: the first
   exercise's check shows the friendly "not yet / not implemented yet" verdict; type the answer into the
   exercise cell, run it and its check: "passed"; move a slider of the live computation-graph widget and
   see the drawing change (DOM and pixels), press *step* and see a node highlighted.
2. ``test_completed_lesson[NN]`` — every released lesson, with all exercises answered: Run All executes
   every cell with nothing on stderr and no error, every widget renders (no "Error displaying widget"),
   a slider of each widget changes its drawing; nbgrader's *Validate* button says it passes.

Screenshots of every step go to artifacts/e2e/.
"""
from __future__ import annotations

import json
import os
import re

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

import e2e_course as course_files
import e2e_lab as lab
from e2e_widgets import drag_slider, wait_widget_settled

JOURNEY_LESSON = "02_chain_rule"
JOURNEY_EXERCISE = "numerical_gradient"
WIDGET_LESSON_CELL = "ComputationGraph("
# Validate runs the whole notebook once more on the server; pressing it in one lesson tests the button, the
# dialog and the server extension (`grader release` validates every lesson headlessly). E2E_VALIDATE_ALL=1: all.
VALIDATE_LESSONS = {JOURNEY_LESSON}
# No timing assertions here: on a loaded machine any budget flakes (a torch + TensorFlow import took 20 s).
# Run All's time and every cell's are recorded in artifacts/e2e/timings_<lesson>.json and printed instead.

# a cell's own output that holds a widget view (not the output areas nested inside Output widgets)
WIDGET_VIEW = ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output:has(.jupyter-widgets)"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def open_lesson(page: Page, server, folder: str, lesson: str) -> Locator:
    lab.wait_for_lab(page)
    page.locator(".jp-BreadCrumbs-home").click()
    folder_item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText",
                                                                        has_text=re.compile(rf"^{folder}$")))
    folder_item.dblclick()
    expect(page.locator(".jp-BreadCrumbs")).to_contain_text(folder)
    return lab.open_from_file_browser(page, f"{lesson}.ipynb", server)


def widget_cell_index(lesson_path, needle: str) -> int:
    for i, c in enumerate(lab.notebook_cells(lesson_path)):
        text = c["source"] if isinstance(c["source"], str) else "".join(c["source"])
        if c["cell_type"] == "code" and needle in text:
            return i
    raise AssertionError(f"no cell creating {needle} in {lesson_path.name}")


# ------------------------------------------------------------------------------------------------
def test_lesson_02_journey(student_lab, new_page, shot):
    if JOURNEY_LESSON not in course_files.released_lessons():
        pytest.fail(f"notebooks/{JOURNEY_LESSON}.ipynb is missing: run `grader release`")
    path = student_lab.root / "notebooks" / f"{JOURNEY_LESSON}.ipynb"
    page, log = new_page(student_lab)
    open_lesson(page, student_lab, "notebooks", JOURNEY_LESSON)
    shot(page, "10_student_opened_lesson_02")

    # --- Run All on the untouched lesson: the stubs fail with a friendly verdict
    seconds = lab.run_all(page)
    exercise = lab.cell_index(path, JOURNEY_EXERCISE)
    check = lab.cell_index(path, f"check_{JOURNEY_EXERCISE}")
    verdict = lab.cell(page, check).locator(".jp-OutputArea")
    verdict.scroll_into_view_if_needed()
    expect(verdict).to_contain_text(re.compile("not yet", re.I))
    expect(verdict).to_contain_text("not implemented yet")
    expect(verdict).not_to_contain_text("Traceback")
    lab.center(verdict)
    shot(page, "11_student_stub_not_yet")
    states = lab.code_cell_states(page)
    ran = sum(bool(re.match(r"\[\d+\]", s)) for s in states)
    print(f"Run All on the released {JOURNEY_LESSON}: {ran}/{len(states)} code cells ran in {seconds:.1f}s")

    # --- type the answer into the exercise cell, run it and its check: passed
    lab.set_source(page, exercise, course_files.solution_source(JOURNEY_LESSON, JOURNEY_EXERCISE))
    lab.center(lab.cell(page, exercise))
    shot(page, "12_student_typed_answer")
    lab.run_cell(page, exercise)
    lab.run_cell(page, check)
    expect(verdict).to_contain_text(re.compile(r"\bpassed\b", re.I), timeout=60_000)
    expect(verdict).not_to_contain_text("not yet")
    lab.center(verdict)
    shot(page, "13_student_check_passed")

    # --- the live computation graph: sliders redraw it, step highlights a node
    graph_cell_index = widget_cell_index(path, WIDGET_LESSON_CELL)
    graph_cell = lab.run_cell(page, graph_cell_index)
    view = graph_cell.locator(WIDGET_VIEW)
    expect(view.locator(".widget-slider").first).to_be_visible(timeout=30_000)
    drawing = view.locator(".cg-graph svg")
    expect(drawing).to_be_visible()
    x_box = drawing.locator(".cg-node[data-label='x']")
    y_box = drawing.locator(".cg-node[data-label='y']")
    expect(x_box).to_have_count(1)
    view.scroll_into_view_if_needed()
    before = wait_widget_settled(page, view, "the computation graph before the drag")
    x_before, y_before = x_box.get_attribute("data-value"), y_box.get_attribute("data-value")
    shot(page, "14_student_graph_before_slider")

    x_slider = view.locator(".widget-slider", has=page.locator(".widget-label", has_text=re.compile(r"^x$"))).first
    drag_slider(page, x_slider, 0.85)
    # the drag sends a value per mouse step: wait for the last one to be drawn, not for the first change
    after = wait_widget_settled(page, view, "the computation graph after dragging x")
    readout = x_slider.locator(".widget-readout").inner_text()
    drawn_x = x_box.get_attribute("data-value")
    assert f"{float(drawn_x):.2f}" == readout, \
        f"the slider's readout ({readout}) and the drawn value of x ({drawn_x}) disagree"
    assert drawn_x != x_before, f"x is still drawn as {x_before} after the drag (readout {readout})"
    assert y_box.get_attribute("data-value") != y_before, "x changed but y = tanh(x*w + b)*x did not"
    assert after.pixels != before.pixels, "the widget's drawing did not change after moving the slider"
    shot(page, "15_student_graph_after_slider")

    expect(drawing.locator(".cg-highlight")).to_have_count(0)
    view.get_by_role("button", name=re.compile("step")).click()
    expect(drawing.locator(".cg-highlight")).to_have_count(1, timeout=15_000)
    expect(drawing.locator(".cg-highlight")).to_have_attribute("data-label", "y")
    expect(view.locator(".cg-status")).to_contain_text("Step 1/")
    shot(page, "16_student_graph_step")
    assert not log.errors, f"JavaScript errors on the page: {log.errors}"


# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lesson", course_files.released_lessons())
def test_completed_lesson(lesson, student_lab, new_page, shot, artifacts):
    path = student_lab.root / "done" / f"{lesson}.ipynb"
    if not path.exists():
        pytest.fail(f"solutions/{lesson}.ipynb is missing: cannot build the completed notebook")
    page, log = new_page(student_lab)
    open_lesson(page, student_lab, "done", lesson)

    n_code = lab.code_cell_count(path)
    seconds = lab.run_all(page)
    states = lab.code_cell_states(page)
    not_run = [i for i, s in enumerate(states) if not re.match(r"\[\d+\]", s)]
    panel = lab.notebook_panel(page)
    stderr = panel.locator(STDERR)
    # text_content, not inner_text: JupyterLab skips rendering off-screen cells (content-visibility)
    problems = [(t or "")[:300] for t in stderr.all_text_contents()]
    shot(page, f"20_{lesson}_completed_run_all")
    assert not not_run, f"{lesson}: Run All stopped; code cells not run: {not_run} (of {n_code}); " \
                        f"stderr/errors: {problems}"
    assert not problems, f"{lesson}: stderr or errors in the browser after Run All: {problems}"

    # JupyterLab records per-cell timing (settings in conftest); save and read it back, for a person to read
    lab.save(page)
    timings = sorted(lab.cell_seconds(path), key=lambda t: -t[1])
    (artifacts / f"timings_{lesson}.json").write_text(json.dumps(
        {"run_all_seconds": round(seconds, 1), "cells": [{"cell": i, "seconds": round(t, 2), "code": code}
                                                       for i, t, code in timings]}, indent=1))
    print(f"{lesson}: Run All {seconds:.1f}s; slowest cells: "
          + ", ".join(f"#{i} {t:.1f}s" for i, t, _ in timings[:3]))

    # every widget renders (as many views on the page as widget outputs in the saved file; a missing
    # widget manager would leave "VBox(children=...)" text instead), and a slider of each redraws it
    views = panel.locator(WIDGET_VIEW)
    saved = lab.notebook_cells(path)
    widget_outputs = sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                         for c in saved if c["cell_type"] == "code" for o in c.get("outputs", []))
    creates_widgets = any("autograd_mini.widgets" in (c["source"] if isinstance(c["source"], str) else "".join(c["source"]))
                          for c in saved)
    expect(views, f"{lesson}: {widget_outputs} widget outputs, not as many rendered").to_have_count(
        widget_outputs, timeout=30_000)
    assert widget_outputs or not creates_widgets, f"{lesson}: uses autograd_mini.widgets but displays no widget"
    for k in range(views.count()):
        view = views.nth(k)
        view.scroll_into_view_if_needed()
        expect(view).not_to_contain_text("Error displaying widget")
        expect(view).not_to_contain_text("Loading widget", timeout=30_000)
        expect(view.locator(".jupyter-widgets, .widget-box, .widget-output, .widget-html").first).to_be_visible(
            timeout=30_000)
        box = view.bounding_box()
        assert box and box["height"] > 40, f"{lesson}: widget {k} rendered as an empty box ({box})"
        sliders = view.locator(".widget-slider")
        if sliders.count():
            before = wait_widget_settled(page, view, f"{lesson}: widget {k} before the drag")
            drag_slider(page, sliders.first, 0.8)
            after = wait_widget_settled(page, view, f"{lesson}: widget {k} after the drag")
            assert after.settings != before.settings, \
                f"{lesson}: widget {k} still drawn with {before.settings} after the drag"
            assert after.pixels != before.pixels, f"{lesson}: widget {k}'s drawing did not change after the drag"
            shot(view, f"21_{lesson}_widget{k}_after_slider")

    # nbgrader's Validate button
    if lesson not in VALIDATE_LESSONS and not os.environ.get("E2E_VALIDATE_ALL"):
        assert not log.errors, f"JavaScript errors on the page: {log.errors}"
        return
    validate = panel.locator(".jp-Toolbar").get_by_role("button", name="Validate")
    expect(validate).to_be_visible()
    validate.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Validation Results", timeout=240_000)
    shot(page, f"22_{lesson}_validate")
    body = dialog.locator(".jp-Dialog-body").inner_text()
    assert "Success! Your notebook passes all the tests." in body, f"{lesson}: Validate says:\n{body[:2000]}"
    dialog.get_by_role("button", name="Ok").click()
    assert not log.errors, f"JavaScript errors on the page: {log.errors}"


# ------------------------------------------------------------------------------------------------
def test_nbgrader_menu_and_assignments_tab(student_lab, new_page, shot):
    """The Nbgrader menu is there, and the student's Assignments tab loads without an error.

    JupyterLab runs where nbgrader_config.py is (as with `make lab`); nbgrader's Assignment List reads the
    exchange that config names.
    """
    page, log = new_page(student_lab)
    lab.wait_for_lab(page)
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    items = [t.strip() for t in page.get_by_role("menu").get_by_role("menuitem").all_inner_texts()]
    page.keyboard.press("Escape")
    for wanted in ("Assignment List", "Course List", "Formgrader"):
        assert any(t.startswith(wanted) for t in items), f"Nbgrader menu lacks {wanted!r}: {items}"

    lab.menu(page, "Nbgrader", "Assignment List")
    released = page.locator("#released_assignments_list")
    expect(page.locator("#jp-main-dock-panel").get_by_role("tab", name="Assignments")).to_be_visible()
    # loading finishes with either the list, its placeholder, or its error
    expect(page.locator("#released_assignments_list_loading")).to_be_hidden(timeout=30_000)
    shot(page, "40_student_assignments_tab")
    errors = [t.strip() for t in page.locator("#released_assignments_list_error, #fetched_assignments_list_error, "
                                              "#submitted_assignments_list_error").all_inner_texts() if t.strip()]
    course_picker = page.locator(".jp-NbgraderAssignmentList, body").first.inner_text()
    assert not errors and "Error fetching courses" not in course_picker, (
        "the Assignments tab shows an error (nbgrader_config.py names no usable exchange):\n" + "\n".join(errors[:1]))
    assert released.count() == 1
    assert not log.errors, f"JavaScript errors on the page: {log.errors}"

"""Lesson 00 (tour): the notebooks run, grade to full marks / 0, and the warm-up's mistakes are diagnosed."""
from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.lessons import lesson_00

from notebook_run import nbgrader_meta, run_notebook

REPO = Path(__file__).resolve().parents[2]
LESSON = "00_tour"
SOURCE = REPO / "solutions" / f"{LESSON}.ipynb"
RELEASED = REPO / "notebooks" / f"{LESSON}.ipynb"
SPEC = REPO / "grader" / "lessons" / f"{LESSON}.toml"


def _solution_function():
    namespace = {"np": np}
    (cell,) = [c for c in nbformat.read(str(SOURCE), as_version=4).cells if nbgrader_meta(c).get("solution")]
    exec(cell.source, namespace)
    return namespace["pairwise_sq_distances"]


@pytest.mark.slow
def test_solution_notebook_runs_headless_in_under_a_minute_without_errors_or_stderr():
    nb, seconds = run_notebook(SOURCE, allow_errors=True)
    assert seconds < 60, f"{SOURCE.name} took {seconds:.1f} s"
    outputs = [(c, o) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    for cell, out in outputs:
        assert out.output_type != "error", f"cell {nbgrader_meta(cell).get('grade_id')}: {out.ename}: {out.evalue}"
        assert not (out.output_type == "stream" and out.name == "stderr"), out.text[:200]
    (check,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "check_pairwise_sq_distances"]
    assert "PASSED" in check.outputs[0]["data"]["text/plain"]
    # the "how a check works" demo shows a failing verdict with its diagnosis
    assert any("NOT YET" in o.get("data", {}).get("text/plain", "") and "2x too large" in o["data"]["text/plain"]
               for _, o in outputs)


@pytest.mark.slow
def test_released_notebook_runs_and_fails_only_at_the_exercise_stub():
    nb, seconds = run_notebook(RELEASED, allow_errors=True)
    assert seconds < 60
    errors = [(c, o) for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert [(nbgrader_meta(c).get("grade_id"), o.ename) for c, o in errors] == \
        [("test_pairwise_sq_distances", "NotImplementedError")]


def test_released_notebook_has_the_stub_and_no_answer_or_hidden_test():
    text = RELEASED.read_text()
    assert "### BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "b[None, :, :]\\n" not in text and "raise NotImplementedError()" in text


@pytest.mark.slow
def test_release_is_up_to_date_and_autogrades_solution_full_and_release_zero():
    from grader.config import Course
    from grader.pipeline.release import release

    (report,) = release(Course(), [LESSON], check_only=True, log=lambda *_: None)
    assert report.problems == []
    assert not report.drift


def test_spec_matches_the_notebook():
    (exercise,) = tomllib.loads(SPEC.read_text())["exercise"]
    cells = {nbgrader_meta(c).get("grade_id"): c for c in nbformat.read(str(SOURCE), as_version=4).cells}
    assert nbgrader_meta(cells[exercise["cells"][0]])["solution"]
    assert nbgrader_meta(cells["test_" + exercise["id"]])["points"] == exercise["points"] == 1
    assert exercise["strip"] == []  # the warm-up is not a piece of autograd_mini


def test_the_notebooks_solution_passes_the_hidden_check_and_a_new_seed():
    fn = _solution_function()
    assert lesson_00.check("pairwise_sq_distances", fn, hidden=True).passed
    assert lesson_00.graded_check(seed=12345, exercise="pairwise_sq_distances").run(fn).passed


MISTAKES = [
    (lambda a, b: (a[:, None, :] - b[None, :, :]) ** 2, "forgot_sum", ["sum them over the last axis"]),
    (lambda a, b: ((a - b) ** 2).sum(-1), "no_new_axes", ["do not broadcast", "a[:, None, :] - b[None, :, :]"]),
    (lambda a, b: ((b[:, None, :] - a[None, :, :]) ** 2).sum(-1), "swapped", ["(m, n), the transpose"]),
    (lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)), "sqrt", ["*squared* distance"]),
    (lambda a, b: (a[:, None] - b[None]).sum(-1), "no_square", ["without squaring"]),
]


@pytest.mark.parametrize("wrong, label, phrases", MISTAKES, ids=[m[1] for m in MISTAKES])
def test_a_typical_mistake_fails_the_hidden_test_with_its_diagnosis(wrong, label, phrases):
    result = lesson_00.check("pairwise_sq_distances", wrong, hidden=True)
    assert not result.passed
    for phrase in phrases:
        assert phrase in result.diagnosis, result.diagnosis

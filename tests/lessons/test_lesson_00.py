"""Lesson 00 (tour): the warm-up's declaration matches its notebook, the solution passes, mistakes are diagnosed."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.lessons import lesson_00

from notebook_run import executed, nbgrader_meta, outputs_text

REPO = Path(__file__).resolve().parents[2]
LESSON = lesson_00.LESSON
SOURCE = REPO / "solutions" / f"{LESSON.name}.ipynb"
RELEASED = REPO / "notebooks" / f"{LESSON.name}.ipynb"
EXERCISE = LESSON.exercise("pairwise_sq_distances")


def cells() -> dict:
    return {nbgrader_meta(c).get("grade_id"): c for c in nbformat.read(str(SOURCE), as_version=4).cells}


def solution_function():
    namespace = {}
    exec(LESSON.setup + cells()[EXERCISE.solution_cell].source, namespace)
    return namespace[EXERCISE.function]


def test_declaration_matches_the_notebooks_cells():
    by_id = cells()
    assert nbgrader_meta(by_id[EXERCISE.solution_cell])["solution"]
    assert nbgrader_meta(by_id[EXERCISE.test_cell])["points"] == EXERCISE.points == 1
    assert f'lesson_00.check("{EXERCISE.id}", {EXERCISE.function})' in by_id["check_" + EXERCISE.function].source
    hidden = by_id[EXERCISE.test_cell].source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
    assert f'lesson_00.grade("{EXERCISE.id}", {EXERCISE.function})' in hidden


def test_the_notebooks_solution_passes_the_visible_hidden_and_another_seeds_cases():
    fn = solution_function()
    for check in (LESSON.make_check(EXERCISE.id), LESSON.make_check(EXERCISE.id, hidden=True),
                  LESSON.make_check(EXERCISE.id, hidden=True, seed=12345)):
        result = check.run(fn)
        assert result.passed and "PASSED" in result.message(), result.message()
    lesson_00.grade(EXERCISE.id, fn)  # what the graded cell runs: raises on failure


def test_hidden_cases_are_more_and_include_a_transposed_view():
    visible, hidden = LESSON.make_check(EXERCISE.id).cases, LESSON.make_check(EXERCISE.id, hidden=True).cases
    assert len(hidden) > len(visible)
    assert any(not a.flags.c_contiguous for case in hidden for a in case.arrays)


MISTAKES = [
    (lambda a, b: (a[:, None, :] - b[None, :, :]) ** 2, "no_sum", "sum them over the last axis"),
    (lambda a, b: ((a - b) ** 2).sum(-1), "broadcast", "a[:, None, :] - b[None, :, :]"),
    (lambda a, b: ((b[:, None, :] - a[None, :, :]) ** 2).sum(-1), "swapped", "(m, n), the transpose"),
    (lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)), "sqrt", "*squared* distance"),
    (lambda a, b: (a[:, None] - b[None]).sum(-1), "no_square", "without squaring"),
]


@pytest.mark.parametrize("wrong, key, words", MISTAKES, ids=[m[1] for m in MISTAKES])
def test_a_typical_mistake_fails_the_hidden_test_with_its_diagnosis(wrong, key, words):
    result = LESSON.make_check(EXERCISE.id, hidden=True).run(wrong)
    assert not result.passed
    assert result.mistake == key, result.message()
    assert words in result.diagnosis
    with pytest.raises(AssertionError, match=re.escape(words)):
        lesson_00.grade(EXERCISE.id, wrong)


@pytest.mark.parametrize("relative_error, passes", [(1e-11, True), (1e-9, False)])
def test_the_verdict_and_the_error_it_shows_agree(relative_error, passes):
    fn = solution_function()
    result = LESSON.make_check(EXERCISE.id, hidden=True).run(lambda a, b: fn(a, b) * (1 + relative_error))
    assert result.passed is passes
    assert (result.max_rel_error <= 1e-10) is passes, result.message()
    assert ("PASSED" in result.message()) is passes


# ---- the notebooks, run headless ----------------------------------------------------------------------

@pytest.mark.slow
def test_the_how_a_check_works_demo_shows_a_failing_verdict_with_its_diagnosis():
    nb, _ = executed(LESSON.name)
    assert any("NOT YET" in outputs_text(c) and "2x too large" in outputs_text(c) for c in nb.cells if c.cell_type == "code")


def test_released_notebook_has_the_stub_and_no_answer_or_hidden_test():
    text = RELEASED.read_text()
    assert "### BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "b[None, :, :]\\n" not in text and "raise NotImplementedError()" in text

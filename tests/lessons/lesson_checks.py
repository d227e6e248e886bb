"""Assertions every lesson's tests make the same way."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]


def assert_diagnosed(lesson, exercise_id: str, wrong, key: str, words: str) -> None:
    """``wrong`` fails the hidden check with the diagnosis ``key`` (its message containing ``words``), and the
    notebook's graded cell, ``lesson.grade``, raises with the same words."""
    result = lesson.make_check(exercise_id, hidden=True).run(wrong)
    assert not result.passed
    assert result.mistake == key, result.message()
    assert words in result.diagnosis, result.diagnosis
    with pytest.raises(AssertionError, match=re.escape(words)):
        lesson.grade(exercise_id, wrong)


def widget_views(nb) -> int:
    """How many widgets an executed notebook displayed."""
    return sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def assert_autograder_verdicts(lesson, tmp_path: Path, wrong: dict, diagnoses: dict) -> None:
    """Through the sandboxed pipeline: the lesson's solution scores full marks and its release 0 (every exercise
    not implemented); the solution with the ``wrong`` cells (grade_id -> source) swapped in loses exactly the
    exercises of ``diagnoses`` (exercise id -> words of its diagnosis), each with its diagnosis, and no other point."""
    from grader.pipeline import grade

    solution = REPO / "solutions" / f"{lesson.name}.ipynb"
    full = grade.grade_file("solution", lesson, solution, b"secret")
    assert full.score == full.max_score == lesson.max_points, [e.result["diagnosis"] for e in full.exercises]

    empty = grade.grade_file("release", lesson, REPO / "notebooks" / f"{lesson.name}.ipynb", b"secret")
    assert empty.score == 0
    assert {e.result["mistake"] for e in empty.exercises} == {"not_implemented"}

    nb = nbformat.read(str(solution), as_version=4)
    swapped = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in wrong:
            cell.source = wrong[grade_id]
            swapped.add(grade_id)
    assert swapped == set(wrong), f"no solution cell {sorted(set(wrong) - swapped)} in {solution.name}"
    submission = tmp_path / f"{lesson.name}.ipynb"
    nbformat.write(nb, str(submission))
    graded = {e.exercise: e for e in grade.grade_file("student", lesson, submission, b"secret").exercises}
    for exercise, words in diagnoses.items():
        assert graded[exercise].points == 0 and words in graded[exercise].result["diagnosis"], graded[exercise].result
    lost = sum(graded[exercise].max_points for exercise in diagnoses)
    assert sum(e.points for e in graded.values()) == lesson.max_points - lost

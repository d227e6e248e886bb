"""Assertions every lesson's tests make the same way."""
from __future__ import annotations

import re

import pytest


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

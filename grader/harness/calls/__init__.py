"""How a check calls the student's function on one case: ``CALLS[name](fn, case) -> what fn returned``.

These run next to the student's code, with a library from which the exercise's reference (and
everything that could stand in for it) has been removed, so they build their inputs from case data and
implement nothing themselves. Problems they spot are raised as ``Hint(code, **values)``; the words for
each code are in HINTS, which the grader reads from its own copy of this package.

Each lesson's calls and hints live in its module (``lesson_00`` ... ``lesson_09``), what several lessons use
in ``shared``; a later lesson may use an earlier lesson's call by its key. CALLS and HINTS combine them all.
"""
from __future__ import annotations

from . import lesson_00, lesson_01, lesson_02, lesson_03, lesson_04, lesson_05, lesson_06, lesson_07, lesson_08
from . import lesson_09, shared

MODULES = (shared, lesson_00, lesson_01, lesson_02, lesson_03, lesson_04, lesson_05, lesson_06, lesson_07, lesson_08,
           lesson_09)


def combined(table: str, modules) -> dict:
    """The ``table`` dicts (``"CALLS"`` or ``"HINTS"``) of ``modules`` as one; a key two modules define with
    different values is an error."""
    merged, owner = {}, {}
    for module in modules:
        for key, value in getattr(module, table).items():
            if key in merged and merged[key] != value:
                raise ValueError(f"{table}[{key!r}] is defined differently in {owner[key]} and {module.__name__}: "
                                 f"define a key once (one that several lessons share, in {shared.__name__})")
            merged[key] = value
            owner.setdefault(key, module.__name__)
    return merged


CALLS = combined("CALLS", MODULES)
HINTS = combined("HINTS", MODULES)

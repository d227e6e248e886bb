"""Find the lessons of a course: every module in the lessons folder that declares ``LESSON = Lesson(...)``.

The course's own lessons are grader/lessons/lesson_NN.py (importable, so that notebooks can say
``from grader.lessons import lesson_03``); another folder (a test course, ``--specs``) is loaded file by file.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

from . import __version__
from .lesson import Exercise, Lesson

GRADER_DIR = Path(__file__).resolve().parent
HARNESS_DIR = GRADER_DIR / "harness"


def _module(path: Path):
    if path.parent == GRADER_DIR / "lessons":
        return importlib.import_module(f"grader.lessons.{path.stem}")
    name = f"_course_lessons_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@lru_cache(maxsize=None)
def _lessons(lessons_dir: Path) -> dict:
    found = {}
    for path in sorted(Path(lessons_dir).glob("*.py")):
        lesson = getattr(_module(path), "LESSON", None)
        if isinstance(lesson, Lesson):
            if lesson.name in found:
                raise ValueError(f"two modules in {lessons_dir} declare lesson {lesson.name!r}")
            lesson.digest = _digest(path)
            found[lesson.name] = lesson
    return found


def _digest(path: Path) -> str:
    """Changes when the lesson's declaration or the harness changes: what triggers regrading."""
    text = path.read_bytes() + b"".join(p.read_bytes() for p in sorted(HARNESS_DIR.rglob("*.py")))
    return hashlib.sha256(text + __version__.encode()).hexdigest()[:16]


def all_lessons(lessons_dir: Path) -> dict:
    """lesson name -> Lesson, for every lesson declared in ``lessons_dir``."""
    return _lessons(Path(lessons_dir).resolve())


def load_lesson(lessons_dir: Path, name: str) -> Lesson | None:
    return all_lessons(lessons_dir).get(name)


def removed_in_sandbox(lessons_dir: Path, exercise: Exercise) -> list[str]:
    """The references absent from ``exercise``'s sandbox: every exercise of the course and everything that
    could stand in for one, except what this exercise's harness stands on."""
    from autograd_mini.registry import names

    known = set(names())
    graded = {name for lesson in all_lessons(lessons_dir).values() for e in lesson.exercises
              for name in (e.id, *e.also_strip) if name in known}
    return sorted(graded - set(exercise.needs))


def mistake_keys(lessons_dir: Path) -> frozenset:
    """Every mistake key the grader itself can write for this course: failure kinds, hint codes, the generic
    diagnoses, and the Mistake keys of its lessons. Reports show anything else as "other"."""
    from .checks.diagnose import GENERIC_KEYS
    from .harness.calls import HINTS
    from .harness.outcome import KINDS

    lesson_keys = {m.key for lesson in all_lessons(lessons_dir).values() for e in lesson.exercises for m in e.mistakes}
    return frozenset(KINDS) | frozenset(HINTS) | frozenset(GENERIC_KEYS) | frozenset(lesson_keys)

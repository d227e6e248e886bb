"""The student's own library, read from their lesson notebooks (the capstone, lesson 09).

``load_student_library(notebooks_dir)`` takes every lesson's exercise cells out of ``notebooks_dir/<lesson>.ipynb``
with the autograder's own extraction (``grader.pipeline.grade.extract_cells``) and the lesson's declaration, runs
each exercise's cells after the lesson's setup in a fresh namespace, and calls the function once, on the exercise's
first visible case, through the exercise's harness call. The functions that run are returned by registry name,
ready for one ``autograd_mini.use(library.functions)``; stubs (``NotImplementedError``) and errors are reported
instead. Exercises that are not a piece of autograd_mini (predictions, training loops) are left out.

This runs the student's code in this process: it is for the student's own kernel, never for grading.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from grader.harness.calls import CALLS
from grader.harness.outcome import Failure, call_student
from grader.lesson import Exercise, Lesson, refusing
from grader.pipeline.grade import extract_cells
from grader.spec import GRADER_DIR, all_lessons

CAPSTONE = "09_capstone"


@dataclass
class Part:
    """One exercise that is a piece of the library, and whose it is now."""
    lesson: str
    name: str  # the registry name
    function: str
    # "yours", "stub" (not written yet), "error" (its cell or first call failed), "no notebook", "this lesson"
    status: str
    detail: str = ""


@dataclass
class StudentLibrary:
    functions: dict = field(default_factory=dict)  # registry name -> the student's function
    parts: list = field(default_factory=list)

    def table(self) -> str:
        """Lesson by lesson: the pieces that are yours, and those still the reference (with why)."""
        from autograd_mini.registry import names

        lines = [f"{'lesson':<26} {'yours':>5}  {'reference':>9}  still the reference"]
        for lesson in dict.fromkeys(p.lesson for p in self.parts):
            parts = [p for p in self.parts if p.lesson == lesson]
            mine = sum(p.status == "yours" for p in parts)
            others = ", ".join(f"{p.name} ({p.status}{': ' + p.detail if p.detail else ''})"
                               for p in parts if p.status != "yours")
            lines.append(f"{lesson:<26} {mine:>5}  {len(parts) - mine:>9}  {others or '-'}")
        taught = {p.name for p in self.parts}
        untaught = [n for n in names() if n not in taught]
        lines.append(f"{'(no exercise writes them)':<26} {0:>5}  {len(untaught):>9}  {', '.join(untaught)}")
        total = len(names())
        lines.append(f"{'all of autograd_mini':<26} {len(self.functions):>5}  {total - len(self.functions):>9}  "
                     f"{len(self.functions) / total:.0%} of its {total} registered pieces are yours")
        return "\n".join(lines)


def load_student_library(notebooks_dir, lessons_dir: Path | None = None, skip: tuple = (CAPSTONE,)) -> StudentLibrary:
    """The student's function for every library piece an exercise of ``lessons_dir``'s lessons (the course's by
    default; not those in ``skip``) writes, from their notebooks in ``notebooks_dir``."""
    from autograd_mini.registry import names

    known = set(names())
    library = StudentLibrary()
    for name, lesson in sorted(all_lessons(lessons_dir or GRADER_DIR / "lessons").items()):
        pieces = [e for e in lesson.exercises if e.id in known]
        if name in skip:
            library.parts += [Part(name, e.id, e.function, "this lesson") for e in pieces]
            continue
        path = Path(notebooks_dir) / f"{name}.ipynb"
        if not path.exists():
            library.parts += [Part(name, e.id, e.function, "no notebook", path.name) for e in pieces]
            continue
        cells, problem = extract_cells(path, lesson)
        for exercise in pieces:
            part, fn = _load(lesson, exercise, cells, problem)
            library.parts.append(part)
            if fn is not None:
                library.functions[exercise.id] = fn
    return library


def _load(lesson: Lesson, exercise: Exercise, cells: list, problem: str):
    """(Part, the function or None): run the exercise's cells in a namespace of their own, then call it once."""
    def part(status, detail=""):
        return Part(lesson.name, exercise.id, exercise.function, status, detail)

    if problem:
        return part("error", problem), None
    namespace = {"__name__": "__main__"}
    sources = [("setup", lesson.setup)] + [c for c in cells if c[0] == exercise.solution_cell]
    with _quiet():
        for cell_id, source in sources:
            try:
                exec(compile(source, f"<cell {cell_id}>", "exec"), namespace)
            except NotImplementedError:
                return part("stub"), None
            except Exception as error:
                return part("error", f"cell {cell_id}: {type(error).__name__}: {error}"[:120]), None
        fn = namespace.get(exercise.function)
        if not callable(fn):
            return part("error", f"no function {exercise.function} in its cell"), None
        case = lesson.make_check(exercise.id).cases[0]
        with refusing((exercise.id, *exercise.also_strip)):
            outcome = call_student(fn, CALLS[exercise.call], case)
    if isinstance(outcome, Failure) and outcome.kind == "not_implemented":
        return part("stub"), None
    if isinstance(outcome, Failure) and outcome.kind != "hint":  # a hint: it ran, and the check cell says more
        return part("error", f"{outcome.kind} {outcome.error_type}".strip()), None
    return part("yours"), fn


@contextlib.contextmanager
def _quiet():
    """The student's prints (and warnings written to stderr) stay out of the capstone's output."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield

"""Mirror the course into nbgrader's database, so that nbgrader's formgrader shows it.

The course's grades come from ``grader autograde`` (``course/gradebook.db``); the formgrader
(Nbgrader > Formgrader in JupyterLab) reads nbgrader's own database, ``course/nbgrader.db``
(``c.CourseDirectory.db_url`` in nbgrader_config.py). This module writes, from the grader's own process
(student code never runs here):

* per lesson (at ``grader release`` and again at ``grader autograde``): the solution notebook staged as
  ``course/source/<lesson>/<lesson>.ipynb`` (the formgrader lists the assignments it finds there), and
  in nbgrader.db the assignment ``<lesson>``, its notebook ``<lesson>``, its graded test cells (grade_id,
  points) and solution cells;
* per graded submission (at ``grader autograde``): the student, the submission and, for each exercise,
  the ``auto_score`` of its test cell = the points the sandboxed grader gave that exercise; plus the
  copies nbgrader's listing expects (``course/submitted/<student>/<lesson>/<lesson>.ipynb`` with a
  ``timestamp.txt``, and ``course/autograded/<student>/<lesson>/<lesson>.ipynb``). Those copies are
  inert (:mod:`grader.pipeline.inert`): the formgrader renders them in the instructor's browser, so they
  carry the student's source but no outputs, attachments, HTML or foreign metadata.

Exercise ``<id>`` of ``<specs>/<lesson>.toml`` is graded, in nbgrader's terms, by the test cell
``test_<id>`` of the solution notebook, with the same points (an exercise may name another cell with
``test_cell = "..."``). :func:`grade_cells` checks this and raises :class:`ConventionError`, naming the
lesson, the exercise and the cell, when a spec and its notebook disagree; every graded test cell must
belong to exactly one exercise, so that nbgrader's maximum equals the grader's.

Everything is idempotent: re-running updates rows and files, never duplicates them. Manual scores an
instructor enters in the formgrader are left alone (nbgrader shows them instead of the auto score).
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from grader.config import Course
from grader.pipeline.inert import inert_notebook
from grader.lesson import Lesson
from grader.spec import load_lesson

COURSE_ID = "backprop-from-scratch"  # c.CourseDirectory.course_id in nbgrader_config.py


class ConventionError(ValueError):
    """A lesson's spec and the graded test cells of its solution notebook disagree."""


@dataclass
class Cell:
    name: str
    cell_type: str
    grade: bool
    solution: bool
    points: float


def db_url(course: Course) -> str:
    """The database nbgrader_config.py gives nbgrader for this course dir."""
    return f"sqlite:///{course.course_dir / 'nbgrader.db'}"


def open_gradebook(course: Course):
    from nbgrader.api import Gradebook

    course.course_dir.mkdir(parents=True, exist_ok=True)
    # a new nbgrader.db is stamped by running `alembic heads`, found on PATH: the venv's bin/ may not be there
    path = os.environ.get("PATH", "")
    venv_bin = str(Path(sys.executable).parent)
    if shutil.which("alembic") is None and (Path(venv_bin) / "alembic").exists():
        os.environ["PATH"] = venv_bin + os.pathsep + path
    try:
        return Gradebook(db_url(course), COURSE_ID)
    finally:
        os.environ["PATH"] = path


def nbgrader_cells(notebook: Path) -> list[Cell]:
    """The cells of a notebook that carry nbgrader metadata (grade_id), in order."""
    cells = []
    for cell in json.loads(Path(notebook).read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        if meta.get("grade_id"):
            cells.append(Cell(meta["grade_id"], cell.get("cell_type", "code"), bool(meta.get("grade")),
                              bool(meta.get("solution")), float(meta.get("points") or 0)))
    return cells


def grade_cells(lesson: str, notebook: Path, spec: Lesson) -> dict[str, str]:
    """{exercise id: grade_id of its test cell}; raises ConventionError listing every mismatch between the
    lesson's declaration and the notebook's nbgrader metadata."""
    cells = nbgrader_cells(notebook)
    graded = {c.name: c for c in cells if c.grade}
    solutions = {c.name for c in cells if c.solution}
    mapping, problems = {}, []
    for exercise in spec.exercises:
        if exercise.solution_cell not in solutions:
            problems.append(f"lesson {lesson}, exercise {exercise.id!r}: {notebook.name} has no solution cell "
                            f"{exercise.solution_cell!r} (nbgrader solution: true) defining {exercise.function}")
        name = exercise.test_cell
        cell = graded.get(name)
        if cell is None:
            problems.append(f"lesson {lesson}, exercise {exercise.id!r}: {notebook.name} has no graded test cell "
                            f"{name!r} (the exercise's function {exercise.function} is graded by test_{exercise.function})")
        elif cell.points != exercise.points:
            problems.append(f"lesson {lesson}, exercise {exercise.id!r}: test cell {name!r} is worth {cell.points:g} "
                            f"point(s) in {notebook.name}, the lesson declares {exercise.points:g}")
        if name in mapping.values():
            other = next(k for k, v in mapping.items() if v == name)
            problems.append(f"lesson {lesson}, exercises {other!r} and {exercise.id!r} both claim test cell {name!r}")
        mapping[exercise.id] = name
    for name, cell in graded.items():
        if name not in mapping.values():
            problems.append(f"lesson {lesson}: graded test cell {name!r} ({cell.points:g} point(s)) of {notebook.name} "
                            f"belongs to no exercise of lesson {lesson} (expected an exercise whose "
                            f"function is {name.removeprefix('test_')!r})")
    if problems:
        raise ConventionError("\n".join(problems))
    return mapping


def _copy_if_changed(src: Path, dst: Path) -> None:
    _write_if_changed(Path(src).read_bytes(), dst)


def _write_if_changed(data: bytes, dst: Path) -> None:
    if not dst.exists() or dst.read_bytes() != data:
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)


def sync_assignment(book, course: Course, lesson: str, spec: Lesson | None = None) -> dict[str, str]:
    """Stage source/<lesson>/ and write the assignment's structure; returns {exercise: test cell}."""
    notebook = course.source / f"{lesson}.ipynb"
    mapping = grade_cells(lesson, notebook, spec) if spec is not None else {}
    _copy_if_changed(notebook, course.course_dir / "source" / lesson / f"{lesson}.ipynb")
    book.update_or_create_assignment(lesson)
    book.update_or_create_notebook(lesson, lesson)
    for cell in nbgrader_cells(notebook):
        if cell.grade:
            book.update_or_create_grade_cell(cell.name, lesson, lesson, max_score=cell.points,
                                             cell_type=cell.cell_type)
        if cell.solution:
            book.update_or_create_solution_cell(cell.name, lesson, lesson)
    return mapping


def release_assignments(course: Course, lessons: list[str]) -> dict[str, str]:
    """At release: every lesson's structure. Returns {lesson: problem} for lessons that break the convention."""
    problems = {}
    with open_gradebook(course) as book:
        for lesson in lessons:
            if not (course.source / f"{lesson}.ipynb").exists():
                continue
            try:
                sync_assignment(book, course, lesson, load_lesson(course.specs, lesson))
            except ConventionError as error:
                problems[lesson] = str(error)
    return problems


def _timestamp(path: Path) -> datetime.datetime:
    """The submission's time (file mtime), naive UTC as nbgrader stores it."""
    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    return stamp.replace(tzinfo=None)


def record_submission(book, course: Course, student: str, lesson: str, points: dict[str, float],
                      mapping: dict[str, str]) -> None:
    """One graded submission: student, submission, auto_score of each exercise's test cell."""
    import sqlalchemy.exc
    from nbgrader.api import Grade

    submitted = course.submitted / student / f"{lesson}.ipynb"
    stamp = _timestamp(submitted) if submitted.exists() else datetime.datetime.utcnow().replace(microsecond=0)
    if submitted.exists():
        # nbgrader counts a submission by its folder submitted/<student>/<lesson>/, and calls it autograded
        # when autograded/<student>/<lesson>/ exists and the timestamps agree; its pages render these copies
        inert = inert_notebook(submitted.read_bytes())
        for step in ("submitted", "autograded"):
            _write_if_changed(inert, course.course_dir / step / student / lesson / f"{lesson}.ipynb")
    stamp_file = course.course_dir / "submitted" / student / lesson / "timestamp.txt"
    stamp_file.parent.mkdir(parents=True, exist_ok=True)
    stamp_text = stamp.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"
    if not stamp_file.exists() or stamp_file.read_text().strip() != stamp_text:
        stamp_file.write_text(stamp_text + "\n")
    (course.course_dir / "autograded" / student / lesson).mkdir(parents=True, exist_ok=True)

    book.update_or_create_student(student)
    with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy's autoflush warnings
        warnings.simplefilter("ignore", category=getattr(sqlalchemy.exc, "SAWarning", Warning))
        submission = book.update_or_create_submission(lesson, student, timestamp=stamp)
    notebook = book.find_submission_notebook(lesson, lesson, student)
    existing = {grade.cell_id for grade in notebook.grades}
    for cell in book.find_notebook(lesson, lesson).grade_cells:  # cells added after the submission was created
        if cell.id not in existing:
            book.db.add(Grade(cell_id=cell.id, notebook=notebook))
    book.db.flush()
    for exercise, cell in mapping.items():
        grade = book.find_grade(cell, lesson, lesson, student)
        grade.auto_score = float(points.get(exercise, 0.0))
        grade.needs_manual_grade = False
    submission.timestamp = stamp
    book.db.commit()


def _current(book) -> dict:
    """{(student, assignment): (timestamp, {grade cell: auto_score}, needs manual grade)} in nbgrader.db, one query."""
    from nbgrader.api import Assignment, Grade, GradeCell, Notebook, SubmittedAssignment, SubmittedNotebook

    rows = (book.db.query(SubmittedAssignment.student_id, Assignment.name, Notebook.name, SubmittedAssignment.timestamp,
                          GradeCell.name, Grade.auto_score, Grade.needs_manual_grade)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
            .join(SubmittedNotebook, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
            .join(Grade, Grade.notebook_id == SubmittedNotebook.id)
            .join(GradeCell, GradeCell.id == Grade.cell_id)
            .all())
    current: dict = {}
    for student, lesson, notebook, stamp, cell, auto, manual in rows:
        if notebook != lesson:  # this course has one notebook per assignment, named like it
            continue
        entry = current.setdefault((student, lesson), [stamp, {}, False])
        entry[1][cell] = auto
        entry[2] = entry[2] or bool(manual)
    return current


def _up_to_date(course: Course, current: dict, student: str, lesson: str, points: dict, mapping: dict) -> bool:
    entry = current.get((student, lesson))
    submitted = course.submitted / student / f"{lesson}.ipynb"
    if entry is None or entry[2] or not submitted.exists() or entry[0] != _timestamp(submitted):
        return False
    want = {cell: float(points.get(exercise, 0.0)) for exercise, cell in mapping.items()}
    if set(entry[1]) != set(want) or any(entry[1][cell] != score for cell, score in want.items()):
        return False
    data = inert_notebook(submitted.read_bytes())
    staged = [course.course_dir / step / student / lesson / f"{lesson}.ipynb" for step in ("submitted", "autograded")]
    return ((course.course_dir / "submitted" / student / lesson / "timestamp.txt").is_file()
            and all(path.is_file() and path.read_bytes() == data for path in staged))


def sync(course: Course, lessons: list[str] | None = None, log=print) -> dict:
    """Mirror every submission of the grader's gradebook (optionally only some lessons) into nbgrader.db.

    Cheap enough to run after every ``grader autograde``, which makes it resumable: whatever an interrupted
    run did not write is written by the next one. Returns {"synced": n, "problems": [...]}.
    """
    from grader.pipeline.gradebook import Gradebook as GraderBook

    with GraderBook(course.gradebook) as ours:
        subs = [s for s in ours.submissions() if lessons is None or s["lesson"] in lessons]
        points: dict[tuple, dict] = {}
        for g in ours.grades():
            points.setdefault((g["student"], g["lesson"]), {})[g["exercise"]] = g["points"]
    problems, mappings, synced = [], {}, 0
    with open_gradebook(course) as book:
        for lesson in sorted({s["lesson"] for s in subs}):
            if not (course.source / f"{lesson}.ipynb").exists():
                problems.append(f"lesson {lesson}: no source notebook {course.source / (lesson + '.ipynb')}")
                continue
            try:
                mappings[lesson] = sync_assignment(book, course, lesson, load_lesson(course.specs, lesson))
            except ConventionError as error:
                problems.append(str(error))
        current = _current(book)
        for s in subs:
            if s["lesson"] not in mappings:
                continue
            if _up_to_date(course, current, s["student"], s["lesson"],
                           points.get((s["student"], s["lesson"]), {}), mappings[s["lesson"]]):
                synced += 1
                continue
            record_submission(book, course, s["student"], s["lesson"], points.get((s["student"], s["lesson"]), {}),
                              mappings[s["lesson"]])
            synced += 1
    for problem in problems:
        log(f"  FORMGRADER NOT UPDATED: {problem}")
    return {"synced": synced, "problems": problems}

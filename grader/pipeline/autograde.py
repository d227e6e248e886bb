"""Grade every collected submission: parallel sandboxes, resumable, one gradebook transaction each."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader.config import Course
from grader.pipeline import formgrader, grade
from grader.pipeline.gradebook import Gradebook
from grader.pipeline.report import terminal_text
from grader.pipeline.workers import Pool
from grader.sandbox.launch import Limits, isolation_summary
from grader.spec import load_lesson


@dataclass
class Pending:
    student: str
    lesson: str
    path: Path


def find_submissions(course: Course, lessons: list[str] | None = None) -> list[Pending]:
    """course/submitted/<student>/<lesson>.ipynb, sorted."""
    found = []
    if course.submitted.is_dir():
        for student_dir in sorted(p for p in course.submitted.iterdir() if p.is_dir()):
            for path in sorted(student_dir.glob("*.ipynb")):
                if lessons is None or path.stem in lessons:
                    found.append(Pending(student_dir.name, path.stem, path))
    return found


def _short(value, limit: int = 60) -> str:
    text = terminal_text(repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def metadata_problem(path: Path) -> str:
    """What is wrong with a submission's nbgrader cell metadata ('' if nothing): a grade_id that is not a text."""
    try:
        cells = json.loads(Path(path).read_bytes().decode("utf-8"))["cells"]
    except Exception:  # not a notebook at all: grading scores it 0 and says so
        return ""
    for index, cell in enumerate(cells if isinstance(cells, list) else [], 1):
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
        if nbgrader is None:
            continue
        if not isinstance(nbgrader, dict):
            return f"cell {index}: its nbgrader metadata is a {type(nbgrader).__name__} ({_short(nbgrader)}), not a table"
        grade_id = nbgrader.get("grade_id")
        if grade_id is not None and not isinstance(grade_id, str):
            return f"cell {index}: its nbgrader grade_id is a {type(grade_id).__name__} ({_short(grade_id)}), not a text"
    return ""


class Progress:
    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.stream, self.start = total, 0, stream, time.time()

    def step(self, label: str) -> None:
        self.done += 1
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        elapsed = time.time() - self.start
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                          f"{elapsed:5.1f}s {label[:40]:<40}")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def autograde(course: Course, lessons: list[str] | None = None, workers: int = 2, limits: Limits | None = None,
              force: bool = False, progress: bool = True, log=print, scheduler: str | None = None) -> dict:
    """Grade what is new or changed, each submission in a worker (local processes, or a Dask cluster at
    ``scheduler``). Returns counts: graded, failed (not graded, each logged with its reason), skipped
    (unchanged), unknown (no lesson declared). Each grade is written as it arrives, so a killed run resumes."""
    limits = limits or Limits()
    secret = course.secret()
    specs = {}
    todo, skipped, unknown = [], 0, 0
    failed: list[str] = []
    with Gradebook(course.gradebook) as book:
        for item in find_submissions(course, lessons):
            if item.lesson not in specs:
                specs[item.lesson] = load_lesson(course.specs, item.lesson)
            spec = specs[item.lesson]
            if spec is None:
                unknown += 1
                continue
            if not force and book.is_current(item.student, item.lesson, grade.file_sha256(item.path), spec.digest):
                skipped += 1
                continue
            damaged = metadata_problem(item.path)
            if damaged:
                failed.append(f"{item.student}/{item.lesson}: the notebook's nbgrader metadata is damaged, {damaged} "
                              "(the student should copy their code into a fresh copy of the released notebook)")
                continue
            todo.append(item)
        bar = Progress(len(todo)) if progress and todo else None
        started, attempted = time.time(), len(todo) + len(failed)
        with Pool(workers, scheduler) as pool:
            futures = {pool.submit(item.student, item.lesson, item.path, secret, limits, course.specs): item
                       for item in todo}
            for future in pool.completed(futures):
                item = futures[future]
                try:
                    book.record(*future.result())
                except Exception as error:  # the sandbox did not start, or judging failed: the batch goes on
                    failed.append(f"{item.student}/{item.lesson}: could not grade ({type(error).__name__}: {error})")
                if bar:
                    bar.step(f"{item.student}/{item.lesson}")
        elapsed = time.time() - started
    for line in failed:
        log(f"  NOT GRADED (retried on the next run): {line}")
    if attempted:
        log(isolation_summary(limits))
        where = f"the Dask cluster at {scheduler}" if scheduler else f"{workers} worker(s)"
        log(f"graded {attempted - len(failed)} submission(s), {len(failed)} NOT GRADED, in {elapsed:.1f}s with "
            f"{where}; {skipped} unchanged, {unknown} without a lesson declaration")
    else:
        log(f"nothing new to grade ({skipped} unchanged, {unknown} without a lesson declaration)")
    mirrored = formgrader.sync(course, lessons, log=log)  # nbgrader.db, for the formgrader
    return {"graded": attempted - len(failed), "failed": len(failed), "skipped": skipped, "unknown": unknown,
            "seconds": elapsed if attempted else 0.0, "formgrader": mirrored}

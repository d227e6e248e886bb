"""``grader release``: notebooks/ from solutions/, then prove the result is gradable.

Generation is a list of nbgrader preprocessors (the same steps as nbgrader's generate_assignment,
without its database): check metadata, replace solutions by the stub, remove hidden tests and mark
schemes, clear outputs, lock cells, checksums. The output is deterministic, so ``--check`` can detect
drift between solutions/ and notebooks/.

Validation grades each solution notebook and each released notebook through the real sandboxed
pipeline: the solution must score full marks and the release 0, with nothing but "not implemented
yet" as the reason. ``--execute`` also runs both in a Jupyter kernel (nbclient): the solution's
test cells must pass without any stderr output; the release may only raise the exercise stubs.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.config import Course
from grader.pipeline import formgrader, grade
from grader.sandbox.launch import Limits
from grader.spec import load_lesson


def _preprocessors():
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearOutput,
                                        ClearSolutions, ComputeChecksums, LockCells)
    return [CheckCellMetadata(), ClearSolutions(), ClearHiddenTests(), ClearMarkScheme(), ClearOutput(),
            LockCells(), ComputeChecksums()]


def generate(source: Path) -> str:
    """The student notebook for one solution notebook, as the exact text to write."""
    nb = nbformat.read(str(source), as_version=4)
    resources: dict = {}
    for step in _preprocessors():
        nb, resources = step.preprocess(nb, resources)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.execution_count = None
            cell.outputs = []
    return nbformat.writes(nb) + "\n"


@dataclass
class LessonReport:
    lesson: str
    written: bool = False
    drift: bool = False
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def release(course: Course, lessons: list[str] | None = None, *, check_only: bool = False, validate: bool = True,
            execute: bool = False, limits: Limits | None = None, log=print) -> list[LessonReport]:
    lessons = lessons or course.lessons()
    reports = []
    course.release.mkdir(parents=True, exist_ok=True)
    for lesson in lessons:
        report = LessonReport(lesson)
        source = course.source / f"{lesson}.ipynb"
        if not source.exists():
            report.problems.append(f"no source notebook {source}")
            reports.append(report)
            continue
        text = generate(source)
        target = course.release / f"{lesson}.ipynb"
        current = target.read_text() if target.exists() else None
        report.drift = current != text
        if check_only:
            if report.drift:
                report.problems.append(f"{target} differs from what `grader release` generates from {source.name}")
        elif report.drift:
            target.write_text(text)
            report.written = True
        if not check_only:  # the formgrader's view: source/<lesson>/ and the assignment in nbgrader.db
            report.problems += list(formgrader.release_assignments(course, [lesson]).values())
        if validate:
            _validate(course, lesson, source, text, report, limits or Limits(), execute)
        reports.append(report)
        status = "ok" if not report.problems else "PROBLEMS"
        log(f"{lesson}: {status}" + (" (written)" if report.written else "") +
            "".join(f"\n  - {p}" for p in report.problems) + "".join(f"\n  . {n}" for n in report.notes))
    return reports


def _validate(course: Course, lesson: str, source: Path, released_text: str, report: LessonReport,
              limits: Limits, execute: bool) -> None:
    spec = load_lesson(course.specs, lesson)
    with tempfile.TemporaryDirectory() as tmp:
        released = Path(tmp) / f"{lesson}.ipynb"
        released.write_text(released_text)
        if spec is None:
            report.notes.append(f"no lesson declaration for {lesson} in {course.specs}: not autograded")
        else:
            full = grade.grade_file("solution", spec, source, b"release", limits, course.specs)
            if full.score != full.max_score:
                for e in full.exercises:
                    if e.points != e.max_points:
                        report.problems.append(f"solution loses exercise {e.exercise}: {e.result['diagnosis']}")
            empty = grade.grade_file("release", spec, released, b"release", limits, course.specs)
            if empty.score != 0:
                report.problems.append(f"released notebook scores {empty.score}, expected 0")
            for e in empty.exercises:
                if e.result.get("mistake") != "not_implemented":
                    report.problems.append(f"released exercise {e.exercise} fails for another reason than the stub: "
                                           f"{e.result['diagnosis']}")
        if execute:
            report.problems += execution_problems(source, solution=True)
            report.problems += execution_problems(released, solution=False)


def execution_problems(path: Path, solution: bool, timeout: int = 600) -> list[str]:
    """Run a notebook in a kernel; describe errors (and stderr output) that should not be there."""
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    env_before = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
    problems = []
    kind = "solution" if solution else "released"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                stub = out.ename == "NotImplementedError" or (out.ename == "AssertionError" and "not implemented" in out.evalue)
                if solution or not stub:
                    problems.append(f"{kind} cell {grade_id} raised {out.ename}: {out.evalue[:200]}")
            elif out.output_type == "stream" and out.name == "stderr" and solution and cell.metadata.get("nbgrader", {}).get("grade"):
                problems.append(f"{kind} test cell {grade_id} wrote to stderr (nbgrader would give 0): {out.text[:200]!r}")
    return problems

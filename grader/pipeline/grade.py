"""Grade one submission: take the exercise cells out, run them in the sandbox, judge in this process.

The recorded grade never depends on the notebook's test cells or on anything the student's code
computes about correctness: the sandbox only returns the numbers the student's functions produced on
inputs the grader chose (seeded with a per-course secret), and the comparison with PyTorch and
TensorFlow happens here.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.checks.core import Failure
from grader.checks.result import CheckResult
from grader.sandbox import launch
from grader.sandbox.protocol import load_outcomes, save_cases
from grader.sandbox.strip import make_stripped_copy
from grader.spec import LessonSpec


@dataclass
class ExerciseGrade:
    exercise: str
    points: float
    max_points: float
    result: dict  # CheckResult.to_dict()


@dataclass
class SubmissionGrade:
    student: str
    lesson: str
    sha256: str
    exercises: list = field(default_factory=list)
    problem: str = ""  # a note for the whole notebook (not a notebook, limits hit ...)

    @property
    def score(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.max_points for e in self.exercises)

    def to_dict(self) -> dict:
        return {**asdict(self), "score": self.score, "max_score": self.max_score}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def extract_cells(path: Path, spec: LessonSpec) -> tuple[list, str]:
    """The student's exercise cells (grade_id, source) in notebook order, or a problem description."""
    try:
        notebook = json.loads(Path(path).read_bytes().decode("utf-8"))
        cells = notebook["cells"]
        if not isinstance(cells, list):
            raise TypeError
    except Exception:
        return [], "this file is not a Jupyter notebook (.ipynb), so nothing could be graded"
    wanted = {c for e in spec.exercises for c in e.cells}
    found = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {})
        grade_id = meta.get("nbgrader", {}).get("grade_id") if isinstance(meta, dict) and isinstance(meta.get("nbgrader"), dict) else None
        if grade_id in wanted:
            source = cell.get("source", "")
            found.append((grade_id, "".join(source) if isinstance(source, list) else str(source)))
    if not found:
        return [], (f"no exercise cell of lesson {spec.lesson} was found in this notebook (is it the right lesson's "
                    "notebook, with its exercise cells kept?)")
    return found, ""


def autograd_mini_dir() -> Path:
    return Path(importlib.util.find_spec("autograd_mini").submodule_search_locations[0])


def seed_for(secret: bytes, student: str, lesson: str) -> int:
    return int.from_bytes(hashlib.sha256(secret + f"/{student}/{lesson}".encode()).digest()[:4], "little")


@dataclass
class Job:
    """What one sandbox run needs, prepared in the grader's process."""
    student: str
    lesson: str
    path: Path
    sha256: str
    spec: LessonSpec
    seed: int
    cases: dict = field(default_factory=dict)
    job_dir: Path | None = None
    problem: str = ""
    run_info: dict = field(default_factory=dict)


def prepare(student: str, lesson: str, path: Path, spec: LessonSpec, seed: int, limits: launch.Limits) -> Job:
    job = Job(student, lesson, Path(path), file_sha256(path), spec, seed)
    cells, job.problem = extract_cells(path, spec)
    if job.problem:
        return job
    job.cases = {e.id: e.make_check(seed=seed + i).cases for i, e in enumerate(spec.exercises)}
    job.job_dir = launch.new_job_dir()
    work = job.job_dir / "work"
    make_stripped_copy(autograd_mini_dir(), work / "lib", spec.stripped_names())
    save_cases(work / "cases.npz", work / "cases.json", job.cases)
    exercises = [{"id": e.id, "cells": e.cells, "function": e.function, "points": e.points, "check": e.check,
                  "params": e.params, "strip": e.strip} for e in spec.exercises]
    (work / "job.json").write_text(json.dumps({
        "sys_path": [str(work / "lib")], "setup": spec.setup, "cells": cells, "exercises": exercises,
        "cell_timeout": limits.cell_timeout, "call_timeout": limits.call_timeout}))
    return job


def execute(job: Job, limits: launch.Limits, slot: int = 0) -> Job:
    """Run the student's side in the sandbox (safe to call from worker threads)."""
    if job.job_dir is not None:
        job.run_info = launch.run(job.job_dir, limits, slot)
    return job


def judge(job: Job) -> SubmissionGrade:
    """Compare with PyTorch and TensorFlow in this process and score (call from one thread)."""
    grade = SubmissionGrade(job.student, job.lesson, job.sha256, problem=job.problem)
    out_dir = job.job_dir / "work" / "out" if job.job_dir else None
    if job.run_info.get("timed_out"):
        grade.problem = "the notebook's code ran past the time limit; exercises not finished by then score 0"
    for i, exercise in enumerate(job.spec.exercises):
        check = exercise.make_check(seed=job.seed + i, cases=job.cases.get(exercise.id))
        if job.problem:
            result = CheckResult(check.name, False, float("inf"), job.problem, [], "not_graded")
        else:
            outcomes = load_outcomes(out_dir, exercise.id, len(check.cases))
            if isinstance(outcomes, Failure):
                outcomes = [outcomes] * len(check.cases)
            try:
                result = check.judge(outcomes)
            except Exception as error:  # an oracle failing on odd student output must not stop the batch
                result = CheckResult(check.name, False, float("inf"),
                                     f"could not compare your result ({type(error).__name__})", [], "mismatch")
        grade.exercises.append(ExerciseGrade(exercise.id, exercise.points if result.passed else 0.0,
                                             exercise.points, result.to_dict()))
    return grade


def cleanup(job: Job) -> None:
    if job.job_dir is not None:
        launch.remove_job_dir(job.job_dir)


def grade_file(student: str, lesson: str, path: Path, spec: LessonSpec, seed: int,
               limits: launch.Limits | None = None) -> SubmissionGrade:
    limits = limits or launch.Limits()
    job = prepare(student, lesson, path, spec, seed, limits)
    try:
        return judge(execute(job, limits))
    finally:
        cleanup(job)

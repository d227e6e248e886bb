"""Grade one submission: take the exercise cells out, run them in the sandbox, judge in this process.

The recorded grade never depends on the notebook's test cells or on anything the student's code
computes about correctness: the sandbox only returns the numbers the student's functions produced on
inputs the grader chose (seeded with a per-course secret and the submission's content), and the comparison with PyTorch and
TensorFlow happens here.
"""
from __future__ import annotations

import compileall
import functools
import hashlib
import importlib.util
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.checks.result import CheckResult
from grader.harness.outcome import Failure
from grader.harness.protocol import save_cases
from grader.lesson import Lesson, derived_seed
from grader.sandbox import launch
from grader.sandbox.protocol import load_outcomes
from grader.sandbox.strip import make_stripped_copy
from grader.spec import GRADER_DIR, HARNESS_DIR, removed_in_sandbox


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


def extract_cells(path: Path, lesson: Lesson) -> tuple[list, str]:
    """The student's exercise cells (grade_id, source) in notebook order, or a problem description."""
    try:
        notebook = json.loads(Path(path).read_bytes().decode("utf-8"))
        cells = notebook["cells"]
        if not isinstance(cells, list):
            raise TypeError
    except Exception:
        return [], "this file is not a Jupyter notebook (.ipynb), so nothing could be graded"
    wanted = {e.solution_cell for e in lesson.exercises}
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
        return [], (f"no exercise cell of lesson {lesson.name} was found in this notebook (is it the right lesson's "
                    "notebook, with its exercise cells kept?)")
    return found, ""


def autograd_mini_dir() -> Path:
    return Path(importlib.util.find_spec("autograd_mini").submodule_search_locations[0])


LIBRARIES = Path(tempfile.gettempdir()) / "grader-libraries"


@functools.lru_cache(maxsize=None)
def _source_digest(folder: Path) -> str:
    files = sorted(folder.rglob("*.py"))
    text = b"".join(str(f.relative_to(folder)).encode() + f.read_bytes() for f in files)
    return hashlib.sha256(text).hexdigest()[:16]


def _built_once(key: str, build) -> Path:
    """LIBRARIES/key, made once by ``build(folder)`` with its bytecode compiled: the sandbox may read it, never
    write it, so without the .pyc files every run would compile every module it imports again."""
    folder = LIBRARIES / key
    if not folder.exists():
        LIBRARIES.mkdir(mode=0o755, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=LIBRARIES))
        build(building)
        compileall.compile_dir(building, quiet=2)
        building.chmod(0o755)
        try:
            building.rename(folder)
        except OSError:  # another grader made it meanwhile
            shutil.rmtree(building, ignore_errors=True)
    return folder


def stripped_library(removed: tuple) -> Path:
    """A folder holding autograd_mini without the ``removed`` references, made once per library version and
    set of names (each sandbox run is given its own one alone)."""
    key = hashlib.sha256((_source_digest(autograd_mini_dir()) + "\n".join(removed)).encode()).hexdigest()[:20]
    return _built_once(f"lib-{key}", lambda folder: make_stripped_copy(autograd_mini_dir(), folder, removed))


def harness_folder() -> Path:
    """A folder holding a copy of ``harness/``, the only grader code a sandbox run can read."""
    return _built_once(f"harness-{_source_digest(HARNESS_DIR)}", lambda folder: shutil.copytree(
        HARNESS_DIR, folder / "harness", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")))


def seed_for(secret: bytes, student: str, lesson: str, sha256: str, exercise: str) -> int:
    """The hidden inputs' seed: new for every submission that differs in content (a leaked input is worth
    nothing next time), and unguessable without the course secret."""
    return derived_seed(secret.hex(), student, lesson, sha256, exercise)


@dataclass
class Job:
    """What the sandbox runs need, prepared in the grader's process: one run (a job dir in ``libraries``, with the
    one library it may read) per group of exercises whose sandboxes lack the same references, so that no run can
    read another's library."""
    student: str
    lesson: Lesson
    path: Path
    sha256: str
    cases: dict = field(default_factory=dict)
    job_dirs: dict = field(default_factory=dict)  # exercise id -> its run's job dir
    libraries: dict = field(default_factory=dict)  # job dir -> the stripped library its run may read
    problem: str = ""
    run_info: dict = field(default_factory=dict)


def prepare(student: str, lesson: Lesson, path: Path, secret: bytes, limits: launch.Limits,
            lessons_dir: Path) -> Job:
    job = Job(student, lesson, Path(path), file_sha256(path))
    cells, job.problem = extract_cells(path, lesson)
    if job.problem:
        return job
    job.cases = {e.id: lesson.cases(e.id, seed_for(secret, student, lesson.name, job.sha256, e.id))
                 for e in lesson.exercises}
    groups: dict = {}
    for e in lesson.exercises:
        groups.setdefault(tuple(removed_in_sandbox(lessons_dir, e)), []).append(e)
    for removed, exercises in groups.items():
        library = stripped_library(removed)
        job_dir = launch.new_job_dir()
        job.libraries[job_dir] = library
        work = job_dir / "work"
        save_cases(str(work), {e.id: job.cases[e.id] for e in exercises})
        (work / "job.json").write_text(json.dumps({
            "lib": str(library),
            "setup": lesson.setup, "cell_timeout": limits.cell_timeout, "call_timeout": limits.call_timeout,
            "exercises": [{"id": e.id, "function": e.function, "call": e.call,
                           "cells": [c for c in cells if c[0] == e.solution_cell]} for e in exercises]}))
        job.job_dirs.update({e.id: job_dir for e in exercises})
    return job


def execute(job: Job, limits: launch.Limits, slot: int = 0) -> Job:
    """Run the student's side in the sandbox, one run per group (safe to call from worker threads)."""
    harness = harness_folder()
    for job_dir, library in job.libraries.items():
        info = launch.run(job_dir, limits, harness / "harness" / "runner.py", slot, read_only=(library, harness))
        job.run_info["timed_out"] = job.run_info.get("timed_out") or info.get("timed_out")
    return job


def judge(job: Job) -> SubmissionGrade:
    """Compare with PyTorch and TensorFlow in this process and score (call from one thread)."""
    grade = SubmissionGrade(job.student, job.lesson.name, job.sha256, problem=job.problem)
    if job.run_info.get("timed_out"):
        grade.problem = "the notebook's code ran past the time limit; exercises not finished by then score 0"
    for exercise in job.lesson.exercises:
        if job.problem:
            result = CheckResult(exercise.id, False, None, job.problem, [], "not_graded")
        else:
            check = exercise.make_check(job.cases[exercise.id])
            outcomes = load_outcomes(job.job_dirs[exercise.id] / "work" / "out", exercise.id, len(check.cases))
            if isinstance(outcomes, Failure):
                outcomes = [outcomes] * len(check.cases)
            try:
                result = check.judge(outcomes)
            except Exception as error:  # an oracle failing on odd student output must not stop the batch
                result = CheckResult(exercise.id, False, None,
                                     f"could not compare your result ({type(error).__name__})", [], "mismatch")
        grade.exercises.append(ExerciseGrade(exercise.id, exercise.points if result.passed else 0.0,
                                             exercise.points, result.to_dict()))
    return grade


def cleanup(job: Job) -> None:
    for job_dir in job.libraries:
        launch.remove_job_dir(job_dir)


def grade_file(student: str, lesson: Lesson, path: Path, secret: bytes = b"", limits: launch.Limits | None = None,
               lessons_dir: Path | None = None) -> SubmissionGrade:
    limits = limits or launch.Limits()
    job = prepare(student, lesson, path, secret, limits, lessons_dir or GRADER_DIR / "lessons")
    try:
        return judge(execute(job, limits))
    finally:
        cleanup(job)

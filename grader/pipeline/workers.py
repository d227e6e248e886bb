"""Where submissions are graded: worker processes on this machine, or the workers of a Dask cluster.

A worker grades a whole submission — prepares its sandbox runs, runs them, and judges against PyTorch and
TensorFlow — so the oracles scale with the workers too; only the gradebook write stays in the caller's
process. Local workers are processes of this machine (spawned, each importing the frameworks once); with
``scheduler``, the jobs go to a Dask distributed scheduler at that address, whose workers must have this
course installed (the same virtualenv, as root for the sandbox).
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as local_completed
from multiprocessing import get_context
from pathlib import Path

from grader.pipeline import grade
from grader.sandbox.launch import Limits
from grader.spec import load_lesson


def grade_submission(student: str, lesson: str, path: Path, secret: bytes, limits: Limits, lessons_dir: Path):
    """One submission, start to end, in whatever process runs it: (SubmissionGrade, the lesson's digest)."""
    declared = load_lesson(lessons_dir, lesson)
    job = grade.prepare(student, declared, path, secret, limits, lessons_dir)
    try:
        return grade.judge(grade.execute(job, limits)), declared.digest
    finally:
        grade.cleanup(job)


class Pool:
    """``submit(*args)`` a submission to grade; ``completed(futures)`` yields them as they finish."""

    def __init__(self, workers: int, scheduler: str | None = None):
        self.scheduler = scheduler
        if scheduler:
            from distributed import Client

            self.client = Client(scheduler)
        else:
            self.executor = ProcessPoolExecutor(max_workers=max(workers, 1), mp_context=get_context("spawn"))

    def submit(self, *args):
        if self.scheduler:
            return self.client.submit(grade_submission, *args, pure=False)
        return self.executor.submit(grade_submission, *args)

    def completed(self, futures):
        if self.scheduler:
            from distributed import as_completed

            return as_completed(futures)
        return local_completed(futures)

    def close(self) -> None:
        if self.scheduler:
            self.client.close()
        else:
            self.executor.shutdown(cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""The sandbox's main program: run each exercise in a child process of its own, write what came back.

Usage: python harness/runner.py WORK_DIR. WORK_DIR holds job.json and cases.npz/cases.json; job.json names
the folder of the stripped autograd_mini its exercises share (read-only, as is this package). The runner
imports numpy, the harness and that library once; for each exercise a forked child runs the lesson's setup
and the exercise's own cells, calls the student's function on every case through the harness call, and
writes ``out/<exercise>.npz`` + ``.json``. A child that loops, floods or dies costs that exercise only.
Nothing here is trusted: the grader reads only arrays and failure kinds back, and judges in its own process.
"""
from __future__ import annotations

import importlib.abc
import json
import os
import signal
import sys

BLOCKED = ("torch", "tensorflow", "keras", "tf_keras", "jax", "jaxlib", "torchvision", "nbgrader", "grader")
OUTPUT_LIMIT = 1 << 20  # characters an exercise may print before it loses its points


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not available while grading: compute with numpy and autograd_mini")
        return None


class _CountingStream:
    """Where a student's prints go while grading: counted (for the output limit), never kept."""

    def __init__(self):
        self.total = 0

    def write(self, text):
        self.total += len(str(text))
        return len(str(text))

    def flush(self):
        pass

    def isatty(self):
        return False


class _Timeout(BaseException):
    pass


def _alarm(seconds: float) -> None:
    def on_alarm(signum, frame):
        raise _Timeout()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)


def _run_cells(cells: list, namespace: dict, timeout: float, Failure) -> object | None:
    """Execute the setup and the exercise's cells; a Failure if one of them fails."""
    for cell_id, source in cells:
        try:
            code = compile(source, f"<cell {cell_id}>", "exec")
            _alarm(timeout)
            try:
                exec(code, namespace)
            finally:
                _disarm()
        except _Timeout:
            return Failure("timeout", code="cell")
        except NotImplementedError as error:
            if getattr(error, "reference_name", None):
                return Failure("uses_reference", error_text=str(error.reference_name)[:80])
            return Failure("not_implemented")
        except BaseException as error:  # SystemExit and KeyboardInterrupt included
            from harness.outcome import clean_text
            return Failure("exception", error_type=type(error).__name__, error_text=clean_text(error),
                           code="cell")
    return None


def grade_exercise(work: str, job: dict, exercise: dict) -> None:
    """In the child: everything for one exercise, ending in out/<id>.npz + .json."""
    from harness.calls import CALLS
    from harness.outcome import Failure, call_student
    from harness.protocol import load_cases, save_outcomes

    cases = load_cases(work, exercise["id"])
    stream = _CountingStream()
    sys.stdout = sys.stderr = stream
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    cells = [("setup", job["setup"])] + [tuple(c) for c in exercise["cells"]]
    failure = _run_cells(cells, namespace, job["cell_timeout"], Failure)
    fn = namespace.get(exercise["function"])
    if failure is None and fn is None:
        failure = Failure("missing", error_text=exercise["function"])
    if failure is not None:
        outcomes = [failure] * len(cases)
    else:
        call = CALLS[exercise["call"]]
        try:
            _alarm(job["call_timeout"])
            try:
                outcomes = [call_student(fn, call, case) for case in cases]
            finally:
                _disarm()
        except _Timeout:
            outcomes = [Failure("timeout")] * len(cases)
        except BaseException as error:
            outcomes = [Failure("exception", error_type=type(error).__name__)] * len(cases)
    if stream.total > OUTPUT_LIMIT:
        outcomes = [Failure("output_flood")] * len(cases)
    try:
        save_outcomes(os.path.join(work, "out"), exercise["id"], outcomes)
    except OSError:  # the student's files filled the job's space: delete them and try again
        _make_room(work, {f"{e['id']}.{ext}" for e in job["exercises"] for ext in ("npz", "json")})
        save_outcomes(os.path.join(work, "out"), exercise["id"], outcomes)


def main(work: str) -> None:
    sys.meta_path.insert(0, _Blocker())
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # where harness/ is
    job = json.loads(open(os.path.join(work, "job.json")).read())
    sys.path.insert(0, job["lib"])
    # imported once, before any student code, and inherited by every child: the exercises of one run share
    # their library (the grader gives exercises that must not share one runs of their own)
    import numpy  # noqa: F401
    import harness.calls  # noqa: F401
    import autograd_mini  # noqa: F401

    for exercise in job["exercises"]:
        pid = os.fork()
        if pid == 0:
            try:
                grade_exercise(work, job, exercise)
            finally:
                os._exit(0)  # skip atexit handlers the student may have registered
        deadline = job["cell_timeout"] * (len(exercise["cells"]) + 1) + job["call_timeout"] + 2
        try:
            _alarm(deadline)
            try:
                os.waitpid(pid, 0)
            finally:
                _disarm()
        except _Timeout:  # the child outlived its timers (it may ignore SIGALRM): it loses its exercise
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        _make_room(work, {f"{e['id']}.{ext}" for e in job["exercises"] for ext in ("npz", "json")})


KEPT = {"job.json", "cases.npz", "cases.json", "out"}


def _make_room(work: str, outcome_files: set) -> None:
    """Delete what student code left in the job's space, so that a full disk costs one exercise only."""
    import shutil

    for directory, keep in ((work, KEPT), (os.path.join(work, "out"), outcome_files)):
        for name in os.listdir(directory):
            if name in keep:
                continue
            path = os.path.join(directory, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.remove(path)
                except OSError:
                    pass


if __name__ == "__main__":
    main(sys.argv[1])
    os._exit(0)

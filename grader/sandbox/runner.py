"""Runs INSIDE the sandbox (unprivileged, chrooted): execute the student's cells, call their functions.

Usage: python runner.py JOB_DIR. Reads job.json and cases.npz/cases.json from JOB_DIR, writes one
``<exercise>.npz`` + ``<exercise>.json`` per exercise into JOB_DIR/out and a ``cells.json`` log.
torch, tensorflow and keras cannot be imported here (they are not in the chroot, and a meta-path
blocker explains why in words). Nothing here is trusted by the grader: it only produces numbers.
"""
from __future__ import annotations

import importlib.abc
import json
import os
import signal
import sys

BLOCKED = ("torch", "tensorflow", "keras", "tf_keras", "jax", "jaxlib", "torchvision", "nbgrader")


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self):
        self.blocked = set(BLOCKED)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            raise ImportError(f"{name} is not available while grading: compute with numpy and autograd_mini")
        return None

    def hide_grader(self) -> None:
        """Student cells must not call the checks' own helpers (their sorts, their local rules):
        forget the grader's modules and refuse to import them again. The runner keeps its references."""
        self.blocked.add("grader")
        for name in [m for m in sys.modules if m == "grader" or m.startswith("grader.")]:
            del sys.modules[name]


OUTPUT_LIMIT = 1 << 20  # characters an exercise cell or call may print before it loses the exercise


class _CappedStream:
    def __init__(self, limit=4096):
        self.limit, self.kept, self.dropped, self.total = limit, [], 0, 0

    def write(self, text):
        text = str(text)
        self.total += len(text)
        room = self.limit - sum(map(len, self.kept))
        if room > 0:
            self.kept.append(text[:room])
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


class CellTimeout(BaseException):
    pass


def _alarm(seconds):
    def handler(signum, frame):
        raise CellTimeout()
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


def _make_room(job_dir: str, out_dir: str, keep: set) -> None:
    import shutil

    for directory, protected in ((job_dir, {"job.json", "cases.npz", "cases.json", "lib", "out"}), (out_dir, keep)):
        for name in os.listdir(directory):
            if name in protected:
                continue
            path = os.path.join(directory, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.remove(path)
                except OSError:
                    pass


def _flood_failure(Failure):
    return Failure("output_flood", f"your code printed more than {OUTPUT_LIMIT // 1000} kB while being graded: "
                   "remove the prints from the exercise cell and the function")


def main(job_dir: str) -> None:
    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    job = json.loads(open(os.path.join(job_dir, "job.json")).read())
    for path in reversed(job["sys_path"]):
        sys.path.insert(0, path)
    import numpy as np  # noqa: F401  (before student code can interfere)
    from grader.sandbox.protocol import load_cases, save_outcomes
    from grader.spec import Exercise
    from grader.checks.core import Failure

    cases = load_cases(os.path.join(job_dir, "cases.npz"), os.path.join(job_dir, "cases.json"))
    exercises = [Exercise(**e) for e in job["exercises"]]
    checks = {e.id: e.make_check(cases=cases[e.id]) for e in exercises}
    out_dir = os.path.join(job_dir, "out")
    os.makedirs(out_dir, exist_ok=True)
    log = {"cells": []}

    stream = _CappedStream()
    sys.stdout = sys.stderr = stream
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    blocker.hide_grader()
    cell_errors = {}
    for cell_id, source in [("__setup__", job["setup"])] + [tuple(c) for c in job["cells"]]:
        entry = {"cell": cell_id, "error": None}
        before = stream.total
        try:
            code = compile(source, f"<cell {cell_id}>", "exec")
            _alarm(job["cell_timeout"])
            try:
                exec(code, namespace)
            finally:
                _disarm()
        except CellTimeout:
            entry["error"] = f"TimeoutError: the cell ran longer than {job['cell_timeout']} s"
        except NotImplementedError:
            entry["error"] = "NotImplementedError"
        except BaseException as error:  # SystemExit and KeyboardInterrupt included: keep grading
            entry["error"] = f"{type(error).__name__}: {str(error)[:200]}"
        if stream.total - before > OUTPUT_LIMIT and not entry["error"]:
            entry["error"] = "flood"
        if entry["error"]:
            cell_errors.setdefault(cell_id, entry["error"])
        log["cells"].append(entry)

    written: set = set()
    for exercise in exercises:
        fn = namespace.get(exercise.function)
        errors = [cell_errors[c] for c in exercise.cells if c in cell_errors]
        before = stream.total
        if "flood" in errors:
            outcomes = [_flood_failure(Failure)] * len(cases[exercise.id])
        elif fn is None or not callable(fn):
            if any(e == "NotImplementedError" for e in errors):
                failure = Failure("not_implemented", "not implemented yet: write your code in the cell above "
                                  "(replace `raise NotImplementedError()`)")
            elif errors:
                failure = Failure("exception", f"the exercise cell raised {errors[0]}, so `{exercise.function}` "
                                  "was not defined")
            else:
                failure = Failure("missing", f"`{exercise.function}` is not defined: keep the exercise cell "
                                  f"({', '.join(exercise.cells)}) and the function's name as given")
            outcomes = [failure] * len(cases[exercise.id])
        else:
            try:
                _alarm(job["call_timeout"])
                try:
                    outcomes = checks[exercise.id].student_outcomes(fn)
                finally:
                    _disarm()
            except CellTimeout:
                outcomes = [Failure("timeout", f"your function ran longer than {job['call_timeout']} s "
                                    "(an infinite loop?)")] * len(cases[exercise.id])
            except BaseException as error:
                outcomes = [Failure("exception", f"{type(error).__name__}: {str(error)[:200]}")] * len(cases[exercise.id])
        if stream.total - before > OUTPUT_LIMIT:
            outcomes = [_flood_failure(Failure)] * len(cases[exercise.id])
        try:
            save_outcomes(out_dir, exercise.id, outcomes)
        except OSError:  # the student's files filled the job's space: delete them and try again
            _make_room(job_dir, out_dir, written)
            save_outcomes(out_dir, exercise.id, outcomes)
        written.update({f"{exercise.id}.npz", f"{exercise.id}.json"})
    log["output_chars_dropped"] = stream.dropped
    try:
        with open(os.path.join(out_dir, "cells.json"), "w") as f:
            json.dump(log, f)
    except OSError:
        pass


if __name__ == "__main__":
    main(sys.argv[1])
    sys.stdout.flush()
    os._exit(0)  # skip atexit handlers the student may have registered

"""Invariant 6: nothing correct lives where student code runs.

For every exercise of the course, build exactly what its sandbox holds — the stripped autograd_mini and the
harness — and plug in, as if it were the student's answer, every callable found there: every registry
entry still active, every public function and class of every autograd_mini module and of the harness. None
may pass the exercise's check. (The grader's own package is not in the sandbox at all.)
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.harness.outcome import Failure
from grader.harness.protocol import save_cases
from grader.pipeline.grade import autograd_mini_dir
from grader.sandbox.protocol import load_outcomes
from grader.sandbox.strip import make_stripped_copy
from grader.spec import GRADER_DIR, HARNESS_DIR, all_lessons, removed_in_sandbox

pytestmark = pytest.mark.slow
LESSONS_DIR = GRADER_DIR / "lessons"

# Runs in a fresh interpreter on the sandbox's library: tries every reachable callable as the answer.
SWEEP = r'''
import importlib, importlib.abc, inspect, json, os, pkgutil, signal, sys
work, exercises = sys.argv[1], [arg.split("\t") for arg in sys.argv[2:]]
sys.path[:0] = [os.path.join(work, "lib"), work]


class Blocker(importlib.abc.MetaPathFinder):  # as in the sandbox: the frameworks and the grader are not there
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "tensorflow", "keras", "jax", "nbgrader", "grader"):
            raise ImportError(name)


sys.meta_path.insert(0, Blocker())
import autograd_mini
from harness.calls import CALLS
from harness.outcome import Failure, call_student
from harness.protocol import load_cases, save_outcomes
import harness

modules = []
for package in (autograd_mini, harness):
    modules.append(package)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        try:
            modules.append(importlib.import_module(info.name))
        except Exception:
            pass
candidates = {}
for name, fn in autograd_mini.registry.active.items():
    candidates[f"registry:{name}"] = fn
for module in modules:
    for name, value in vars(module).items():
        if not name.startswith("__") and callable(value) and getattr(value, "__module__", "").startswith(
                ("autograd_mini", "harness")):
            candidates[f"{module.__name__}.{name}"] = value


def on_alarm(signum, frame):
    raise TimeoutError()
signal.signal(signal.SIGALRM, on_alarm)
report = {"tried": len(candidates), "survivors": {}}
os.makedirs(os.path.join(work, "out"), exist_ok=True)
for exercise_id, call_name in exercises:
    cases = load_cases(work, exercise_id)
    survivors = report["survivors"][exercise_id] = []
    for k, (label, fn) in enumerate(sorted(candidates.items())):
        signal.alarm(3)
        try:
            outcomes = [call_student(fn, CALLS[call_name], case) for case in cases]
        except BaseException:
            continue
        finally:
            signal.alarm(0)
        if not any(isinstance(o, Failure) for o in outcomes):
            save_outcomes(os.path.join(work, "out"), f"{exercise_id}-{k}", outcomes)
            survivors.append([k, label])
print(json.dumps(report))
'''


def sandboxes():
    """The exercises of the course grouped by the library their sandbox gets (one sweep per library)."""
    groups: dict = {}
    for lesson in all_lessons(LESSONS_DIR).values():
        for exercise in lesson.exercises:
            groups.setdefault(tuple(removed_in_sandbox(LESSONS_DIR, exercise)), []).append((lesson, exercise))
    return list(groups.items())


def sweep(tmp_path: Path, removed, members, seed: int) -> tuple[dict, dict]:
    """Run the sweep on ``members`` [(lesson, exercise)] with the library lacking ``removed``; (report, cases)."""
    make_stripped_copy(autograd_mini_dir(), tmp_path / "lib", removed)
    shutil.copytree(HARNESS_DIR, tmp_path / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    cases = {e.id: lesson.cases(e.id, seed=seed) for lesson, e in members}
    save_cases(str(tmp_path), cases)
    (tmp_path / "sweep.py").write_text(SWEEP)
    done = subprocess.run([sys.executable, "-s", str(tmp_path / "sweep.py"), str(tmp_path),
                           *(f"{e.id}\t{e.call}" for _, e in members)],
                          capture_output=True, text=True, timeout=1800, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), cases


def passing(report: dict, cases: dict, members, out: Path) -> list:
    found = []
    for lesson, exercise in members:
        check = exercise.make_check(cases[exercise.id])
        for k, label in report["survivors"][exercise.id]:
            outcomes = load_outcomes(out, f"{exercise.id}-{k}", len(check.cases))
            if not isinstance(outcomes, Failure) and check.judge(outcomes).passed:
                found.append(f"{lesson.name} {exercise.id}: {label}")
    return found


SANDBOXES = sandboxes()


@pytest.mark.parametrize("removed, members", SANDBOXES,
                         ids=[f"{members[0][1].id} and {len(members) - 1} more" if len(members) > 1 else members[0][1].id
                              for _, members in SANDBOXES])
def test_no_callable_in_a_sandbox_passes_any_exercise_graded_there(removed, members, tmp_path):
    report, cases = sweep(tmp_path, removed, members, seed=20261130)
    assert report["tried"] > 50, report  # the sweep reached the library, not an empty namespace
    assert passing(report, cases, members, tmp_path / "out") == []


def test_the_sweep_finds_an_answer_when_one_is_left_in_the_sandbox(tmp_path):
    """The sweep is not vacuous: with mul.backward's reference left in, it is found."""
    lesson = all_lessons(LESSONS_DIR)["03_tensor_backprop"]
    members = [(lesson, lesson.exercise("mul.backward"))]
    report, cases = sweep(tmp_path, [], members, seed=1)
    assert "03_tensor_backprop mul.backward: registry:mul.backward" in passing(report, cases, members, tmp_path / "out")

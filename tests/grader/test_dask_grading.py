"""`grader autograde --scheduler`: the same sandboxed grading on a Dask cluster (here a LocalCluster of two
worker processes) gives exactly the grades local worker processes give, with the same course secret."""
import json
import shutil
from pathlib import Path

import pytest

from grader.config import Course
from grader.pipeline.autograde import autograde
from grader.pipeline.gradebook import Gradebook
from grader.sandbox.launch import Limits

import adversarial

pytestmark = pytest.mark.slow
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
LIMITS = Limits(memory_mb=1536, cell_timeout=4, call_timeout=8, notebook_timeout=60)


def a_course(root: Path, secret: bytes | None) -> Course:
    course = Course(source=FIXTURE / "source", release=root / "release", specs=FIXTURE / "lessons",
                    course_dir=root / "course")
    solution = adversarial.load()
    submissions = {"alice": solution, "bob": adversarial.edit(solution, "relu_impl", adversarial.WRONG_RELU),
                   "carol": adversarial.edit(solution, "mul_impl", adversarial.WRONG_MUL)}
    for student, nb in submissions.items():
        path = course.submitted / student / "fx01_basics.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(nb))
    if secret is not None:
        (course.course_dir / ".seed_salt").write_bytes(secret)
    return course


def grades(course: Course) -> dict:
    with Gradebook(course.gradebook) as book:
        return {(s["student"], g["exercise"]): (g["points"], g["mistake"])
                for s in book.submissions() for g in book.grades(s["student"], s["lesson"])}


def test_a_dask_cluster_grades_exactly_as_local_workers_do(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask's distributed scheduler is in requirements.txt")
    local = a_course(tmp_path / "local", None)
    counts = autograde(local, workers=2, limits=LIMITS, progress=False, log=lambda *a: None)
    assert counts["graded"] == 3
    remote = a_course(tmp_path / "dask", local.secret())
    lines = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        counts = autograde(remote, limits=LIMITS, progress=False, log=lines.append, scheduler=cluster.scheduler_address)
    assert counts["graded"] == 3 and any("the Dask cluster at tcp://" in line for line in lines), lines
    assert grades(remote) == grades(local)
    scores = {k[0]: 0 for k in grades(local)}
    for (student, _), (points, _) in grades(local).items():
        scores[student] += points
    assert scores == {"alice": 5, "bob": 4, "carol": 3}
    shutil.rmtree(tmp_path / "dask", ignore_errors=True)


def test_a_run_killed_midway_resumes_where_it_stopped(tmp_path):
    """Kill `grader autograde --scheduler` after its first grade is written; the next run grades only the rest.
    Three submissions each spend the cell timeout in a loop, so at least two of them are still ungraded when the
    first grade appears, however fast the rest is graded."""
    import os
    import signal
    import subprocess
    import sys
    import time

    distributed = pytest.importorskip("distributed", reason="dask's distributed scheduler is in requirements.txt")
    course = a_course(tmp_path, None)
    for extra in ("dave", "erin", "frank"):
        path = course.submitted / extra / "fx01_basics.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(adversarial.prepend(adversarial.load(), "relu_impl", "while True:\n    pass\n")))
    cli = [sys.executable, "-m", "grader", "--course-dir", str(course.course_dir), "--source", str(course.source),
           "--specs", str(course.specs), "autograde", "--cell-timeout", "4"]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        first = subprocess.Popen(cli + ["--scheduler", cluster.scheduler_address], start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 600
        while time.time() < deadline and not (course.gradebook.exists() and grades(course)):
            time.sleep(0.5)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        graded_before = {student for student, _ in grades(course)}
        assert graded_before and len(graded_before) < 6, graded_before
        counts = autograde(course, limits=LIMITS, progress=False, log=lambda *a: None,
                           scheduler=cluster.scheduler_address)
    assert counts["skipped"] == len(graded_before) and counts["graded"] == 6 - len(graded_before)
    with Gradebook(course.gradebook) as book:
        assert sorted(s["student"] for s in book.submissions()) == ["alice", "bob", "carol", "dave", "erin", "frank"]

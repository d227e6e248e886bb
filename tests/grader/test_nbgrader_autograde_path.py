"""One grading path: nbgrader's own autograde refuses and names `grader autograde` (issue 9).

Before: `nbgrader autograde` (and the formgrader's autograde button, which calls the same converter) ran the
submission's test cells in a kernel as the server's user and wrote their scores over the sandboxed grades.
The repo's nbgrader_config.py now stops it before it touches a file or a grade. The submission here
writes a marker file if any of its code runs.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

import adversarial
from grader.config import REPO, Course
from grader.pipeline import formgrader

LESSON, STUDENT = "fx01_basics", "alice"
TEST_CELLS = [c for c in formgrader.nbgrader_cells(adversarial.SOURCE / f"{LESSON}.ipynb") if c.grade]
MAPPING = {c.name: c.name for c in TEST_CELLS}  # exercise -> its test cell, as `grader autograde` mirrors it
SCORES = {c.name: (c.points if i != 1 else 0.0) for i, c in enumerate(TEST_CELLS)}  # the sandbox's verdict


@pytest.fixture
def course(tmp_path):
    shutil.copy(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    course = Course(source=adversarial.SOURCE, release=tmp_path / "release", specs=adversarial.FIXTURE / "lessons",
                    course_dir=tmp_path / "course")
    marker = tmp_path / "student-code-ran"
    nb = adversarial.prepend(adversarial.load(), "relu_impl", f"open({str(marker)!r}, 'w').write('ran')\n")
    (course.submitted / STUDENT).mkdir(parents=True)
    (course.submitted / STUDENT / f"{LESSON}.ipynb").write_text(json.dumps(nb))
    with formgrader.open_gradebook(course) as book:  # what `grader release` + `grader autograde` leave behind
        formgrader.sync_assignment(book, course, LESSON)
        formgrader.record_submission(book, course, STUDENT, LESSON, SCORES, MAPPING)
    return tmp_path, course, marker


def state(course) -> tuple:
    """nbgrader's scores for the submission, and every file under autograded/ and submitted/<student>/<lesson>/."""
    from nbgrader.api import Gradebook

    with Gradebook(formgrader.db_url(course), formgrader.COURSE_ID) as book:
        notebook = book.find_submission_notebook(LESSON, LESSON, STUDENT)
        scores = {g.name: (g.auto_score, g.manual_score) for g in notebook.grades}
    files = {str(p.relative_to(course.course_dir)): p.read_bytes()
             for folder in ("autograded", f"submitted/{STUDENT}/{LESSON}")
             for p in sorted((course.course_dir / folder).rglob("*")) if p.is_file()}
    return scores, files


def test_nbgrader_autograde_refuses_and_leaves_the_grades(course):
    root, course_, marker = course
    before = state(course_)
    assert len(TEST_CELLS) == 3 and before[0] == {name: (score, None) for name, score in SCORES.items()}
    env = {**os.environ, "GRADER_COURSE_DIR": str(course_.course_dir),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(Path(sys.executable).with_name("nbgrader")), "autograde", LESSON, "--force"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "nbgrader's autograde is disabled for this course" in output
    assert "Grade with `grader autograde`" in output
    assert state(course_) == before
    assert not marker.exists()


def test_the_formgraders_autograde_button_refuses_too(course, monkeypatch):
    from nbgrader.apps.api import NbGraderAPI

    root, course_, marker = course
    before = state(course_)
    monkeypatch.setenv("GRADER_COURSE_DIR", str(course_.course_dir))
    monkeypatch.chdir(root)
    api = NbGraderAPI(config=PyFileConfigLoader(str(root / "nbgrader_config.py")).load_config())
    result = api.autograde(LESSON, STUDENT)  # what the formgrader's button calls
    assert result["success"] is False
    assert "Grade with `grader autograde`" in result["log"]
    assert state(course_) == before
    assert not marker.exists()

"""The instructor's workflow on the real lessons, through the `grader` command as the README gives it:
release -> collect (an LMS zip) -> autograde --workers 2 -> feedback -> report, with exact scores."""
from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
GRADER = [sys.executable, "-m", "grader"]
# lesson 01's linear layer with W instead of W.T: costs that exercise's 2 points, nothing else
WRONG_LINEAR = ("linear", "def linear(x, weight, bias):\n    return x @ weight + bias\n")


def grader(course: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([*GRADER, "--course-dir", str(course), *args], cwd=REPO, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, f"grader {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


def notebook(folder: str, lesson: str) -> dict:
    return json.loads((REPO / folder / f"{lesson}.ipynb").read_text())


def with_cell(nb: dict, grade_id: str, source: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    cell["source"] = source
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    downloads = tmp_path_factory.mktemp("lms") / "submissions.zip"
    submissions = {  # file names as an LMS exports them
        "ada_1001_assignsubmission_file_00_tour.ipynb": notebook("solutions", "00_tour"),
        "ada_1001_assignsubmission_file_01_forward_pass.ipynb": notebook("solutions", "01_forward_pass"),
        "bob_1002_assignsubmission_file_00_tour.ipynb": notebook("notebooks", "00_tour"),
        "bob_1002_assignsubmission_file_01_forward_pass.ipynb": with_cell(notebook("solutions", "01_forward_pass"),
                                                                          *WRONG_LINEAR),
    }
    with zipfile.ZipFile(downloads, "w") as archive:
        for name, nb in submissions.items():
            archive.writestr(name, json.dumps(nb))
    grader(course, "release", "--check", "--no-validate")  # notebooks/ is what solutions/ gives
    grader(course, "collect", str(downloads))
    grader(course, "autograde", "--workers", "2")
    grader(course, "feedback")
    grader(course, "report")
    return course


def test_grades_csv_has_exact_scores(course):
    rows = list(csv.DictReader((course / "reports" / "grades.csv").open()))
    scores = {(row["student"], lesson): float(row[lesson]) for row in rows for lesson in ("00_tour", "01_forward_pass")}
    assert scores == {("ada", "00_tour"): 1, ("ada", "01_forward_pass"): 10,
                      ("bob", "00_tour"): 0, ("bob", "01_forward_pass"): 8}


def test_feedback_explains_the_lost_exercise_without_hidden_tests(course):
    page = (course / "feedback" / "bob" / "01_forward_pass.html").read_text()
    assert "linear" in page and "8" in page
    assert "BEGIN HIDDEN TESTS" not in page and "hidden=True" not in page


def test_autograde_again_grades_nothing_new(course):
    again = grader(course, "autograde", "--workers", "2")
    assert "nothing new to grade (4 unchanged" in again.stdout + again.stderr

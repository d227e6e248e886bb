"""An instructor in JupyterLab, in Chromium: the formgrader shows the course and a graded submission.

Setup (headless, in a temp dir, never the repo's course/): the course's own pipeline only, as an instructor
runs it: ``grader release`` (stages every lesson in course/source/ and writes the assignments into nbgrader's
database, ``course/nbgrader.db``, which the formgrader reads), the student "alice" submits lesson 00 with
every exercise answered, ``grader collect`` + ``grader autograde`` (which writes its scores into that
database too) + ``grader report``. No nbgrader generate_assignment/autograde runs.
Then JupyterLab runs in that dir; the test opens Nbgrader > Formgrader, sees every released lesson listed and
lesson 00 with one submission, opens its submissions and sees alice's score, which must equal the grader's.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

import e2e_course as course_files
import e2e_lab as lab
from e2e_server import lab_env

LESSON = "00_tour"       # the smallest lesson: grading it is the cheapest
STUDENT = "alice"
BIN = Path(sys.executable).parent


def run(cmd, cwd, env, timeout=300):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n" \
                                   f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """tmp/: nbgrader_config.py, course/ (grader + nbgrader course dir), release/, inbox/alice/<lesson>.ipynb."""
    if LESSON not in course_files.released_lessons() or not (course_files.SOLUTIONS / f"{LESSON}.ipynb").exists():
        pytest.fail(f"{LESSON} is not released / has no solution notebook")
    root = tmp_path_factory.mktemp("instructor")
    home = tmp_path_factory.mktemp("instructor-home")
    course = root / "course"
    shutil.copy(course_files.REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    released = course_files.NOTEBOOKS / f"{LESSON}.ipynb"
    source = course_files.SOLUTIONS / f"{LESSON}.ipynb"
    submission = course_files.completed(json.loads(released.read_text()), json.loads(source.read_text()))
    (root / "inbox" / STUDENT).mkdir(parents=True)
    (root / "inbox" / STUDENT / f"{LESSON}.ipynb").write_text(json.dumps(submission))

    env = lab_env(home)
    env["GRADER_COURSE_DIR"] = str(course)
    grader = [str(BIN / "grader"), "--course-dir", str(course), "--release", str(root / "release")]

    # every lesson: release/<lesson>.ipynb, course/source/<lesson>/, the assignment in nbgrader.db
    run([*grader, "release", "--no-validate"], root, env)
    from nbgrader.api import Gradebook
    # the roster, as an instructor would import it (autograde keeps these names)
    with Gradebook(f"sqlite:///{course / 'nbgrader.db'}", "backprop-from-scratch") as book:
        book.update_or_create_student(STUDENT, first_name="Alice", last_name="Liddell")
    run([*grader, "collect", str(root / "inbox")], root, env)
    autograde = run([*grader, "autograde", LESSON], root, env)
    report = run([*grader, "report"], root, env)
    with open(course / "reports" / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    return {"root": root, "course": course, "env": env, "grades": rows, "report": report.stdout,
            "autograde_log": autograde.stdout + autograde.stderr,
            "lessons": course_files.released_lessons()}


def grader_score(rows: list[dict]) -> tuple[float, float] | None:
    """alice's (score, max) for LESSON from grades.csv, whatever its exact columns."""
    for row in rows:
        if STUDENT not in row.values():
            continue
        for key, value in row.items():
            if key and LESSON in key and value not in (None, ""):
                return float(value), None
        if "lesson" in row and row.get("lesson") == LESSON:
            return float(row["score"]), float(row.get("max_score") or "nan")
    return None


def test_formgrader_shows_assignment_and_score(graded_course, start_lab, new_page, shot):
    # GRADER_COURSE_DIR is read by nbgrader_config.py in the server's working directory
    server = start_lab(graded_course["root"], env={"GRADER_COURSE_DIR": str(graded_course["course"])})
    page, log = new_page(server)
    lab.wait_for_lab(page)
    shot(page, "30_instructor_lab")

    lab.menu(page, "Nbgrader", "Formgrader")
    frame = page.frame_locator("#formgrader-iframe iframe")
    for lesson in graded_course["lessons"]:   # every released lesson is an assignment
        expect(frame.locator("#main_table tbody tr, table tbody tr").filter(has_text=lesson).first).to_be_visible(
            timeout=60_000)
    rows = frame.locator("#main_table tbody tr, table tbody tr").filter(has_text=LESSON)
    expect(rows.first).to_be_visible(timeout=60_000)
    row = rows.first
    expect(row.locator(".name")).to_contain_text(LESSON)
    # "draft" until `nbgrader release_assignment` copies it to an exchange; this course hands out notebooks/ instead
    expect(row.locator(".status")).to_have_text(re.compile(r"^\s*(draft|released)\s*$"))
    expect(row.locator(".num-submissions")).to_have_text(re.compile(r"^\s*1\s*$"), timeout=30_000)
    shot(page, "31_instructor_formgrader_assignments")

    row.locator(".num-submissions a").click()
    student_row = frame.locator("tr", has_text=STUDENT)
    expect(student_row).to_contain_text("Liddell, Alice")
    score = student_row.locator(".score")
    expect(score).to_have_text(re.compile(r"^\s*[\d.]+ / [\d.]+\s*$"), timeout=60_000)
    shot(page, "32_instructor_formgrader_submission_score")
    got, maximum = (float(x) for x in score.inner_text().split("/"))
    assert maximum > 0 and got == maximum, f"formgrader: {STUDENT} scored {got} / {maximum} on a complete submission"

    ours = grader_score(graded_course["grades"])
    assert ours is not None, f"{STUDENT}/{LESSON} missing from grader's grades.csv: {graded_course['grades']}"
    assert ours[0] == got, (f"the formgrader says {got}, `grader autograde` says {ours[0]}:\n"
                            f"{graded_course['report']}\n{graded_course['autograde_log']}")
    assert not log.errors, f"JavaScript errors on the page: {log.errors}"

"""A class on JupyterHub, in Chromium: release, fetch, answer, submit, collect, autograde, feedback, fetch feedback.

JupyterHub runs deploy/jupyterhub_config.py on 127.0.0.1 (a system user made for the test, each student's
server started as that user, a shared password instead of PAM), with nbgrader's exchange in a folder of the
test's own. The instructor (root, as grading needs) releases lesson 01 into the exchange with nbgrader's
``release_assignment``; the student logs in on the hub's login page, fetches the lesson in the Assignments
tab, types the answer of one exercise into its cell, saves and submits; ``grader collect`` takes the submission
from the exchange's inbound folder, ``grader autograde`` grades it in the sandbox, ``grader feedback
--exchange`` writes the feedback page and releases it through the exchange; the student fetches the feedback
in the Assignments tab and opens it. The score must be the points of that one exercise; the page must say so,
and diagnose an exercise left as the stub.

The round trip's duration (release to feedback on screen) is written to artifacts/e2e/hub_round_trip.json.
"""
from __future__ import annotations


import json
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

import e2e_course as course_files
import e2e_hub as hub_tools
import e2e_lab as lab
from grader.lessons.lesson_01 import LESSON as SPEC
from grader.pipeline.gradebook import Gradebook

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LESSON = SPEC.name
EXERCISE = next(e for e in SPEC.exercises if e.function == "relu_forward")  # the one the student answers
STUB = next(e for e in SPEC.exercises if e.function == "linear")             # left as released: diagnosed
COURSE_ID = "backprop-from-scratch"
BIN = Path(sys.executable).parent
SPAWN_TIMEOUT = 180_000           # ms: login, spawn, JupyterLab loaded on 2 loaded cores
GRADING_TIMEOUT = 600             # s: one submission in the sandbox (the judge imports torch and TF)


def run(cmd: list, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


@pytest.fixture
def hub_class():
    """A hub, an exchange and one student (user name, password); everything removed afterwards."""
    root = hub_tools.make_root()
    users, hub = [], None
    with hub_tools.reachable(hub_tools.course_paths()):
        try:
            singleuser = hub_tools.student_python(root)
            exchange = hub_tools.make_exchange(root)
            users.append(hub_tools.add_user(root))
            password = secrets.token_urlsafe(12)
            hub = hub_tools.start_hub(root, exchange, users, password, singleuser)
            yield {"root": root, "exchange": exchange, "hub": hub, "student": users[0], "password": password}
        except hub_tools.HubSetupError as error:
            pytest.fail(str(error), pytrace=False)
        finally:
            if hub is not None:
                hub.stop()
            for user in users:
                hub_tools.remove_user(user)
            shutil.rmtree(root, ignore_errors=True)


def instructor(root: Path) -> tuple[Path, list]:
    """The instructor's folder (the repo's nbgrader_config.py, a course dir) and the grader command."""
    home = root / "instructor"
    course = home / "course"
    course.mkdir(parents=True)
    home.chmod(0o700)
    shutil.copy(course_files.REPO / "nbgrader_config.py", home / "nbgrader_config.py")
    return home, [BIN / "grader", "--course-dir", course]


def release_to_exchange(home: Path, grader: list, exchange: Path) -> None:
    """`grader release` of the lesson into nbgrader's release/<lesson>/, then nbgrader's release_assignment."""
    course = Path(grader[-1])
    run([*grader, "--release", course / "release" / LESSON, "release", LESSON, "--no-validate"], home)
    run([BIN / "nbgrader", "release_assignment", LESSON, f"--Exchange.root={exchange}",
         f"--CourseDirectory.root={course}"], home)
    assert (exchange / COURSE_ID / "outbound" / LESSON / f"{LESSON}.ipynb").is_file()


def open_assignments(page) -> None:
    tab = page.locator("#jp-main-dock-panel").get_by_role("tab", name="Assignments")
    if tab.count():
        tab.click()
        page.locator("#refresh_assignments_list").click()
    else:
        lab.menu(page, "Nbgrader", "Assignment List")
    expect(page.locator("#released_assignments_list_loading")).to_be_hidden(timeout=30_000)


def assignment_row(page, listing: str):
    return page.locator(f"#{listing}_assignments_list .list_item", has_text=LESSON).first


def test_hub_round_trip(hub_class, browser, artifacts, shot):
    hub, student, exchange = hub_class["hub"], hub_class["student"], hub_class["exchange"]
    home, grader = instructor(hub_class["root"])
    answer = course_files.solution_source(LESSON, EXERCISE.function)
    max_score = sum(e.points for e in SPEC.exercises)
    phases, start = {}, time.time()

    def phase(name: str) -> None:
        phases[name] = round(time.time() - start - sum(phases.values()), 1)

    release_to_exchange(home, grader, exchange)
    phase("instructor releases to the exchange")
    exercise_cell = lab.cell_index(exchange / COURSE_ID / "outbound" / LESSON / f"{LESSON}.ipynb", EXERCISE.function)

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(e))
    try:
        # the hub's login page; JupyterHub starts the student's JupyterLab and sends the browser there
        page.goto(f"{hub.base}/hub/login", wait_until="domcontentloaded")
        page.locator("#username_input").fill(student)
        page.locator("#password_input").fill(hub_class["password"])
        page.locator("#login_submit").click()
        page.wait_for_url(re.compile(rf"/user/{student}/lab"), timeout=SPAWN_TIMEOUT)
        page.wait_for_selector("#jp-main-dock-panel", timeout=SPAWN_TIMEOUT)
        lab.wait_for_lab(page)
        shot(page, "50_hub_student_lab")
        phase("student logs in, server spawned")

        open_assignments(page)
        released = assignment_row(page, "released")
        expect(released).to_be_visible()
        released.get_by_role("button", name="Fetch").click()
        expect(assignment_row(page, "fetched").get_by_role("button", name="Submit")).to_be_visible()
        shot(page, "51_hub_fetched")

        folder = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText",
                                                                          has_text=re.compile(rf"^{LESSON}$")))
        expect(folder).to_have_count(1, timeout=30_000)
        folder.dblclick()
        lab.open_from_file_browser(page, f"{LESSON}.ipynb")
        lab.set_source(page, exercise_cell, answer)
        lab.save(page)
        shot(page, "52_hub_answered")
        phase("student fetches, answers, saves")

        open_assignments(page)
        assignment_row(page, "fetched").get_by_role("button", name="Submit").click()
        submitted = assignment_row(page, "submitted")
        expect(submitted).to_be_visible()
        expect(submitted.get_by_role("button", name="Fetch Feedback")).to_be_visible()
        shot(page, "53_hub_submitted")
        phase("student submits")

        inbound = exchange / COURSE_ID / "inbound"
        collected = run([*grader, "collect", inbound], home)
        assert "collected 1 submission(s)" in collected and "FLAGGED" not in collected, collected
        graded = run([*grader, "autograde", LESSON, "--workers", "1"], home, timeout=GRADING_TIMEOUT)
        released_feedback = run([*grader, "feedback", LESSON, "--exchange", exchange], home)
        assert "released 1 feedback page(s)" in released_feedback, released_feedback
        phase("instructor collects, autogrades, releases feedback")

        with Gradebook(Path(grader[-1]) / "gradebook.db") as book:
            grades = {g["exercise"]: g for g in book.grades(student, LESSON)}
            (submission,) = book.submissions()
        assert (submission["score"], submission["max_score"]) == (EXERCISE.points, max_score), (
            f"{student} answered {EXERCISE.function} only: expected {EXERCISE.points} / {max_score}, "
            f"the gradebook says {submission}\n{graded}")
        diagnosis = grades[STUB.id]["diagnosis"]
        assert not grades[STUB.id]["passed"] and diagnosis, f"{STUB.id} (a stub) is not diagnosed: {grades[STUB.id]}"

        open_assignments(page)
        submitted = assignment_row(page, "submitted")
        expect(submitted).to_contain_text("feedback available to fetch")
        submitted.get_by_role("button", name="Fetch Feedback").click()
        view = assignment_row(page, "submitted").get_by_text("(view feedback)")
        expect(view).to_be_visible()
        view.click()  # opens the feedback's folder in the file browser
        page_item = page.locator(".jp-DirListing-item", has=page.locator(
            ".jp-DirListing-itemText", has_text=re.compile(rf"^{LESSON}\.html$")))
        expect(page_item).to_have_count(1)
        page_item.dblclick()
        feedback = page.frame_locator(".jp-HTMLViewer iframe").locator("body")
        expected_score = f"Score: {submission['score']:g} / {submission['max_score']:g}"
        expect(feedback).to_contain_text(expected_score, timeout=30_000)
        phase("student fetches and opens the feedback")
        shot(page, "54_hub_feedback")

        answered = feedback.locator(f"tr:has(td:text-is('{EXERCISE.id}'))")
        expect(answered).to_contain_text(f"{EXERCISE.points:g} / {EXERCISE.points:g}")
        expect(answered).to_contain_text("passed")
        stub = feedback.locator(f"tr:has(td:text-is('{STUB.id}'))")
        expect(stub).to_contain_text(f"0 / {STUB.points:g}")
        expect(stub).to_contain_text(diagnosis)
        assert not errors, f"JavaScript errors on the student's page: {errors}"
    except BaseException:
        page.screenshot(path=str(artifacts / "FAILED-hub_round_trip.png"))
        print(hub.log()[-6000:])
        raise
    finally:
        context.close()
        total = round(time.time() - start, 1)
        (artifacts / "hub_round_trip.json").write_text(json.dumps({"seconds": total, "phases": phases}, indent=1))
        print(f"hub round trip: {total} s {phases}")

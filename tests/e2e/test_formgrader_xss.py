"""No submission can run script in the instructor's browser through nbgrader's formgrader (issue 9, hole 5).

Before: `course/autograded/` held the submission with its outputs; the formgrader's submission view
rendered a `text/html` output's `<script>` unsanitised, which called the Jupyter API and started a kernel
as the server's user. Now the grader writes inert copies (grader/pipeline/inert.py).

The attack notebook carries every way in we know: a `text/html` output whose script sets the page title
and POSTs /api/kernels, an `application/javascript` output, raw HTML and a `javascript:` link in markdown,
an SVG attachment, a raw cell of HTML, and a grade_id that would close the formgrader's `id="..."`
attribute. It is collected, then mirrored into nbgrader.db with a grade as `grader autograde` does (the
grade is a stand-in: the sandbox is tested elsewhere; what matters here is what reaches the formgrader),
and opened in the formgrader's submission view in Chromium.
"""
from __future__ import annotations

import copy
import json
import shutil
import sys

import pytest

from grader.config import REPO, Course
from grader.pipeline import formgrader
from grader.pipeline.collect import collect
from grader.pipeline.feedback import render
from grader.pipeline.inert import inert_notebook

sys.path.insert(0, str(REPO / "tests" / "grader"))  # the grader tests' fixture course and its submissions
import adversarial  # noqa: E402

LESSON, STUDENT = "fx01_basics", "mallory"
PWN = ("document.title = 'PWNED'; window.pwned = (window.pwned || 0) + 1;"
       "window.started = fetch('/api/kernels', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': "
       "'application/json', 'X-XSRFToken': (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || ''}, body: '{}'}).then(r => r.status);")
SVG = ("data:image/svg+xml;base64,"
       "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9hZD0iZG9jdW1lbnQudGl0bGU9J1BXTkVEJyIvPg==")


def attack_notebook() -> dict:
    nb = copy.deepcopy(adversarial.load())
    code = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "relu_impl")
    code["outputs"] = [
        {"output_type": "display_data", "metadata": {},
         "data": {"text/html": f"<b>relu ok</b><script>{PWN}</script><img src=x onerror=\"{PWN}\">",
                  "text/plain": "relu ok"}},
        {"output_type": "display_data", "metadata": {}, "data": {"application/javascript": PWN}},
    ]
    nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "attachments": {"x.svg": {"image/svg+xml": SVG}},
                           "source": f"My answer <script>{PWN}</script> <img src=x onerror=\"{PWN}\">\n\n"
                                     f"[see here](javascript:{PWN}) ![x](attachment:x.svg)"})
    nb["cells"].insert(1, {"cell_type": "raw", "metadata": {"format": "text/html"}, "source": f"<script>{PWN}</script>"})
    nb["cells"].insert(2, {"cell_type": "markdown", "source": "explained",
                           "metadata": {"nbgrader": {"grade_id": f"x\"><script>{PWN}</script>", "solution": True,
                                                     "grade": False, "locked": False, "schema_version": 3}}})
    return nb


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("xss")
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    course = Course(source=adversarial.SOURCE, release=root / "release", specs=adversarial.FIXTURE / "lessons",
                    course_dir=root / "course")
    (root / "inbox" / STUDENT).mkdir(parents=True)
    (root / "inbox" / STUDENT / f"{LESSON}.ipynb").write_text(json.dumps(attack_notebook()))
    collected = collect(root / "inbox", course.submitted, course.lessons(), log=lambda *a: None)
    assert [(c.student, c.lesson) for c in collected] == [(STUDENT, LESSON)]
    test_cells = [c for c in formgrader.nbgrader_cells(course.source / f"{LESSON}.ipynb") if c.grade]
    with formgrader.open_gradebook(course) as book:  # as `grader release` and `grader autograde` write it
        formgrader.sync_assignment(book, course, LESSON)
        formgrader.record_submission(book, course, STUDENT, LESSON, {c.name: c.points for c in test_cells},
                                     {c.name: c.name for c in test_cells})
    return root, course


def test_what_nbgrader_renders_is_inert(course_root):
    _, course = course_root
    raw = (course.submitted / STUDENT / f"{LESSON}.ipynb").read_text()
    assert "<script>" in raw  # the grader grades what was submitted ...
    for step in ("submitted", "autograded"):  # ... nbgrader's pages get the inert copy
        copy_ = json.loads((course.course_dir / step / STUDENT / LESSON / f"{LESSON}.ipynb").read_text())
        assert all(c.get("outputs", []) == [] and "attachments" not in c for c in copy_["cells"])
        markdown = [c["source"] for c in copy_["cells"] if c["cell_type"] == "markdown"]
        assert all(text.startswith("```text\n") for text in markdown)
        assert {c["cell_type"] for c in copy_["cells"]} == {"code", "markdown"}
        ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in copy_["cells"]]
        assert "relu_impl" in ids and not any(i and "<" in i for i in ids)


def test_feedback_pages_show_what_a_submission_wrote_as_text():
    script = f"<script>{PWN}</script><img src=x onerror=\"{PWN}\">"
    page = render("mallory", LESSON, {"score": 0, "max_score": 1, "problem": script},
                  [{"exercise": "relu.forward", "passed": False, "points": 0.0, "max_points": 1.0,
                    "diagnosis": f"your function raised ValueError: {script}", "result": {"lines": [script, 3]}}])
    assert "<script" not in page and "<img" not in page and "onerror=\"" not in page
    assert page.count("&lt;script&gt;document.title") == 3


def _submission_id(course) -> str:
    from nbgrader.api import Gradebook as NbGradebook

    with NbGradebook(formgrader.db_url(course), formgrader.COURSE_ID) as book:
        return book.find_submission_notebook(LESSON, LESSON, STUDENT).id


def _open_submission(browser, server, submission_id):
    context = browser.new_context()
    page = context.new_page()
    # as an instructor: JupyterLab open (it sets the _xsrf cookie the API wants), then the formgrader's page
    page.goto(server.url("lab"), wait_until="domcontentloaded", timeout=60_000)
    assert any(cookie["name"] == "_xsrf" for cookie in context.cookies())
    page.goto(server.url(f"formgrader/submissions/{submission_id}/"), wait_until="networkidle", timeout=60_000)
    return context, page


@pytest.mark.e2e
@pytest.mark.slow
def test_formgrader_submission_view_runs_no_script(course_root, browser, start_lab, artifacts):
    root, course = course_root
    server = start_lab(root, env={"GRADER_COURSE_DIR": str(course.course_dir)})
    kernels_before = server.api("api/kernels")
    submission_id = _submission_id(course)

    context, page = _open_submission(browser, server, submission_id)
    try:
        page.get_by_text("def relu").first.wait_for(timeout=30_000)  # the student's code is shown
        page.screenshot(path=str(artifacts / "formgrader_xss_inert.png"))
        assert "PWNED" not in page.title()
        assert page.evaluate("window.pwned === undefined")
        assert page.locator("img[onerror], a[href^='javascript:']").count() == 0
        assert page.get_by_text("My answer <script>").count() == 1  # shown as text, not run
    finally:
        context.close()
    assert server.api("api/kernels") == kernels_before

    # control: the same page on the raw submission runs the script, so the check above can see an attack
    raw = (course.submitted / STUDENT / f"{LESSON}.ipynb").read_bytes()
    target = course.course_dir / "autograded" / STUDENT / LESSON / f"{LESSON}.ipynb"
    target.write_bytes(raw)
    try:
        context, page = _open_submission(browser, server, submission_id)
        page.wait_for_function("window.pwned > 0", timeout=30_000)
        assert page.title() == "PWNED"
        assert page.evaluate("window.started") == 201  # POST /api/kernels: a kernel as the server's user
        context.close()
        assert len(server.api("api/kernels")) > len(kernels_before)
    finally:
        target.write_bytes(inert_notebook(raw))
        for kernel in server.api("api/kernels"):
            if kernel not in kernels_before:
                server.api(f"api/kernels/{kernel['id']}", method="DELETE")

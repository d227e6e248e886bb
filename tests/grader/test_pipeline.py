"""The whole instructor pipeline on the fixture course, with honest and adversarial submissions.

release -> submissions (zip, as from an LMS) -> collect -> autograde (2 workers) -> feedback -> report.
"""
import csv
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from grader.cli import main as grader_main
from grader.config import Course
from grader.pipeline.autograde import autograde
from grader.pipeline.gradebook import Gradebook
from grader.sandbox.launch import Limits, isolation_available

import adversarial

pytestmark = pytest.mark.slow
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
LIMITS = Limits(memory_mb=1536, cell_timeout=2, call_timeout=4, notebook_timeout=40)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("fixture-course")
    return Course(source=FIXTURE / "source", release=root / "release", specs=FIXTURE / "lessons",
                  course_dir=root / "course")


@pytest.fixture(scope="module")
def released(course):
    from grader.pipeline.release import release

    reports = release(course, limits=LIMITS, log=lambda *a: None)
    return reports


@pytest.fixture(scope="module")
def graded(course, released, tmp_path_factory):
    subs = adversarial.submissions(course.release, course.course_dir)
    archive = tmp_path_factory.mktemp("lms") / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, (content, _) in subs.items():
            zf.writestr(f"download/{name}", content if isinstance(content, bytes) else json.dumps(content))
        zf.writestr("download/readme.txt", "not a submission")
    assert grader_main(["--course-dir", str(course.course_dir), "--source", str(course.source),
                        "--release", str(course.release), "--specs", str(course.specs), "collect", str(archive)]) == 0
    counts = autograde(course, workers=2, limits=LIMITS, progress=False, log=lambda *a: None)
    return subs, counts


def expected_scores(subs):
    scores = {}
    for name, (_, score) in subs.items():
        student, lesson = name.split("_")[0], name.rsplit(".", 1)[0].split("_", 1)[1]
        lesson = lesson if lesson.startswith("fx") else lesson.split("_file_")[-1]
        scores[(student, lesson)] = score
    return scores


def test_release_writes_stripped_notebooks_and_validates(course, released):
    assert [r.problems for r in released] == [[], []]
    text = (course.release / "fx01_basics.ipynb").read_text()
    assert "raise NotImplementedError()" in text
    assert "np.maximum" not in text and "HIDDEN TESTS" not in text and "seed=7" not in text
    assert '"outputs": []' in text and '"execution_count": null' in text


def test_release_is_deterministic_and_detects_drift(course, released, tmp_path):
    from grader.pipeline.release import release

    again = release(course, check_only=True, validate=False, log=lambda *a: None)
    assert [r.problems for r in again] == [[], []]
    drifted = Course(source=course.source, release=tmp_path, specs=course.specs, course_dir=tmp_path / "c")
    shutil.copy(course.release / "fx01_basics.ipynb", tmp_path / "fx01_basics.ipynb")
    shutil.copy(course.release / "fx02_optim.ipynb", tmp_path / "fx02_optim.ipynb")
    nb = json.loads((tmp_path / "fx01_basics.ipynb").read_text())
    nb["cells"][0]["source"] = "# hand-edited"
    (tmp_path / "fx01_basics.ipynb").write_text(json.dumps(nb))
    reports = release(drifted, check_only=True, validate=False, log=lambda *a: None)
    assert [bool(r.problems) for r in reports] == [True, False]


def test_every_submission_gets_its_expected_score(course, graded):
    subs, counts = graded
    assert counts["graded"] == len(subs)
    with Gradebook(course.gradebook) as book:
        actual = {(s["student"], s["lesson"]): s["score"] for s in book.submissions()}
    assert actual == expected_scores(subs)


def test_isolation_is_active_for_these_results():
    assert isolation_available(), "these tests run as root so that the chroot/uid sandbox is exercised"


@pytest.mark.parametrize("student,exercise,mistake", [
    ("bob", "relu.forward", "not_implemented"),
    ("edited-test", "relu.forward", "mismatch"),
    ("cell-type", "mul.backward", "missing"),
    ("always-equal", "relu.forward", "wrong_type"),
    ("torch-autograd", "mul.backward", "exception"),
    ("tf-autograd", "loss.mse_loss", "exception"),
    ("uses-reference", "mul.backward", "uses_reference"),
    ("loop-cell", "relu.forward", "timeout"),
    ("loop-call", "loss.mse_loss", "timeout"),
    ("loop-unstoppable", "relu.forward", "crashed"),
    ("memory", "mul.backward", "exception"),
    ("flood", "relu.forward", "output_flood"),
    ("syntax", "loss.mse_loss", "exception"),
    ("disk-filler", "relu.forward", "exception"),
    ("empty", "relu.forward", "not_graded"),
    ("not-a-notebook", "relu.forward", "not_graded"),
    ("other-lesson", "loss.mse_loss", "not_graded"),
    ("reads-solutions", "relu.forward", "mismatch"),
])
def test_the_lost_exercise_says_why(course, graded, student, exercise, mistake):
    with Gradebook(course.gradebook) as book:
        rows = {g["exercise"]: g for g in book.grades(student, "fx01_basics")}
    assert rows[exercise]["points"] == 0
    assert rows[exercise]["mistake"] == mistake, rows[exercise]["diagnosis"]


def test_framework_imports_are_blocked_in_the_sandbox(course, graded):
    with Gradebook(course.gradebook) as book:
        rows = {g["exercise"]: g for g in book.grades("torch-autograd", "fx01_basics")}
    assert "torch is not available while grading" in rows["mul.backward"]["diagnosis"]


def test_gradebook_is_consistent_and_untouched_by_student_code(course, graded):
    db = sqlite3.connect(course.gradebook)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for student, lesson, score in db.execute("SELECT student, lesson, score FROM submissions"):
        total = db.execute("SELECT SUM(points) FROM grades WHERE student=? AND lesson=?", (student, lesson)).fetchone()[0]
        assert total == score
    assert db.execute("SELECT MAX(score) FROM submissions").fetchone()[0] == 5
    alice = json.loads((course.submitted / "alice" / "fx01_basics.ipynb").read_text())
    assert alice == adversarial.load()


def test_autograde_is_resumable_and_regrades_only_changes(course, graded):
    counts = autograde(course, workers=1, limits=LIMITS, progress=False, log=lambda *a: None)
    assert counts["graded"] == 0 and counts["skipped"] == len(graded[0])
    target = course.submitted / "edited-test" / "fx01_basics.ipynb"
    target.write_text(json.dumps(adversarial.load()))
    counts = autograde(course, workers=1, limits=LIMITS, progress=False, log=lambda *a: None)
    assert counts["graded"] == 1
    with Gradebook(course.gradebook) as book:
        scores = {(s["student"], s["lesson"]): s["score"] for s in book.submissions()}
    assert scores[("edited-test", "fx01_basics")] == 5
    assert scores[("alice", "fx01_basics")] == 5


def test_feedback_has_diagnoses_but_no_hidden_tests(course, graded):
    from grader.pipeline.feedback import feedback

    pages = feedback(course, log=lambda *a: None)
    assert len(pages) == len(graded[0])
    page = (course.feedback / "uses-reference" / "fx01_basics.html").read_text()
    assert "autograd_mini&#x27;s own mul.backward, which is what this exercise asks you to write" in page
    for path in pages:
        text = path.read_text()
        assert "HIDDEN TESTS" not in text and "seed=7" not in text and "assert_passed" not in text


def test_report_writes_lms_csv_summary_and_plot(course, graded):
    from grader.pipeline.report import report

    paths = report(course, log=lambda *a: None)
    with open(paths["grades"]) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", "fx01_basics", "fx02_optim", "total"]
    by_student = {r[0]: r for r in rows[1:]}
    assert by_student["alice"][1:] == ["5.0", "3.0", "8.0"]
    assert by_student["bob"][1:] == ["0.0", "0.0", "0.0"]
    with open(paths["summary"]) as f:
        summary = {r["exercise"]: r for r in csv.DictReader(f)}
    assert "not_implemented: 1" in summary["relu.forward"]["mistakes"]
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_self_check_prints_scores_per_exercise(course, released, capsys, tmp_path):
    notebook = tmp_path / "fx01_basics.ipynb"
    notebook.write_text(json.dumps(adversarial.edit(adversarial.load(), "relu_impl", adversarial.WRONG_RELU)))
    code = grader_main(["--specs", str(course.specs), "--course-dir", str(tmp_path / "c"), "check", str(notebook),
                        "--cell-timeout", "2"])
    out = capsys.readouterr().out
    assert code == 1
    assert "fx01_basics: 4 / 5" in out
    assert "-- relu.forward: 0 / 1" in out and "ok mul.backward: 2 / 2" in out


def test_solution_test_cells_pass_in_a_kernel_without_stderr():
    """What nbgrader would see in-kernel: every test cell runs clean (any stderr would score 0)."""
    from grader.pipeline.release import execution_problems

    assert execution_problems(FIXTURE / "source" / "fx01_basics.ipynb", solution=True) == []


def test_without_root_isolation_grading_still_works(monkeypatch, tmp_path):
    """`grader check` on a student's laptop: no chroot, but limits and the import blocker remain."""
    from grader.pipeline import grade
    from grader.sandbox import launch
    from grader.spec import load_lesson

    monkeypatch.setattr(launch, "isolation_available", lambda: False)
    lesson = load_lesson(FIXTURE / "lessons", "fx01_basics")
    good = tmp_path / "good.ipynb"
    good.write_text(json.dumps(adversarial.load()))
    torchy = tmp_path / "torchy.ipynb"
    torchy.write_text(json.dumps(adversarial.edit(adversarial.load(), "mul_impl", (
        "def mul_backward(ctx, grad):\n    import torch\n    return grad, grad\n"))))
    assert grade.grade_file("me", lesson, good, b"k", LIMITS, FIXTURE / "lessons").score == 5
    result = grade.grade_file("me", lesson, torchy, b"k", LIMITS, FIXTURE / "lessons")
    assert result.score == 3
    assert "torch is not available while grading" in result.exercises[1].result["diagnosis"]

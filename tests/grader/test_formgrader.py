"""`grader autograde` mirrors its grades into nbgrader's database, which the formgrader reads.

On the fixture course: release -> collect -> autograde; then nbgrader.db (opened with the db_url the repo's
nbgrader_config.py gives for that course dir, and read through nbgrader's own NbGraderAPI, which is what the
formgrader calls) holds the assignments, the students and exactly the grader's per-exercise and total scores.
"""
import dataclasses
import json
import os

import pytest
from traitlets.config.loader import PyFileConfigLoader

import adversarial
from grader.config import REPO, Course
from grader.pipeline import formgrader
from grader.pipeline.autograde import autograde
from grader.pipeline.gradebook import Gradebook
from grader.pipeline.inert import inert_notebook
from grader.lesson import Lesson
from grader.sandbox.launch import Limits
from grader.spec import all_lessons, load_lesson
from nbgrader.api import Gradebook as NbGradebook
from nbgrader.api import Grade, GradeCell, Student, SubmittedAssignment
from nbgrader.apps.api import NbGraderAPI

FIXTURE = adversarial.FIXTURE
LIMITS = Limits(memory_mb=1536, cell_timeout=2, call_timeout=4, notebook_timeout=15)
QUIET = dict(log=lambda *a: None)


def nbgrader_api(course_dir, monkeypatch) -> NbGraderAPI:
    """The formgrader's view: the repo's nbgrader_config.py, pointed at this course dir."""
    monkeypatch.setenv("GRADER_COURSE_DIR", str(course_dir))
    config = PyFileConfigLoader(str(REPO / "nbgrader_config.py")).load_config()
    assert config.CourseDirectory.db_url == formgrader.db_url(Course(course_dir=course_dir))
    return NbGraderAPI(config=config)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("formgrader-course")
    course = Course(source=FIXTURE / "source", release=root / "release", specs=FIXTURE / "lessons",
                    course_dir=root / "course")
    from grader.pipeline.release import release

    reports = release(course, validate=False, **QUIET)
    assert [r.problems for r in reports] == [[], []]
    inbox = root / "inbox"
    inbox.mkdir()
    solution = adversarial.load()
    submissions = {
        "alice_fx01_basics.ipynb": solution,                                               # 5 / 5
        "alice_fx02_optim.ipynb": adversarial.load("fx02_optim"),                          # 3 / 3
        "bob_fx01_basics.ipynb": adversarial.released(course.release),                     # 0 / 5
        "carol_fx01_basics.ipynb": adversarial.edit(solution, "relu_impl", adversarial.WRONG_RELU),  # 4 / 5
    }
    for name, nb in submissions.items():
        (inbox / name).write_text(json.dumps(nb))
    from grader.pipeline.collect import collect

    collect(inbox, course.submitted, course.lessons(), **QUIET)
    counts = autograde(course, workers=2, limits=LIMITS, progress=False, **QUIET)
    assert counts["graded"] == 4 and counts["formgrader"] == {"synced": 4, "problems": []}
    return course


def grader_view(course):
    with Gradebook(course.gradebook) as book:
        totals = {(s["student"], s["lesson"]): (s["score"], s["max_score"]) for s in book.submissions()}
        cells = {}
        for g in book.grades():
            exercise = load_lesson(course.specs, g["lesson"]).exercise(g["exercise"])
            cells[(g["student"], g["lesson"], exercise.test_cell)] = g["points"]
    return totals, cells


def nbgrader_view(course):
    with NbGradebook(formgrader.db_url(course), formgrader.COURSE_ID) as gb:
        totals = {(s.student.id, s.assignment.name): (s.score, s.max_score)
                  for a in gb.assignments for s in a.submissions}
        cells = {(g.student.id, g.assignment.name, g.name): g.auto_score
                 for a in gb.assignments for s in a.submissions for n in s.notebooks for g in n.grades}
        manual = [g for a in gb.assignments for s in a.submissions for n in s.notebooks for g in n.grades
                  if g.needs_manual_grade]
        counts = {model.__name__: gb.db.query(model).count()
                  for model in (Student, SubmittedAssignment, Grade, GradeCell)}
        counts["Assignment"] = len(gb.assignments)
    return totals, cells, manual, counts


def test_real_lessons_follow_the_test_cell_convention():
    """The function <f> of every exercise a lesson declares is graded by test cell test_<f>, same points."""
    declared = all_lessons(REPO / "grader" / "lessons")
    graded = [p.stem for p in sorted((REPO / "solutions").glob("*.ipynb"))
              if any(c.grade for c in formgrader.nbgrader_cells(p))]
    assert graded and set(graded) <= set(declared), f"graded notebooks without a declaration: {graded} vs {declared}"
    for name, lesson in declared.items():
        mapping = formgrader.grade_cells(name, REPO / "solutions" / f"{name}.ipynb", lesson)
        assert mapping == {e.id: f"test_{e.function}" for e in lesson.exercises}, name


def test_a_lesson_that_breaks_the_convention_fails_naming_lesson_exercise_and_cell():
    fixture = load_lesson(FIXTURE / "lessons", "fx01_basics")
    relu, mul, mse = fixture.exercises
    broken = Lesson("fx01_basics", setup=fixture.setup, exercises=[
        relu, dataclasses.replace(mul, function="mul_grad"), dataclasses.replace(mse, points=3)])
    with pytest.raises(formgrader.ConventionError) as error:
        formgrader.grade_cells("fx01_basics", FIXTURE / "source" / "fx01_basics.ipynb", broken)
    message = str(error.value)
    assert ("lesson fx01_basics, exercise 'mul.backward': fx01_basics.ipynb has no graded test cell "
            "'test_mul_grad'") in message
    assert "lesson fx01_basics, exercise 'loss.mse_loss': test cell 'test_mse' is worth 2 point(s)" in message
    assert "the lesson declares 3" in message
    assert "graded test cell 'test_mul_backward' (2 point(s)) of fx01_basics.ipynb belongs to no exercise" in message
    assert "'relu.forward'" not in message


def test_release_stages_every_lesson_for_the_formgrader(course, monkeypatch):
    for lesson in course.lessons():
        staged = course.course_dir / "source" / lesson / f"{lesson}.ipynb"
        assert staged.read_bytes() == (course.source / f"{lesson}.ipynb").read_bytes()
    api = nbgrader_api(course.course_dir, monkeypatch)
    listed = {a["name"]: a for a in api.get_assignments()}
    assert sorted(listed) == ["fx01_basics", "fx02_optim"]
    assert listed["fx01_basics"]["max_score"] == 5 and listed["fx02_optim"]["max_score"] == 3
    assert listed["fx01_basics"]["num_submissions"] == 3 and listed["fx02_optim"]["num_submissions"] == 1
    cells = {c.name: c.max_score for c in NbGradebook(formgrader.db_url(course), formgrader.COURSE_ID)
             .find_notebook("fx01_basics", "fx01_basics").grade_cells}
    assert cells == {"test_relu": 1, "test_mul_backward": 2, "test_mse": 2}


def test_nbgrader_scores_equal_the_graders(course, monkeypatch):
    ours_totals, ours_cells = grader_view(course)
    totals, cells, manual, counts = nbgrader_view(course)
    assert ours_totals == {("alice", "fx01_basics"): (5, 5), ("alice", "fx02_optim"): (3, 3),
                           ("bob", "fx01_basics"): (0, 5), ("carol", "fx01_basics"): (4, 5)}
    assert totals == ours_totals
    assert cells == ours_cells and len(cells) == 3 * 3 + 1
    assert cells[("carol", "fx01_basics", "test_relu")] == 0 and cells[("carol", "fx01_basics", "test_mul_backward")] == 2
    assert manual == []
    assert counts == {"Student": 3, "SubmittedAssignment": 4, "Grade": 10, "GradeCell": 4, "Assignment": 2}
    # what the formgrader's submissions page shows: autograded, with the score
    api = nbgrader_api(course.course_dir, monkeypatch)
    shown = {s["student"]: s for s in api.get_submissions("fx01_basics")}
    assert {k: (v["autograded"], v["score"], v["max_score"]) for k, v in shown.items()} == {
        "alice": (True, 5, 5), "bob": (True, 0, 5), "carol": (True, 4, 5)}


def test_rerunning_does_not_duplicate_and_a_changed_submission_updates(course, monkeypatch):
    before = nbgrader_view(course)
    counts = autograde(course, workers=1, limits=LIMITS, progress=False, **QUIET)
    assert counts["graded"] == 0 and counts["formgrader"]["synced"] == 4
    assert nbgrader_view(course) == before
    counts = autograde(course, workers=1, limits=LIMITS, progress=False, force=True, **QUIET)
    assert counts["graded"] == 4 and nbgrader_view(course) == before

    target = course.submitted / "carol" / "fx01_basics.ipynb"
    target.write_text(json.dumps(adversarial.load()))
    stamp = target.stat().st_mtime + 60
    os.utime(target, (stamp, stamp))
    counts = autograde(course, workers=1, limits=LIMITS, progress=False, **QUIET)
    assert counts["graded"] == 1
    totals, cells, manual, counts_after = nbgrader_view(course)
    assert totals[("carol", "fx01_basics")] == (5, 5)
    assert cells[("carol", "fx01_basics", "test_relu")] == 1
    assert counts_after == before[3]
    assert (totals, cells) == grader_view(course)
    copy = course.course_dir / "submitted" / "carol" / "fx01_basics" / "fx01_basics.ipynb"
    assert copy.read_bytes() == inert_notebook(target.read_bytes())  # what nbgrader's pages render: no outputs
    api = nbgrader_api(course.course_dir, monkeypatch)
    carol = next(s for s in api.get_submissions("fx01_basics") if s["student"] == "carol")
    assert carol["autograded"] and carol["score"] == 5


def test_an_interrupted_mirror_is_completed_by_the_next_run(course):
    """Resumable: nbgrader.db lost (or never written) is rebuilt from the grader's gradebook, with no regrading."""
    before = nbgrader_view(course)
    (course.course_dir / "nbgrader.db").unlink()
    counts = autograde(course, workers=1, limits=LIMITS, progress=False, **QUIET)
    assert counts["graded"] == 0
    assert nbgrader_view(course) == before

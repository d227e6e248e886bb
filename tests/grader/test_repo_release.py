"""notebooks/ is generated from solutions/: this test fails when they drift (run `grader release`)."""
import pytest

from grader.config import REPO, Course
from grader.pipeline.release import release


def test_released_notebooks_match_the_solutions(tmp_path):
    course = Course(source=REPO / "solutions", release=REPO / "notebooks", specs=REPO / "grader" / "lessons",
                    course_dir=tmp_path)
    assert course.lessons(), "solutions/ holds no notebook"
    reports = release(course, check_only=True, validate=False, log=lambda *a: None)
    assert {r.lesson: r.problems for r in reports} == {lesson: [] for lesson in course.lessons()}


@pytest.mark.slow
def test_every_lesson_validates_through_the_sandboxed_autograder(tmp_path):
    """What `grader release` checks for every lesson: its declaration and notebook agree (cells, points), the
    solution scores full marks and the released notebook 0, each exercise failing at its stub."""
    course = Course(source=REPO / "solutions", release=tmp_path / "release", specs=REPO / "grader" / "lessons",
                    course_dir=tmp_path / "course")
    reports = release(course, log=lambda *a: None)
    assert {r.lesson: r.problems for r in reports} == {lesson: [] for lesson in course.lessons()}
    assert all(not any("not autograded" in n for n in r.notes) for r in reports), [r.notes for r in reports]

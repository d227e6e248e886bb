"""notebooks/ is generated from solutions/: this test fails when they drift (run `grader release`)."""
from grader.config import REPO, Course
from grader.pipeline.release import release


def test_released_notebooks_match_the_solutions(tmp_path):
    course = Course(source=REPO / "solutions", release=REPO / "notebooks", specs=REPO / "grader" / "lessons",
                    course_dir=tmp_path)
    assert course.lessons(), "solutions/ holds no notebook"
    reports = release(course, check_only=True, validate=False, log=lambda *a: None)
    assert {r.lesson: r.problems for r in reports} == {lesson: [] for lesson in course.lessons()}

"""nbgrader configuration for this repository as a course.

The course's own pipeline is `grader` (see grader/README.md): `grader release` applies nbgrader's
preprocessors (ClearSolutions, ClearHiddenTests, ...) to solutions/*.ipynb and writes notebooks/*.ipynb,
one nbgrader "assignment" per lesson, named after the notebook's stem. Grades come from the sandboxed
autograder (`grader autograde`), and nbgrader's own in-kernel autograde refuses to run (see the end).

This file makes the same conventions available to nbgrader's own tools (e.g. the formgrader or the
"Create Assignment" toolbar when editing solutions/), with the course directory outside git.
"""
import os
from pathlib import Path

from nbconvert.exporters import NotebookExporter
from nbgrader.converters.base import NbGraderException

c = get_config()  # noqa: F821  (provided by nbgrader)

REPO = Path(__file__).resolve().parent
COURSE_DIR = Path(os.environ.get("GRADER_COURSE_DIR", REPO / "course"))

c.CourseDirectory.root = str(COURSE_DIR)
c.CourseDirectory.source_directory = "source"        # grader stages solutions/<lesson>.ipynb here as source/<lesson>/
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = f"sqlite:///{COURSE_DIR / 'nbgrader.db'}"
c.CourseDirectory.course_id = "backprop-from-scratch"

# The Assignments tab and the formgrader need an exchange they can write; nbgrader does not create it.
(COURSE_DIR / "exchange").mkdir(parents=True, exist_ok=True)
c.Exchange.root = str(COURSE_DIR / "exchange")

# The stub every exercise gets in notebooks/ (a check cell turns it into "not implemented yet").
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# In-kernel test cells (instant feedback) must stay quiet and bounded.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.Execute.extra_arguments = []
c.ExecutePreprocessor.timeout = 120

# One grading path. nbgrader's autograde (`nbgrader autograde`, the formgrader's autograde button) would run
# each submission's test cells in a kernel as the server's user and write those scores over the sandboxed
# grades. It builds its exporter before it touches any file or grade: that is where it stops.
GRADER_AUTOGRADE_ONLY = (
    "nbgrader's autograde is disabled for this course: it would run the submissions' code in a kernel as "
    "this server's user and replace the sandboxed grades. Grade with `grader autograde` (it also fills the "
    "formgrader's gradebook); see grader/README.md.")


class RefuseAutograde(NotebookExporter):
    """Autograde's exporter: says why and stops nbgrader's autograde before it changes anything."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("parent") is not None:
            kwargs["parent"].log.error(GRADER_AUTOGRADE_ONLY)
        raise NbGraderException(GRADER_AUTOGRADE_ONLY)


c.Autograde.exporter_class = RefuseAutograde

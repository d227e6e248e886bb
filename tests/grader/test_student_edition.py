"""`grader student-edition OUT`: the folder students clone holds no answer, as text or as code, and still works:
its notebooks run to their stubs on its own autograd_mini and grader, its check cells judge a pasted solution
and a stub, and a submission that calls the library's own reference is still caught by the autograder."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.config import REPO
from grader.pipeline import grade
from grader.pipeline.student_edition import INSTRUCTOR_ONLY, PIPELINE_FOR_STUDENTS, build
from grader.sandbox.strip import BEGIN, END, make_stripped_copy, registry_spans
from grader.spec import all_lessons

LESSONS = {name: lesson for name, lesson in all_lessons(REPO / "grader" / "lessons").items()
           if (REPO / "solutions" / f"{name}.ipynb").exists()}  # a lesson being written has no notebook yet


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("edition") / "backprop-student"
    build(out)
    return out


def _edition_env(out: Path) -> dict:
    """The environment in which Python imports the edition's autograd_mini and grader, not the repo's."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(out), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


# ---- the answers, as the repository has them ------------------------------------------------------------

def _normalised(text: str) -> str:
    return " ".join(text.split())


def _fences(source: str) -> list[tuple[int, int]]:
    """(BEGIN line, END line), 1-based, of every fenced region in ``source``."""
    lines, fences = source.splitlines(), []
    for number, line in enumerate(lines, 1):
        if line.strip().startswith(BEGIN):
            end = next(i for i in range(number, len(lines)) if lines[i].strip().startswith(END)) + 1
            fences.append((number, end))
    return fences


def _statement_lists(tree: ast.AST):
    """Every list of statements in ``tree`` (bodies, else branches, handlers' bodies), outermost first."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value


def _fenced_statements(tree: ast.AST, begin: int, end: int) -> list[str]:
    """ast.dump of the statements between the fence's lines (the outermost run of them)."""
    for statements in _statement_lists(tree):
        inside = [s for s in statements if begin < s.lineno and s.end_lineno < end]
        if inside:
            return [ast.dump(s) for s in inside]
    return []


# Bodies this short (`return out`, `return b, a`, `return 1`) occur in any code; longer ones are searched for.
SHORTEST = 16


def _answers() -> list[tuple[str, str, list[str]]]:
    """(where, normalised text, statement dumps) of every fenced body of autograd_mini and every solution
    cell of solutions/*.ipynb, but the shortest."""
    answers = []
    for path in sorted((REPO / "autograd_mini").rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        lines = source.splitlines()
        for begin, end in _fences(source):
            answers.append((f"{path.relative_to(REPO)}:{begin}", _normalised("\n".join(lines[begin:end - 1])),
                            _fenced_statements(tree, begin, end)))
    for path in sorted((REPO / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            if not cell.metadata.get("nbgrader", {}).get("solution"):
                continue
            where = f"{path.name} cell {cell.metadata['nbgrader'].get('grade_id')}"
            if cell.cell_type != "code":
                answers.append((where, _normalised(cell.source), []))
                continue
            tree, lines = ast.parse(cell.source), cell.source.splitlines()
            for begin, end in _fences(cell.source):
                answers.append((where, _normalised("\n".join(lines[begin:end - 1])), _fenced_statements(tree, begin, end)))
    return [a for a in answers if len(a[1]) >= SHORTEST]


def _texts(out: Path):
    """(file, normalised text) of every readable file in ``out``; a notebook's cells one by one."""
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".ipynb":
            for index, cell in enumerate(nbformat.read(str(path), as_version=4).cells):
                yield f"{path.relative_to(out)} cell {index}", _normalised(cell.source)
            continue
        try:
            yield str(path.relative_to(out)), _normalised(path.read_text())
        except UnicodeDecodeError:
            continue  # the compiled references: bytecode, no source text


# ---- tests --------------------------------------------------------------------------------------------

def test_no_solution_body_appears_in_the_edition_as_text(edition):
    answers = _answers()
    assert len(answers) > 100, "the answers were not found in the repository"
    texts = list(_texts(edition))
    found = [(where, file) for where, text, _ in answers for file, content in texts if text in content]
    assert not found, "answers readable in the student edition (answer, file): " + "; ".join(map(str, found[:10]))


def test_no_solution_body_appears_in_the_edition_as_code(edition):
    answers = [(where, dumps) for where, _, dumps in _answers() if dumps]
    assert len(answers) > 100
    found = []
    for path in sorted(edition.rglob("*.py")):
        for statements in _statement_lists(ast.parse(path.read_text())):
            dumped = [ast.dump(s) for s in statements]
            for where, body in answers:
                if any(dumped[i:i + len(body)] == body for i in range(len(dumped) - len(body) + 1)):
                    found.append((where, str(path.relative_to(edition))))
    assert not found, "answers in the student edition's code (answer, file): " + "; ".join(map(str, found[:10]))


def test_every_reference_ships_compiled_and_stays_strippable(edition, tmp_path):
    fenced = {name for path in (REPO / "autograd_mini").rglob("*.py") if BEGIN in path.read_text()
              for name, first, last in registry_spans(path.read_text())
              if any(first <= b <= last for b, _ in _fences(path.read_text()))}
    summary = json.loads((edition / ".student-edition").read_text())
    assert set(summary["hidden"]) == fenced
    # the edition's own `grader check` strips what it grades from the edition's library, as the autograder does
    assert make_stripped_copy(edition / "autograd_mini", tmp_path, fenced) == fenced


def test_the_edition_holds_no_solutions_no_course_and_no_instructor_pipeline(edition):
    assert not (edition / "solutions").exists() and not (edition / "course").exists()
    assert not list(edition.rglob(".seed_salt")) and not list(edition.rglob("*.db"))
    assert not [p for p in INSTRUCTOR_ONLY if (edition / "grader" / p).exists()]
    assert sorted(p.name for p in (edition / "grader" / "pipeline").iterdir()) == sorted(PIPELINE_FOR_STUDENTS)
    assert sorted(p.name for p in (edition / "notebooks").glob("*.ipynb")) == \
        sorted(p.name for p in (REPO / "solutions").glob("*.ipynb"))
    assert not [p for p in (edition / "notebooks").glob("*.ipynb") if "BEGIN HIDDEN TESTS" in p.read_text()]
    requirements = (edition / "requirements.txt").read_text()
    assert "-e ." in requirements and "torch==" in requirements and "playwright" not in requirements
    for command in ("make lab", "make test"):
        assert command in (edition / "README.md").read_text()


def test_the_library_works_from_the_edition_and_its_sources_hold_one_line_per_reference(edition):
    program = ("import autograd_mini as am, numpy as np\n"
               "m = am.nn.MLP([3, 5, 4]); t = np.array([0, 1, 2, 3, 0, 1])\n"
               "r = am.gradcheck(lambda x: am.losses.cross_entropy(m(x), t), [np.random.default_rng(0).standard_normal((6, 3))])\n"
               "print(am.__file__); print(bool(r), r)\n")
    shown = subprocess.run([sys.executable, "-c", program], env=_edition_env(edition), capture_output=True,
                           text=True, cwd=edition.parent, check=True).stdout.splitlines()
    assert shown[0].startswith(str(edition)) and shown[1].startswith("True"), shown
    mul = (edition / "autograd_mini" / "ops" / "elementwise.py").read_text()
    assert f"{BEGIN}\n        return compiled_reference('mul.backward', globals())(ctx, grad)\n        {END}" in mul


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LESSONS))
def test_each_notebook_runs_in_the_edition_and_fails_only_at_the_exercise_stubs(edition, name, monkeypatch):
    from nbclient import NotebookClient

    path = edition / "notebooks" / f"{name}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import autograd_mini, grader\nprint(autograd_mini.__file__, grader.__file__)"))
    monkeypatch.setenv("PYTHONPATH", _edition_env(edition)["PYTHONPATH"])
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    imported = nb.cells[0].outputs[0]["text"].split()
    assert all(f.startswith(str(edition)) for f in imported), imported
    errors = [(c, o) for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    for cell, out in errors:
        assert out.ename == "NotImplementedError" or (out.ename == "AssertionError" and "not implemented" in out.evalue), \
            f"{name}, cell {cell.metadata.get('nbgrader', {}).get('grade_id')}: {out.ename}: {out.evalue[:300]}"
    failing = {c.metadata.get("nbgrader", {}).get("grade_id") for c, _ in errors if c.metadata.get("nbgrader", {}).get("grade")}
    assert failing == {e.test_cell for e in LESSONS[name].exercises}


# Runs with the edition first on sys.path: each exercise's check, on the solution's own cell and on a stub.
CHECK_ALL = r'''
import json, os, sys
import nbformat
import grader
from grader.spec import all_lessons

edition, solutions = sys.argv[1:3]
assert grader.__file__.startswith(edition), grader.__file__
verdicts = {}
for name, lesson in all_lessons(edition + "/grader/lessons").items():
    if not os.path.exists(f"{solutions}/{name}.ipynb"):
        continue
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
             for c in nbformat.read(f"{solutions}/{name}.ipynb", as_version=4).cells}
    for exercise in lesson.exercises:
        namespace = {}
        exec(lesson.setup, namespace)
        exec(cells[exercise.solution_cell], namespace)
        solved = lesson.check(exercise.id, namespace[exercise.function])
        namespace = {}
        exec(lesson.setup, namespace)
        exec(f"def {exercise.function}(*args, **kwargs):\n    raise NotImplementedError()", namespace)
        stub = lesson.check(exercise.id, namespace[exercise.function])
        verdicts[f"{name} {exercise.id}"] = [solved.passed, solved.diagnosis[:200], stub.mistake, stub.diagnosis[:80]]
print(json.dumps(verdicts))
'''


@pytest.mark.slow
def test_check_cells_in_the_edition_pass_the_pasted_solution_and_say_not_implemented_for_a_stub(edition):
    run = subprocess.run([sys.executable, "-c", CHECK_ALL, str(edition), str(REPO / "solutions")],
                         env=_edition_env(edition), capture_output=True, text=True, cwd=edition.parent)
    assert run.returncode == 0, run.stderr[-2000:]
    verdicts = json.loads(run.stdout.splitlines()[-1])
    assert len(verdicts) == sum(len(lesson.exercises) for lesson in LESSONS.values())
    for exercise, (passed, diagnosis, stub_mistake, stub_diagnosis) in verdicts.items():
        assert passed, f"{exercise}: the solution fails its check in the edition: {diagnosis}"
        assert stub_mistake == "not_implemented" and stub_diagnosis.startswith("not implemented yet"), \
            f"{exercise}: a stub got {stub_mistake}: {stub_diagnosis}"


@pytest.mark.slow
def test_a_submission_calling_the_shipped_reference_is_diagnosed(edition, tmp_path):
    lesson = LESSONS["03_tensor_backprop"]
    nb = nbformat.read(str(edition / "notebooks" / f"{lesson.name}.ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "mul_backward":
            cell.source = "from autograd_mini.registry import reference_of\nmul_backward = reference_of('mul.backward')\n"
    submission = tmp_path / f"{lesson.name}.ipynb"
    nbformat.write(nb, str(submission))

    graded = {e.exercise: e for e in grade.grade_file("student", lesson, submission, b"secret").exercises}
    assert graded["mul.backward"].points == 0
    assert graded["mul.backward"].result["mistake"] == "uses_reference", graded["mul.backward"].result
    # the edition's own `grader check` (on its own, compiled library) says the same
    run = subprocess.run([sys.executable, "-m", "grader", "check", str(submission)], env=_edition_env(edition),
                         capture_output=True, text=True, cwd=edition.parent)
    assert "-- mul.backward: 0 / 2  your code calls autograd_mini's own mul.backward" in run.stdout, run.stdout + run.stderr[-1000:]

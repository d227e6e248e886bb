"""What every lesson promises, tested once for all: its notebook runs headless in well under a minute with
nothing on stderr, every check cell passes against PyTorch and TensorFlow, every graded cell passes its
hidden tests, and the released notebook is generated from it and fails only at the exercise stubs."""
from __future__ import annotations

import pytest

from grader.config import REPO
from grader.spec import all_lessons

from notebook_run import executed, nbgrader_meta, outputs_text

pytestmark = pytest.mark.slow
LESSONS = sorted(name for name in all_lessons(REPO / "grader" / "lessons")
                 if (REPO / "solutions" / f"{name}.ipynb").exists())
SECONDS = {"09_capstone": 120}  # the capstone trains on the student's whole library; every other lesson: 60


def lesson(name):
    return all_lessons(REPO / "grader" / "lessons")[name]


@pytest.mark.parametrize("name", LESSONS)
def test_solution_notebook_runs_headless_and_every_check_and_graded_cell_passes(name):
    nb, seconds = executed(name)
    assert seconds < SECONDS.get(name, 60), f"{name} took {seconds:.0f} s"
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        where = f"{name}, cell {nbgrader_meta(cell).get('grade_id') or cell.source[:60]!r}"
        for out in cell.outputs:
            assert out.output_type != "error", f"{where}: {out.ename}: {out.evalue[:300]}"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"{where} wrote to stderr: {out.text[:200]}"
    graded = [c for c in nb.cells if nbgrader_meta(c).get("grade")]
    assert sorted(nbgrader_meta(c)["grade_id"] for c in graded) == sorted(e.test_cell for e in lesson(name).exercises)
    for cell in graded:
        assert "all hidden tests passed" in outputs_text(cell), f"{name} {nbgrader_meta(cell)['grade_id']}"
    for cell in (c for c in nb.cells if ".check(" in c.source and c.cell_type == "code"):
        shown = outputs_text(cell)
        assert "NOT YET" not in shown and shown.count("PASSED") >= cell.source.count(".check("), f"{name}: {shown[:500]}"
        assert "vs PyTorch" in shown and "vs TensorFlow" in shown, shown[:500]


@pytest.mark.parametrize("name", LESSONS)
def test_released_notebook_is_generated_and_fails_only_at_the_exercise_stubs(name):
    from grader.pipeline import release

    released = REPO / "notebooks" / f"{name}.ipynb"
    assert released.read_text() == release.generate(REPO / "solutions" / f"{name}.ipynb"), \
        f"notebooks/ drifted from solutions/: run `grader release {name}`"
    text = released.read_text()
    assert "### BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    nb, seconds = executed(name, "notebooks")
    assert seconds < SECONDS.get(name, 60)
    errors = [(c, o) for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    for cell, out in errors:
        assert out.ename == "NotImplementedError" or (out.ename == "AssertionError" and "not implemented" in out.evalue), \
            f"{name}, cell {nbgrader_meta(cell).get('grade_id')}: {out.ename}: {out.evalue[:200]}"
    failing = {nbgrader_meta(c).get("grade_id") for c, _ in errors if nbgrader_meta(c).get("grade")}
    assert failing == {e.test_cell for e in lesson(name).exercises}

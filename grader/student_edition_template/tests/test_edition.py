"""What this folder promises: autograd_mini works as a whole (its gradients match finite differences, an
optimizer trains on it), every lesson's checks load and answer an unwritten exercise with "not implemented
yet", and every notebook runs top to bottom, stopping only at the exercises you have not written yet."""
from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

import autograd_mini as am
import grader
from grader.spec import all_lessons

ROOT = Path(__file__).resolve().parents[1]
LESSONS = all_lessons(ROOT / "grader" / "lessons")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_python_imports_this_folder():
    for package in (am, grader):
        assert Path(package.__file__).resolve().is_relative_to(ROOT), f"{package.__name__} from {package.__file__}"


def test_gradients_through_an_mlp_and_cross_entropy_match_finite_differences():
    rng = np.random.default_rng(0)
    model = am.nn.MLP([3, 5, 4])
    target = rng.integers(0, 4, 6)
    result = am.gradcheck(lambda x: am.losses.cross_entropy(model(x), target), [rng.standard_normal((6, 3))])
    assert result, result


def test_adam_lowers_a_loss_on_the_whole_library():
    rng = np.random.default_rng(1)
    model = am.nn.MLP([2, 8, 1])
    optimizer = am.optim.Adam(model.parameters(), lr=0.05)
    x, y = am.Tensor(rng.standard_normal((32, 2))), am.Tensor(rng.standard_normal((32, 1)))
    losses = []
    for _ in range(50):
        optimizer.zero_grad()
        loss = am.losses.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
    assert losses[-1] < 0.7 * losses[0], losses[::10]


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_every_exercise_check_says_not_implemented_yet_for_an_unwritten_exercise(name):
    def unwritten(*args, **kwargs):
        raise NotImplementedError()

    for exercise in LESSONS[name].exercises:
        result = LESSONS[name].check(exercise.id, unwritten)
        assert not result.passed and result.mistake == "not_implemented", f"{name} {exercise.id}: {result.diagnosis}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_and_stops_only_at_the_exercises(path):
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        for out in (o for o in cell.outputs if o.output_type == "error"):
            assert out.ename == "NotImplementedError" or (out.ename == "AssertionError" and "not implemented" in out.evalue), \
                f"{path.name}, cell {cell.source[:80]!r}: {out.ename}: {out.evalue[:300]}"

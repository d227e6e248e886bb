"""The optimizer race (lesson 05), headless: its paths are torch.optim's, what it draws and tabulates is its state
after every control change, a learning rate too large diverges visibly, and the student's rules are what it runs."""
from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

pytest.importorskip("ipywidgets")  # a course dependency; the widget tests below need it to mean anything
from autograd_mini.registry import reference_of  # noqa: E402
from autograd_mini.widgets.optimizer_race import OPTIMIZERS, SURFACES, OptimizerRace  # noqa: E402
from grader.checks import frameworks  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def torch():
    return frameworks.torch()


def torch_path(torch, surface: str, optimizer: str, lr: float, steps: int) -> np.ndarray:
    """The iterates of torch.optim on the surface, written here from the surface's formula."""
    formulas = {"ill-conditioned quadratic": lambda x, y: 0.5 * (x * x + 50 * y * y),
                "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
                "saddle": lambda x, y: 0.5 * x * x - 0.5 * y * y + 0.25 * y ** 4}
    name, settings = OPTIMIZERS[optimizer]
    p = torch.tensor(SURFACES[surface].start, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([p], lr=lr, **settings)
    rows = [p.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        formulas[surface](p[0], p[1]).backward()
        opt.step()
        rows.append(p.detach().numpy().copy())
    return np.array(rows)


def drawn_settings(race: OptimizerRace) -> dict:
    (found,) = re.findall(r'data-settings="([^"]*)"', race._summary.value)
    return json.loads(html.unescape(found))


def controls(box) -> dict:
    found = {}
    for child in box.children:
        if hasattr(child, "children"):
            found.update(controls(child))
        elif getattr(child, "description", "") and hasattr(child, "value"):
            found[child.description] = list(child.value) if isinstance(child.value, tuple) else child.value
    return found


def assert_shows(race: OptimizerRace, box) -> None:
    """Each drawn line is its run's path (solid: autograd_mini, markers: torch), each curve its losses, and the
    summary states the controls' values."""
    paths, curves = race.figure.axes
    lines = {line.get_label(): line for line in paths.get_lines()}
    for name, run in race.runs.items():
        np.testing.assert_array_equal(np.column_stack(lines[f"{name} (yours)"].get_data()), run.path)
        markers = [l for l in paths.get_lines() if l.get_marker() == "x" and l.get_color() == lines[f"{name} (yours)"].get_color()]
        np.testing.assert_array_equal(np.column_stack(markers[0].get_data()), run.torch_path)
    assert len(curves.get_lines()) == len(race.runs) + 1  # a loss curve per optimizer and the target line
    assert drawn_settings(race) == controls(box) == race.settings()


def test_every_path_is_torch_optims_and_is_drawn(torch):
    race = OptimizerRace("rosenbrock", optimizers=tuple(OPTIMIZERS), steps=60)
    box = race.widget()
    for name, run in race.runs.items():
        expected = torch_path(torch, "rosenbrock", name, race.lrs[name], 60)
        np.testing.assert_allclose(run.path, expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(run.torch_path, expected, rtol=1e-12, atol=1e-14)
        assert race.torch_difference(name) < 1e-10
    assert_shows(race, box)
    assert bytes(race._image.value).startswith(PNG_MAGIC)


@pytest.mark.parametrize("label, value", [("lr GD", 0.01), ("steps", 40), ("surface", "saddle"),
                                          ("optimizers", ("Nesterov", "RMSProp"))])
def test_each_control_recomputes_and_redraws(torch, label, value):
    race = OptimizerRace(steps=50)
    box = race.widget()
    image_before, settings_before = bytes(race._image.value), race.settings()

    race.controls[label].value = value          # what a student's click or drag does

    assert race.settings() != settings_before
    assert bytes(race._image.value) != image_before
    assert_shows(race, box)
    for name, run in race.runs.items():
        np.testing.assert_allclose(run.path, torch_path(torch, race.surface, name, race.lrs[name], race.steps),
                                   rtol=1e-10, atol=1e-12)


def test_a_new_surface_brings_its_own_learning_rates_and_moves_the_sliders():
    race = OptimizerRace(steps=20)
    box = race.widget()
    race.controls["surface"].value = "rosenbrock"
    assert race.lrs == SURFACES["rosenbrock"].lrs
    assert controls(box)["lr GD"] == SURFACES["rosenbrock"].lrs["GD"] == drawn_settings(race)["lr GD"]


def test_a_learning_rate_above_two_over_the_curvature_diverges_visibly():
    race = OptimizerRace("ill-conditioned quadratic", optimizers=("GD",), lrs={"GD": 0.041}, steps=200)
    race.widget()
    run = race.runs["GD"]
    assert run.diverged_at is not None and np.isnan(run.path[run.diverged_at:]).all()
    assert np.isfinite(run.path[:run.diverged_at]).all()
    assert f"diverged at step {run.diverged_at}" in race._summary.value
    assert any("diverged" in t.get_text() for t in race.figure.axes[1].get_legend().get_texts())
    race.set(lrs={"GD": 0.039})  # just below 2/50: converges
    assert race.runs["GD"].diverged_at is None and race.runs["GD"].reached(0.0) is not None


def test_it_races_the_rules_it_is_given():
    calls = []

    def counting_adam(param, grad, state, **hyper):
        calls.append(1)
        reference_of("optim.adam")(param, grad, state, **hyper)

    def halving_sgd(param, grad, state, *, lr, **hyper):
        param -= 0.5 * lr * grad

    race = OptimizerRace(optimizers=("GD", "Adam"), steps=30,
                         implementations={"optim.adam": counting_adam, "optim.sgd": halving_sgd})
    assert len(calls) == 30
    assert race.torch_difference("Adam") < 1e-12 and race.torch_difference("GD") > 1e-3


def test_settings_are_validated():
    with pytest.raises(ValueError, match="unknown surface"):
        OptimizerRace("himmelblau")
    race = OptimizerRace(steps=10)
    with pytest.raises(ValueError, match="unknown optimizer"):
        race.set(optimizers=("GD", "LBFGS"))
    with pytest.raises(ValueError, match="steps must be at least 1"):
        race.set(steps=0)
    with pytest.raises(ValueError, match="unknown optimizer in lrs"):
        race.set(lrs={"SGD": 0.1})

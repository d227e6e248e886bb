"""The gradient-pathologies widget (lesson 07), headless: its training run is PyTorch's (same weights, SGD, clipping
by global norm), its dead-ReLU counts are the units PyTorch's ReLU gives no gradient, and what it draws, tabulates
and states in ``data-settings`` is the step and the settings its controls show."""
from __future__ import annotations

import html
import json
import re
import warnings

import numpy as np
import pytest

pytest.importorskip("ipywidgets")  # a course dependency; the widget tests below need it to mean anything
from autograd_mini import nn  # noqa: E402
from autograd_mini.widgets import GradientPathologies  # noqa: E402
from autograd_mini.widgets.gradient_pathologies import build, task, train  # noqa: E402
from grader.checks import frameworks  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def torch():
    return frameworks.torch()


def torch_run(torch, depth, activation, init, steps, clip, lr=0.05, width=32, batch=64, seed=0):
    """The widget's training run in PyTorch from the same initial weights: per step, ||dL/dW|| per layer, the loss
    and the dead ReLUs per hidden layer (units whose relu passes no gradient for any example)."""
    model = build(depth, width, activation, init, seed)
    x, y = task(batch, width, seed)
    params = [(torch.tensor(layer.weight.data, requires_grad=True), torch.tensor(layer.bias.data, requires_grad=True))
              for layer in model.layers if isinstance(layer, nn.Linear)]
    act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[activation]
    optimizer = torch.optim.SGD([t for pair in params for t in pair], lr=lr)
    history = []
    for _ in range(steps + 1):
        optimizer.zero_grad()
        h, pre = torch.tensor(x), []
        for i, (w, b) in enumerate(params):
            h = torch.nn.functional.linear(h, w, b)
            if i < len(params) - 1:
                h.retain_grad()
                pre.append(h)
                h = act(h)
        loss = torch.nn.functional.mse_loss(h, torch.tensor(y))
        loss.backward()
        dead = [int(((z.detach() > 0).sum(dim=0) == 0).sum()) if activation == "relu" else 0 for z in pre]
        history.append((np.array([w.grad.norm().item() for w, _ in params]), loss.item(), np.array(dead)))
        if clip != "off":
            torch.nn.utils.clip_grad_norm_([t for pair in params for t in pair], clip)
        optimizer.step()
    return history


@pytest.mark.parametrize("depth, activation, init, clip", [(6, "relu", "kaiming_normal", 1.0),
                                                           (5, "sigmoid", "PyTorch default", "off"),
                                                           (4, "tanh", "xavier_uniform", 10.0)])
def test_the_training_run_is_pytorchs(torch, depth, activation, init, clip):
    ours = train(depth, activation, init, steps=8, clip=clip)
    theirs = torch_run(torch, depth, activation, init, steps=8, clip=clip)
    assert len(ours) == len(theirs) == 9
    for step, (mine, (grad_norms, loss, dead)) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(mine["grad_norms"], grad_norms, rtol=1e-9, err_msg=f"step {step}")
        np.testing.assert_allclose(mine["loss"], loss, rtol=1e-9, err_msg=f"step {step}")
        assert list(mine["dead"]) == list(dead), f"step {step}"
    if activation == "relu":
        assert any(s["dead"].sum() > 0 for s in ours)  # the comparison above is not vacuous


def test_an_exploding_run_stops_quietly_and_still_draws():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = GradientPathologies(depth=12, activation="relu", init="normal(0, 1)", clip="off")
        picture = run.set(step=5) and run.png()
    assert len(run.history) < 31 and not np.isfinite(run.history[-1]["loss"])
    assert run.step == len(run.history) - 1  # asked for step 5, shows the last step there is
    assert picture.startswith(PNG_MAGIC)


def drawn_settings(markup: str) -> dict:
    found = re.findall(r'data-settings="([^"]*)"', markup)
    assert len(found) == 1, f"expected one data-settings attribute in {markup[:200]!r}"
    return json.loads(html.unescape(found[0]))


def controls(box) -> dict:
    found = {}
    for child in box.children:
        if hasattr(child, "children"):
            found.update(controls(child))
        elif getattr(child, "description", "") and hasattr(child, "value") and child.description != "train":
            found[child.description] = child.value
    return found


def test_drawing_table_and_settings_follow_the_controls():
    run = GradientPathologies(depth=4, activation="tanh", init="PyTorch default")
    box = run.widget()
    run.controls["init"].value = "kaiming_normal"
    run.controls["activation"].value = "relu"
    run.controls["step"].value = 7
    assert drawn_settings(run._table.value) == controls(box) == {
        "depth": 4, "activation": "relu", "init": "kaiming_normal", "clip at": "off", "step": 7}
    assert run.history == run.history and run.shown is run.history[7]
    expected = train(4, "relu", "kaiming_normal", steps=30)[7]
    np.testing.assert_allclose(run.shown["grad_norms"], expected["grad_norms"], rtol=1e-12)
    figure = run.draw()
    np.testing.assert_allclose([bar.get_height() for bar in figure.axes[1].patches], expected["grad_norms"], rtol=1e-12)
    np.testing.assert_allclose([bar.get_height() for bar in figure.axes[0].patches], expected["activation_stds"],
                               rtol=1e-12)
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td>(\d+)</td></tr>", run._table.value)
    assert [int(d) for *_, d in rows] == list(expected["dead"])
    assert [float(g) for _, _, g, _ in rows] == pytest.approx(expected["grad_norms"][:4], rel=1e-2)
    run.set(depth=6, step=3)  # programmatic changes move the controls and the statement alike
    assert drawn_settings(run._table.value) == controls(box) == {
        "depth": 6, "activation": "relu", "init": "kaiming_normal", "clip at": "off", "step": 3}


def test_the_registry_pieces_it_stands_on_can_be_the_students():
    counted = GradientPathologies(depth=3, activation="relu", steps=2,
                                  implementations={"nn.utils.count_dead_relus": lambda z: 5})
    assert [list(s["dead"]) for s in counted.history] == [[5, 5, 5]] * 3
    scaled = GradientPathologies(depth=3, activation="relu", init="kaiming_normal", steps=0,
                                 implementations={"nn.init.kaiming_normal": lambda shape, nonlinearity, rng:
                                                  np.full(shape, 0.1)})
    assert scaled.history[0]["activation_stds"][0] > 0 and scaled.history[0]["grad_norms"][0] > 0
    assert scaled.history[0]["activation_stds"][0] != GradientPathologies(
        depth=3, activation="relu", init="kaiming_normal", steps=0).history[0]["activation_stds"][0]


def test_settings_are_validated_with_the_choices_named():
    with pytest.raises(ValueError, match="unknown init 'he'; choose one of PyTorch default"):
        GradientPathologies(init="he")
    run = GradientPathologies(depth=2, steps=1)
    with pytest.raises(ValueError, match="clip must be one of"):
        run.set(clip=3.0)
    with pytest.raises(TypeError, match="unknown setting"):
        run.set(width=4)
    assert run.depth == 2 and run.clip == "off"

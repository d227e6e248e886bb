"""Warmup then cosine decay (``lr_scheduler.warmup_cosine``, lesson 05): the closed-form rate at every step equals
torch's ``SequentialLR([LinearLR, CosineAnnealingLR])`` and Keras' ``CosineDecay(warmup_target=...)`` (rtol 1e-12
of the base rate, see test_schedules.py), and ``WarmupCosineLR`` drives an optimizer as torch's schedule does."""
from __future__ import annotations

import numpy as np
import pytest
from frameworks_for_training import assert_close, f64, keras, keras_float64, torch

import autograd_mini
from autograd_mini import Tensor, optim
from autograd_mini.optim import lr_scheduler
from autograd_mini.registry import reference_of

BASE_LR = 0.1
SETTINGS = [dict(warmup_steps=10, total_steps=50, start_factor=0.1, eta_min=0.0),
            dict(warmup_steps=5, total_steps=30, start_factor=0.5, eta_min=1e-3),
            dict(warmup_steps=1, total_steps=12, start_factor=0.01, eta_min=0.02),
            dict(warmup_steps=0, total_steps=20, start_factor=0.1, eta_min=0.0),
            dict(warmup_steps=8, total_steps=9, start_factor=1.0, eta_min=0.0)]
IDS = [",".join(f"{k}={v}" for k, v in s.items()) for s in SETTINGS]


def torch_scheduler(optimizer, warmup_steps, total_steps, start_factor, eta_min):
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps, eta_min=eta_min)
    if warmup_steps == 0:
        return cosine
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=start_factor, total_iters=warmup_steps)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])


def torch_rates(settings) -> np.ndarray:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)
    scheduler = torch_scheduler(optimizer, **settings)
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(settings["total_steps"]):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    return np.array(rates)


def keras_rates(settings, steps) -> np.ndarray:
    with keras_float64():
        schedule = keras.optimizers.schedules.CosineDecay(
            f64(settings["start_factor"] * BASE_LR), decay_steps=settings["total_steps"] - settings["warmup_steps"],
            alpha=f64(settings["eta_min"] / BASE_LR), warmup_target=f64(BASE_LR), warmup_steps=settings["warmup_steps"])
        return np.array([float(schedule(step)) for step in range(steps)])


def closed_form(settings, steps) -> np.ndarray:
    rule = reference_of("lr_scheduler.warmup_cosine")
    return np.array([rule(step, base_lr=BASE_LR, **settings) for step in range(steps)])


@pytest.mark.parametrize("settings", SETTINGS, ids=IDS)
def test_rates_equal_torchs_sequential_warmup_and_cosine(settings):
    theirs = torch_rates(settings)
    assert_close(closed_form(settings, len(theirs)), theirs, "warmup_cosine vs torch", rtol=1e-12, atol=1e-12 * BASE_LR)


@pytest.mark.parametrize("settings", [s for s in SETTINGS if s["warmup_steps"] > 0],
                         ids=[i for s, i in zip(SETTINGS, IDS) if s["warmup_steps"] > 0])
def test_rates_equal_keras_cosine_decay_with_warmup_and_stay_at_eta_min_after_the_end(settings):
    steps = settings["total_steps"] + 6  # past the end: Keras holds eta_min, and so does the closed form
    ours = closed_form(settings, steps)
    assert_close(ours, keras_rates(settings, steps), "warmup_cosine vs Keras", rtol=1e-12, atol=1e-12 * BASE_LR)
    assert np.all(ours[settings["total_steps"]:] == settings["eta_min"])


def test_the_shape_rises_then_falls():
    rates = closed_form(SETTINGS[0], 51)
    assert rates[0] == pytest.approx(0.1 * BASE_LR) and rates[10] == BASE_LR and rates[50] == 0.0
    assert np.all(np.diff(rates[:11]) > 0) and np.all(np.diff(rates[10:]) < 0)


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
def test_warmup_cosine_lr_drives_an_optimizer_like_torchs_schedule(optimizer_name):
    settings = SETTINGS[1]
    ours = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    theirs = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    kwargs = {"lr": BASE_LR, "momentum": 0.9} if optimizer_name == "SGD" else {"lr": BASE_LR}
    our_optimizer = getattr(optim, optimizer_name)([ours], **kwargs)
    their_optimizer = getattr(torch.optim, optimizer_name)([theirs], **kwargs)
    our_scheduler = lr_scheduler.WarmupCosineLR(our_optimizer, **settings)
    their_scheduler = torch_scheduler(their_optimizer, **settings)
    h = np.array([0.5, 1.0, 3.0])
    for step in range(settings["total_steps"]):
        assert our_scheduler.get_last_lr()[0] == pytest.approx(their_scheduler.get_last_lr()[0], rel=1e-12)
        our_optimizer.zero_grad()
        their_optimizer.zero_grad()
        (ours * ours * Tensor(h)).sum().backward()
        (theirs * theirs * torch.tensor(h)).sum().backward()
        our_optimizer.step()
        their_optimizer.step()
        our_scheduler.step()
        their_scheduler.step()
        assert_close(ours.data, theirs.detach().numpy(), f"{optimizer_name} parameters after step {step + 1}")


def test_the_scheduler_uses_the_rule_plugged_into_the_registry():
    calls = []

    def constant(step, *, base_lr, **settings):
        calls.append(step)
        return base_lr / 2

    optimizer = optim.SGD([Tensor(np.zeros(2), requires_grad=True)], lr=BASE_LR)
    with autograd_mini.use({"lr_scheduler.warmup_cosine": constant}):
        scheduler = lr_scheduler.WarmupCosineLR(optimizer, warmup_steps=2, total_steps=5)
        scheduler.step()
    assert calls == [0, 1] and scheduler.get_last_lr() == [BASE_LR / 2]
    scheduler.step()  # the reference is back: step 2 ends the warmup at the base rate
    assert scheduler.get_last_lr() == [BASE_LR]


def test_warmup_must_end_before_the_total():
    optimizer = optim.SGD([Tensor(np.zeros(2), requires_grad=True)], lr=BASE_LR)
    with pytest.raises(ValueError, match="need 0 <= warmup_steps < total_steps, got 5 and 5"):
        lr_scheduler.WarmupCosineLR(optimizer, warmup_steps=5, total_steps=5)

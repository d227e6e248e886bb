"""Learning-rate schedules: the rate before training and after each of 30 ``step()`` calls equals
torch.optim.lr_scheduler's (rtol 1e-12), through ``get_last_lr()`` and ``param_groups[0]["lr"]``.

Tolerance: 1e-12 relative to the sequence's base rate (not to each value): torch computes most
schedules recursively (lr_t from lr_{t-1}), autograd_mini in closed form, so a cosine that reaches
eta_min = 0 gives torch ~1e-18 where the closed form gives exactly 0.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from frameworks_for_training import assert_close, torch

from autograd_mini import Tensor, optim
from autograd_mini.optim import lr_scheduler

STEPS = 30
BASE_LR = 0.1


def mini_rates(make_scheduler, optimizer_name="SGD"):
    optimizer = getattr(optim, optimizer_name)([Tensor(np.zeros(2), requires_grad=True)], lr=BASE_LR)
    scheduler = make_scheduler(lr_scheduler, optimizer)
    rates = [scheduler.get_last_lr()]
    for _ in range(STEPS):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
        assert optimizer.param_groups[0]["lr"] == rates[-1][0], "get_last_lr() and param_groups disagree"
    return np.array(rates)


def torch_rates(make_scheduler, optimizer_name="SGD"):
    optimizer = getattr(torch.optim, optimizer_name)([torch.zeros(2, requires_grad=True)], lr=BASE_LR)
    scheduler = make_scheduler(torch.optim.lr_scheduler, optimizer)
    rates = [scheduler.get_last_lr()]
    for _ in range(STEPS):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
    return np.array(rates)


def warmup_then_cosine(lib, optimizer):
    return lib.SequentialLR(
        optimizer,
        [lib.LinearLR(optimizer, start_factor=0.1, total_iters=5), lib.CosineAnnealingLR(optimizer, T_max=25, eta_min=1e-3)],
        milestones=[5],
    )


SCHEDULES = {
    "StepLR(step_size=7)": lambda lib, opt: lib.StepLR(opt, step_size=7),
    "StepLR(step_size=4, gamma=0.5)": lambda lib, opt: lib.StepLR(opt, step_size=4, gamma=0.5),
    "StepLR(step_size=1, gamma=0.9)": lambda lib, opt: lib.StepLR(opt, step_size=1, gamma=0.9),
    "CosineAnnealingLR(T_max=30)": lambda lib, opt: lib.CosineAnnealingLR(opt, T_max=30),
    "CosineAnnealingLR(T_max=20, eta_min=0.01)": lambda lib, opt: lib.CosineAnnealingLR(opt, T_max=20, eta_min=0.01),
    # past T_max torch's cosine goes back up (a period of 2 T_max); three half-periods here
    "CosineAnnealingLR(T_max=10)": lambda lib, opt: lib.CosineAnnealingLR(opt, T_max=10),
    "LinearLR()": lambda lib, opt: lib.LinearLR(opt),
    "LinearLR(start_factor=0.01, total_iters=10)": lambda lib, opt: lib.LinearLR(opt, start_factor=0.01, total_iters=10),
    "LinearLR(start_factor=1.0, end_factor=0.2, total_iters=20)": lambda lib, opt: lib.LinearLR(
        opt, start_factor=1.0, end_factor=0.2, total_iters=20
    ),
    "SequentialLR(LinearLR -> CosineAnnealingLR, milestones=[5])": warmup_then_cosine,
    "SequentialLR(LinearLR -> StepLR -> CosineAnnealingLR, milestones=[3, 12])": lambda lib, opt: lib.SequentialLR(
        opt,
        [lib.LinearLR(opt, start_factor=0.5, total_iters=3), lib.StepLR(opt, step_size=3, gamma=0.5), lib.CosineAnnealingLR(opt, T_max=18)],
        milestones=[3, 12],
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_learning_rate_sequence_equals_torch(name):
    ours = mini_rates(SCHEDULES[name])
    theirs = torch_rates(SCHEDULES[name])
    assert_close(ours, theirs, name, rtol=1e-12, atol=1e-12 * BASE_LR)


def test_warmup_then_cosine_has_the_intended_shape():
    rates = mini_rates(warmup_then_cosine)[:, 0]
    assert rates[0] == pytest.approx(0.1 * BASE_LR)
    assert np.all(np.diff(rates[:6]) > 0), "linear warmup rises for 5 steps"
    assert rates[5] == pytest.approx(BASE_LR), "the cosine starts at the base rate at the milestone"
    assert np.all(np.diff(rates[5:]) < 0), "then the cosine falls"
    assert rates[30] == pytest.approx(1e-3 + (BASE_LR - 1e-3) * (1 + math.cos(math.pi * 25 / 25)) / 2)


@pytest.mark.parametrize("optimizer_name", ["Adam", "RMSprop"])
def test_a_schedule_drives_any_optimizer_like_torch(optimizer_name):
    ours = mini_rates(warmup_then_cosine, optimizer_name)
    theirs = torch_rates(warmup_then_cosine, optimizer_name)
    assert_close(ours, theirs, f"warmup then cosine on {optimizer_name}", rtol=1e-12, atol=1e-12 * BASE_LR)


def test_scheduled_training_trajectory_equals_torch():
    """The optimizer really uses the scheduled rate: 30 SGD steps on sum(w^2 * h) under warmup+cosine."""
    h = np.array([0.5, 1.0, 3.0])
    ours = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    theirs = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    our_optimizer = optim.SGD([ours], lr=BASE_LR, momentum=0.9)
    their_optimizer = torch.optim.SGD([theirs], lr=BASE_LR, momentum=0.9)
    our_scheduler = warmup_then_cosine(lr_scheduler, our_optimizer)
    their_scheduler = warmup_then_cosine(torch.optim.lr_scheduler, their_optimizer)
    for step in range(STEPS):
        our_optimizer.zero_grad()
        their_optimizer.zero_grad()
        (ours * ours * Tensor(h)).sum().backward()
        (theirs * theirs * torch.tensor(h)).sum().backward()
        our_optimizer.step()
        their_optimizer.step()
        our_scheduler.step()
        their_scheduler.step()
        assert_close(ours.data, theirs.detach().numpy(), f"parameters after step {step + 1}")


def test_two_schedulers_stepped_together_compose_like_torch():
    """torch documents "chaining": schedulers stepped back to back multiply their effects (here a
    warmup and a step decay, without SequentialLR)."""

    def chained(lib, optimizer):
        warmup = lib.LinearLR(optimizer, start_factor=0.25, total_iters=4)
        decay = lib.StepLR(optimizer, step_size=10, gamma=0.5)

        class Both:
            def step(self):
                warmup.step()
                decay.step()

            def get_last_lr(self):
                return decay.get_last_lr()

        return Both()

    ours = mini_rates(chained)
    theirs = torch_rates(chained)
    assert_close(ours, theirs, "LinearLR and StepLR stepped together", rtol=1e-12, atol=1e-12 * BASE_LR)

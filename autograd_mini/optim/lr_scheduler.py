"""Learning-rate schedules with ``torch.optim.lr_scheduler``'s names and values.

Like PyTorch's, each schedule computes the next rate from the current one, so schedules stepped
together on one optimizer multiply (a warmup on top of a step decay), and a rate set by hand in
``param_groups`` is carried on.
"""
from __future__ import annotations

import bisect
import math

from ..registry import active, reference


class LRScheduler:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        for group in optimizer.param_groups:
            group["lr"] = self.start(group["lr"])

    def start(self, lr: float) -> float:
        """The rate at step 0, given the rate before the schedule begins."""
        return lr

    def next(self, lr: float, base_lr: float, t: int) -> float:
        """The rate at step ``t`` >= 1, given the rate at step ``t - 1``."""
        raise NotImplementedError

    def step(self) -> None:
        """Call once per epoch (or per iteration, for warmup), after ``optimizer.step()``."""
        self.last_epoch += 1
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.next(group["lr"], base_lr, self.last_epoch)

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def next(self, lr, base_lr, t):
        return lr * self.gamma if t % self.step_size == 0 else lr


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial rate down to ``eta_min`` over ``T_max`` steps (then back up)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def next(self, lr, base_lr, t):
        if (t - 1 - self.T_max) % (2 * self.T_max) == 0:  # leaving the bottom: the ratio below is 0/0
            return lr + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
        ratio = (1 + math.cos(math.pi * t / self.T_max)) / (1 + math.cos(math.pi * (t - 1) / self.T_max))
        return self.eta_min + (lr - self.eta_min) * ratio


class LinearLR(LRScheduler):
    """Move the multiplier linearly from ``start_factor`` to ``end_factor`` (a linear warmup)."""

    def __init__(self, optimizer, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"start_factor must be in (0, 1] and end_factor in [0, 1], got {start_factor}, {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def start(self, lr):
        return lr * self.start_factor

    def next(self, lr, base_lr, t):
        if t > self.total_iters:
            return lr
        change = self.end_factor - self.start_factor
        return lr * (1 + change / (self.total_iters * self.start_factor + (t - 1) * change))


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the step numbers in ``milestones``;
    each starts afresh from the initial rate."""

    def __init__(self, optimizer, schedulers: list[LRScheduler], milestones: list[int]):
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{len(schedulers)} schedulers need {len(schedulers) - 1} milestones, got {len(milestones)}")
        self.schedulers, self.milestones = schedulers, milestones
        for group in optimizer.param_groups:  # undo what constructing the schedulers did
            group["lr"] = group["initial_lr"]
        super().__init__(optimizer)

    def start(self, lr):
        return self.schedulers[0].start(lr)

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect.bisect_right(self.milestones, self.last_epoch)
        scheduler = self.schedulers[index]
        if index and self.milestones[index - 1] == self.last_epoch:
            scheduler.last_epoch = 0
            for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = scheduler.start(base_lr)
        else:
            scheduler.step()


@reference("lr_scheduler.warmup_cosine")
def warmup_cosine_lr(step, *, base_lr, warmup_steps, total_steps, start_factor=0.1, eta_min=0.0):
    """The rate at ``step`` (0, 1, ...): linear from ``start_factor * base_lr`` to ``base_lr`` over
    ``warmup_steps``, then half a cosine down to ``eta_min`` at ``total_steps``, and ``eta_min`` after."""
    ### BEGIN SOLUTION
    if step < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * step / warmup_steps)
    progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * progress)) / 2
    ### END SOLUTION


class WarmupCosineLR(LRScheduler):
    """Warmup then cosine decay in closed form, from the registry's "lr_scheduler.warmup_cosine" (so a lesson
    can plug in its own). The same rates as ``SequentialLR([LinearLR, CosineAnnealingLR], [warmup_steps])``
    up to ``total_steps``; after it the rate stays at ``eta_min`` (torch's cosine would rise again)."""

    def __init__(self, optimizer, warmup_steps: int, total_steps: int, start_factor: float = 0.1, eta_min: float = 0.0):
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(f"need 0 <= warmup_steps < total_steps, got {warmup_steps} and {total_steps}")
        self.settings = dict(warmup_steps=warmup_steps, total_steps=total_steps, start_factor=start_factor,
                             eta_min=eta_min)
        super().__init__(optimizer)

    def start(self, lr):
        return active["lr_scheduler.warmup_cosine"](0, base_lr=lr, **self.settings)

    def next(self, lr, base_lr, t):
        return active["lr_scheduler.warmup_cosine"](t, base_lr=base_lr, **self.settings)

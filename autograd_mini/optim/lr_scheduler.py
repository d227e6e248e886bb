"""Learning-rate schedules with ``torch.optim.lr_scheduler``'s names and values.

Each schedule is a closed-form multiplier of the initial learning rate at step ``t``; PyTorch
computes the same values recursively, which agrees to rounding.
"""
from __future__ import annotations

import bisect
import math


class LRScheduler:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def factor(self, t: int) -> float:
        """The learning rate at step ``t`` as a multiple of the initial one."""
        raise NotImplementedError

    def _apply(self) -> None:
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base_lr * self.factor(self.last_epoch)

    def step(self) -> None:
        """Call once per epoch (or per iteration, for warmup), after ``optimizer.step()``."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def factor(self, t: int) -> float:
        return self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial rate down to ``eta_min`` over ``T_max`` steps."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def _apply(self) -> None:  # eta_min is absolute, not a multiple, so it is not a pure factor
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.eta_min + (base_lr - self.eta_min) * cosine


class LinearLR(LRScheduler):
    """Move the multiplier linearly from ``start_factor`` to ``end_factor`` (a linear warmup)."""

    def __init__(self, optimizer, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"start_factor must be in (0, 1] and end_factor in [0, 1], got {start_factor}, {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def factor(self, t: int) -> float:
        return self.start_factor + (self.end_factor - self.start_factor) * min(t, self.total_iters) / self.total_iters


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the step numbers in ``milestones``."""

    def __init__(self, optimizer, schedulers: list[LRScheduler], milestones: list[int]):
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{len(schedulers)} schedulers need {len(schedulers) - 1} milestones, got {len(milestones)}")
        self.schedulers, self.milestones = schedulers, milestones
        super().__init__(optimizer)

    def _apply(self) -> None:
        index = bisect.bisect_right(self.milestones, self.last_epoch)
        scheduler = self.schedulers[index]
        scheduler.last_epoch = self.last_epoch - (self.milestones[index - 1] if index else 0)
        scheduler._apply()

"""Lesson 05 (optimizers): update rules stepped in place, with a changing learning rate, and schedules."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..case import Case
from ..outcome import Hint

HINTS = {
    "not_in_place": "the parameter did not change: update it in place (param -= ..., or param[...] = ...); "
                    "rebinding the name (param = param - ...) changes only your local variable",
    "rate_not_a_number": "at step {step} your function returned an array of shape {shape}: return one number, the "
                         "learning rate at that step",
}


def optimizer_steps(fn: Callable, case: Case) -> Any:
    """``fn(param, grad, state, **hyper)`` updates ``param`` in place, once per given gradient, with the learning
    rate set to ``case.params["lrs"][k]`` before step k when given (as a schedule does); returns the trajectory
    (the parameter after every step)."""
    param, *grads = case.copy_arrays()
    hyper, rates = case.params["hyper"], case.params.get("lrs")
    state: dict = {}
    trajectory = []
    for k, grad in enumerate(grads):
        before = param.copy()
        returned = fn(param, grad, state, **(hyper if rates is None else {**hyper, "lr": rates[k]}))
        if returned is not None and not np.shares_memory(returned, param):
            raise Hint("not_in_place")
        if np.array_equal(param, before) and np.any(grad):
            raise Hint("not_in_place")
        trajectory.append(param.copy())
    return np.stack(trajectory)


def schedule_rates(fn: Callable, case: Case) -> Any:
    """``fn(step, **settings)`` for step = 0 .. case.params["steps"]: the learning rate at every step."""
    rates = []
    for step in range(case.params["steps"] + 1):
        rate = fn(step, **case.params["settings"])
        if isinstance(rate, (np.ndarray, list, tuple)) and np.size(rate) != 1:
            raise Hint("rate_not_a_number", step=step, shape=list(np.shape(rate)))
        rates.append(rate)
    return np.array(rates, dtype=np.float64).reshape(-1)


CALLS: dict[str, Callable[[Callable, Case], Any]] = {
    "optimizer_steps": optimizer_steps, "schedule_rates": schedule_rates,
}

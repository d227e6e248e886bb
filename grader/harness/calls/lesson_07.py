"""Lesson 07 (gradient pathologies): initialisers drawn again and again, gradients clipped in place."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..case import Case
from ..outcome import Hint

HINTS = {
    "init_not_array": "your initialiser returned a {type}: return a numpy array of the weight's shape (the values; "
                      "nn.init's in-place functions put them into a tensor)",
    "init_shape": "your initialiser returned shape {got} for a weight of shape {expected}: draw exactly `shape` values "
                  "(size=shape)",
    "init_ignores_rng": "two runs with the same seed gave different values: draw from the `rng` you are given "
                        "(np.random.default_rng(rng), then its .uniform / .normal), not from np.random's global state",
    "init_repeats": "two calls with one Generator gave the same values: draw from the Generator you are given (it "
                    "moves on after each draw) instead of making a new one from a fixed seed",
    # found by the grader when it compares one draw with numpy's standard draws of the same seed
    "init_uniform_not_normal": "your values are uniform: {name} draws from a normal distribution, {call} (for a "
                               "normal, the formula gives the std)",
    "init_normal_not_uniform": "your values are normal: {name} draws uniformly from [-bound, bound], {call} (for a "
                               "uniform, the formula gives the bound)",
    "init_other_stream": "your values are not one scaled draw of the Generator's standard stream, so the exact check "
                         "cannot read your {name}'s scale: draw all of them with one call, {call}, centred on 0",
    "clip_rebound": "parameter {index}'s .grad is a new array: scale the gradient in place (p.grad *= factor), as "
                    "torch.nn.utils.clip_grad_norm_ does, so that whoever holds the array (an optimizer, a hook) sees "
                    "the clipped values",
    "clip_norm_not_a_number": "clip_grad_norm returned a {type}: return the total norm (before clipping) as a number",
    "clip_grad_created": "parameter {index} had no gradient (.grad None) and now has one: skip such parameters, as "
                         "PyTorch does",
}


def initializer_draws(fn: Callable, case: Case) -> Any:
    """``fn(shape, **settings, rng=...)`` called ``draws`` times on one Generator seeded from the case; returns the
    draws stacked (draws, *shape). Also checks that the same seed gives the same values and the next call new ones."""
    shape, settings, seed = tuple(case.params["shape"]), case.params["settings"], case.params["seed"]

    def draw(rng):
        values = fn(shape, **settings, rng=rng)
        if not isinstance(values, np.ndarray):
            raise Hint("init_not_array", type=type(values).__name__)
        if values.shape != shape:
            raise Hint("init_shape", got=list(values.shape), expected=list(shape))
        return values.astype(np.float64)

    rng = np.random.default_rng(seed)
    draws = [draw(rng) for _ in range(case.params["draws"])]
    if np.array_equal(draws[0], draws[1] if len(draws) > 1 else draw(rng)):
        raise Hint("init_repeats")
    if not np.array_equal(draw(np.random.default_rng(seed)), draws[0]):
        raise Hint("init_ignores_rng")
    return np.stack(draws)


def clip_grads(fn: Callable, case: Case) -> Any:
    """``fn(parameters, max_norm)`` on Tensors whose .grad are the case's arrays (none for the indices in
    ``no_grad``); returns (the norm it returned, every gradient afterwards), checking they changed in place."""
    from autograd_mini import Tensor

    grads = case.copy_arrays()
    missing = set(case.params["no_grad"])
    params = [Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    for i, (p, g) in enumerate(zip(params, grads)):
        if i not in missing:
            p.grad = g
    total = fn(params, case.params["max_norm"])
    if isinstance(total, bool) or not isinstance(total, (int, float, np.integer, np.floating, np.ndarray)) \
            or np.size(total) != 1:
        raise Hint("clip_norm_not_a_number", type=type(total).__name__)
    for i, (p, g) in enumerate(zip(params, grads)):
        if i in missing and p.grad is not None:
            raise Hint("clip_grad_created", index=i)
        if i not in missing and p.grad is not g:
            raise Hint("clip_rebound", index=i)
    return (np.float64(total), *[g for i, g in enumerate(grads) if i not in missing])


CALLS: dict[str, Callable[[Callable, Case], Any]] = {"initializer_draws": initializer_draws, "clip_grads": clip_grads}

"""Calls and hints that several lessons use: the generic call, an op's forward, a predicted number."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..case import Case
from ..outcome import Hint

HINTS = {
    "overflow": "a floating-point overflow happened inside your function (exp of a large number is inf)",
    "invalid": "a floating-point 0/0 or inf - inf happened inside your function",
    "keepdims": "a reduction dropped the axis it reduced: keep it with keepdims=True, so the result broadcasts "
                "against the array it divides",
    # raised by lesson 02's graph calls and lesson 03's engine
    "deep_recursion": "your code recursed too deeply on a graph of {nodes:,} ops (Python stops at about 1,000 "
                      "nested calls): use a loop with an explicit stack",
    "prediction_not_a_number": "return your answer as a number (int or float), not a {type}",
    "prediction_choice": "answer with one of the numbers {choices}",
    "prediction_high": "your prediction is too large (it is more than {tolerance} away from the measured value): "
                       "{advice}",
    "prediction_low": "your prediction is too small (it is more than {tolerance} away from the measured value): "
                      "{advice}",
}


def plain(fn: Callable, case: Case) -> Any:
    return fn(*case.copy_arrays(), **case.params)


def new_context(needs=(False,)):
    from autograd_mini.function import Context

    return Context(tuple(needs))


def op_forward(fn: Callable, case: Case) -> Any:
    """``fn(ctx, *arrays, **params)`` with floating-point overflow (and for softmax 0/0) raised."""
    params = dict(case.params)
    errstate = params.pop("errstate", {"over": "raise"})
    try:
        with np.errstate(**errstate):
            return fn(new_context(), *case.copy_arrays(), **params)
    except FloatingPointError as error:
        raise Hint("invalid" if "invalid" in str(error) else "overflow") from None
    except ValueError as error:
        if "broadcast" in str(error) and "axis" in params:
            raise Hint("keepdims") from None
        raise


def op_forward_explained(op: str, hints: dict) -> Callable[[Callable, Case], Any]:
    """``op_forward``, whose overflow and 0/0 hints name the fix for ``op`` where ``hints`` has one for it
    (code ``overflow_<op>``, ``invalid_<op>``)."""
    def call(fn: Callable, case: Case) -> Any:
        try:
            return op_forward(fn, case)
        except Hint as hint:
            if f"{hint.code}_{op}" not in hints:
                raise
            raise Hint(f"{hint.code}_{op}", **hint.values) from None
    return call


def prediction(fn: Callable, case: Case) -> Any:
    """``fn()`` returns the student's answer: a number, or with ``case.params["choices"]`` one of those numbers."""
    answer = fn()
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise Hint("prediction_not_a_number", type=type(answer).__name__)
    choices = case.params.get("choices")
    if choices is not None and answer not in choices:
        raise Hint("prediction_choice", choices=", ".join(map(str, choices)))
    return np.float64(answer)


CALLS: dict[str, Callable[[Callable, Case], Any]] = {
    "plain": plain, "op_forward": op_forward, "prediction": prediction,
}

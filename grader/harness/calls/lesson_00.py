"""Lesson 00 (tour): pairwise distances, with a broadcasting error explained."""
from __future__ import annotations

from typing import Any, Callable

from ..case import Case
from ..outcome import Hint

HINTS = {
    "broadcast": "a {a} and b {b} do not broadcast against each other. Give them the axes of the result (n, m, d): "
                 "a[:, None, :] - b[None, :, :]",
}


def distances(fn: Callable, case: Case) -> Any:
    a, b = case.copy_arrays()
    try:
        return fn(a, b)
    except ValueError as error:
        if "broadcast" in str(error):
            raise Hint("broadcast", a=list(a.shape), b=list(b.shape)) from None
        raise


CALLS: dict[str, Callable[[Callable, Case], Any]] = {"distances": distances}

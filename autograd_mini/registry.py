"""One table of named implementations: how a lesson plugs the student's code into the engine.

Every piece a student can write (an op's forward or backward, ``unbroadcast``, the engine's
topological sort and backward loop, a loss, an optimizer's update rule) is looked up here by name
at call time. The reference versions register themselves with ``@reference("name")``; a lesson
swaps in its own with one visible, scoped call::

    with autograd_mini.use({"mul.backward": my_mul_backward}):
        loss.backward()          # runs my_mul_backward; the reference is back afterwards
"""
from __future__ import annotations

import difflib
from contextlib import contextmanager
from typing import Callable, Iterator, Mapping

_reference: dict[str, Callable] = {}
# What the engine calls right now; ops read it directly on their hot path.
active: dict[str, Callable] = {}


def reference(name: str) -> Callable[[Callable], Callable]:
    """Register ``fn`` as the reference implementation of ``name``."""

    def register(fn: Callable) -> Callable:
        if name in _reference:
            raise ValueError(f"implementation {name!r} is registered twice")
        _reference[name] = fn
        active[name] = fn
        return fn

    return register


def names() -> list[str]:
    """Every name a lesson can override, sorted."""
    return sorted(_reference)


def reference_of(name: str) -> Callable:
    _check_name(name)
    return _reference[name]


def lookup(name: str) -> Callable:
    _check_name(name)
    return active[name]


def _check_name(name: str) -> None:
    if name not in _reference:
        close = difflib.get_close_matches(name, _reference, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"no implementation is called {name!r}.{hint} See autograd_mini.registry.names().")


@contextmanager
def use(overrides: Mapping[str, Callable] | None = None, **by_keyword: Callable) -> Iterator[None]:
    """Run the block with some implementations replaced; everything is restored on exit.

    Names contain dots, so pass a dict: ``use({"mul.backward": f})``. Keywords work for names
    without dots (``use(unbroadcast=f)``).
    """
    replacements = {**(overrides or {}), **by_keyword}
    for name, fn in replacements.items():
        _check_name(name)
        if not callable(fn):
            raise TypeError(f"the implementation for {name!r} must be a function, got {type(fn).__name__}")
    saved = {name: active[name] for name in replacements}
    active.update(replacements)
    try:
        yield
    finally:
        active.update(saved)


def reset() -> None:
    """Put every reference implementation back."""
    active.clear()
    active.update(_reference)

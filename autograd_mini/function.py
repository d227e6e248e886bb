"""The contract between an op's forward and its backward, as in ``torch.autograd.Function``.

An op is a pair of numpy-level functions registered as ``"<op>.forward"`` and ``"<op>.backward"``:

* ``forward(ctx, *arrays, **params) -> array`` computes the result and stashes on ``ctx`` what the
  backward will need (``ctx.save_for_backward(...)`` or plain attributes);
* ``backward(ctx, grad) -> tuple`` returns one gradient per input array (a vector-Jacobian
  product), each shaped like its input, or ``None`` where ``ctx.needs_input_grad`` is False.
"""
from __future__ import annotations

from typing import Callable

from .registry import reference


class Context:
    """Scratch space an op's forward leaves for its backward."""

    retain_graph = False  # set for the duration of backward(retain_graph=True): keep saved_tensors
    observer = None  # memory.tape_peak: called with each context that saves, to follow the tape's size

    def __init__(self, needs_input_grad: tuple[bool, ...] = ()):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *arrays) -> None:
        self.saved_tensors = arrays
        if Context.observer is not None:
            Context.observer(self)


def op(name: str) -> Callable[[type], type]:
    """Register a class's ``forward`` and ``backward`` staticmethods as the reference for ``name``."""

    def register(cls: type) -> type:
        reference(f"{name}.forward")(cls.forward)
        reference(f"{name}.backward")(cls.backward)
        return cls

    return register

"""What the tape costs in memory: the arrays the ops of a graph saved for backward, counted."""
from __future__ import annotations

import weakref
from contextlib import contextmanager

import numpy as np

from .function import Context
from .registry import reference
from .tensor import is_grad_enabled


def buffer_of(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (a view's base, followed to the end)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


@reference("memory.saved_bytes")
def saved_bytes(root) -> int:
    """The bytes the graph behind ``root`` keeps for backward: every array its ops saved, counted once per
    buffer (a view, such as ``W.T``, keeps its base alive: count the base), without the leaves' own data (the
    parameters and inputs exist anyway). 0 once backward has freed the graph."""
    ### BEGIN SOLUTION
    nodes, stack, leaf_buffers, kept = set(), [root], set(), {}
    while stack:
        node = stack.pop()
        if id(node) in nodes:
            continue
        nodes.add(id(node))
        if node.is_leaf:
            leaf_buffers.add(id(buffer_of(node.data)))
            continue
        for array in node._ctx.saved_tensors or ():
            if isinstance(array, np.ndarray):
                owner = buffer_of(array)
                kept[id(owner)] = owner.nbytes
        stack.extend(node.parents)
    return sum(size for key, size in kept.items() if key not in leaf_buffers)
    ### END SOLUTION


class TapePeak:
    """What ``tape_peak`` found: ``bytes``, the most the tape kept at any moment of the block."""

    def __init__(self, leaves):
        self.bytes = 0
        self._leaf_buffers = {id(buffer_of(t.data)) for t in leaves}
        self._contexts = weakref.WeakSet()

    def _saved(self, ctx) -> None:
        if not is_grad_enabled():  # a context saved without grad mode is dropped with its op's result
            return
        self._contexts.add(ctx)
        self.bytes = max(self.bytes, self.kept())

    def kept(self) -> int:
        """The bytes the live contexts keep now, counted once per buffer, without the leaves'."""
        kept = {}
        for ctx in list(self._contexts):
            # a context whose op needs no gradient is not part of any graph (its result is a constant)
            if ctx.saved_tensors and True in ctx.needs_input_grad:
                for array in ctx.saved_tensors:
                    if isinstance(array, np.ndarray):
                        owner = buffer_of(array)
                        if id(owner) not in self._leaf_buffers:
                            kept[id(owner)] = owner.nbytes
        return sum(kept.values())


@contextmanager
def tape_peak(*leaves):
    """Follow the tape through the block — typically a forward pass and its backward — and report the most bytes it
    kept at once in ``.bytes``, including what checkpointed segments keep while backward runs them again (which
    ``saved_bytes`` after the forward pass cannot see). Arrays of ``leaves`` (the parameters, the input) are not
    counted: they exist anyway. The tape only grows when an op saves, so it is measured then."""
    peak = TapePeak(leaves)
    if Context.observer is not None:
        raise RuntimeError("tape_peak blocks cannot be nested")
    Context.observer = peak._saved
    try:
        yield peak
    finally:
        Context.observer = None

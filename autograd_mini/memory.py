"""What the tape costs in memory: the arrays the ops of a graph saved for backward, counted."""
from __future__ import annotations

import numpy as np

from .registry import reference


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

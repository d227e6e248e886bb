"""Reverse-mode autodiff: order the graph, then walk it backwards applying each op's backward."""
from __future__ import annotations

import numpy as np

from .registry import active, reference
from .tensor import versions


@reference("engine.topological_order")
def topological_order(root) -> list:
    """Every node ``root`` depends on (through ``.parents``), each after all of its parents.

    Iterative depth-first search, so a chain of 100,000 ops does not hit Python's recursion limit.
    """
    ### BEGIN SOLUTION
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((parent, False) for parent in node.parents if parent.requires_grad and id(parent) not in visited)
    ### END SOLUTION
    return order


@reference("engine.backward")
def backward(root, grad: np.ndarray) -> None:
    """Send ``grad`` (d output / d root) back through the graph into every leaf's ``.grad``.

    Gradients *accumulate*: a node used twice receives the sum of both paths, and a leaf's
    ``.grad`` adds to what a previous backward left there (as in PyTorch).
    """
    ### BEGIN SOLUTION
    grads = {id(root): grad}
    for node in reversed(active["engine.topological_order"](root)):
        node_grad = grads.pop(id(node), None)
        if node_grad is None:
            continue
        if node.is_leaf or node._retains_grad:
            # a copy: the same array may flow to several inputs (x + y) or be the caller's
            node.grad = node_grad.copy() if node.grad is None else node.grad + node_grad
        if node.is_leaf:
            continue
        for parent, parent_grad in zip(node.parents, input_gradients(node, node_grad)):
            if parent_grad is not None:
                previous = grads.get(id(parent))
                grads[id(parent)] = parent_grad if previous is None else previous + parent_grad
    ### END SOLUTION


def input_gradients(node, grad: np.ndarray) -> tuple:
    """Call the op's backward for ``node`` and return one gradient per input, each an array of its input's
    shape and dtype (None for an input that needs none). Raises if what the forward saved was freed by an
    earlier backward or changed in place since."""
    ctx = node._ctx
    saved = ctx.saved_tensors
    if saved is None:
        raise RuntimeError(
            f"trying to backward through the graph a second time: the arrays {node.op} saved for backward "
            "were freed by the first backward(); call backward(retain_graph=True) the first time if you need this"
        )
    if saved and node._saved_versions != versions(node):
        _check_unmodified(node, saved)
    grads = active[node.op + ".backward"](ctx, grad)
    if saved and not ctx.retain_graph:
        # Free what the forward kept, as PyTorch does; an op that saved nothing (sum, add) stays reusable.
        ctx.saved_tensors = None
    if type(grads) is not tuple:
        grads = tuple(grads) if isinstance(grads, list) else (grads,)
    parents = node.parents
    if len(grads) != len(parents):
        raise TypeError(f"{node.op}.backward returned {len(grads)} gradients for {len(parents)} inputs")
    for i, (parent, g) in enumerate(zip(parents, grads)):
        data = parent._data
        if parent.requires_grad and (type(g) is not np.ndarray or g.shape != data.shape or g.dtype is not data.dtype):
            grads = grads[:i] + (_conformed(node.op, i, parent, g),) + grads[i + 1:]
    # Inputs that need no gradient get None, whatever the op computed for them.
    return grads if all(ctx.needs_input_grad) else tuple(g if p.requires_grad else None for p, g in zip(parents, grads))


def _check_unmodified(node, saved: tuple) -> None:
    """Raise, as PyTorch does, if an array the op saved was changed in place since the forward pass."""
    for k, (tensor, version) in enumerate(zip((node, *node.parents), node._saved_versions)):
        now = tensor._version_counter[0]
        if now != version and any(array is tensor._data for array in saved):
            what = "its output" if k == 0 else f"its input {k - 1}"
            raise RuntimeError(
                f"one of the arrays needed for gradient computation has been modified by an inplace operation: "
                f"{node.op} saved {what}, a {tensor.dtype} tensor of shape {tensor.shape} (or the tensor it is a "
                f"view of, e.g. W for W.T), which is at version {now}; expected version {version}. Something changed "
                "it in place between the forward pass and backward(), e.g. `W.data -= ...` or optimizer.step(): "
                "call backward() before changing the weights, or run the forward pass again after the change."
            )


def _conformed(op: str, i: int, parent, g) -> np.ndarray:
    """The gradient as an array of its input's dtype (as PyTorch casts it), or an error if it is missing or
    misshapen. numpy turns 0-d results into scalars (np.float64): they become 0-d arrays again."""
    if g is None:
        raise TypeError(f"{op}.backward returned None for input {i}, which requires grad")
    shape = np.shape(g)
    if shape != parent.shape:
        raise ValueError(
            f"{op}.backward returned a gradient of shape {shape} for input {i} of shape "
            f"{parent.shape}; a gradient has its input's shape (sum over broadcast dimensions: unbroadcast)"
        )
    return np.asarray(g, dtype=parent.dtype)


def run_backward(root, grad: np.ndarray, retain_graph: bool) -> None:
    """What ``Tensor.backward`` runs: the (possibly student-supplied) backward.

    ``input_gradients`` frees each node's saved arrays once its backward has run, unless the node's
    context says ``retain_graph``: for ``backward(retain_graph=True)`` every context of this graph
    says so for the duration of the call (the flag lives on the graph, not in a global).
    """
    if not retain_graph:
        active["engine.backward"](root, grad)
        return
    contexts = _contexts(root)
    for ctx in contexts:
        ctx.retain_graph = True
    try:
        active["engine.backward"](root, grad)
    finally:
        for ctx in contexts:
            ctx.retain_graph = False


def _contexts(root) -> list:
    """The context of every non-leaf node ``root`` depends on (iterative: deep graphs are fine)."""
    contexts, seen, stack = [], {id(root)}, [root]
    while stack:
        node = stack.pop()
        if node._ctx is not None:
            contexts.append(node._ctx)
        for parent in node.parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return contexts

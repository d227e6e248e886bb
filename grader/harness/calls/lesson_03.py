"""Lesson 03 (tensor backprop): unbroadcast, an op's backward on a ctx sent as data, the engine."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..case import Case
from ..outcome import Hint
from ..programs import GRAPHS
from .shared import new_context

HINTS = {
    "matmul_shapes": "shapes do not fit: A is {a}, B is {b}, dC is {grad}. For C = A @ B: dA = dC @ B.T "
                     "{dA_shapes} and dB = A.T @ dC {dB_shapes}",
    "matmul_vector": "a 1-D A acts as a row (1, m) and a 1-D B as a column (m, 1): expand A, B and dC to "
                     "matrices first, then reshape each gradient back to its input's shape (A is {a}, B is {b})",
    "matmul_batched": "with batch dimensions, transpose the last two axes (np.swapaxes(x, -1, -2), not .T) and "
                      "reduce each gradient to its input's shape (A is {a}, B is {b})",
    "reduced_axes_missing": "your gradient of shape {grad} does not broadcast to the input's shape {shape}: the "
                            "forward dropped the reduced axes (keepdims=False); put them back as size-1 axes "
                            "(np.expand_dims) before np.broadcast_to",
    "leaf_without_grad": "leaf {leaf} (shape {shape}) received no gradient: its .grad is still None. Every leaf "
                         "the root depends on must get one",
    "grad_not_array": "leaf {leaf}'s .grad is a {type}, not a numpy array",
    "aliased_leaves": "leaves {a} and {b} share one gradient array: when an array is stored in a leaf's .grad, "
                      "store a copy (g.copy()), or a later += on one leaf changes the other",
    "aliased_caller": "leaf {leaf}'s .grad is the very array passed to backward(): store a copy, or the caller's "
                      "array changes when the gradient accumulates",
    "none_grad_added": "a leaf's .grad starts as None: on the first backward store the gradient (a copy); add to "
                       "it only when it already holds one",
    "node_visited_twice": "your engine ran the backward of one node more than once (it follows every path "
                          "separately, which takes exponential time on deep graphs). Visit each node once, in "
                          "reversed topological order, after adding up all the gradients that reach it",
    "retain_grad_ignored": "the interior node marked with retain_grad() has no .grad: besides the leaves, store "
                           "the gradient of every node whose _retains_grad is True",
}


def unbroadcast(fn: Callable, case: Case) -> Any:
    (grad,) = case.copy_arrays()
    return fn(grad, tuple(case.params["shape"]))


def as_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """The memory layout the library itself produces: "T" is a transposed view (what W.T gives nn.Linear)."""
    if layout == "T":
        return np.ascontiguousarray(array.T).T
    return array


def context_from(data: dict, arrays: tuple):
    """A Context filled as the reference forward filled it in the grader's process (attributes as data)."""
    ctx = new_context(data["needs_input_grad"])
    layouts = data.get("layouts") or ["C"] * len(arrays)
    ctx.save_for_backward(*(as_layout(a, layout) for a, layout in zip(arrays, layouts)))
    for name, value in data["attributes"].items():
        setattr(ctx, name, value)
    return ctx


def op_backward(fn: Callable, case: Case) -> Any:
    """``fn(ctx, grad)``: the saved arrays come first in ``case.arrays``, the output gradient last."""
    *saved, grad = case.copy_arrays()
    ctx = context_from(case.params["ctx"], tuple(saved))
    try:
        return fn(ctx, grad)
    except ValueError as error:
        hint = case.params.get("shape_hint")
        if hint == "matmul" and ("mismatch" in str(error) or "shape" in str(error) or "align" in str(error)):
            a, b = saved[0], saved[1]
            if a.ndim == 1 or b.ndim == 1:
                raise Hint("matmul_vector", a=list(a.shape), b=list(b.shape)) from None
            if a.ndim > 2 or b.ndim > 2:
                raise Hint("matmul_batched", a=list(a.shape), b=list(b.shape)) from None
            raise Hint("matmul_shapes", a=list(a.shape), b=list(b.shape), grad=list(grad.shape),
                       dA_shapes=f"is {grad.shape} @ {b.T.shape}", dB_shapes=f"is {a.T.shape} @ {grad.shape}") from None
        if hint == "reduction" and "broadcast" in str(error):
            raise Hint("reduced_axes_missing", grad=list(grad.shape), shape=list(ctx.shape)) from None
        raise


class AutogradMiniNS:
    """What the tensor graphs need, as autograd_mini Tensor methods."""
    tanh = staticmethod(lambda t: t.tanh())
    relu = staticmethod(lambda t: t.relu())
    exp = staticmethod(lambda t: t.exp())
    matmul = staticmethod(lambda a, b: a @ b)
    T = staticmethod(lambda t: t.T)


def _leaf_grads(leaves, grad, count_from: int = 1) -> tuple:
    out = []
    for i, leaf in enumerate(leaves):
        if leaf.grad is None:
            raise Hint("leaf_without_grad", leaf=i + count_from, shape=list(leaf.shape))
        if type(leaf.grad) is not np.ndarray:
            raise Hint("grad_not_array", leaf=i + count_from, type=type(leaf.grad).__name__)
        if np.shares_memory(leaf.grad, grad):
            raise Hint("aliased_caller", leaf=i + count_from)
        for j in range(i):
            if leaves[j].grad is not None and np.shares_memory(leaf.grad, leaves[j].grad):
                raise Hint("aliased_leaves", a=j + count_from, b=i + count_from)
        out.append(leaf.grad.copy())
    return tuple(out)


def _once_per_node(backward: Callable) -> Callable:
    seen = set()

    def counted(ctx, grad):
        if id(ctx) in seen:
            raise Hint("node_visited_twice")
        seen.add(id(ctx))
        return backward(ctx, grad)
    return counted


def engine(fn: Callable, case: Case) -> Any:
    """The engine's whole contract on one graph: leaf gradients, the retained interior gradient, and a
    second backward() that adds to the leaves (retain_graph=True the first time, as in PyTorch)."""
    import autograd_mini
    from autograd_mini.registry import active

    *arrays, grad = case.copy_arrays()
    leaves = [autograd_mini.Tensor(x, requires_grad=True) for x in arrays]
    build, _ = GRAPHS[case.params["graph"]]
    root, interior = build(AutogradMiniNS, *leaves)
    interior.retain_grad()
    counted = {name: _once_per_node(active[name]) for name in case.params["ops"]}
    try:
        with autograd_mini.use({"engine.backward": fn, **counted}):
            root.backward(grad, retain_graph=True)
        first = _leaf_grads(leaves, grad)
        if interior.grad is None:
            raise Hint("retain_grad_ignored")
        retained = interior.grad.copy()
        with autograd_mini.use({"engine.backward": fn}):
            root.backward(grad)
    except RecursionError:
        raise Hint("deep_recursion", nodes=1200) from None
    except TypeError as error:
        if "NoneType" in str(error):
            raise Hint("none_grad_added") from None
        raise
    return first + (retained,) + _leaf_grads(leaves, grad)


CALLS: dict[str, Callable[[Callable, Case], Any]] = {
    "unbroadcast": unbroadcast, "op_backward": op_backward, "engine": engine,
}

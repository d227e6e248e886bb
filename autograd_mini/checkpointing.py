"""Gradient checkpointing: keep a segment's inputs instead of everything its ops save, and run its forward
again inside backward (``torch.utils.checkpoint``, ``tf.recompute_grad``): less memory for more compute."""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import tensor as _tensor
from .function import Context, op
from .registry import active
from .tensor import Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad, recording, versions


class _Leaves:
    """A recorder that collects the leaves needing a gradient that a segment's ops read: its parameters."""

    def __init__(self):
        self.found: dict[int, Tensor] = {}

    def op(self, name, ctx, operands, params, out) -> None:
        for t in operands:
            if t.requires_grad and t._ctx is None:
                self.found.setdefault(id(t), t)

    def backward(self, root, grad) -> None:
        raise RuntimeError("checkpoint: the segment function must not call backward()")

    def call(self, method, args, kwargs) -> None:
        raise RuntimeError("checkpoint: the segment function must not step an optimizer")


@op("checkpoint")
class Checkpoint:
    """One node for a whole segment ``function(*inputs)``: its forward runs the segment without recording a
    graph and saves only the inputs; its backward runs the segment again, with a graph, and backpropagates
    through that. ``ctx.params`` are the leaves the segment reads that need gradients (its weights)."""

    @staticmethod
    def forward(ctx, *inputs, function):
        leaves = _Leaves()
        with no_grad(), recording(leaves):
            out = function(*[Tensor(a) for a in inputs])
        ctx.function, ctx.params = function, tuple(leaves.found.values())
        ctx.save_for_backward(*inputs)
        return out.data

    @staticmethod
    def backward(ctx, grad):
        inputs = ctx.saved_tensors
        ### BEGIN SOLUTION
        # Fresh leaves for the inputs; the parameters' gradients are collected on their own .grad, then restored.
        leaves = [Tensor(a, requires_grad=need) for a, need in zip(inputs, ctx.needs_input_grad)]
        kept = [p.grad for p in ctx.params]
        for p in ctx.params:
            p.grad = None
        try:
            with enable_grad():
                out = ctx.function(*leaves)
            out.backward(grad)
            found = [t.grad for t in leaves] + [p.grad for p in ctx.params]
        finally:
            for p, g in zip(ctx.params, kept):
                p.grad = g
        return tuple(found)
        ### END SOLUTION


def checkpoint(function: Callable, *inputs) -> Tensor:
    """``function(*inputs)`` (which returns one Tensor) as one node that keeps only ``inputs`` for backward;
    backward runs the segment again. Its parameters (leaves needing a gradient that it reads) become the node's
    parents too, so they get their gradients as usual. Without grad mode it is just ``function(*inputs)``."""
    inputs = tuple(as_tensor(x) for x in inputs)
    if not is_grad_enabled():
        return function(*inputs)
    ctx = Context(tuple(t.requires_grad for t in inputs))
    out = Tensor(active["checkpoint.forward"](ctx, *[t._data for t in inputs], function=function))
    parents = inputs + ctx.params
    if any(t.requires_grad for t in parents):
        ctx.needs_input_grad = tuple(t.requires_grad for t in parents)
        out.requires_grad = True
        out._ctx, out._op, out._parents = ctx, "checkpoint", parents
        out._saved_versions = versions(out)
    if _tensor._recorder is not None:  # a trace replays the forward on the inputs only
        _tensor._recorder.op("checkpoint", ctx, inputs, {"function": function}, out)
    return out


def checkpoint_sequential(layers, segments: int, x, lengths: str = "equal") -> Tensor:
    """``layers`` applied in order to ``x``, cut into ``segments`` checkpointed runs, like
    ``torch.utils.checkpoint.checkpoint_sequential``; the last segment is not checkpointed (its backward comes
    first, so its activations are needed at once).

    ``lengths="equal"`` gives the segments the same number of layers, give or take one (PyTorch gives each
    ``len(layers) // segments`` and the rest to the last one). With ``lengths="decreasing"`` the k-th of s segments
    gets a share proportional to s - k + 1: backward runs the segments again from the last to the first, and by the
    time it reaches an early one the later segments' memory is free, so the early segments can be longer. Either way
    every segment but the last runs its forward once more; cut in decreasing lengths, the tape keeps less, both
    after the forward pass and at its peak during backward."""
    if not 1 <= segments <= len(layers):
        raise ValueError(f"checkpoint_sequential: segments must be between 1 and {len(layers)} layers, got {segments}")
    for k, (start, stop) in enumerate(zip(*segment_bounds(len(layers), segments, lengths))):
        run = _run(layers[start:stop])
        x = run(x) if k == segments - 1 else checkpoint(run, x)
    return x


def segment_bounds(layers: int, segments: int, lengths: str = "equal") -> tuple[list[int], list[int]]:
    """(starts, stops) of ``segments`` segments of ``layers`` layers, as ``checkpoint_sequential`` cuts them."""
    if lengths == "equal":
        shares = np.ones(segments)
    elif lengths == "decreasing":
        shares = np.arange(segments, 0, -1.0)
    else:
        raise ValueError(f"checkpoint_sequential: lengths must be 'equal' or 'decreasing', got {lengths!r}")
    bounds = np.concatenate([[0], np.cumsum(shares) / shares.sum() * layers]).round().astype(int)
    # at least one layer each: a rounded bound may not catch up with the one before it
    bounds = [min(max(int(b), k), layers - segments + k) for k, b in enumerate(bounds)]
    for k in range(1, segments + 1):
        bounds[k] = max(bounds[k], bounds[k - 1] + 1)
    return bounds[:-1], bounds[1:]


def _run(layers):
    """A segment of layers run in order, by the active ``nn.sequential.forward`` (lesson 01's exercise)."""
    return lambda x: active["nn.sequential.forward"](layers, x)

"""Reductions over an axis (int, tuple or None for all), with or without keepdims."""
from __future__ import annotations

import numpy as np

from ..function import op


def restore_reduced_axes(grad, shape, axis, keepdims):
    """Put back the reduced axes as size 1 so ``grad`` broadcasts against the input."""
    if keepdims or axis is None and grad.ndim == len(shape):
        return grad
    axes = range(len(shape)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    return np.expand_dims(grad, tuple(axes))


@op("sum")
class Sum:
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        grad = restore_reduced_axes(grad, ctx.shape, ctx.axis, ctx.keepdims)
        return (np.broadcast_to(grad, ctx.shape).copy(),)
        ### END SOLUTION


@op("mean")
class Mean:
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        out = a.mean(axis=axis, keepdims=keepdims)
        ctx.count = a.size // max(np.size(out), 1) if a.size else 0
        return out

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        grad = restore_reduced_axes(grad, ctx.shape, ctx.axis, ctx.keepdims)
        return (np.broadcast_to(grad / ctx.count, ctx.shape).copy(),)
        ### END SOLUTION


@op("max")
class Max:
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        if a.size == 0:
            raise ValueError("max of an empty tensor")
        out = a.max(axis=axis, keepdims=keepdims)
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        ### BEGIN SOLUTION
        # Ties share the gradient equally (what torch.amax and tf.reduce_max do).
        out = restore_reduced_axes(out, a.shape, ctx.axis, ctx.keepdims)
        grad = restore_reduced_axes(grad, a.shape, ctx.axis, ctx.keepdims)
        winners = a == out
        return (winners * grad / winners.sum(axis=ctx.axis, keepdims=True, dtype=grad.dtype),)
        ### END SOLUTION

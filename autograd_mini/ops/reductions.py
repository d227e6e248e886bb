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
        reduced = range(a.ndim) if axis is None else axis if isinstance(axis, tuple) else (axis,)
        if a.size == 0 and any(a.shape[k] == 0 for k in reduced):  # torch.amax's rule: no max of nothing
            raise ValueError(f"max over an axis of length 0 (axis {axis}): there is no largest element")
        out = a.max(axis=axis, keepdims=keepdims)
        ctx.save_for_backward(a, out)
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
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


@op("logsumexp")
class LogSumExp:
    """log(sum(exp(a))) over one axis, as ``torch.logsumexp`` and ``tf.reduce_logsumexp``: the slice's max is
    shifted to 0 before exp, so nothing overflows; a slice of -inf gives -inf, one holding +inf gives +inf."""

    @staticmethod
    def forward(ctx, a, axis=-1):
        ### BEGIN SOLUTION
        peak = a.max(axis=axis, keepdims=True)
        peak = np.where(np.isfinite(peak), peak, 0.0)  # an infinite max would give inf - inf = nan
        with np.errstate(divide="ignore"):  # log(0) = -inf for a slice of -inf
            out = np.squeeze(peak, axis) + np.log(np.exp(a - peak).sum(axis=axis))
        ### END SOLUTION
        ctx.save_for_backward(a, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        # d out / d a = exp(a - out) = softmax(a) along the axis (nan where out is infinite, as in PyTorch and TF)
        with np.errstate(invalid="ignore"):
            return (np.expand_dims(grad, ctx.axis) * np.exp(a - np.expand_dims(out, ctx.axis)),)

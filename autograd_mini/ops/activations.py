"""Nonlinearities and (log-)softmax, written to stay finite for extreme inputs."""
from __future__ import annotations

import numpy as np

from ..function import op


@op("relu")
class ReLU:
    @staticmethod
    def forward(ctx, a):
        ### BEGIN SOLUTION
        out = np.maximum(a, 0)
        ### END SOLUTION
        ctx.save_for_backward(out)  # the output, as PyTorch: the next layer keeps it anyway, the input may go
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        # out > 0 exactly where a > 0. The kink at 0 gets slope 0, as in PyTorch and TensorFlow. Not (out > 0): NaN
        # passes the gradient on, as in PyTorch. The mask in grad's dtype, multiplied in place: numpy multiplies
        # floats by booleans much more slowly.
        mask = (~(out <= 0)).astype(grad.dtype)
        mask *= grad
        return (mask,)
        ### END SOLUTION


@op("sigmoid")
class Sigmoid:
    @staticmethod
    def forward(ctx, a):
        ### BEGIN SOLUTION
        # exp of a non-positive number never overflows: use e = exp(-|a|) on both sides of 0.
        e = np.exp(-np.abs(a))
        out = np.where(a >= 0, 1 / (1 + e), e / (1 + e))
        ### END SOLUTION
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        return (grad * out * (1 - out),)
        ### END SOLUTION


@op("tanh")
class Tanh:
    @staticmethod
    def forward(ctx, a):
        ### BEGIN SOLUTION
        out = np.tanh(a)
        ### END SOLUTION
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        return (grad * (1 - out * out),)
        ### END SOLUTION


@op("softmax")
class Softmax:
    @staticmethod
    def forward(ctx, a, axis=-1):
        ### BEGIN SOLUTION
        shifted = np.exp(a - a.max(axis=axis, keepdims=True))  # largest exponent is 0: no overflow
        out = shifted / shifted.sum(axis=axis, keepdims=True)
        ### END SOLUTION
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        return (out * (grad - (grad * out).sum(axis=ctx.axis, keepdims=True)),)
        ### END SOLUTION


@op("log_softmax")
class LogSoftmax:
    @staticmethod
    def forward(ctx, a, axis=-1):
        ### BEGIN SOLUTION
        shifted = a - a.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ### END SOLUTION
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        return (grad - np.exp(out) * grad.sum(axis=ctx.axis, keepdims=True),)
        ### END SOLUTION


@op("gelu")
class GELU:
    """a * Phi(a), Phi the standard normal CDF: PyTorch's F.gelu (approximate="none") and tf.nn.gelu(approximate=False)."""

    @staticmethod
    def forward(ctx, a):
        ### BEGIN SOLUTION
        from scipy.special import erf  # numpy has no erf; scipy comes with scikit-learn

        cdf = 0.5 * (1.0 + erf(a / np.sqrt(2.0)))
        out = a * cdf
        ### END SOLUTION
        ctx.save_for_backward(a, cdf)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, cdf = ctx.saved_tensors
        ### BEGIN SOLUTION
        # product rule: d/da [a Phi(a)] = Phi(a) + a phi(a), phi the standard normal density
        return (grad * (cdf + a * np.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi)),)
        ### END SOLUTION

"""Arithmetic and elementwise math. Binary ops broadcast, so their backward reduces with ``reduce_to``."""
from __future__ import annotations

import numpy as np

from ..broadcasting import reduce_to
from ..function import op


@op("add")
class Add:
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        ### BEGIN SOLUTION
        return reduce_to(grad, a_shape), reduce_to(grad, b_shape)
        ### END SOLUTION


@op("sub")
class Sub:
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        ### BEGIN SOLUTION
        return reduce_to(grad, a_shape), reduce_to(-grad, b_shape)
        ### END SOLUTION


@op("mul")
class Mul:
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ### BEGIN SOLUTION
        grad_a = reduce_to(grad * b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = reduce_to(grad * a, b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b
        ### END SOLUTION


@op("div")
class Div:
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ### BEGIN SOLUTION
        grad_a = reduce_to(grad / b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = reduce_to(-grad * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b
        ### END SOLUTION


@op("pow")
class Pow:
    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        ### BEGIN SOLUTION
        grad_a = reduce_to(grad * b * a ** (b - 1), a.shape) if ctx.needs_input_grad[0] else None
        grad_b = None
        if ctx.needs_input_grad[1]:
            # d(a**b)/db = a**b * log(a); PyTorch and TensorFlow both define it as 0 where a == 0.
            with np.errstate(divide="ignore", invalid="ignore"):
                local = np.where(a == 0, 0.0, out * np.log(np.where(a == 0, 1.0, a)))
            grad_b = reduce_to(grad * local, b.shape)
        return grad_a, grad_b
        ### END SOLUTION


@op("neg")
class Neg:
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        return (-grad,)
        ### END SOLUTION


@op("exp")
class Exp:
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        return (grad * out,)
        ### END SOLUTION


@op("log")
class Log:
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        return (grad / a,)
        ### END SOLUTION


@op("sqrt")
class Sqrt:
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        return (grad / (2 * out),)
        ### END SOLUTION


@op("abs")
class Abs:
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        ### BEGIN SOLUTION
        # 0 at a == 0, as in PyTorch and TensorFlow; PyTorch's sign(NaN) is 0 too (numpy's is NaN).
        return (grad * np.nan_to_num(np.sign(a), nan=0.0),)
        ### END SOLUTION

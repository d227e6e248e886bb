"""Matrix multiplication with numpy's rules: 1-D operands and broadcast batch dimensions."""
from __future__ import annotations

import numpy as np

from ..broadcasting import reduce_to
from ..function import op


@op("matmul")
class MatMul:
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs at least 1-D operands; use * to multiply by a scalar")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"inner dimensions must match: {a.shape} @ {b.shape}")
        if a.dtype is not b.dtype and a.dtype != b.dtype:  # PyTorch's rule: matmul never converts its operands
            raise TypeError(
                f"matmul: both operands must have the same dtype, got {a.dtype} {a.shape} @ {b.dtype} {b.shape}; "
                f"convert one, e.g. with .astype(np.{b.dtype}) on the numpy array you build the tensor from"
            )
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ### BEGIN SOLUTION
        # Treat vectors as matrices (a row on the left, a column on the right), as the forward did.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:  # (..., n, m) @ (..., m, k)^T -> (..., n, k)
            grad_a = reduce_to(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1] and a.ndim == b.ndim == 2 and b.flags.f_contiguous and not b.flags.c_contiguous:
            # b is a transposed view (W.T in a linear layer): build its gradient in the same column-major
            # layout, as (g^T a)^T, so that neither the engine nor the optimizer copies it across memory.
            grad_b = (g2.T @ a2).T
        elif ctx.needs_input_grad[1]:
            grad_b = reduce_to(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return grad_a, grad_b
        ### END SOLUTION

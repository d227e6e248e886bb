"""Ops that move elements around without arithmetic: reshape, transpose, indexing."""
from __future__ import annotations

import numpy as np

from ..function import op


@op("reshape")
class Reshape:
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        return (grad.reshape(ctx.shape),)
        ### END SOLUTION


@op("transpose")
class Transpose:
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        return (np.transpose(grad, np.argsort(ctx.axes)),)
        ### END SOLUTION


def is_basic_index(index) -> bool:
    """Basic indexing (ints, slices, None, ...) never selects an element twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


@op("getitem")
class GetItem:
    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        if is_basic_index(ctx.index):
            full[ctx.index] = grad
        else:
            np.add.at(full, ctx.index, grad)  # an element picked twice receives both gradients
        return (full,)
        ### END SOLUTION

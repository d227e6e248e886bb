"""The one helper every broadcasting op's backward needs: sum a gradient back to its input's shape."""
from __future__ import annotations

import numpy as np

from .registry import active, reference


@reference("unbroadcast")
def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the dimensions that broadcasting added or stretched, giving ``shape``.

    Example: ``x`` of shape (3,) added to ``y`` of shape (2, 3) received a (2, 3) gradient; x's
    gradient is its sum over axis 0, because each x[j] was used twice.
    """
    if grad.shape == shape:
        return grad
    ### BEGIN SOLUTION
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra else grad
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad
    ### END SOLUTION


def reduce_to(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """What ops call: the active ``unbroadcast`` (the student's, inside a lesson's ``use``)."""
    return active["unbroadcast"](grad, shape)

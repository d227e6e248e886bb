"""Derivatives by finite differences: the slow, approximate, dependable oracle for gradients.

``forward_difference`` and ``central_difference`` are the two textbook formulas for one number;
``numerical_gradient`` applies the central one to every entry of an array (lesson 02's first exercise).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .registry import reference


def default_step(dtype) -> float:
    """A step for central differences suited to ``dtype``: eps ** (1/3) (6e-6 in float64, 5e-3 in float32).

    It balances the formula's truncation error (~h**2) against rounding error (~eps / h).
    """
    return float(np.finfo(np.dtype(dtype)).eps ** (1 / 3))


def forward_difference(f: Callable[[float], float], x: float, h: float) -> float:
    """(f(x + h) - f(x)) / h: error ~ h * f''(x) / 2."""
    return (f(x + h) - f(x)) / h


def central_difference(f: Callable[[float], float], x: float, h: float) -> float:
    """(f(x + h) - f(x - h)) / (2 h): the even terms of the Taylor series cancel, error ~ h**2 * f'''(x) / 6."""
    return (f(x + h) - f(x - h)) / (2 * h)


@reference("numerical.gradient")
def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float | None = None) -> np.ndarray:
    """Central-difference estimate of the gradient of the scalar function ``f`` at the array ``x``.

    Nudges one entry at a time by ``+h`` and ``-h``; computes in ``x``'s dtype; leaves ``x`` as it was.
    ``h=None`` picks ``default_step(x.dtype)``.
    """
    if h is None:
        h = default_step(x.dtype)
    ### BEGIN SOLUTION
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        f_plus = f(x)
        x[i] = original - h
        f_minus = f(x)
        x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    ### END SOLUTION
    return grad

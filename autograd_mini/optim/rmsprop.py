"""RMSProp: divide by a running root-mean-square of recent gradients (PyTorch's variant)."""
from __future__ import annotations

import numpy as np

from ..registry import reference
from .optimizer import Optimizer


class RMSprop(Optimizer):
    rule = "optim.rmsprop"

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered))


@reference("optim.rmsprop")
def rmsprop_update(param, grad, state, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    ### BEGIN SOLUTION
    if not state:
        state["square_avg"] = np.zeros_like(param)
        state["grad_avg"] = np.zeros_like(param)
        state["momentum_buffer"] = np.zeros_like(param)
    if weight_decay:
        grad = grad + weight_decay * param
    square_avg = state["square_avg"]
    square_avg *= alpha
    square_avg += (1 - alpha) * grad * grad
    if centered:
        state["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * grad
        avg = np.sqrt(square_avg - state["grad_avg"] ** 2) + eps  # eps outside the root, as in PyTorch
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + grad / avg
        param -= lr * state["momentum_buffer"]
    else:
        param -= lr * grad / avg
    ### END SOLUTION

"""AdaGrad: each coordinate's step shrinks with the sum of its squared gradients."""
from __future__ import annotations

import numpy as np

from ..registry import reference
from .optimizer import Optimizer


class Adagrad(Optimizer):
    rule = "optim.adagrad"

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, initial_accumulator_value=initial_accumulator_value, eps=eps))


@reference("optim.adagrad")
def adagrad_update(param, grad, state, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    ### BEGIN SOLUTION
    if not state:
        state["step"] = 0
        state["sum"] = np.full_like(param, initial_accumulator_value)
    state["step"] += 1
    if weight_decay:
        grad = grad + weight_decay * param
    step_lr = lr / (1 + (state["step"] - 1) * lr_decay)
    state["sum"] += grad * grad
    param -= step_lr * grad / (np.sqrt(state["sum"]) + eps)
    ### END SOLUTION

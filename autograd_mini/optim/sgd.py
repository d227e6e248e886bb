"""Stochastic gradient descent, with momentum and Nesterov momentum as PyTorch defines them."""
from __future__ import annotations

from ..registry import reference
from .optimizer import Optimizer


class SGD(Optimizer):
    rule = "optim.sgd"

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay))


@reference("optim.sgd")
def sgd_update(param, grad, state, *, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    ### BEGIN SOLUTION
    if weight_decay:
        grad = grad + weight_decay * param
    if momentum:
        # PyTorch's form: the buffer sums gradients (v = m v + (1 - dampening) g), lr applies on use.
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = grad.copy()
        else:
            state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - dampening) * grad
        grad = grad + momentum * state["momentum_buffer"] if nesterov else state["momentum_buffer"]
    param -= lr * grad
    ### END SOLUTION

"""Adam (momentum + RMSProp + bias correction) and AdamW (decoupled weight decay)."""
from __future__ import annotations

import numpy as np

from ..registry import active, reference
from .optimizer import Optimizer


class Adam(Optimizer):
    rule = "optim.adam"

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))


class AdamW(Adam):
    rule = "optim.adamw"

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


@reference("optim.adam")
def adam_update(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    ### BEGIN SOLUTION
    beta1, beta2 = betas
    if not state:
        state["step"] = 0
        state["exp_avg"] = np.zeros_like(param)
        state["exp_avg_sq"] = np.zeros_like(param)
        state["max_exp_avg_sq"] = np.zeros_like(param)
    state["step"] += 1
    if weight_decay:  # L2 penalty folded into the gradient (AdamW decouples it instead)
        grad = grad + weight_decay * param
    state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
    state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad * grad
    second = state["exp_avg_sq"]
    if amsgrad:
        state["max_exp_avg_sq"] = second = np.maximum(state["max_exp_avg_sq"], second)
    bias_correction1 = 1 - beta1 ** state["step"]
    bias_correction2 = 1 - beta2 ** state["step"]
    # eps is added to the bias-corrected root, as in PyTorch (Keras adds it before correcting).
    denom = np.sqrt(second) / np.sqrt(bias_correction2) + eps
    param -= (lr / bias_correction1) * state["exp_avg"] / denom
    ### END SOLUTION


@reference("optim.adamw")
def adamw_update(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
    ### BEGIN SOLUTION
    param *= 1 - lr * weight_decay  # decoupled: shrink the weights, outside the adaptive scaling
    active["optim.adam"](param, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=0.0, amsgrad=amsgrad)
    ### END SOLUTION

"""Gradient tools (lesson 07), named like ``torch.nn.utils``: clipping by global norm, and dead ReLUs counted.

``clip_grad_norm_(parameters, max_norm)`` is the public, PyTorch-named call (an optimizer step usually follows
it); it runs whichever ``nn.utils.clip_grad_norm`` the registry holds, so a lesson can plug its own in.
"""
from __future__ import annotations

import math

import numpy as np

from ..registry import active, reference


@reference("nn.utils.clip_grad_norm")
def clip_grad_norm(parameters, max_norm: float, eps: float = 1e-6) -> float:
    """Scale every parameter's ``.grad`` in place by min(1, max_norm / (total_norm + eps)), where total_norm is the
    L2 norm of all the gradients together (parameters without a .grad are skipped); return total_norm, measured
    before clipping. PyTorch's rule and eps; TensorFlow's ``tf.clip_by_global_norm`` has no eps."""
    ### BEGIN SOLUTION
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    scale = min(1.0, max_norm / (total_norm + eps))
    for g in grads:
        g *= scale  # in place: whoever holds the gradient array sees the clipped values
    return total_norm
    ### END SOLUTION


@reference("nn.utils.count_dead_relus")
def count_dead_relus(pre_activations: np.ndarray) -> int:
    """The number of units (columns of an (N, units) batch of pre-activations z) whose ReLU is off for every
    example: z <= 0 in every row. ReLU's derivative is 0 there (at exactly 0 too, in PyTorch and TensorFlow), so
    no gradient reaches such a unit's weights on this batch."""
    ### BEGIN SOLUTION
    return int(np.all(pre_activations <= 0, axis=0).sum())
    ### END SOLUTION


def clip_grad_norm_(parameters, max_norm: float, eps: float = 1e-6) -> float:
    """PyTorch's name for :func:`clip_grad_norm` (it changes the gradients in place)."""
    return active["nn.utils.clip_grad_norm"](list(parameters), max_norm, eps=eps)

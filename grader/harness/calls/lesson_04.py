"""Lesson 04 (losses): losses built from Tensor ops, and the loss ops' forwards."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..case import Case
from ..outcome import Hint
from .shared import op_forward_explained

HINTS = {
    "loss_not_tensor": "your loss returned a {type}, not an autograd_mini Tensor: build it from Tensor operations "
                       "(input - target, ** 2, .abs(), .mean(), .sum()) so that backward() can differentiate it; a "
                       "numpy result (np.mean, .data) has no graph",
    "loss_no_graph": "backward() through your loss gave the input no gradient: the result is not connected to "
                     "`input` (an op on .data or a numpy function cut the graph). Use Tensor operations throughout",
    "loss_shape": "your loss with reduction={reduction!r} has shape {got}, expected {expected}: 'mean' and 'sum' "
                  "give one number (shape ()), 'none' one loss per element (the input's shape)",
    "overflow_logsumexp": "exp overflowed: exp(1000) is inf. Shift by the slice's max m first: logsumexp(a) = m + "
                          "log(sum(exp(a - m))), so the largest exponent is 0",
    "invalid_logsumexp": "inf - inf happened: a slice's max is -inf (every entry -inf) or +inf. Shift by the max "
                         "only where it is finite (np.where(np.isfinite(m), m, 0)), as torch.logsumexp does",
    "overflow_log_softmax": "exp overflowed: exp(1000) is inf. log_softmax(a) = a - logsumexp(a); compute it with "
                            "the max subtracted first, never as log(softmax(a))",
    "overflow_cross_entropy": "exp overflowed: exp(1000) is inf. Compute log-probabilities as shifted - "
                              "log(sum(exp(shifted))) with shifted = logits - their row's max",
    "overflow_binary_cross_entropy_with_logits": "exp overflowed: exp(-x) is inf for x < -709. Write the loss as "
                                                 "max(x, 0) - x t + log(1 + exp(-|x|)): exp of a non-positive "
                                                 "number never overflows",
    "loss_nan_gradient": "backward() through your loss gave nan in the gradient, at inputs where input == target: a "
                         "formula like sqrt(e**2) has the derivative 0/0 at e = 0. Use .abs(), whose gradient at the "
                         "kink is 0, as in PyTorch and TensorFlow",
}


def loss_tensor(fn: Callable, case: Case) -> Any:
    """``fn(input, target, reduction[, delta])`` on Tensors; then backward() with the case's output gradient.
    Returns (the loss, input.grad)."""
    import autograd_mini

    x, target, upstream = case.copy_arrays()
    params = case.params
    input = autograd_mini.Tensor(x, requires_grad=True)
    extra = (params["delta"],) if "delta" in params else ()
    out = fn(input, autograd_mini.Tensor(target), params["reduction"], *extra)
    if not isinstance(out, autograd_mini.Tensor):
        raise Hint("loss_not_tensor", type=type(out).__name__)
    expected = x.shape if params["reduction"] == "none" else ()
    if out.shape != expected:
        raise Hint("loss_shape", reduction=params["reduction"], got=list(out.shape), expected=list(expected))
    if not out.requires_grad:
        raise Hint("loss_no_graph")
    out.backward(upstream)
    if input.grad is None:
        raise Hint("loss_no_graph")
    if np.isnan(input.grad[x == target]).any():
        raise Hint("loss_nan_gradient")
    return out.data.copy(), input.grad.copy()


CALLS: dict[str, Callable[[Callable, Case], Any]] = {
    "loss_tensor": loss_tensor,
    **{f"op_forward_{op}": op_forward_explained(op, HINTS) for op in
       ("logsumexp", "log_softmax", "cross_entropy", "binary_cross_entropy_with_logits")},
}

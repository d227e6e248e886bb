"""Lesson 01 (forward pass): activations' forwards, the linear layer, a stack of layers."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..case import Case
from ..outcome import Hint
from .shared import op_forward_explained

HINTS = {
    "bias_none": "a layer may have no bias (bias=None): then return x @ weight.T alone",
    "layer_input": "layer {layer} received an input that is not layer {previous}'s output: feed each layer the "
                   "previous layer's output, in order (x = layer(x))",
    "overflow_relu": "a floating-point overflow: ReLU needs no exp, just np.maximum(a, 0)",
    "overflow_sigmoid": "exp overflowed: exp(-a) is inf for a < -709 (and np.where computes both of its branches "
                        "everywhere). Compute e = np.exp(-np.abs(a)), which never overflows: 1/(1+e) where a >= 0, "
                        "e/(1+e) elsewhere",
    "overflow_tanh": "exp overflowed: a formula with exp(a) and exp(-a) overflows for |a| > 709; use np.tanh(a)",
    "overflow_softmax": "exp overflowed: exp(1000) is inf. Softmax does not change when a constant is subtracted "
                        "from a slice, so subtract each slice's max first: a - a.max(axis=axis, keepdims=True)",
    "invalid_softmax": "0/0: every exp in a slice underflowed to 0. Subtract each slice's own max "
                       "(a.max(axis=axis, keepdims=True)), not the max of the whole array",
    "linear_weight": "x {x} and weight {weight} do not multiply: weight is stored (out_features, in_features) as "
                     "in PyTorch, so the layer is x @ weight.T, of shape (..., out_features)",
    "linear_bias": "the bias {bias} does not broadcast against x @ weight.T: it is one number per output feature, "
                   "added to every row; `out + bias` already broadcasts along the last axis (no reshape, no [:, None])",
}


def linear(fn: Callable, case: Case) -> Any:
    arrays = case.copy_arrays()
    try:
        return fn(*arrays) if len(arrays) == 3 else fn(*arrays, None)
    except TypeError as error:
        if "NoneType" in str(error):
            raise Hint("bias_none") from None
        raise


def linear_explained(fn: Callable, case: Case) -> Any:
    """``linear``, with the two shape errors of a linear layer explained."""
    try:
        return linear(fn, case)
    except ValueError as error:
        x, weight, *bias = case.arrays
        if "broadcast" in str(error) and bias:
            raise Hint("linear_bias", bias=list(bias[0].shape)) from None
        if "matmul" in str(error) or "align" in str(error):
            raise Hint("linear_weight", x=list(x.shape), weight=list(weight.shape)) from None
        raise


class _RecordedLayer:
    """A layer that knows the one input it will be given and the output the grader computed for it."""

    def __init__(self, position: int, name: str, expected_input: np.ndarray, output: np.ndarray):
        self.position, self.name, self._input, self._output = position, name, expected_input, output

    def __call__(self, x):
        x = np.asarray(getattr(x, "data", x) if not isinstance(x, np.ndarray) else x)
        if x.shape != self._input.shape or not np.array_equal(x, self._input):
            raise Hint("layer_input", layer=self.position, previous=self.position - 1)
        return self._output.copy()

    def __repr__(self) -> str:
        return self.name


def sequential(fn: Callable, case: Case) -> Any:
    """The layers are recorded: layer i returns the output the grader computed, for the input it expects."""
    activations = case.copy_arrays()  # x, then each layer's output
    layers = [_RecordedLayer(i + 1, name, activations[i], activations[i + 1])
              for i, name in enumerate(case.params["layers"])]
    out = fn(layers, activations[0])
    return getattr(out, "data", out) if not isinstance(out, np.ndarray) else out


CALLS: dict[str, Callable[[Callable, Case], Any]] = {
    "linear": linear, "linear_explained": linear_explained, "sequential": sequential,
    **{f"op_forward_{op}": op_forward_explained(op, HINTS) for op in ("relu", "sigmoid", "tanh", "softmax")},
}

"""Weight initialisers (Xavier/Glorot and He/Kaiming), named and scaled like ``torch.nn.init``.

They fill ``tensor.data`` in place and return the tensor; ``rng`` is a numpy Generator for
reproducibility. Fans are computed for a (fan_out, fan_in) weight, as PyTorch's Linear stores it.
"""
from __future__ import annotations

import math

import numpy as np

_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2.0)}


def calculate_gain(nonlinearity: str) -> float:
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose one of {sorted(_GAINS)}")
    return _GAINS[nonlinearity]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor, values: np.ndarray):
    tensor.data[...] = values.astype(tensor.data.dtype)
    tensor._bump_version()  # an in-place change, as torch.nn.init's are
    return tensor


def xavier_uniform_(tensor, gain: float = 1.0, rng=None):
    fan_in, fan_out = _fans(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(tensor, np.random.default_rng(rng).uniform(-bound, bound, tensor.shape))


def xavier_normal_(tensor, gain: float = 1.0, rng=None):
    fan_in, fan_out = _fans(tensor.shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(tensor, np.random.default_rng(rng).normal(0.0, std, tensor.shape))


def kaiming_uniform_(tensor, nonlinearity: str = "relu", rng=None):
    fan_in, _ = _fans(tensor.shape)
    bound = calculate_gain(nonlinearity) * math.sqrt(3.0 / fan_in)
    return _fill(tensor, np.random.default_rng(rng).uniform(-bound, bound, tensor.shape))


def kaiming_normal_(tensor, nonlinearity: str = "relu", rng=None):
    fan_in, _ = _fans(tensor.shape)
    std = calculate_gain(nonlinearity) / math.sqrt(fan_in)
    return _fill(tensor, np.random.default_rng(rng).normal(0.0, std, tensor.shape))

"""Weight initialisers (Xavier/Glorot and He/Kaiming), named and scaled like ``torch.nn.init``.

The pieces a lesson writes (lesson 07) are registered by name and return a numpy array for a weight of a
given shape: ``xavier_uniform(shape, gain, rng)`` and friends. The public in-place versions with PyTorch's
names, ``xavier_uniform_(tensor, gain, rng)`` ..., look them up in the registry, fill ``tensor.data`` and
return the tensor. Shapes follow PyTorch's layout, (out_features, in_features, *kernel): a unit of the
layer sums over ``fan_in = in_features * kernel size`` inputs and sends its gradient back to
``fan_out = out_features * kernel size`` units. ``rng`` is a numpy Generator (or a seed) for reproducibility.
"""
from __future__ import annotations

import math

import numpy as np

from ..registry import active, reference

_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2.0)}


def calculate_gain(nonlinearity: str) -> float:
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose one of {sorted(_GAINS)}")
    return _GAINS[nonlinearity]


@reference("nn.init.xavier_uniform")
def xavier_uniform(shape: tuple, gain: float = 1.0, rng=None) -> np.ndarray:
    """Uniform in +-bound with bound = gain * sqrt(6 / (fan_in + fan_out)): variance gain**2 * 2 / (fan_in + fan_out)."""
    ### BEGIN SOLUTION
    fan_in, fan_out = math.prod(shape[1:]), shape[0] * math.prod(shape[2:])
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))  # a uniform(-b, b) has variance b**2 / 3
    return np.random.default_rng(rng).uniform(-bound, bound, shape)
    ### END SOLUTION


@reference("nn.init.xavier_normal")
def xavier_normal(shape: tuple, gain: float = 1.0, rng=None) -> np.ndarray:
    """Normal with mean 0 and std = gain * sqrt(2 / (fan_in + fan_out))."""
    ### BEGIN SOLUTION
    fan_in, fan_out = math.prod(shape[1:]), shape[0] * math.prod(shape[2:])
    return np.random.default_rng(rng).normal(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), shape)
    ### END SOLUTION


@reference("nn.init.kaiming_uniform")
def kaiming_uniform(shape: tuple, nonlinearity: str = "relu", rng=None) -> np.ndarray:
    """Uniform in +-bound with bound = gain * sqrt(3 / fan_in): variance gain**2 / fan_in."""
    ### BEGIN SOLUTION
    bound = calculate_gain(nonlinearity) * math.sqrt(3.0 / math.prod(shape[1:]))
    return np.random.default_rng(rng).uniform(-bound, bound, shape)
    ### END SOLUTION


@reference("nn.init.kaiming_normal")
def kaiming_normal(shape: tuple, nonlinearity: str = "relu", rng=None) -> np.ndarray:
    """Normal with mean 0 and std = gain / sqrt(fan_in) (PyTorch's kaiming_normal_, mode="fan_in")."""
    ### BEGIN SOLUTION
    fan_in = math.prod(shape[1:])  # weight (out_features, in_features, *kernel): each output sums over the rest
    std = calculate_gain(nonlinearity) / math.sqrt(fan_in)
    return np.random.default_rng(rng).normal(0.0, std, shape)
    ### END SOLUTION


def _weight_shape(tensor) -> tuple:
    if len(tensor.shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}")
    return tuple(tensor.shape)


def _fill(tensor, values: np.ndarray):
    tensor.data[...] = values.astype(tensor.data.dtype)
    tensor._bump_version()  # an in-place change, as torch.nn.init's are
    return tensor


def xavier_uniform_(tensor, gain: float = 1.0, rng=None):
    return _fill(tensor, active["nn.init.xavier_uniform"](_weight_shape(tensor), gain=gain, rng=rng))


def xavier_normal_(tensor, gain: float = 1.0, rng=None):
    return _fill(tensor, active["nn.init.xavier_normal"](_weight_shape(tensor), gain=gain, rng=rng))


def kaiming_uniform_(tensor, nonlinearity: str = "relu", rng=None):
    return _fill(tensor, active["nn.init.kaiming_uniform"](_weight_shape(tensor), nonlinearity=nonlinearity, rng=rng))


def kaiming_normal_(tensor, nonlinearity: str = "relu", rng=None):
    return _fill(tensor, active["nn.init.kaiming_normal"](_weight_shape(tensor), nonlinearity=nonlinearity, rng=rng))

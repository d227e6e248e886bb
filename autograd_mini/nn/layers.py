"""The layers of a multilayer perceptron."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from . import init
from .module import Module, Sequential


class Linear(Module):
    """``y = x @ weight.T + bias``; weight is (out_features, in_features) as in PyTorch.

    Initialised like ``torch.nn.Linear``: uniform in +-1/sqrt(in_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rng=None, dtype=np.float64):
        rng = np.random.default_rng() if rng is None else rng
        bound = 1 / np.sqrt(in_features)
        self.weight = Tensor(rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype), requires_grad=True)
        self.bias = Tensor(rng.uniform(-bound, bound, out_features).astype(dtype), requires_grad=True) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def __repr__(self) -> str:
        out_features, in_features = self.weight.shape
        return f"Linear(in_features={in_features}, out_features={out_features}, bias={self.bias is not None})"


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class GELU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x)


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
# The initialiser that keeps activations' variance steady through each kind of layer.
_INITS = {"relu": init.kaiming_uniform_, "tanh": init.xavier_uniform_, "sigmoid": init.xavier_uniform_}


def MLP(sizes: list[int], activation: str = "relu", *, init_weights: str = "default", rng=None, dtype=np.float64) -> Sequential:
    """Linear layers of the given sizes with ``activation`` between them (none after the last).

    ``init_weights="default"`` keeps PyTorch's Linear initialisation; ``"auto"`` uses He for ReLU
    and Xavier for tanh/sigmoid.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}")
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
    rng = np.random.default_rng() if rng is None else rng
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        linear = Linear(n_in, n_out, rng=rng, dtype=dtype)
        if init_weights == "auto":
            _INITS[activation](linear.weight, rng=rng)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(_ACTIVATIONS[activation]())
    return Sequential(*layers)

"""Layers and containers, named like ``torch.nn``."""
from . import init, utils
from .layers import GELU, MLP, Linear, ReLU, Sigmoid, Tanh
from .module import Module, Sequential

__all__ = ["Module", "Sequential", "Linear", "ReLU", "Tanh", "Sigmoid", "GELU", "MLP", "init", "utils"]

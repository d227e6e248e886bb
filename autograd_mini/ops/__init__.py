"""Every differentiable op: forward and backward side by side, registered under the op's name.

Importing this package registers them all (``autograd_mini`` does so on import).
"""
from . import activations, elementwise, fused, linalg, reductions, shape  # noqa: F401  (registration)

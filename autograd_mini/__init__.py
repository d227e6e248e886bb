"""autograd_mini: a small reverse-mode autodiff library on numpy, with PyTorch's names.

Every piece a lesson teaches is a named implementation in ``registry``; ``use`` swaps the
student's version in for a block of code.
"""
from . import ops  # noqa: F401  (registers every op)
from . import functional, losses, memory, nn, numerical, optim, registry, value
from .checkpointing import checkpoint, checkpoint_sequential
from .engine import topological_order
from .gradcheck import gradcheck
from .numerical import numerical_gradient
from .registry import use
from .tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor
from .tracing import trace

__all__ = [
    "Tensor", "tensor", "no_grad", "is_grad_enabled", "use", "registry", "functional",
    "losses", "nn", "optim", "value", "numerical", "gradcheck", "numerical_gradient", "topological_order",
    "enable_grad", "memory", "checkpoint", "checkpoint_sequential", "trace",
]

"""Check the engine's gradients against central finite differences."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .numerical import numerical_gradient
from .tensor import Tensor


@dataclass
class GradcheckResult:
    passed: bool
    max_rel_error: float
    worst_input: int | None  # which input holds the worst element
    worst_index: tuple | None  # and where in it
    analytic: list[np.ndarray]
    numerical: list[np.ndarray]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        where = "" if self.worst_input is None else f" at input {self.worst_input}, element {self.worst_index}"
        return f"gradcheck {verdict}: largest relative error {self.max_rel_error:.2e}{where}"


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> GradcheckResult:
    """Compare the engine's gradient of ``fn(*inputs)`` with central differences, in float64.

    A non-scalar output is projected on a fixed random direction ``w`` (the check is then of the
    vector-Jacobian product ``w^T J``, which catches a wrong Jacobian with probability 1).
    An element passes when ``|analytic - numerical| <= atol + rtol * |numerical|``.
    """
    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    output = fn(*[Tensor(a) for a in arrays])
    direction = np.random.default_rng(seed).standard_normal(output.shape)

    def scalar(*values) -> float:
        return float(np.sum(fn(*[Tensor(v) for v in values]).data * direction))

    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    fn(*tensors).backward(direction)
    analytic = [t.grad if t.grad is not None else np.zeros_like(t.data) for t in tensors]
    numerical = []
    for i, a in enumerate(arrays):
        others = arrays[:i], arrays[i + 1 :]
        numerical.append(numerical_gradient(lambda x: scalar(*others[0], x, *others[1]), a.copy(), eps))

    passed, worst = True, (0.0, None, None)
    for i, (an, nu) in enumerate(zip(analytic, numerical)):
        error = np.abs(an - nu)
        passed &= bool(np.all(error <= atol + rtol * np.abs(nu)))
        relative = error / np.maximum(np.abs(nu), atol)
        if relative.size and relative.max() >= worst[0]:
            worst = (float(relative.max()), i, tuple(int(k) for k in np.unravel_index(int(relative.argmax()), relative.shape)))
    return GradcheckResult(passed, worst[0], worst[1], worst[2], analytic, numerical)

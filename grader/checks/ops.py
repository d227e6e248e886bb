"""Ready-made checks for ops: forward results and backward rules (vector-Jacobian products).

``check_backward(student_backward, op="mul")`` builds a context by running autograd_mini's reference
forward, calls ``student_backward(ctx, grad)`` and compares each returned gradient with
``torch.autograd`` and ``tf.GradientTape`` on seeded float64 inputs of several shapes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import frameworks as fw
from .core import Case, Check, Oracle
from .diagnose import Mistake
from .result import CheckResult


@dataclass
class OpSpec:
    shapes: list  # one entry per case: (list of input shapes, params)
    torch: Callable  # (torch, *tensors, **params) -> tensor
    tf: Callable  # (tf, *tensors, **params) -> tensor
    numpy: Callable  # (*arrays, **params) -> array (forward result, numpy only)
    domain: str = "real"  # "positive" for log/sqrt/pow bases, "nonzero" for divisors
    mistakes: list = field(default_factory=list)  # backward mistakes: Mistake(key, message, wrong(case))


def _all_axes(x, axis):
    return tuple(range(len(x.shape))) if axis is None else axis


def _torch_reduce(name):
    def run(torch, a, axis=None, keepdims=False):
        dims = _all_axes(a, axis)
        if name == "max":
            return torch.amax(a, dim=dims, keepdim=keepdims)
        return getattr(torch, name)(a, dim=dims, keepdim=keepdims)
    return run


def _tf_reduce(name):
    def run(tf, a, axis=None, keepdims=False):
        return {"sum": tf.reduce_sum, "mean": tf.reduce_mean, "max": tf.reduce_max}[name](a, axis=axis, keepdims=keepdims)
    return run


def _np_softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(a, axis=-1):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _tf_getitem(tf, a, index):
    if isinstance(index, np.ndarray):
        return tf.gather(a, index, axis=0)
    return a[index]


def _bwd_args(case):
    """Split a backward case into (inputs, upstream grad)."""
    return case.arrays[:-1], case.arrays[-1]


def _softmax_diag_only(case):
    (a,), g = _bwd_args(case)
    s = _np_softmax(a, **case.params)
    return (g * s * (1 - s),)


def _getitem_assign(case):
    (a,), g = _bwd_args(case)
    full = np.zeros_like(a)
    full[case.params["index"]] = g
    return (full,)


def _mul_own_input(case):
    (a, b), g = _bwd_args(case)
    return (np.broadcast_to(g * a, np.broadcast_shapes(a.shape, b.shape)).copy() if a.shape == b.shape else g * a,
            g * b)


def _matmul_no_transpose(case):
    (a, b), g = _bwd_args(case)
    return g @ b, a @ g


def _div_b_sign(case):
    (a, b), g = _bwd_args(case)
    return g / b, g * a / b ** 2


BINARY = [([(3,), (3,)], {}), ([(2, 3), (3,)], {}), ([(4, 1, 3), (2, 3)], {}), ([(2, 3), (2, 1)], {})]
UNARY = [([(5,)], {}), ([(2, 3)], {}), ([(3, 1, 4)], {})]

OPS: dict[str, OpSpec] = {
    "add": OpSpec(BINARY, lambda t, a, b: a + b, lambda tf, a, b: a + b, lambda a, b: a + b),
    "sub": OpSpec(BINARY, lambda t, a, b: a - b, lambda tf, a, b: a - b, lambda a, b: a - b),
    "mul": OpSpec(BINARY, lambda t, a, b: a * b, lambda tf, a, b: a * b, lambda a, b: a * b, mistakes=[
        Mistake("wrong_factor", "the gradient of a*b with respect to a is grad * b (the *other* factor), "
                "and with respect to b it is grad * a", _mul_own_input)]),
    "div": OpSpec(BINARY, lambda t, a, b: a / b, lambda tf, a, b: a / b, lambda a, b: a / b, domain="nonzero",
                  mistakes=[Mistake("sign", "the gradient of a/b with respect to b has a minus sign: "
                                    "-grad * a / b**2", _div_b_sign)]),
    "pow": OpSpec(BINARY, lambda t, a, b: a ** b, lambda tf, a, b: a ** b, lambda a, b: a ** b, domain="positive"),
    "neg": OpSpec(UNARY, lambda t, a: -a, lambda tf, a: -a, lambda a: -a),
    "exp": OpSpec(UNARY, lambda t, a: t.exp(a), lambda tf, a: tf.exp(a), np.exp),
    "log": OpSpec(UNARY, lambda t, a: t.log(a), lambda tf, a: tf.math.log(a), np.log, domain="positive"),
    "sqrt": OpSpec(UNARY, lambda t, a: t.sqrt(a), lambda tf, a: tf.sqrt(a), np.sqrt, domain="positive"),
    "abs": OpSpec(UNARY, lambda t, a: t.abs(a), lambda tf, a: tf.abs(a), np.abs, domain="nonzero"),
    "tanh": OpSpec(UNARY, lambda t, a: t.tanh(a), lambda tf, a: tf.tanh(a), np.tanh),
    "sigmoid": OpSpec(UNARY, lambda t, a: t.sigmoid(a), lambda tf, a: tf.sigmoid(a),
                      lambda a: 1 / (1 + np.exp(-a))),
    "relu": OpSpec(UNARY, lambda t, a: t.relu(a), lambda tf, a: tf.nn.relu(a), lambda a: np.maximum(a, 0),
                   domain="nonzero"),
    "matmul": OpSpec([([(3, 3), (3, 3)], {}), ([(2, 4), (4, 3)], {}), ([(4,), (4, 2)], {}), ([(2, 3, 4), (4, 5)], {})],
                     lambda t, a, b: a @ b, lambda tf, a, b: _tf_matmul(tf, a, b), lambda a, b: a @ b, mistakes=[
        Mistake("transposed", "for C = A @ B the gradients are dA = dC @ B.T and dB = A.T @ dC: "
                "you used B and A without the transpose", _matmul_no_transpose)]),
    "sum": OpSpec([([(5,)], {"axis": None, "keepdims": False}), ([(2, 3)], {"axis": 0, "keepdims": False}),
                   ([(2, 3, 4)], {"axis": (0, 2), "keepdims": True})],
                  _torch_reduce("sum"), _tf_reduce("sum"), lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims)),
    "mean": OpSpec([([(5,)], {"axis": None, "keepdims": False}), ([(2, 3)], {"axis": 1, "keepdims": False}),
                    ([(2, 3, 4)], {"axis": (0, 2), "keepdims": True})],
                   _torch_reduce("mean"), _tf_reduce("mean"), lambda a, axis=None, keepdims=False: np.mean(a, axis=axis, keepdims=keepdims)),
    "max": OpSpec([([(5,)], {"axis": None, "keepdims": False}), ([(2, 3)], {"axis": 1, "keepdims": False}),
                   ([(2, 3, 4)], {"axis": 2, "keepdims": True})],
                  _torch_reduce("max"), _tf_reduce("max"), lambda a, axis=None, keepdims=False: np.max(a, axis=axis, keepdims=keepdims)),
    "reshape": OpSpec([([(6,)], {"shape": (2, 3)}), ([(2, 3, 4)], {"shape": (4, 6)})],
                      lambda t, a, shape: a.reshape(shape), lambda tf, a, shape: tf.reshape(a, shape),
                      lambda a, shape: a.reshape(shape)),
    "transpose": OpSpec([([(2, 3)], {"axes": (1, 0)}), ([(2, 3, 4)], {"axes": (2, 0, 1)})],
                        lambda t, a, axes: a.permute(axes), lambda tf, a, axes: tf.transpose(a, axes),
                        lambda a, axes: np.transpose(a, axes)),
    "getitem": OpSpec([([(5,)], {"index": slice(1, 4)}), ([(4, 3)], {"index": np.array([0, 2, 0, 3, 0])})],
                      lambda t, a, index: a[index if not isinstance(index, np.ndarray) else t.as_tensor(index)],
                      _tf_getitem, lambda a, index: a[index], mistakes=[
        Mistake("accumulation", "an element that is picked twice must receive the sum of both gradients: "
                "use np.add.at(full, index, grad) instead of full[index] = grad", _getitem_assign)]),
    "softmax": OpSpec([([(5,)], {"axis": -1}), ([(3, 4)], {"axis": 1}), ([(4, 3)], {"axis": 0})],
                      lambda t, a, axis: t.softmax(a, dim=axis), lambda tf, a, axis: tf.nn.softmax(a, axis=axis),
                      _np_softmax, mistakes=[
        Mistake("jacobian", "softmax's Jacobian is not diagonal: each output depends on every input. The "
                "gradient is s * (grad - sum(grad * s, axis, keepdims=True))", _softmax_diag_only)]),
    "log_softmax": OpSpec([([(5,)], {"axis": -1}), ([(3, 4)], {"axis": 1}), ([(4, 3)], {"axis": 0})],
                          lambda t, a, axis: t.log_softmax(a, dim=axis), lambda tf, a, axis: tf.nn.log_softmax(a, axis=axis),
                          _np_log_softmax),
}


def _tf_matmul(tf, a, b):
    if len(a.shape) == 1:
        return tf.squeeze(tf.linalg.matmul(a[None, :], b), -2)
    if len(b.shape) == 1:
        return tf.squeeze(tf.linalg.matmul(a, b[:, None]), -1)
    if len(a.shape) != len(b.shape):
        return tf.einsum("...ij,jk->...ik", a, b) if len(b.shape) == 2 else tf.linalg.matmul(a, b)
    return tf.linalg.matmul(a, b)


def _draw(rng: np.random.Generator, shape, domain: str) -> np.ndarray:
    x = rng.standard_normal(shape)
    if domain == "positive":
        return np.abs(x) + 0.5
    if domain == "nonzero":
        return np.where(np.abs(x) < 0.1, np.sign(x + 1e-12) * 0.5, x)
    return x


def op_cases(op: str, seed: int = 0, *, backward: bool) -> list[Case]:
    spec = OPS[op]
    rng = np.random.default_rng(seed)
    cases = []
    for shapes, params in spec.shapes:
        arrays = [_draw(rng, s, spec.domain) for s in shapes]
        if backward:
            out = spec.numpy(*arrays, **params)
            arrays.append(rng.standard_normal(np.shape(out)))
        cases.append(Case(tuple(arrays), dict(params)))
    if not backward and op in ("softmax", "log_softmax", "sigmoid", "exp"):
        big = np.array([[1000.0, 0.0, -1000.0], [710.0, 709.0, 0.5]]) if op != "exp" else np.array([3.0, -700.0])
        cases.append(Case((big,), dict(spec.shapes[-1][1], axis=-1) if op in ("softmax", "log_softmax") else {}))
    return cases


# ---- backward -------------------------------------------------------------------------------------

class _Context:
    """Stand-in for autograd_mini.function.Context (used only when autograd_mini is unavailable)."""

    def __init__(self, needs_input_grad=()):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


def _reference_forward(op: str):
    from autograd_mini import registry  # noqa: imported lazily: the sandbox swaps in a stripped copy
    from autograd_mini.function import Context

    return registry.active[op + ".forward"], Context


def _call_backward(op: str):
    def call(student_backward, case: Case):
        inputs, grad = _bwd_args(case)
        forward, context_class = _reference_forward(op)
        ctx = context_class(needs_input_grad=tuple(True for _ in inputs))
        forward(ctx, *inputs, **case.params)
        return student_backward(ctx, grad.copy())
    return call


def _torch_vjp(op: str):
    spec = OPS[op]

    def compute(case: Case):
        torch = fw.torch()
        inputs, grad = _bwd_args(case)
        tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
        out = spec.torch(torch, *tensors, **case.params)
        out.backward(torch.tensor(grad, dtype=torch.float64))
        return tuple(t.grad if t.grad is not None else torch.zeros_like(t) for t in tensors)
    return compute


def _tf_vjp(op: str):
    spec = OPS[op]

    def compute(case: Case):
        tf = fw.tf()
        inputs, grad = _bwd_args(case)
        tensors = [tf.constant(a, dtype=tf.float64) for a in inputs]
        with tf.GradientTape() as tape:
            for t in tensors:
                tape.watch(t)
            out = spec.tf(tf, *tensors, **case.params)
        grads = tape.gradient(out, tensors, output_gradients=tf.constant(grad, dtype=tf.float64))
        return tuple(tf.convert_to_tensor(g) if g is not None else tf.zeros_like(t) for g, t in zip(grads, tensors))
    return compute


def backward_check(op: str, seed: int = 0, cases: list | None = None, rtol: float = 1e-10, atol: float = 1e-12) -> Check:
    if op not in OPS:
        raise KeyError(f"no backward check for op {op!r}; known ops: {', '.join(sorted(OPS))}")
    return Check(
        name=f"{op} backward",
        cases=cases if cases is not None else op_cases(op, seed, backward=True),
        oracles=[Oracle("torch.autograd", _torch_vjp(op)), Oracle("tf.GradientTape", _tf_vjp(op))],
        call=_call_backward(op),
        mistakes=OPS[op].mistakes,
        rtol=rtol, atol=atol, what="gradient",
    )


def check_backward(student_backward: Callable, op: str, *, seed: int = 0, rtol: float = 1e-10,
                   atol: float = 1e-12) -> CheckResult:
    """Compare ``student_backward(ctx, grad) -> tuple of grads`` for ``op`` with torch and TF."""
    return backward_check(op, seed, rtol=rtol, atol=atol).run(student_backward)


# ---- forward --------------------------------------------------------------------------------------

def _forward_oracle(op: str, framework: str):
    spec = OPS[op]

    def compute(case: Case):
        if framework == "torch":
            torch = fw.torch()
            return spec.torch(torch, *(torch.tensor(a, dtype=torch.float64) for a in case.arrays), **case.params)
        tf = fw.tf()
        return spec.tf(tf, *(tf.constant(a, dtype=tf.float64) for a in case.arrays), **case.params)
    return compute


def forward_check(op: str, seed: int = 0, cases: list | None = None, rtol: float = 1e-10, atol: float = 1e-12) -> Check:
    if op not in OPS:
        raise KeyError(f"no forward check for op {op!r}; known ops: {', '.join(sorted(OPS))}")
    return Check(
        name=f"{op} forward",
        cases=cases if cases is not None else op_cases(op, seed, backward=False),
        oracles=[Oracle("PyTorch", _forward_oracle(op, "torch")), Oracle("TensorFlow", _forward_oracle(op, "tf"))],
        rtol=rtol, atol=atol, what="result",
    )


def check_forward(student_fn: Callable, op: str, *, seed: int = 0, rtol: float = 1e-10, atol: float = 1e-12) -> CheckResult:
    """Compare ``student_fn(*arrays, **params) -> array`` with the op in torch and TF (numpy in, numpy out)."""
    return forward_check(op, seed, rtol=rtol, atol=atol).run(student_fn)

"""Ready-made checks for loss functions: values and input gradients, for every reduction.

Student functions are numpy in, numpy out::

    my_mse(input, target, reduction="mean") -> array          # check_loss
    my_mse_grad(input, target, reduction="mean") -> array     # check_loss_grad: dL/d input
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import frameworks as fw
from .core import Case, Check, Oracle
from .result import CheckResult

REDUCTIONS = ("mean", "sum", "none")


def _reduce_tf(tf, values, reduction):
    if reduction == "mean":
        return tf.reduce_mean(values)
    if reduction == "sum":
        return tf.reduce_sum(values)
    return values


@dataclass
class LossSpec:
    inputs: Callable  # (rng, shape) -> (input, target)
    torch: Callable  # (torch, F, input, target, reduction, **params)
    tf: Callable  # (tf, keras, input, target, reduction, **params)
    shapes: tuple = ((4,), (3, 5), (2, 3, 2))


def _regression(rng, shape):
    return rng.standard_normal(shape), rng.standard_normal(shape)


def _probabilities(rng, shape):
    return rng.uniform(0.05, 0.95, shape), rng.integers(0, 2, shape).astype(np.float64)


def _logits_binary(rng, shape):
    return 3 * rng.standard_normal(shape), rng.integers(0, 2, shape).astype(np.float64)


def _logits_classes(rng, shape):
    return 3 * rng.standard_normal(shape), rng.integers(0, shape[-1], shape[:-1])


def _log_probs(rng, shape):
    x = rng.standard_normal(shape)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True)), rng.integers(0, shape[-1], shape[:-1])


def _elementwise_keras(name):
    # keras losses average over the last axis; give every element its own last axis of size 1
    def run(tf, keras, x, y, reduction, **params):
        fn = getattr(keras.losses, name)
        values = fn(y[..., None], x[..., None], **params)
        return _reduce_tf(tf, values, reduction)
    return run


LOSSES: dict[str, LossSpec] = {
    "mse_loss": LossSpec(_regression, lambda t, F, x, y, r: F.mse_loss(x, y, reduction=r),
                         _elementwise_keras("mean_squared_error")),
    "l1_loss": LossSpec(_regression, lambda t, F, x, y, r: F.l1_loss(x, y, reduction=r),
                        _elementwise_keras("mean_absolute_error")),
    "huber_loss": LossSpec(lambda rng, s: (2 * rng.standard_normal(s), rng.standard_normal(s)),
                           lambda t, F, x, y, r, delta=1.0: F.huber_loss(x, y, reduction=r, delta=delta),
                           _elementwise_keras("huber")),
    "binary_cross_entropy": LossSpec(_probabilities, lambda t, F, x, y, r: F.binary_cross_entropy(x, y, reduction=r),
                                     _elementwise_keras("binary_crossentropy")),
    "binary_cross_entropy_with_logits": LossSpec(
        _logits_binary, lambda t, F, x, y, r: F.binary_cross_entropy_with_logits(x, y, reduction=r),
        lambda tf, keras, x, y, r: _reduce_tf(tf, tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x), r)),
    "cross_entropy": LossSpec(
        _logits_classes, lambda t, F, x, y, r: F.cross_entropy(x, t.as_tensor(y), reduction=r),
        lambda tf, keras, x, y, r: _reduce_tf(tf, tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x), r),
        shapes=((4, 3), (6, 5), (1, 2))),
    "nll_loss": LossSpec(
        _log_probs, lambda t, F, x, y, r: F.nll_loss(x, t.as_tensor(y), reduction=r),
        lambda tf, keras, x, y, r: _reduce_tf(tf, -tf.gather(x, y, axis=1, batch_dims=1), r),
        shapes=((4, 3), (6, 5), (1, 2))),
}


def loss_cases(loss: str, reduction: str, seed: int = 0) -> list[Case]:
    spec = LOSSES[loss]
    rng = np.random.default_rng(seed)
    params = {"reduction": reduction, **({"delta": 1.0} if loss == "huber_loss" else {})}
    cases = [Case(spec.inputs(rng, shape), dict(params)) for shape in spec.shapes]
    if loss == "binary_cross_entropy_with_logits":  # large logits: a naive log(sigmoid(x)) gives -inf
        cases.append(Case((np.array([800.0, -800.0, 40.0, -3.0]), np.array([0.0, 1.0, 1.0, 0.0])), {"reduction": reduction}))
    if loss == "cross_entropy":  # large logits: exp() without subtracting the max overflows
        cases.append(Case((np.array([[1000.0, 0.0, -1000.0], [0.5, 710.0, 709.0]]), np.array([1, 2])), {"reduction": reduction}))
    return cases


def _tensor_call(student_loss: Callable, case: Case):
    """Tensor mode (numpy + autograd_mini only): the student's loss on Tensors -> (value, dL/dinput)."""
    from autograd_mini import Tensor

    x, y = case.copy_arrays()
    xt = Tensor(x, requires_grad=True)
    out = student_loss(xt, Tensor(y) if y.dtype.kind == "f" else y, **case.params)
    if not isinstance(out, Tensor):
        raise TypeError(f"return an autograd_mini Tensor (so that backward() works), not a {type(out).__name__}")
    value = np.array(out.data, dtype=np.float64)
    out.backward(np.ones_like(out.data))
    grad = xt.grad.data if isinstance(xt.grad, Tensor) else xt.grad
    if grad is None:
        raise TypeError("after backward() the input has no .grad: the loss is not connected to its input")
    return value, np.asarray(grad, dtype=np.float64)


def _oracle(loss: str, framework: str, grad: bool, both: bool = False):
    if both:
        value_of, grad_of = _oracle(loss, framework, False), _oracle(loss, framework, True)
        return lambda case: (fw.to_numpy(value_of(case)), fw.to_numpy(grad_of(case)))
    spec = LOSSES[loss]

    def compute(case: Case):
        x, y = case.arrays
        reduction = case.params["reduction"]
        extra = {k: v for k, v in case.params.items() if k != "reduction"}
        if framework == "torch":
            torch = fw.torch()
            import torch.nn.functional as F
            xt = torch.tensor(x, dtype=torch.float64, requires_grad=grad)
            yt = torch.tensor(y) if y.dtype.kind == "f" else torch.tensor(y, dtype=torch.int64)
            out = spec.torch(torch, F, xt, yt, reduction, **extra)
            if not grad:
                return out
            out.backward(torch.ones_like(out))
            return xt.grad
        tf = fw.tf()
        keras = fw.keras()
        xt = tf.constant(x, dtype=tf.float64)
        yt = tf.constant(y, dtype=tf.float64) if y.dtype.kind == "f" else tf.constant(y, dtype=tf.int64)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = spec.tf(tf, keras, xt, yt, reduction, **extra)
        return tape.gradient(out, xt) if grad else out
    return compute


def loss_check(loss: str, reduction: str = "mean", *, grad: bool = False, tensors: bool = False, seed: int = 0,
               cases=None, rtol: float = 1e-10, atol: float = 1e-12) -> Check:
    """``tensors=True``: the student's loss takes autograd_mini Tensors and returns a Tensor; the check
    compares its value and the input's gradient after ``backward()`` (outputs: value, gradient)."""
    if loss not in LOSSES:
        raise KeyError(f"no check for loss {loss!r}; known: {', '.join(sorted(LOSSES))}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    tf_label = "TensorFlow (tf.GradientTape)" if grad else "TensorFlow"
    if tensors:
        return Check(
            name=f"{loss} ({reduction}) value and gradient",
            cases=cases if cases is not None else loss_cases(loss, reduction, seed),
            oracles=[Oracle("torch.autograd", _oracle(loss, "torch", False, both=True)),
                     Oracle("tf.GradientTape", _oracle(loss, "tf", False, both=True))],
            call=_tensor_call, rtol=rtol, atol=atol, what="loss and gradient")
    return Check(
        name=f"{loss} ({reduction}){' gradient' if grad else ''}",
        cases=cases if cases is not None else loss_cases(loss, reduction, seed),
        oracles=[Oracle("torch.autograd" if grad else "PyTorch", _oracle(loss, "torch", grad)),
                 Oracle(tf_label, _oracle(loss, "tf", grad))],
        rtol=rtol, atol=atol, what="gradient" if grad else "loss",
    )


def check_loss(student_loss: Callable, loss: str, reduction: str = "mean", **kw) -> CheckResult:
    """Compare ``student_loss(input, target, reduction=...)`` with torch.nn.functional and TF/Keras."""
    return loss_check(loss, reduction, **kw).run(student_loss)


def check_loss_grad(student_grad: Callable, loss: str, reduction: str = "mean", **kw) -> CheckResult:
    """Compare ``student_grad(input, target, reduction=...) -> dL/dinput`` with torch and TF autodiff."""
    return loss_check(loss, reduction, grad=True, **kw).run(student_grad)

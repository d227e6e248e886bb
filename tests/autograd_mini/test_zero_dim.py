"""0-d tensors and empty reductions, as PyTorch (and TensorFlow where it has the behaviour) treat them.

A 0-d leaf's ``.grad`` is a 0-d array (never a numpy scalar, so ``x.grad[...] = 0`` works); a 0-d tensor
reduces over axis 0 or -1; max over a non-empty axis of an empty tensor is empty; and every reduction's
forward leaves ``ctx.shape``, ``ctx.axis`` and ``ctx.keepdims`` for its backward (lesson 03, section 6).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import Tensor
from autograd_mini.function import Context
from autograd_mini.registry import reference_of

X0 = 0.7

# name -> f(ns, x) for a 0-d leaf x; ns holds each library's spelling (see ``namespaces``)
ZERO_D = {
    "mul": lambda ns, x: x * x * 3.0,
    "exp": lambda ns, x: x.exp(),
    "max": lambda ns, x: ns.amax(x),
    "softmax": lambda ns, x: ns.softmax(x) * x,
    "mse_loss": lambda ns, x: ns.F.mse_loss(x, ns.constant(0.2)),
    "l1_loss": lambda ns, x: ns.F.l1_loss(x, ns.constant(0.2)),
    "huber_loss": lambda ns, x: ns.F.huber_loss(x, ns.constant(0.2)),
    "binary_cross_entropy": lambda ns, x: ns.F.binary_cross_entropy(x, ns.constant(1.0)),
    "binary_cross_entropy_with_logits": lambda ns, x: ns.F.binary_cross_entropy_with_logits(x, ns.constant(1.0)),
}


def namespaces(torch):
    ours = SimpleNamespace(F=am.losses, amax=lambda x: x.max(), softmax=lambda x: x.softmax(axis=0), constant=Tensor)
    theirs = SimpleNamespace(F=torch.nn.functional, amax=lambda x: x.amax(), softmax=lambda x: x.softmax(dim=0),
                             constant=lambda v: torch.tensor(v, dtype=torch.float64))
    return ours, theirs


@pytest.mark.parametrize("name", ZERO_D)
def test_a_0d_leaf_gets_a_0d_array_gradient_like_torch(torch, close, name):
    ours, theirs = namespaces(torch)
    x = Tensor(X0, requires_grad=True)
    ZERO_D[name](ours, x).backward()
    tx = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    ZERO_D[name](theirs, tx).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad.dtype == np.float64
    close(x.grad, tx.grad.numpy(), what=name)
    x.grad[...] = 0  # what zeroing in place (or clipping) does
    assert x.grad == 0


def test_a_0d_leaf_gets_a_0d_array_gradient_like_tensorflow(tf, close):
    x = Tensor(X0, requires_grad=True)
    (x * x).exp().backward()
    tx = tf.Variable(X0, dtype=tf.float64)
    with tf.GradientTape() as tape:
        y = tf.exp(tx * tx)
    expected = tape.gradient(y, tx).numpy()
    assert type(x.grad) is np.ndarray and x.grad.shape == np.shape(expected) == ()
    close(x.grad, expected)


def test_gradient_accumulated_over_two_backward_calls_stays_an_array():
    x = Tensor(X0, requires_grad=True)
    (x * 2.0).backward()
    (x * 3.0).backward()
    assert type(x.grad) is np.ndarray and x.grad == 5.0


REDUCTIONS_0D = [("sum", 0, False), ("sum", -1, True), ("mean", -1, False), ("mean", 0, True),
                 ("max", 0, False), ("max", -1, True), ("sum", (0,), False)]


@pytest.mark.parametrize("method, axis, keepdims", REDUCTIONS_0D)
def test_a_0d_tensor_reduces_over_axis_0_or_minus_1_like_torch(torch, close, method, axis, keepdims):
    x = Tensor(X0, requires_grad=True)
    y = getattr(x, method)(axis=axis, keepdims=keepdims)
    (y * 2.0).backward()
    tx = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    ty = getattr(tx, "amax" if method == "max" else method)(dim=axis, keepdim=keepdims)
    (ty * 2.0).backward()
    assert y.shape == tuple(ty.shape) == ()
    close(y.data, ty.detach().numpy())
    assert type(x.grad) is np.ndarray
    close(x.grad, tx.grad.numpy())


def test_a_0d_tensor_rejects_other_axes_like_torch(torch):
    with pytest.raises(ValueError, match="axis 1 is out of range for a tensor with 0 dimensions"):
        Tensor(X0).sum(axis=1)
    with pytest.raises(IndexError):
        torch.tensor(X0).sum(dim=1)


def test_max_over_the_non_empty_axis_of_an_empty_tensor_is_empty_like_torch_and_tf(torch, tf, close):
    x = Tensor(np.zeros((0, 2)), requires_grad=True)
    y = x.max(axis=1)
    y.sum().backward()
    tx = torch.zeros((0, 2), dtype=torch.float64, requires_grad=True)
    ty = tx.amax(dim=1)
    ty.sum().backward()
    assert y.shape == tuple(ty.shape) == tuple(tf.reduce_max(tf.zeros((0, 2), tf.float64), axis=1).shape) == (0,)
    close(x.grad, tx.grad.numpy())


@pytest.mark.parametrize("axis", [0, None])
def test_max_over_an_empty_axis_raises_like_torch(torch, axis):
    with pytest.raises(ValueError, match=r"max of shapes \(0, 2\): max over an axis of length 0"):
        Tensor(np.zeros((0, 2))).max(axis=axis)
    with pytest.raises((IndexError, RuntimeError), match="non-zero size|numel\\(\\) == 0"):
        torch.zeros((0, 2)).amax(dim=axis) if axis is not None else torch.zeros((0, 2)).max()


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (1, True), ((0, 2), False)])
def test_every_reduction_forward_leaves_shape_axis_and_keepdims_on_ctx(op, axis, keepdims):
    """Lesson 03, section 6: a reduction's backward finds the forward's arguments on ctx."""
    a = np.arange(24.0).reshape(2, 3, 4)
    ctx = Context((True,))
    reference_of(f"{op}.forward")(ctx, a, axis=axis, keepdims=keepdims)
    assert (ctx.shape, ctx.axis, ctx.keepdims) == ((2, 3, 4), axis, keepdims)

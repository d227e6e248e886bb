"""The pieces lesson 04 added to autograd_mini, against PyTorch and TensorFlow in float64.

* ``logsumexp`` (op ``logsumexp``, ``functional.logsumexp``): ``torch.logsumexp`` / ``tf.reduce_logsumexp``,
  values and gradients, with overflowing and infinite slices;
* the fused ``cross_entropy`` op behind ``losses.cross_entropy``: ``F.cross_entropy`` /
  ``tf.nn.sparse_softmax_cross_entropy_with_logits`` for every reduction, and its backward is
  (softmax - one_hot) * grad (/ N for the mean) — one node in the graph instead of two.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import Tensor, losses
from autograd_mini.functional import logsumexp

SEEDS = [0, 1, 2]


def _grad(fn, x, upstream):
    t = Tensor(x, requires_grad=True)
    out = fn(t)
    out.backward(upstream)
    return out.data, t.grad


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_logsumexp_matches_torch_and_tf(seed, axis, oracles, close):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 2)) * 5
    upstream = rng.standard_normal(np.delete(x.shape, axis % 3))
    value, grad = _grad(lambda t: logsumexp(t, axis), x, upstream)

    xt = oracles.torch.tensor(x, requires_grad=True)
    yt = oracles.torch.logsumexp(xt, dim=axis)
    yt.backward(oracles.torch.tensor(upstream))
    close(value, yt.detach().numpy(), "logsumexp vs torch")
    close(grad, xt.grad.numpy(), "logsumexp gradient vs torch")

    tf = oracles.tf
    xf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xf)
        yf = tf.reduce_logsumexp(xf, axis=axis)
    close(value, yf.numpy(), "logsumexp vs tf")
    close(grad, tape.gradient(yf, xf, output_gradients=tf.constant(upstream)).numpy(), "logsumexp gradient vs tf")


def test_logsumexp_does_not_overflow_and_keeps_infinite_slices(oracles, close):
    x = np.array([[1000.0, 1000.0], [-1000.0, -1001.0], [-np.inf, -np.inf], [np.inf, 1.0], [-np.inf, 2.0]])
    with np.errstate(all="raise"):  # no warning may reach a notebook
        value = logsumexp(Tensor(x), 1).data
    close(value, oracles.torch.logsumexp(oracles.torch.tensor(x), dim=1).numpy(), "logsumexp vs torch")
    close(value, oracles.tf.reduce_logsumexp(oracles.tf.constant(x), axis=1).numpy(), "logsumexp vs tf")
    assert value[0] == pytest.approx(1000 + np.log(2), rel=1e-15)
    assert value[2] == -np.inf and value[3] == np.inf and value[4] == 2.0


def test_logsumexp_refuses_a_scalar_and_a_bad_axis():
    with pytest.raises(ValueError, match="at least one dimension"):
        logsumexp(Tensor(1.0))
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2 dimensions"):
        logsumexp(Tensor(np.zeros((2, 3))), 2)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_cross_entropy_matches_torch_and_tf(seed, reduction, oracles, close):
    rng = np.random.default_rng(seed)
    n, c = rng.integers(1, 7), rng.integers(2, 6)
    logits, target = rng.standard_normal((n, c)) * 4, rng.integers(0, c, size=n)
    upstream = rng.standard_normal(n) if reduction == "none" else np.array(rng.standard_normal())
    value, grad = _grad(lambda t: losses.cross_entropy(t, target, reduction=reduction), logits, upstream)

    torch = oracles.torch
    lt = torch.tensor(logits, requires_grad=True)
    yt = torch.nn.functional.cross_entropy(lt, torch.tensor(target), reduction=reduction)
    yt.backward(torch.tensor(upstream))
    close(value, yt.detach().numpy(), "cross_entropy vs torch")
    close(grad, lt.grad.numpy(), "cross_entropy gradient vs torch")

    tf = oracles.tf
    reduce = {"mean": tf.reduce_mean, "sum": tf.reduce_sum, "none": lambda v: v}[reduction]
    lf = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(lf)
        yf = reduce(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=lf))
    close(value, yf.numpy(), "cross_entropy vs tf")
    close(grad, tape.gradient(yf, lf, output_gradients=tf.constant(upstream)).numpy(), "cross_entropy gradient vs tf")


def test_fused_cross_entropy_is_one_node_whose_gradient_is_softmax_minus_one_hot_over_n(close):
    logits = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [800.0, -800.0, 0.0]])
    target = np.array([0, 2, 1])
    x = Tensor(logits, requires_grad=True)
    loss = losses.cross_entropy(x, target)
    assert loss._op == "cross_entropy" and loss.parents == (x,)
    loss.backward()
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax = shifted / shifted.sum(axis=1, keepdims=True)
    close(x.grad, (softmax - np.eye(3)[target]) / 3, "d loss / d logits")
    # row 2's target logit is 1,600 below the max: finite, because nothing is exponentiated before the shift
    assert loss.item() == pytest.approx((np.log1p(np.exp(-3.0) + np.exp(-1.5)) + np.log(3) + 1600) / 3, rel=1e-14)


@pytest.mark.parametrize("name, fn, inputs", [
    ("logsumexp", lambda a: logsumexp(a, 0), [np.random.default_rng(4).standard_normal((3, 4))]),
    ("cross_entropy", lambda a: losses.cross_entropy(a, np.array([3, 0, 3]), reduction="none"),
     [np.random.default_rng(5).standard_normal((3, 4))]),
])
def test_gradcheck_agrees_with_the_new_backwards(name, fn, inputs):
    result = am.gradcheck(fn, inputs)
    assert result.passed and result.max_rel_error < 1e-6, str(result)

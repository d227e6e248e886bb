"""The op lesson 09 adds to autograd_mini, GELU (x * Phi(x), exact), against PyTorch and TensorFlow in float64.

Forward and backward through the engine against ``torch.nn.functional.gelu`` (approximate="none") and TensorFlow's
formula ``0.5 x erfc(-x / sqrt 2)`` differentiated by a GradientTape, including tails where Phi underflows or
saturates. ``tf.nn.gelu(approximate=False)`` itself is float32-accurate only, even on float64 tensors: it makes its
1/sqrt(2) with ``tf.cast`` of a Python float, which goes through a float32 constant (lesson 09 shows it). Also:
gradcheck against central differences, the layer and functional forms, and the registry names a lesson plugs a
student's version into.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import Tensor, nn
from autograd_mini.functional import gelu

SHAPES = [(7,), (3, 4), (2, 3, 5)]


def inputs(shape, seed=0):
    x = 3.0 * np.random.default_rng(seed).standard_normal(shape)
    x.reshape(-1)[:3] = [0.0, -12.0, 9.0][: x.size]  # the kink's neighbourhood and both tails
    return x


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_backward_match_pytorch_and_tensorflow(shape, oracles, close):
    x = inputs(shape)
    up = np.random.default_rng(1).standard_normal(shape)
    leaf = Tensor(x, requires_grad=True)
    out = gelu(leaf)
    out.backward(up)

    t = oracles.torch.tensor(x, requires_grad=True)
    t_out = oracles.torch.nn.functional.gelu(t)
    t_out.backward(oracles.torch.tensor(up))
    v = oracles.tf.constant(x)
    with oracles.tf.GradientTape() as tape:
        tape.watch(v)
        f_out = 0.5 * v * oracles.tf.math.erfc(-v * oracles.tf.constant(1 / np.sqrt(2.0), oracles.tf.float64))
    f_grad = tape.gradient(f_out, v, output_gradients=oracles.tf.constant(up))

    assert out.dtype == np.float64 and leaf.grad.shape == shape
    close(out.data, t_out.detach().numpy(), "GELU forward vs PyTorch")
    close(out.data, f_out.numpy(), "GELU forward vs TensorFlow")
    close(leaf.grad, t.grad.numpy(), "GELU backward vs PyTorch")
    close(leaf.grad, f_grad.numpy(), "GELU backward vs TensorFlow")
    close(out.data, oracles.tf.nn.gelu(v, approximate=False).numpy(), "GELU vs tf.nn.gelu", rtol=1e-7, atol=1e-9)


def test_gradcheck_passes_and_the_slope_at_zero_is_one_half():
    assert am.gradcheck(gelu, [inputs((4, 3), seed=2)])
    x = Tensor(np.zeros(1), requires_grad=True)
    gelu(x).sum().backward()
    assert x.grad[0] == 0.5  # Phi(0) + 0 * phi(0)


def test_layer_and_registry_names():
    assert {"gelu.forward", "gelu.backward"} <= set(am.registry.names())
    x = inputs((2, 5))
    np.testing.assert_array_equal(nn.GELU()(Tensor(x)).data, gelu(Tensor(x)).data)
    with am.use({"gelu.forward": lambda ctx, a: (ctx.save_for_backward(a, np.ones_like(a)), 2 * a)[1]}):
        np.testing.assert_array_equal(gelu(Tensor(x)).data, 2 * x)
    assert nn.GELU().parameters() == []

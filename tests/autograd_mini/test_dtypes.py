"""Mixing dtypes follows PyTorch's rule (the one students meet next):

* elementwise ops promote (float32 with float64 gives float64), and Python numbers take the tensor's dtype;
* ``@`` and ``Linear`` never convert: operands of different dtypes raise, naming both dtypes and shapes;
* every leaf's ``.grad`` has the leaf's own dtype, whatever dtype the computation ran in.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import Tensor

rng = np.random.default_rng(3)
A = rng.standard_normal((2, 3))
B = rng.standard_normal((2, 3))
ROW = rng.standard_normal(3)


def test_float32_input_to_a_float64_linear_raises_like_torch(torch):
    layer = am.nn.Linear(3, 4, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"linear: input is float32 \(shape \(2, 3\)\) but weight is float64 \(shape \(4, 3\)\)"):
        layer(Tensor(A.astype(np.float32)))
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.nn.Linear(3, 4, dtype=torch.float64)(torch.tensor(A, dtype=torch.float32))


def test_matmul_of_float32_and_float64_raises_like_torch_and_tf(torch, tf):
    with pytest.raises(TypeError, match=r"same dtype, got float32 \(2, 3\) @ float64 \(3, 2\)"):
        Tensor(A.astype(np.float32)) @ Tensor(B.T)
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.tensor(A, dtype=torch.float32) @ torch.tensor(B.T)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.matmul(tf.constant(A, tf.float32), tf.constant(B.T, tf.float64))


def test_matmul_and_linear_in_float32_stay_float32(torch, close):
    layer = am.nn.Linear(3, 4, rng=np.random.default_rng(0), dtype=np.float32)
    x = Tensor(A.astype(np.float32), requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32
    tx = torch.tensor(A, dtype=torch.float32, requires_grad=True)
    tw = torch.tensor(layer.weight.data, requires_grad=True)
    torch.nn.functional.linear(tx, tw, torch.tensor(layer.bias.data)).sum().backward()
    close(x.grad, tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    close(layer.weight.grad, tw.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape_a", [(2, 3), (3,)], ids=["same shape", "broadcast"])
def test_a_float32_leaf_mixed_with_float64_gets_a_float32_grad_like_torch(torch, close, shape_a):
    a_data = A if shape_a == (2, 3) else ROW
    a, b = Tensor(a_data.astype(np.float32), requires_grad=True), Tensor(B, requires_grad=True)
    y = (a * b).exp() + a
    y.sum().backward()
    ta = torch.tensor(a_data, dtype=torch.float32, requires_grad=True)
    tb = torch.tensor(B, dtype=torch.float64, requires_grad=True)
    ty = (ta * tb).exp() + ta
    ty.sum().backward()
    assert y.dtype == np.float64 and ty.dtype == torch.float64  # elementwise ops promote
    assert a.grad.dtype == np.float32 and ta.grad.dtype == torch.float32
    assert b.grad.dtype == np.float64 and tb.grad.dtype == torch.float64
    close(a.grad, ta.grad.numpy(), rtol=1e-6)
    close(b.grad, tb.grad.numpy())


def test_python_numbers_take_the_tensors_dtype_like_torch(torch):
    x = Tensor(A.astype(np.float32))
    tx = torch.tensor(A, dtype=torch.float32)
    for ours, theirs in ((x * 2.5, tx * 2.5), (1 - x, 1 - tx), (x ** 2, tx ** 2)):
        assert ours.dtype == np.float32 and theirs.dtype == torch.float32

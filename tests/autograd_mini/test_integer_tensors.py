"""Integer tensors, as in PyTorch: ``Tensor([1, 2, 0])`` stays int64, serves as class targets and as an
index, and cannot require a gradient; an unbatched cross-entropy (scores (C,), a 0-d target) is accepted."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import Tensor

LOGITS = np.array([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7], [-0.2, 0.9, 0.5]])
CLASSES = [1, 2, 0]


def test_a_list_of_ints_is_an_integer_tensor_without_grad_like_torch(torch):
    t = Tensor(CLASSES)
    assert t.dtype == np.int64 and str(torch.tensor(CLASSES).dtype) == "torch.int64"
    assert not t.requires_grad


def test_integer_tensors_cannot_require_grad_like_torch(torch):
    message = "Only Tensors of floating point .*dtype can require gradients"
    with pytest.raises(TypeError, match=message + r".*int64 \(shape \(3,\)\)"):
        Tensor(CLASSES, requires_grad=True)
    with pytest.raises(RuntimeError, match=message):
        torch.tensor(CLASSES, requires_grad=True)


@pytest.mark.parametrize("loss, log_probs", [("cross_entropy", False), ("nll_loss", True)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_an_integer_tensor_is_a_class_target_like_torch(torch, close, loss, log_probs, reduction):
    data = LOGITS - np.log(np.exp(LOGITS).sum(axis=1, keepdims=True)) if log_probs else LOGITS
    x = Tensor(data, requires_grad=True)
    y = getattr(am.losses, loss)(x, Tensor(CLASSES), reduction=reduction)
    y.sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    ty = getattr(torch.nn.functional, loss)(tx, torch.tensor(CLASSES), reduction=reduction)
    ty.sum().backward()
    close(y.data, ty.detach().numpy())
    close(x.grad, tx.grad.numpy())


def test_an_integer_tensor_is_an_index_like_torch(torch, close):
    x = Tensor(LOGITS, requires_grad=True)
    picked = x[Tensor([2, 0, 2])]
    (picked * picked).sum().backward()
    tx = torch.tensor(LOGITS, requires_grad=True)
    t_picked = tx[torch.tensor([2, 0, 2])]
    (t_picked * t_picked).sum().backward()
    close(picked.data, t_picked.detach().numpy())
    close(x.grad, tx.grad.numpy())  # row 2, picked twice, gets both gradients


def test_integer_and_float_tensors_mix_into_float64_like_torch(torch, close):
    x = Tensor(LOGITS[0], requires_grad=True)
    y = Tensor(CLASSES) * x
    y.sum().backward()
    tx = torch.tensor(LOGITS[0], requires_grad=True)
    ty = torch.tensor(CLASSES) * tx
    ty.sum().backward()
    assert y.dtype == np.float64 and ty.dtype == torch.float64
    close(x.grad, tx.grad.numpy())


@pytest.mark.parametrize("target", [Tensor(2), np.int64(2), 2], ids=["Tensor", "numpy", "int"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_unbatched_cross_entropy_like_torch_and_tf(torch, tf, close, target, reduction):
    x = Tensor(LOGITS[0], requires_grad=True)
    y = am.losses.cross_entropy(x, target, reduction=reduction)
    y.backward()
    tx = torch.tensor(LOGITS[0], requires_grad=True)
    ty = torch.nn.functional.cross_entropy(tx, torch.tensor(2), reduction=reduction)
    ty.backward()
    assert y.shape == tuple(ty.shape) == ()
    close(y.data, ty.detach().numpy())
    close(x.grad, tx.grad.numpy())
    v = tf.Variable(LOGITS[0])
    with tf.GradientTape() as tape:
        z = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant(2), v)
    close(y.data, z.numpy())
    close(x.grad, tape.gradient(z, v).numpy())


def test_unbatched_nll_loss_like_torch(torch, close):
    log_probs = LOGITS[1] - np.log(np.exp(LOGITS[1]).sum())
    x = Tensor(log_probs, requires_grad=True)
    am.losses.nll_loss(x, Tensor(0)).backward()
    tx = torch.tensor(log_probs, requires_grad=True)
    torch.nn.functional.nll_loss(tx, torch.tensor(0)).backward()
    close(x.grad, tx.grad.numpy())


def test_a_target_of_the_wrong_shape_names_both_forms():
    with pytest.raises(ValueError, match=r"expected input \(N, C\) and target \(N,\), or input \(C,\) and a 0-d target"):
        am.losses.cross_entropy(Tensor(LOGITS[0]), Tensor([1, 2]))

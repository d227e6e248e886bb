"""NaN inputs: autograd_mini keeps PyTorch's conventions (TensorFlow's differ for relu and abs, noted below).

* relu keeps NaN in the forward pass; its gradient at NaN passes through (PyTorch masks where out <= 0,
  and NaN <= 0 is False; TensorFlow masks where x > 0 and gives 0).
* abs and l1_loss: PyTorch's sign(NaN) is 0, so the gradient at NaN is 0 (TensorFlow's is NaN).
* max: ties share the gradient as torch.amax does; a NaN maximum equals nothing, so the whole slice's
  gradient is NaN, in torch.amax and in tf.reduce_max alike.
* binary_cross_entropy refuses probabilities outside [0, 1], NaN included, as PyTorch does.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import Tensor

NAN = np.nan
DATA = np.array([NAN, 1.5, -1.0, 0.0])


def grads(torch, forward_ours, forward_torch, data=DATA):
    x = Tensor(data.copy(), requires_grad=True)
    forward_ours(x).sum().backward()
    tx = torch.tensor(data.copy(), requires_grad=True)
    forward_torch(tx).sum().backward()
    return x.grad, tx.grad.numpy()


def test_relu_keeps_nan_and_passes_its_gradient_like_torch(torch, tf, close):
    close(Tensor(DATA).relu().data, torch.relu(torch.tensor(DATA)).numpy())
    assert np.isnan(Tensor(DATA).relu().data[0])
    ours, theirs = grads(torch, lambda x: x.relu(), torch.relu)
    close(ours, theirs)
    close(ours, [1.0, 1.0, 0.0, 0.0])
    x = tf.Variable(DATA)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.nn.relu(x))
    assert tape.gradient(y, x).numpy()[0] == 0.0  # TensorFlow's convention differs only at NaN


def test_abs_gradient_at_nan_is_0_like_torch(torch, close):
    ours, theirs = grads(torch, lambda x: x.abs(), torch.abs)
    close(ours, theirs)
    close(ours, [0.0, 1.0, -1.0, 0.0])


@pytest.mark.parametrize("where", ["input", "target"])
def test_l1_loss_gradient_at_nan_is_0_like_torch(torch, close, where):
    other = np.array([0.5, NAN, 2.0, 0.0]) if where == "target" else np.array([0.5, 0.5, 2.0, 0.0])
    data = np.array([0.3, 1.5, -1.0, 0.2]) if where == "target" else DATA
    ours, theirs = grads(torch, lambda x: am.losses.l1_loss(x, Tensor(other)),
                         lambda x: torch.nn.functional.l1_loss(x, torch.tensor(other)), data)
    close(ours, theirs)


@pytest.mark.parametrize("axis", [None, 1])
def test_max_with_nan_gives_nan_to_the_whole_slice_like_torch_amax_and_tf(torch, tf, close, axis):
    data = np.array([[NAN, 1.0, 3.0], [2.0, 5.0, 5.0]])
    x = Tensor(data.copy(), requires_grad=True)
    with np.errstate(invalid="ignore"):  # numpy warns about the 0/0 that makes the NaN
        x.max(axis=axis).sum().backward()
    tx = torch.tensor(data.copy(), requires_grad=True)
    (tx.amax() if axis is None else tx.amax(dim=axis)).sum().backward()
    v = tf.Variable(data)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.reduce_max(v, axis=axis))
    close(x.grad, tx.grad.numpy())
    close(x.grad, tape.gradient(y, v).numpy())
    if axis == 1:
        close(x.grad[1], [0.0, 0.5, 0.5])  # the row without NaN: its tie shares the gradient


@pytest.mark.parametrize("bad", [NAN, 1.5, -0.25])
def test_binary_cross_entropy_refuses_non_probabilities_like_torch(torch, bad):
    p = np.array([[0.2, bad], [0.9, 0.5]])
    t = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match=r"all elements of input should be between 0 and 1.*shape \(2, 2\).*with_logits"):
        am.losses.binary_cross_entropy(Tensor(p), Tensor(t))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(t))

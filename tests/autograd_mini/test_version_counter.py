"""In-place changes between forward and backward: a version counter on every tensor, as in PyTorch.

PyTorch counts in-place changes made through the tensor API (``W.sub_``, ``optimizer.step()``) and its
backward refuses an array an op saved if it changed since. autograd_mini counts ``W.data -= x`` (Python
assigns the changed array back through ``data``'s setter) and ``optimizer.step()``; PyTorch's ``.data`` is
not tracked at all, so the differential tests below change torch's tensors with ``W.sub_`` under no_grad.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import Tensor

X = np.array([[0.5, -1.25, 2.0], [1.5, 0.75, -0.3]])
W = np.array([[0.2, -0.4, 0.9], [1.1, 0.3, -0.7], [-0.5, 0.8, 0.1], [0.6, -0.2, 0.4]])


def leaves(*arrays):
    return [Tensor(a.copy(), requires_grad=True) for a in arrays]


def torch_leaves(torch, *arrays):
    return [torch.tensor(a.copy(), requires_grad=True) for a in arrays]


def test_weights_changed_between_forward_and_backward_raise_like_torch(torch):
    x, w = leaves(X, W)
    out = (x @ w.T).sum()
    w.data -= 1
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*matmul.*shape \(3, 4\)") as error:
        out.backward()
    message = str(error.value)
    assert "version 1; expected version 0" in message
    assert "call backward() before changing the weights" in message
    tx, tw = torch_leaves(torch, X, W)
    t_out = (tx @ tw.T).sum()
    with torch.no_grad():
        tw.sub_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*\[3, 4\].*version 1; expected version 0"):
        t_out.backward()


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_optimizer_step_before_backward_raises_like_torch(torch, optimizer):
    def run(lib, x, w):
        opt = getattr(lib.optim, optimizer)([w], lr=0.1)
        (x @ w.T).tanh().sum().backward()  # gradients exist, so step() will change w
        out = (x @ w.T).tanh().sum()
        opt.step()
        out.backward()

    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        run(am, *leaves(X, W))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        run(torch, *torch_leaves(torch, X, W))


def test_the_usual_training_loop_never_raises_and_matches_torch(torch, close):
    def train(lib, x, w):
        opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
        for _ in range(5):
            opt.zero_grad()
            ((x @ w.T).tanh() ** 2).mean().backward()
            opt.step()
        return w

    close(train(am, *leaves(X, W)).data, train(torch, *torch_leaves(torch, X, W)).detach().numpy())


def test_retained_graph_after_a_step_raises_like_torch(torch):
    for lib, (x, w) in ((am, leaves(X, W)), (torch, torch_leaves(torch, X, W))):
        out = (x * w[:2, :]).sum()
        out.backward(retain_graph=True)
        lib.optim.SGD([w], lr=0.1).step()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.backward()


def test_changing_an_input_no_op_saved_is_allowed_like_torch(torch, close):
    """add and sum keep no input: changing x afterwards cannot spoil their gradient."""
    (x,) = leaves(X)
    out = (x + 1.0).sum()
    x.data -= 1
    out.backward()
    (tx,) = torch_leaves(torch, X)
    t_out = (tx + 1.0).sum()
    with torch.no_grad():
        tx.sub_(1)
    t_out.backward()
    close(x.grad, tx.grad.numpy())


def test_changing_an_output_that_its_op_saved_raises_like_torch(torch):
    """softmax saves its own output for backward."""
    (x,) = leaves(X)
    s = x.softmax(axis=1)
    s.data *= 2
    with pytest.raises(RuntimeError, match=r"softmax saved its output, a float64 tensor of shape \(2, 3\)"):
        s.sum().backward()
    (tx,) = torch_leaves(torch, X)
    ts = tx.softmax(dim=1)
    with torch.no_grad():
        ts.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ts.sum().backward()


def test_a_new_array_leaves_the_saved_one_intact_like_torch(torch, close):
    """``W.data = W.data - 1`` binds a new array: the graph still holds the old values, and uses them."""
    x, w = leaves(X, W)
    out = (x @ w.T).sum()
    w.data = w.data - 1
    out.backward()
    tx, tw = torch_leaves(torch, X, W)
    t_out = (tx @ tw.T).sum()
    tw.data = tw.data - 1
    t_out.backward()
    close(x.grad, tx.grad.numpy())
    assert w._version == 0 and tw._version == 0


def test_version_counts_like_torch(torch):
    (w,) = leaves(W)
    (tw,) = torch_leaves(torch, W)
    view, t_view = w.T, tw.T
    detached, t_detached = w.detach(), tw.detach()
    w.data -= 1
    with torch.no_grad():
        tw.sub_(1)
    w.grad, tw.grad = np.ones(W.shape), torch.ones(W.shape)
    am.optim.SGD([w], lr=0.1).step()
    torch.optim.SGD([tw], lr=0.1).step()
    am.nn.init.xavier_uniform_(w, rng=0)
    torch.nn.init.xavier_uniform_(tw)
    assert w._version == tw._version == 3
    assert view._version == t_view._version == 3  # a view shares its base's counter
    assert detached._version == t_detached._version == 3
    assert Tensor(X)._version == torch.tensor(X)._version == 0

"""The backward engine: accumulation, deep graphs, graph freeing, no_grad, detach, retain_grad."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini
from autograd_mini import Tensor, no_grad

X = np.array([[0.5, -1.25, 2.0], [1.5, 0.75, -0.3]])


def leaf(data=X):
    return Tensor(np.array(data, dtype=np.float64), requires_grad=True)


def torch_leaf(torch, data=X):
    return torch.tensor(np.array(data, dtype=np.float64), requires_grad=True)


# ---- accumulation where a node is used more than once ------------------------------------------


def test_node_used_twice_accumulates_like_torch(torch, close):
    x = leaf()
    (x * x + x).sum().backward()
    tx = torch_leaf(torch)
    (tx * tx + tx).sum().backward()
    close(x.grad, tx.grad.numpy())
    close(x.grad, 2 * X + 1)


def test_diamond_graph_like_torch(torch, close):
    """x -> a -> (b, c) -> d: both paths from d back to a must be summed before going on to x."""

    def diamond(x):
        a = x * 2.0 + 1.0
        b = a.exp()
        c = a.tanh()
        return (b * c + a / (b + 1.0)).sum()

    x = leaf()
    diamond(x).backward()
    tx = torch_leaf(torch)
    diamond(tx).backward()
    close(x.grad, tx.grad.numpy())


def test_intermediate_used_many_times_like_torch(torch, close):
    def graph(x, w):
        h = (x @ w).tanh()
        return (h * h).sum() + h.sum() + (h @ w.T).mean() + h[0].sum()

    w_data = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    x, w = leaf(), leaf(w_data)
    graph(x, w).backward()
    tx, tw = torch_leaf(torch), torch_leaf(torch, w_data)
    graph(tx, tw).backward()
    close(x.grad, tx.grad.numpy())
    close(w.grad, tw.grad.numpy())


def test_leaf_gradients_are_independent_arrays_like_torch(torch):
    """Changing one parameter's .grad in place (gradient clipping does) must not change another's.

    z = a + b sends the same upstream array to both inputs; torch gives each leaf its own tensor.
    """
    ta, tb = torch_leaf(torch), torch_leaf(torch)
    (ta + tb).backward(torch.ones(X.shape))
    ta.grad.mul_(0.5)
    assert (tb.grad == 1.0).all()
    a, b = leaf(), leaf()
    (a + b).backward(np.ones(X.shape))
    a.grad *= 0.5
    np.testing.assert_array_equal(b.grad, np.ones(X.shape))


def test_backward_does_not_keep_the_callers_gradient_array_like_torch(torch):
    torch_upstream = torch.ones(X.shape)
    ty = torch_leaf(torch)
    ty.backward(torch_upstream)
    ty.grad.add_(1.0)
    assert (torch_upstream == 1.0).all()
    upstream = np.ones(X.shape)
    x = leaf()
    (x * 1.0).backward(upstream)
    y = leaf()
    y.backward(upstream)
    x.grad += 1.0
    y.grad += 1.0
    np.testing.assert_array_equal(upstream, np.ones(X.shape))


# ---- deep graphs -------------------------------------------------------------------------------


def test_chain_of_100000_ops_backward_without_recursion_error():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 0.99999
    y.backward()
    # d y / d x multiplies the same factors in the same order as the forward pass did.
    assert x.grad == y.data
    assert 0.36 < x.grad < 0.37  # 0.99999 ** 100000 = e^-1.00000500...


def test_topological_order_of_a_long_chain_puts_parents_first():
    x = Tensor(1.0, requires_grad=True)
    nodes = [x]
    for _ in range(5_000):
        nodes.append(nodes[-1] + 1.0)
    order = autograd_mini.topological_order(nodes[-1])
    chain_ids = {id(n) for n in nodes}
    assert [id(n) for n in order if id(n) in chain_ids] == [id(n) for n in nodes]


# ---- repeated backward -------------------------------------------------------------------------


def test_grad_accumulates_across_two_backward_calls_with_retain_graph(torch, close):
    x = leaf()
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    tx = torch_leaf(torch)
    ty = (tx * tx).sum()
    ty.backward(retain_graph=True)
    ty.backward()
    close(x.grad, tx.grad.numpy())
    close(x.grad, 4 * X)


def test_grad_accumulates_across_two_graphs(torch, close):
    x = leaf()
    x.exp().sum().backward()
    (x * 3.0).sum().backward()
    close(x.grad, np.exp(X) + 3.0)


def test_second_backward_without_retain_graph_raises_like_torch(torch):
    x = leaf()
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    ty = (torch_leaf(torch) ** 2).sum()
    ty.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        ty.backward()


SAVES_NOTHING = {
    "sum": lambda x: x.sum(),
    "add, mean": lambda x: (x + 1.0).mean(),
    "sub, neg, reshape, transpose, index": lambda x: (-(x - 2.0)).reshape(3, 2).T[1].sum(),
}


@pytest.mark.parametrize("graph", SAVES_NOTHING.values(), ids=SAVES_NOTHING.keys())
def test_second_backward_through_ops_that_saved_nothing_is_allowed_like_torch(torch, close, graph):
    x = leaf()
    y = graph(x)
    y.backward()
    y.backward()
    tx = torch_leaf(torch)
    ty = graph(tx)
    ty.backward()
    ty.backward()
    close(x.grad, tx.grad.numpy())


def test_second_backward_through_nll_loss_raises_like_torch(torch):
    y = autograd_mini.losses.nll_loss(leaf(), np.array([2, 0]))
    y.backward()
    with pytest.raises(RuntimeError, match="nll_loss saved.*retain_graph"):
        y.backward()
    ty = torch.nn.functional.nll_loss(torch_leaf(torch), torch.tensor([2, 0]))
    ty.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        ty.backward()


def test_backward_frees_the_saved_arrays_unless_retain_graph():
    x = leaf()
    y = x.exp() * x
    y.sum().backward(retain_graph=True)
    assert y._ctx.saved_tensors is not None and y.parents[0]._ctx.saved_tensors is not None
    y.sum().backward()
    assert y._ctx.saved_tensors is None and y.parents[0]._ctx.saved_tensors is None


def test_retain_graph_holds_for_the_whole_call_even_when_an_op_runs_another_backward(torch, close):
    """A backward nested inside another (here: inside mul's backward) must not end the outer one's retain_graph.

    retain_graph travels with the graph, so the inner, non-retained backward frees only its own graph.
    """
    reference = autograd_mini.registry.reference_of("mul.backward")

    def mul_backward_running_another_backward(ctx, grad):
        other = leaf()
        other.exp().sum().backward()
        return reference(ctx, grad)

    x = leaf()
    y = (x * x).exp().sum()
    with autograd_mini.use({"mul.backward": mul_backward_running_another_backward}):
        y.backward(retain_graph=True)
    y.backward()
    tx = torch_leaf(torch)
    ty = (tx * tx).exp().sum()
    ty.backward(retain_graph=True)
    ty.backward()
    close(x.grad, tx.grad.numpy())


def test_retain_graph_ends_with_its_call_even_when_backward_raises():
    def broken_exp_backward(ctx, grad):
        raise ArithmeticError("broken on purpose")

    x = leaf()
    y = (x * x).exp().sum()
    with autograd_mini.use({"exp.backward": broken_exp_backward}):
        with pytest.raises(ArithmeticError):
            y.backward(retain_graph=True)
    y.backward()  # not retained: frees the graph
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


# ---- backward's gradient argument --------------------------------------------------------------


def test_backward_of_non_scalar_without_grad_names_the_shape():
    y = leaf() * 2.0
    with pytest.raises(RuntimeError, match=r"scalar.*\(2, 3\)"):
        y.backward()


def test_backward_of_one_element_non_scalar_needs_no_grad(torch, close):
    x = leaf()
    y = x.sum(axis=(0, 1), keepdims=True)
    assert y.shape == (1, 1)
    y.backward()
    tx = torch_leaf(torch)
    tx.sum(dim=(0, 1), keepdim=True).backward()
    close(x.grad, tx.grad.numpy())


@pytest.mark.parametrize("wrap", [np.asarray, Tensor])
def test_backward_with_explicit_grad_like_torch(torch, close, wrap):
    upstream = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
    x = leaf()
    (x.exp() * x).backward(wrap(upstream))
    tx = torch_leaf(torch)
    (tx.exp() * tx).backward(torch.tensor(upstream))
    close(x.grad, tx.grad.numpy())


def test_backward_with_wrong_grad_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        (leaf() * 2.0).backward(np.ones(3))


def test_backward_of_a_leaf(close):
    x = Tensor(2.0, requires_grad=True)
    x.backward()
    close(x.grad, 1.0)


# ---- zero_grad, no_grad, detach -----------------------------------------------------------------


def test_zero_grad_clears_and_next_backward_starts_fresh(close):
    x = leaf()
    (x * x).sum().backward()
    x.zero_grad()
    assert x.grad is None
    (x * 3.0).sum().backward()
    close(x.grad, np.full(X.shape, 3.0))


def test_no_grad_builds_no_graph():
    x = leaf()
    with no_grad():
        assert not autograd_mini.is_grad_enabled()
        y = (x * 2.0).exp().sum()
    assert autograd_mini.is_grad_enabled()
    assert y.requires_grad is False
    assert y.parents == () and y.op is None and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_restores_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert autograd_mini.is_grad_enabled()
    assert (leaf() * 2.0).requires_grad


def test_no_grad_nests():
    with no_grad():
        with no_grad():
            pass
        assert not autograd_mini.is_grad_enabled()
    assert autograd_mini.is_grad_enabled()


def test_parameter_update_under_no_grad_keeps_leaf(close):
    w = leaf()
    (w * w).sum().backward()
    with no_grad():
        w.data = (w - 0.1 * Tensor(w.grad)).data
    assert w.is_leaf and w.requires_grad
    close(w.data, X - 0.2 * X)


def test_detach_stops_the_gradient(torch, close):
    x = leaf()
    d = x.detach()
    assert d.requires_grad is False and d.is_leaf and d.parents == ()
    np.testing.assert_array_equal(d.data, x.data)
    (x * d).sum().backward()
    tx = torch_leaf(torch)
    (tx * tx.detach()).sum().backward()
    close(x.grad, tx.grad.numpy())
    close(x.grad, X)


def test_item_and_numpy():
    t = Tensor([[2.5]])
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert isinstance(Tensor(X).numpy(), np.ndarray)
    np.testing.assert_array_equal(Tensor(X).numpy(), X)


# ---- gradients of non-leaf tensors ---------------------------------------------------------------


def test_non_leaf_grad_is_none_unless_retained_like_torch(torch, close):
    x = leaf()
    h = x * 2.0
    kept = h.exp()
    kept.retain_grad()
    kept.sum().backward()
    assert h.grad is None
    assert not h.is_leaf and x.is_leaf
    tx = torch_leaf(torch)
    th = tx * 2.0
    tk = th.exp()
    tk.retain_grad()
    tk.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf"):  # torch warns, then answers None
        assert th.grad is None
    close(kept.grad, tk.grad.numpy())
    close(x.grad, tx.grad.numpy())


def test_constants_in_the_graph_get_no_grad():
    c = Tensor(X)
    x = leaf()
    (x * c).sum().backward()
    assert c.grad is None and c.requires_grad is False


def test_requires_grad_propagates():
    x, c = leaf(), Tensor(X)
    assert (x + c).requires_grad and (c + x).requires_grad
    assert not (c * c).requires_grad
    assert (c * c).parents == ()

"""``autograd_mini.use``: a lesson swaps the student's implementation in for one block, and only that."""
from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_mini
from autograd_mini import Tensor, registry, use


@pytest.fixture(autouse=True)
def _reference_implementations():
    """A test that fails inside ``use(...)`` must not leave a student implementation active."""
    registry.reset()
    yield
    registry.reset()


def reference(name):
    return registry.reference_of(name)


def mul_backward_times_ten(ctx, grad):
    grad_a, grad_b = reference("mul.backward")(ctx, grad)
    return tuple(None if g is None else 10 * g for g in (grad_a, grad_b))


def grad_of_mul(x_data=(1.0, 2.0, 3.0), factor=4.0):
    x = Tensor(list(x_data), requires_grad=True)
    (x * factor).sum().backward()
    return x.grad


def test_use_swaps_the_implementation_inside_the_block_only():
    np.testing.assert_array_equal(grad_of_mul(), [4.0, 4.0, 4.0])
    with use({"mul.backward": mul_backward_times_ten}):
        assert registry.lookup("mul.backward") is mul_backward_times_ten
        np.testing.assert_array_equal(grad_of_mul(), [40.0, 40.0, 40.0])
    assert registry.lookup("mul.backward") is reference("mul.backward")
    np.testing.assert_array_equal(grad_of_mul(), [4.0, 4.0, 4.0])


def test_use_applies_at_backward_time_not_at_graph_building_time():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3.0).sum()
    with use({"mul.backward": mul_backward_times_ten}):
        y.backward()
    np.testing.assert_array_equal(x.grad, [30.0, 30.0])


def test_use_restores_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with use({"mul.backward": mul_backward_times_ten}):
            1 / 0
    assert registry.lookup("mul.backward") is reference("mul.backward")
    np.testing.assert_array_equal(grad_of_mul(), [4.0, 4.0, 4.0])


def test_use_restores_after_an_exception_raised_by_the_student_code():
    def broken(ctx, grad):
        raise ArithmeticError("student bug")

    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(ArithmeticError, match="student bug"):
        with use({"mul.backward": broken}):
            (x * 2.0).sum().backward()
    np.testing.assert_array_equal(grad_of_mul(), [4.0, 4.0, 4.0])


def test_nested_use_restores_the_outer_override():
    def mul_backward_zero(ctx, grad):
        return tuple(None if g is None else 0 * g for g in reference("mul.backward")(ctx, grad))

    with use({"mul.backward": mul_backward_times_ten}):
        with use({"mul.backward": mul_backward_zero}):
            np.testing.assert_array_equal(grad_of_mul(), [0.0, 0.0, 0.0])
        np.testing.assert_array_equal(grad_of_mul(), [40.0, 40.0, 40.0])
    np.testing.assert_array_equal(grad_of_mul(), [4.0, 4.0, 4.0])


def test_forward_override(close):
    def add_forward_plus_one(ctx, a, b):
        return reference("add.forward")(ctx, a, b) + 1

    with use({"add.forward": add_forward_plus_one}):
        close((Tensor([1.0]) + Tensor([2.0])).data, [4.0])
    close((Tensor([1.0]) + Tensor([2.0])).data, [3.0])


def test_unknown_name_is_a_key_error_with_a_suggestion():
    with pytest.raises(KeyError, match=re.escape("Did you mean 'mul.backward'")):
        with use({"mull.backward": mul_backward_times_ten}):
            pass
    assert registry.lookup("mul.backward") is reference("mul.backward")


def test_unknown_keyword_is_a_key_error_naming_it():
    with pytest.raises(KeyError, match="unbroadcats"):
        with use(unbroadcats=lambda grad, shape: grad):
            pass


def test_an_unknown_name_activates_nothing():
    """All names are checked before any is swapped in: no half-applied override."""
    with pytest.raises(KeyError):
        with use({"mul.backward": mul_backward_times_ten, "nope": mul_backward_times_ten}):
            pass
    assert registry.lookup("mul.backward") is reference("mul.backward")


def test_non_callable_implementation_is_a_type_error():
    with pytest.raises(TypeError, match="mul.backward.*must be a function"):
        with use({"mul.backward": 3}):
            pass


def test_names_lists_every_op_and_the_engine():
    names = registry.names()
    for op in ["add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "tanh", "sigmoid", "relu",
               "sqrt", "abs", "sum", "mean", "max", "reshape", "transpose", "getitem", "softmax", "log_softmax"]:
        assert f"{op}.forward" in names and f"{op}.backward" in names
    assert {"unbroadcast", "engine.backward", "engine.topological_order"} <= set(names)


@pytest.mark.parametrize("input_index", [0, 1])
def test_backward_returning_the_wrong_shape_names_op_input_and_shapes(input_index):
    def mul_backward_unreduced(ctx, grad):
        grads = list(reference("mul.backward")(ctx, grad))
        grads[input_index] = grad  # forgot to unbroadcast: (2, 3) instead of (3,) or (2, 1)
        return tuple(grads)

    a = Tensor(np.ones((2, 1)), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    wrong = (2, 1) if input_index == 0 else (3,)
    expected = re.escape(
        f"mul.backward returned a gradient of shape (2, 3) for input {input_index} of shape {wrong}"
    )
    with use({"mul.backward": mul_backward_unreduced}):
        with pytest.raises(ValueError, match=expected):
            (a * b).sum().backward()


def test_backward_returning_too_few_gradients_is_a_type_error():
    with use({"mul.backward": lambda ctx, grad: grad}):
        with pytest.raises(TypeError, match="mul.backward returned 1 gradients for 2 inputs"):
            (Tensor([1.0], requires_grad=True) * Tensor([2.0], requires_grad=True)).sum().backward()


def test_backward_returning_none_for_an_input_that_needs_grad():
    with use({"mul.backward": lambda ctx, grad: (None, None)}):
        with pytest.raises(TypeError, match="mul.backward returned None for input 0"):
            (Tensor([1.0], requires_grad=True) * 2.0).sum().backward()


@pytest.mark.parametrize(
    "expression",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a * b,
        lambda a, b: a / b,
        lambda a, b: a**b,
        lambda a, b: a @ b,
    ],
    ids=["add", "sub", "mul", "div", "pow", "matmul"],
)
def test_broadcasting_ops_call_the_active_unbroadcast(close, expression):
    calls = []

    def spy_unbroadcast(grad, shape):
        calls.append((grad.shape, tuple(shape)))
        return reference("unbroadcast")(grad, shape)

    def run():
        a = Tensor(np.full((1, 3), 1.5), requires_grad=True)
        b = Tensor(np.array([0.5, 1.0, 2.0]), requires_grad=True)
        expression(a, b).sum().backward()
        return a.grad, b.grad

    expected = run()
    with use(unbroadcast=spy_unbroadcast):
        got = run()
    assert calls, "no op called the active unbroadcast"
    for g, e in zip(got, expected):
        close(g, e)


def test_a_wrong_unbroadcast_is_caught_by_the_shape_check():
    with use(unbroadcast=lambda grad, shape: grad):  # a student who forgot to sum
        with pytest.raises(ValueError, match=re.escape("add.backward returned a gradient of shape (2, 3) for input 1 of shape (3,)")):
            (Tensor(np.ones((2, 3)), requires_grad=True) + Tensor(np.ones(3), requires_grad=True)).sum().backward()


def test_engine_backward_can_be_swapped(close):
    calls = []

    def spy_backward(root, grad):
        calls.append(root)
        return reference("engine.backward")(root, grad)

    x = Tensor([1.0, 2.0], requires_grad=True)
    with use({"engine.backward": spy_backward}):
        (x * x).sum().backward()
    assert len(calls) == 1
    close(x.grad, [2.0, 4.0])


def test_use_is_exported_at_top_level():
    assert autograd_mini.use is registry.use

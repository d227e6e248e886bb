"""Every diagnosis, provoked by a deliberately wrong implementation."""
import numpy as np
import pytest

import grader.checks as gc
from autograd_mini import registry
from grader.checks.optimizers import _adam, _rmsprop, _sgd, _variant


def mistake_of(result):
    assert not result.passed, "the wrong implementation must not pass"
    return result.mistake, result.diagnosis


def ref(op):
    return registry.reference_of(op + ".backward")


# ---- failures before any number is compared --------------------------------------------------------

def test_stub_says_not_implemented_yet():
    def stub(ctx, grad):
        # YOUR CODE HERE
        raise NotImplementedError()

    kind, text = mistake_of(gc.check_backward(stub, op="mul"))
    assert kind == "not_implemented"
    assert "not implemented yet" in text and "cell above" in text


def test_exception_is_named_with_the_input_shapes():
    def broken(ctx, grad):
        raise ValueError("operands could not be broadcast")

    kind, text = mistake_of(gc.check_backward(broken, op="add"))
    assert kind == "exception"
    assert "ValueError: operands could not be broadcast" in text and "(3,), (3,)" in text


def test_returning_none_mentions_return():
    kind, text = mistake_of(gc.check_forward(lambda a: None, op="relu"))
    assert kind == "returned_none" and "`return`" in text


def test_returning_a_torch_tensor():
    import torch

    kind, text = mistake_of(gc.check_forward(lambda a: torch.relu(torch.from_numpy(a)), op="relu"))
    assert kind == "framework_object" and "torch.Tensor" in text and "numpy array" in text


def test_returning_a_tensorflow_tensor():
    import tensorflow as tf

    kind, text = mistake_of(gc.check_forward(lambda a: tf.nn.relu(a), op="relu"))
    assert kind == "framework_object" and "TensorFlow" in text


def test_always_equal_object_is_not_a_number():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    kind, text = mistake_of(gc.check_forward(lambda a: AlwaysEqual(), op="relu"))
    assert kind == "wrong_type" and "AlwaysEqual" in text


def test_wrong_number_of_gradients():
    kind, text = mistake_of(gc.check_backward(lambda ctx, g: (g,), op="mul"))
    assert kind == "count" and "one gradient per input" in text


# ---- numbers that differ in a recognisable way -----------------------------------------------------

def test_factor_two_too_large():
    kind, text = mistake_of(gc.check_loss_grad(lambda x, y, reduction: 4 * (x - y) / x.size, "mse_loss"))
    assert kind == "factor" and "exactly 2x too large" in text


def test_factor_two_too_small_the_half_in_mse():
    kind, text = mistake_of(gc.check_loss_grad(lambda x, y, reduction: (x - y) / x.size, "mse_loss"))
    assert kind == "factor" and "2x too small" in text


def test_mean_instead_of_sum_is_a_factor_of_n():
    kind, text = mistake_of(gc.check_loss(lambda x, y, reduction: ((x - y) ** 2).mean(), "mse_loss", "sum"))
    assert kind == "factor" and "/4" in text and "number of elements" in text


def test_sum_instead_of_mean_in_mean_backward():
    def mean_backward_without_division(ctx, grad):
        if ctx.axis is not None and not ctx.keepdims:
            grad = np.expand_dims(grad, ctx.axis)
        return (np.broadcast_to(grad, ctx.shape).copy(),)

    kind, text = mistake_of(gc.check_backward(mean_backward_without_division, op="mean"))
    assert kind == "factor" and "x5, x3, x8" in text and "mean divides" in text


def test_sign_error():
    kind, text = mistake_of(gc.check_backward(lambda ctx, g: (g,), op="neg"))
    assert kind == "sign" and "wrong sign" in text


def test_sign_error_in_one_of_two_gradients():
    def div_backward_sign(ctx, grad):
        a, b = ctx.saved_tensors
        return grad / b, grad * a / b ** 2

    forward_shapes = gc.backward_check("div").cases
    same_shape_cases = [c for c in forward_shapes if c.arrays[0].shape == c.arrays[1].shape]
    kind, text = mistake_of(gc.backward_check("div", cases=same_shape_cases).run(div_backward_sign))
    assert kind == "sign" and "-grad * a / b**2" in text


def test_matmul_without_transpose():
    def matmul_backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad @ b, a @ grad

    square = [c for c in gc.backward_check("matmul").cases if c.arrays[0].shape == c.arrays[1].shape == (3, 3)]
    kind, text = mistake_of(gc.backward_check("matmul", cases=square).run(matmul_backward))
    assert kind == "transposed" and "B.T" in text


def test_transposed_gradient_shape():
    def matmul_backward(ctx, grad):
        a, b = ctx.saved_tensors
        return (grad @ b.T).T, a.T @ grad

    case = [c for c in gc.backward_check("matmul").cases if c.arrays[0].shape == (2, 4)]
    kind, text = mistake_of(gc.backward_check("matmul", cases=case).run(matmul_backward))
    assert kind == "transposed" and "looks transposed" in text


def test_swapped_matmul_gradients():
    kind, text = mistake_of(gc.check_backward(lambda ctx, g: ref("matmul")(ctx, g)[::-1], op="matmul"))
    assert kind == "swapped" and "swapped" in text


def test_missing_reduction_over_broadcast_axes():
    kind, text = mistake_of(gc.check_backward(lambda ctx, g: (g, g), op="add"))
    assert kind == "unreduced"
    assert "broadcast" in text and "matches after summing" in text


def test_wrong_shape():
    kind, text = mistake_of(gc.check_backward(lambda ctx, g: (np.zeros(7),), op="sum"))
    assert kind == "shape" and "expected (5,)" in text


def test_missing_accumulation_at_a_fork():
    kind, text = mistake_of(gc.check_gradient(lambda x, y: (y.copy(), x.copy()), graph="fork"))
    assert kind == "accumulation" and "one branch" in text and "+=" in text


def test_missing_accumulation_for_a_node_used_twice():
    kind, text = mistake_of(gc.check_gradient(lambda x, y: (x * y, x * x), graph="square"))
    assert kind == "accumulation"


def test_repeated_index_needs_add_at():
    def getitem_backward(ctx, grad):
        full = np.zeros(ctx.shape)
        full[ctx.index] = grad
        return (full,)

    kind, text = mistake_of(gc.check_backward(getitem_backward, op="getitem"))
    assert kind == "accumulation" and "np.add.at" in text


def test_diagonal_softmax_jacobian():
    def softmax_backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return (grad * s * (1 - s),)

    kind, text = mistake_of(gc.check_backward(softmax_backward, op="softmax"))
    assert kind == "jacobian" and "not diagonal" in text


def test_mul_gradient_uses_its_own_input():
    def mul_backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * a, grad * b

    same = [c for c in gc.backward_check("mul").cases if c.arrays[0].shape == c.arrays[1].shape]
    kind, text = mistake_of(gc.backward_check("mul", cases=same).run(mul_backward))
    assert kind == "wrong_factor" and "other" in text


def test_unstable_softmax_gives_nan():
    def naive_softmax(a, axis=-1):
        e = np.exp(a)
        return e / e.sum(axis=axis, keepdims=True)

    kind, text = mistake_of(gc.check_forward(naive_softmax, op="softmax"))
    assert kind == "nan" and "log-sum-exp" in text


def test_unstable_cross_entropy_gives_nan():
    def naive(x, y, reduction):
        p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y]).mean()

    kind, text = mistake_of(gc.check_loss(naive, "cross_entropy"))
    assert kind == "nan"


def test_unstable_bce_with_logits_gives_nan():
    def naive(x, y, reduction):
        p = 1 / (1 + np.exp(-x))
        return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()

    kind, text = mistake_of(gc.check_loss(naive, "binary_cross_entropy_with_logits"))
    assert kind == "nan"


def test_unexplained_difference_points_at_an_element():
    kind, text = mistake_of(gc.check_forward(lambda a: np.maximum(a, 0) + (a > 1) * 0.1, op="relu"))
    assert kind == "mismatch" and "PyTorch has" in text


# ---- optimizers and training -----------------------------------------------------------------------

def test_momentum_in_the_averaging_convention():
    kind, text = mistake_of(gc.check_optimizer(_variant(_sgd, ema=True), "sgd", momentum=0.875))
    assert kind == "momentum_convention" and "(1-mu)" in text


@pytest.mark.parametrize("name,rule", [("adam", _adam), ("rmsprop", _rmsprop)])
def test_epsilon_inside_the_square_root(name, rule):
    kind, text = mistake_of(gc.check_optimizer(_variant(rule, eps_inside=True), name))
    assert kind == "epsilon_convention" and "outside the square root" in text


def test_adam_without_bias_correction():
    kind, text = mistake_of(gc.check_optimizer(_variant(_adam, no_bias_correction=True), "adam"))
    assert kind == "bias_correction"


def test_adamw_with_l2_instead_of_decoupled_decay():
    kind, text = mistake_of(gc.check_optimizer(lambda p, g, s, **h: _adam(p, g, s, **h), "adamw"))
    assert kind == "weight_decay_convention"


def test_update_that_is_not_in_place():
    def rebinding(param, grad, state, lr, **hyper):
        param = param - lr * grad  # noqa: F841

    kind, text = mistake_of(gc.check_optimizer(rebinding, "sgd"))
    assert kind == "not_in_place" and "in place" in text


def test_forgotten_zero_grad_accumulates_gradients():
    def train_without_zero_grad(w, b, X, y, lr, steps):
        gw, gb, losses = np.zeros_like(w), 0.0, []
        for _ in range(steps):
            r = X @ w + b - y
            losses.append(np.mean(r ** 2))
            gw, gb = gw + 2 * X.T @ r / len(y), gb + 2 * r.mean()
            w, b = w - lr * gw, b - lr * gb
        return np.array(losses)

    kind, text = mistake_of(gc.check_training(train_without_zero_grad))
    assert kind == "zero_grad" and "zero_grad()" in text


def test_correct_training_loop_passes():
    def train(w, b, X, y, lr, steps):
        losses = []
        for _ in range(steps):
            r = X @ w + b - y
            losses.append(np.mean(r ** 2))
            w, b = w - lr * 2 * X.T @ r / len(y), b - lr * 2 * r.mean()
        return np.array(losses)

    assert gc.check_training(train).passed


def test_delegating_to_the_stripped_reference_is_named():
    def uses_reference(ctx, grad):
        raise NotImplementedError("'mul.backward' is not available while it is graded")

    kind, text = mistake_of(gc.check_backward(uses_reference, op="mul"))
    assert kind == "uses_reference" and "mul.backward" in text


def test_tensor_mode_loss_must_return_a_tensor():
    kind, text = mistake_of(gc.check_loss(lambda x, y, reduction: ((x.data - y.data) ** 2).mean(), "mse_loss",
                                          tensors=True))
    assert kind == "exception" and "return an autograd_mini Tensor" in text


def test_other_constant_factor():
    kind, text = mistake_of(gc.check_forward(lambda a: 3 * np.tanh(a), op="tanh"))
    assert kind == "factor" and "exactly 3x too large" in text


def test_divided_by_n_where_the_reduction_is_a_sum():
    kind, text = mistake_of(gc.check_loss(lambda x, y, reduction: ((x - y) ** 2).sum() / x.size ** 2, "mse_loss", "mean"))
    assert kind == "factor" and "too small" in text and "/4" in text


def test_not_a_function():
    kind, text = mistake_of(gc.check_forward(np.zeros(3), op="relu"))
    assert kind == "missing" and "expected a function" in text

"""gradcheck: central differences agree with the engine on every op, and catch a wrong backward."""
import numpy as np
import pytest

import autograd_mini as am

rng = np.random.default_rng(7)
M = rng.standard_normal((3, 4))
N = rng.standard_normal((4, 2))
ROW = rng.standard_normal((4,))
POSITIVE = rng.uniform(0.5, 2.0, (3, 4))
AWAY_FROM_ZERO = np.where(np.abs(M) < 0.1, 0.5, M)  # relu/abs have a kink at 0

# op name -> (function of Tensors, inputs); together they cover every op the engine registers
EVERY_OP = {
    "add (broadcast)": (lambda a, b: a + b, [M, ROW]),
    "sub (broadcast)": (lambda a, b: a - b, [M, ROW]),
    "mul (broadcast)": (lambda a, b: a * b, [M, ROW]),
    "div": (lambda a, b: a / b, [M, POSITIVE]),
    "pow (tensor exponent)": (lambda a, b: a**b, [POSITIVE, M]),
    "neg": (lambda a: -a, [M]),
    "matmul": (lambda a, b: a @ b, [M, N]),
    "matmul (vector)": (lambda a, b: a @ b, [ROW, N]),
    "exp": (lambda a: a.exp(), [M]),
    "log": (lambda a: a.log(), [POSITIVE]),
    "sqrt": (lambda a: a.sqrt(), [POSITIVE]),
    "abs": (lambda a: a.abs(), [AWAY_FROM_ZERO]),
    "tanh": (lambda a: a.tanh(), [M]),
    "gelu": (lambda a: am.functional.gelu(a), [M]),
    "sigmoid": (lambda a: a.sigmoid(), [M]),
    "relu": (lambda a: a.relu(), [AWAY_FROM_ZERO]),
    "sum (axis)": (lambda a: a.sum(axis=1), [M]),
    "mean (tuple axis, keepdims)": (lambda a: a.mean(axis=(0, 1), keepdims=True), [M]),
    "max (axis)": (lambda a: a.max(axis=0), [M]),
    "reshape": (lambda a: a.reshape(2, 6), [M]),
    "transpose": (lambda a: a.T, [M]),
    "getitem (repeated indices)": (lambda a: a[[0, 0, 2], 1:], [M]),
    "softmax": (lambda a: a.softmax(axis=1), [M]),
    "log_softmax": (lambda a: a.log_softmax(axis=0), [M]),
    "logsumexp": (lambda a: am.functional.logsumexp(a, axis=1), [M]),
    "nll_loss": (lambda a: am.losses.nll_loss(a, np.array([3, 0, 3]), reduction="none"), [M]),
    "cross_entropy": (lambda a: am.losses.cross_entropy(a, np.array([3, 0, 3]), reduction="none"), [M]),
    "binary_cross_entropy": (lambda p, t: am.losses.binary_cross_entropy(p, t, reduction="none"), [POSITIVE / 3, POSITIVE / 2.5]),
    "fused_linear": (lambda x, w, b: am.functional.linear(x, w, b), [M, N.T, ROW[:2]]),
    "checkpoint": (lambda a, b: am.checkpoint(lambda u: (u @ b).tanh(), a), [M, N]),
    "binary_cross_entropy_with_logits": (lambda x, t: am.losses.binary_cross_entropy_with_logits(x, t, reduction="none"), [M, POSITIVE / 2.5]),
}


def test_the_table_covers_every_registered_op():
    tensor_ops = {n.split(".")[0] for n in am.registry.names() if n.endswith(".backward") and n.split(".")[0] not in ("value", "engine")}
    covered = {name.split(" ")[0] for name in EVERY_OP}
    assert tensor_ops <= covered


@pytest.mark.parametrize("name", EVERY_OP)
def test_gradcheck_agrees_with_the_engine(name):
    fn, inputs = EVERY_OP[name]
    result = am.gradcheck(fn, inputs)
    assert result.passed, str(result)
    assert result.max_rel_error < 1e-6


def test_gradcheck_finds_a_wrong_backward_and_says_where():
    def doubled_for_b(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, 2 * (grad * a).sum(axis=0)

    with am.use({"mul.backward": doubled_for_b}):
        result = am.gradcheck(lambda a, b: a * b, [M, ROW])
    assert not result.passed
    assert result.worst_input == 1
    assert result.max_rel_error == pytest.approx(1.0, rel=1e-6)  # 2x too large: relative error 1
    assert "FAILED" in str(result) and "input 1" in str(result)
    np.testing.assert_allclose(result.analytic[1], 2 * result.numerical[1], rtol=1e-6)


def test_gradcheck_leaves_its_inputs_unchanged():
    inputs = [M.copy(), N.copy()]
    am.gradcheck(lambda a, b: (a @ b).tanh(), inputs)
    np.testing.assert_array_equal(inputs[0], M)
    np.testing.assert_array_equal(inputs[1], N)

"""Every op of autograd_mini against PyTorch (torch.autograd) and TensorFlow (tf.GradientTape).

Each check runs the same computation in the three libraries in float64, on seeded random inputs,
backpropagates the same random upstream gradient, and compares the forward value and the gradient
of every input with ``close`` (|a - b| <= 1e-10 |b| + 1e-12). Shapes come from hypothesis, so
every broadcasting pattern (missing leading dims, size-1 dims stretched on either side, scalars)
is exercised; a few hand-written patterns make sure the classic ones always run.
"""
from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from autograd_mini import Tensor

SETTINGS = settings(
    max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
seeds = st.integers(0, 2**32 - 1)
shapes = array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
broadcastable_pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)


# ---- running one computation in the three libraries --------------------------------------------


def run_autograd_mini(fn, arrays, upstream):
    inputs = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    g = upstream(out.shape)
    out.backward(g)
    return out, g, [x.grad for x in inputs]


def run_torch(torch, fn, arrays, g):
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    out.backward(torch.tensor(g))
    return out.detach().numpy(), [x.grad.numpy() for x in inputs]


def run_tf(tf, fn, arrays, g):
    inputs = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        for x in inputs:
            tape.watch(x)
        out = fn(*inputs)
    grads = tape.gradient(out, inputs, output_gradients=tf.constant(g))
    return out.numpy(), [tf.convert_to_tensor(gr).numpy() for gr in grads]


def compare(oracles, close, am_fn, torch_fn, tf_fn, arrays, seed, rtol=1e-10):
    """Forward value and every input's gradient of autograd_mini == torch == TF."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    rng = np.random.default_rng(seed + 1)
    out, g, grads = run_autograd_mini(am_fn, arrays, lambda shape: rng.standard_normal(shape))
    assert out.dtype == np.float64
    for name, (ref_out, ref_grads) in {
        "torch": run_torch(oracles.torch, torch_fn, arrays, g),
        "tf": run_tf(oracles.tf, tf_fn, arrays, g),
    }.items():
        close(out.data, ref_out, f"forward vs {name}", rtol=rtol)
        for i, (grad, ref, a) in enumerate(zip(grads, ref_grads, arrays)):
            assert grad is not None, f"input {i} got no gradient"
            assert grad.shape == a.shape, f"gradient of input {i} has shape {grad.shape}, input {a.shape}"
            assert grad.dtype == np.float64
            close(grad, ref, f"gradient of input {i} vs {name}", rtol=rtol)


# ---- binary arithmetic with broadcasting -------------------------------------------------------

BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv, "pow": operator.pow}


def binary_inputs(name, shape_a, shape_b, seed):
    rng = np.random.default_rng(seed)
    if name == "pow":  # positive base, so the exponent's gradient a**b * log(a) is real
        return rng.uniform(0.5, 2.0, shape_a), rng.uniform(-2.0, 2.0, shape_b)
    a = rng.standard_normal(shape_a)
    if name == "div":  # keep the divisor away from 0
        return a, rng.choice([-1.0, 1.0], shape_b) * rng.uniform(0.5, 2.0, shape_b)
    return a, rng.standard_normal(shape_b)


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=broadcastable_pairs, seed=seeds)
def test_binary_op_broadcasting(oracles, close, name, shapes, seed):
    fn = BINARY[name]
    compare(oracles, close, fn, fn, fn, binary_inputs(name, *shapes.input_shapes, seed), seed)


BROADCAST_PATTERNS = [
    ((2, 3), (2, 3)),  # same shape
    ((), (2, 3)),  # 0-d tensor on the left
    ((2, 3), ()),  # ... and on the right
    ((2, 3), (3,)),  # missing leading dim (bias over rows)
    ((3,), (2, 3)),
    ((2, 1), (1, 3)),  # both stretched: outer product
    ((4, 1), (4, 3)),  # size-1 stretched on one side
    ((1,), (2, 3)),
    ((4, 1, 3), (2, 3)),  # missing dim plus stretched dim
    ((5, 1, 1), (1, 4, 1)),
    ((2, 1, 3, 1), (4, 1, 5)),
]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_PATTERNS)
def test_binary_op_named_broadcast_patterns(oracles, close, name, shape_a, shape_b):
    fn = BINARY[name]
    compare(oracles, close, fn, fn, fn, binary_inputs(name, shape_a, shape_b, 7), 7)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("kind", [float, np.float64, int])
def test_binary_op_with_scalar(oracles, close, name, side, kind):
    """Python and numpy scalars on either side; only the tensor gets a gradient."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 2.0, (3, 4)) if name == "pow" else away_from_zero(rng, (3, 4))
    scalar = 3 if kind is int else 1.7
    fn = BINARY[name]

    def with_scalar(s):
        return (lambda t: fn(s, t)) if side == "left" else (lambda t: fn(t, s))

    compare(oracles, close, with_scalar(kind(scalar)), with_scalar(scalar), with_scalar(float(scalar)), [x], 3)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("side", ["left", "right"])
def test_binary_op_with_numpy_array_constant(oracles, close, name, side):
    """A plain numpy array broadcasts against a Tensor on either side (numpy defers to Tensor)."""
    rng = np.random.default_rng(4)
    x = rng.uniform(0.5, 2.0, (2, 3, 4))
    constant = rng.uniform(0.5, 2.0, (3, 1))
    fn = BINARY[name]
    if side == "left":
        am_fn = lambda t: fn(constant, t)  # noqa: E731
        torch_fn = lambda t: fn(oracles.torch.tensor(constant), t)  # noqa: E731
        tf_fn = lambda t: fn(oracles.tf.constant(constant), t)  # noqa: E731
    else:
        am_fn = lambda t: fn(t, constant)  # noqa: E731
        torch_fn = lambda t: fn(t, oracles.torch.tensor(constant))  # noqa: E731
        tf_fn = lambda t: fn(t, oracles.tf.constant(constant))  # noqa: E731
    out = am_fn(Tensor(x))
    assert isinstance(out, Tensor)
    compare(oracles, close, am_fn, torch_fn, tf_fn, [x], 4)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5, 0])
def test_pow_by_constant_exponent(oracles, close, exponent):
    rng = np.random.default_rng(5)
    # Integer exponents take negative bases too; fractional ones need positive bases.
    x = rng.standard_normal((3, 4)) if float(exponent).is_integer() else rng.uniform(0.5, 2.0, (3, 4))
    fn = lambda t: t**exponent  # noqa: E731
    compare(oracles, close, fn, fn, fn, [x], 5)


def test_pow_at_base_zero_like_torch_and_tf(oracles, close):
    """d(a**b)/db = a**b log(a) is taken as 0 where a == 0 (b > 0) by all three."""
    a = np.array([0.0, 0.0, 1.5])
    b = np.array([2.0, 3.0, 0.5])
    fn = operator.pow
    compare(oracles, close, fn, fn, fn, [a, b], 9)


def test_numpy_array_at_matmul_tensor(oracles, close):
    constant = np.random.default_rng(10).standard_normal((2, 3))
    x = np.random.default_rng(11).standard_normal((3, 4))
    am_fn = lambda t: constant @ t  # noqa: E731
    assert isinstance(am_fn(Tensor(x)), Tensor)
    compare(
        oracles,
        close,
        am_fn,
        lambda t: oracles.torch.tensor(constant) @ t,
        lambda t: oracles.tf.linalg.matmul(oracles.tf.constant(constant), t),
        [x],
        10,
    )


def test_negation(oracles, close):
    fn = operator.neg
    compare(oracles, close, fn, fn, fn, [np.random.default_rng(6).standard_normal((2, 3, 4))], 6)


def test_same_tensor_on_both_sides(oracles, close):
    """x * x, x / x, x ** x, x - x: one leaf is both inputs, so its two gradients add up."""
    x = np.random.default_rng(8).uniform(0.5, 2.0, (3, 2))
    for fn in BINARY.values():
        one_leaf = lambda t: fn(t, t)  # noqa: E731
        compare(oracles, close, one_leaf, one_leaf, one_leaf, [x], 8)


# ---- elementwise functions ---------------------------------------------------------------------


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 2.0, shape)


UNARY = {
    # name: (autograd_mini, torch, tf, input generator)
    "exp": (Tensor.exp, "exp", "exp", lambda rng, s: rng.uniform(-3.0, 3.0, s)),
    "log": (Tensor.log, "log", "math.log", lambda rng, s: rng.uniform(0.1, 5.0, s)),
    "sqrt": (Tensor.sqrt, "sqrt", "sqrt", lambda rng, s: rng.uniform(0.1, 5.0, s)),
    "tanh": (Tensor.tanh, "tanh", "tanh", lambda rng, s: rng.uniform(-3.0, 3.0, s)),
    "sigmoid": (Tensor.sigmoid, "sigmoid", "sigmoid", lambda rng, s: rng.uniform(-6.0, 6.0, s)),
    "relu": (Tensor.relu, "relu", "nn.relu", away_from_zero),
    "abs": (Tensor.abs, "abs", "abs", away_from_zero),
    "neg": (Tensor.__neg__, "neg", "negative", lambda rng, s: rng.standard_normal(s)),
}


def framework_fn(module, dotted: str):
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_unary_op(oracles, close, name, shape, seed):
    am_fn, torch_name, tf_name, make = UNARY[name]
    x = make(np.random.default_rng(seed), shape)
    compare(
        oracles, close, am_fn, framework_fn(oracles.torch, torch_name), framework_fn(oracles.tf, tf_name), [x], seed
    )


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_kink_at_zero_has_gradient_zero_like_torch_and_tf(oracles, name):
    am_fn, torch_name, tf_name, _ = UNARY[name]
    x = np.array([-1.0, 0.0, 2.0, 0.0])
    g = np.array([1.0, 1.0, 1.0, -3.0])
    (_, _, (grad,)) = run_autograd_mini(am_fn, [x], lambda shape: g)
    _, (torch_grad,) = run_torch(oracles.torch, framework_fn(oracles.torch, torch_name), [x], g)
    _, (tf_grad,) = run_tf(oracles.tf, framework_fn(oracles.tf, tf_name), [x], g)
    assert grad[1] == 0.0 and grad[3] == 0.0
    np.testing.assert_array_equal(grad, torch_grad)
    np.testing.assert_array_equal(grad, tf_grad)


def test_sigmoid_and_tanh_saturate_without_overflow(oracles, close):
    """|x| up to 800: no overflow, values and gradients as torch/TF.

    Near saturation 1 - s is a difference of numbers close to 1, so the gradient s(1 - s) has only
    ~1e-16 *absolute* accuracy in all three libraries; the usual atol (1e-12) covers that.
    """
    x = np.array([-800.0, -40.0, -20.0, -1.0, 0.5, 20.0, 40.0, 800.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        for name in ("sigmoid", "tanh"):
            am_fn, torch_name, tf_name, _ = UNARY[name]
            out, g, (grad,) = run_autograd_mini(am_fn, [x], lambda shape: np.ones(shape))
            assert np.isfinite(out.data).all() and np.isfinite(grad).all()
            for ref_name, (ref_out, (ref_grad,)) in {
                "torch": run_torch(oracles.torch, framework_fn(oracles.torch, torch_name), [x], g),
                "tf": run_tf(oracles.tf, framework_fn(oracles.tf, tf_name), [x], g),
            }.items():
                close(out.data, ref_out, f"{name} forward vs {ref_name}")
                close(grad, ref_grad, f"{name} gradient vs {ref_name}")


# ---- reductions --------------------------------------------------------------------------------


@st.composite
def shape_and_axis(draw, min_dims=0):
    shape = draw(array_shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    options = [st.none()]
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        options.append(
            st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
                lambda axes: st.tuples(*(st.sampled_from([a, a - ndim]) for a in axes))
            )
        )
    return shape, draw(st.one_of(*options)), draw(st.booleans())


def torch_reduction(method):
    def reduce(x, axis, keepdims):
        dims = tuple(range(x.dim())) if axis is None else axis
        if dims == ():
            return getattr(x, method)()
        return getattr(x, method)(dim=dims, keepdim=keepdims)

    return reduce


REDUCTIONS = {
    "sum": (torch_reduction("sum"), "reduce_sum"),
    "mean": (torch_reduction("mean"), "reduce_mean"),
    "max": (torch_reduction("amax"), "reduce_max"),  # amax/reduce_max: one value per reduced slice
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(spec=shape_and_axis(), seed=seeds)
def test_reduction(oracles, close, name, spec, seed):
    shape, axis, keepdims = spec
    torch_fn, tf_name = REDUCTIONS[name]
    x = np.random.default_rng(seed).standard_normal(shape)  # continuous: no ties for max
    compare(
        oracles,
        close,
        lambda t: getattr(t, name)(axis=axis, keepdims=keepdims),
        lambda t: torch_fn(t, axis, keepdims),
        lambda t: getattr(oracles.tf, tf_name)(t, axis=None if axis is None else list(axis) if isinstance(axis, tuple) else axis, keepdims=keepdims),
        [x],
        seed,
    )


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1])
def test_max_ties_share_the_gradient_like_amax_and_reduce_max(oracles, close, axis):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [3.0, -1.0, 3.0]])
    tf_axis = list(axis) if isinstance(axis, tuple) else axis
    compare(
        oracles,
        close,
        lambda t: t.max(axis=axis),
        lambda t: torch_reduction("amax")(t, axis, False),
        lambda t: oracles.tf.reduce_max(t, axis=tf_axis),
        [x],
        11,
    )


# ---- shape ops ---------------------------------------------------------------------------------


@st.composite
def reshape_target(draw):
    shape = draw(array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    target = list(draw(st.permutations(shape)))
    for _ in range(draw(st.integers(0, 2))):
        target.insert(draw(st.integers(0, len(target))), 1)
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target)


@pytest.mark.parametrize("call", ["varargs", "tuple"])
@SETTINGS
@given(spec=reshape_target(), seed=seeds)
def test_reshape(oracles, close, call, spec, seed):
    shape, target = spec
    x = np.random.default_rng(seed).standard_normal(shape)
    am_fn = (lambda t: t.reshape(*target)) if call == "varargs" else (lambda t: t.reshape(target))
    compare(oracles, close, am_fn, lambda t: t.reshape(target), lambda t: oracles.tf.reshape(t, target), [x], seed)


@st.composite
def permutation(draw):
    shape = draw(array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    perm = draw(st.permutations(range(ndim)))
    written = tuple(draw(st.sampled_from([a, a - ndim])) for a in perm)  # negative axes too
    return shape, tuple(perm), written


@pytest.mark.parametrize("call", ["varargs", "tuple"])
@SETTINGS
@given(spec=permutation(), seed=seeds)
def test_transpose(oracles, close, call, spec, seed):
    shape, perm, written = spec
    x = np.random.default_rng(seed).standard_normal(shape)
    am_fn = (lambda t: t.transpose(*written)) if call == "varargs" else (lambda t: t.transpose(written))
    compare(oracles, close, am_fn, lambda t: t.permute(perm), lambda t: oracles.tf.transpose(t, perm), [x], seed)


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_T_reverses_all_dimensions(oracles, close, shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    reverse = tuple(reversed(range(len(shape))))
    compare(oracles, close, lambda t: t.T, lambda t: t.permute(reverse), oracles.tf.transpose, [x], seed)


# ---- indexing ----------------------------------------------------------------------------------

ROWS = np.array([0, 2, 0, 0])  # repeated rows: their gradients must add up
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])


def _index_cases():
    """(id, input shape, autograd_mini index, torch index, TF function)."""
    return [
        ("int", (3, 4), 1, 1, lambda tf, t: t[1]),
        ("negative int", (3, 4), -1, -1, lambda tf, t: t[-1]),
        ("slice", (3, 4), (slice(None), slice(1, 3)), (slice(None), slice(1, 3)), lambda tf, t: t[:, 1:3]),
        ("step slice", (5, 4), slice(0, 5, 2), slice(0, 5, 2), lambda tf, t: t[0:5:2]),
        # torch has no negative steps: flip is the same selection.
        ("negative step", (5, 4), (slice(None), slice(None, None, -1)), "flip", lambda tf, t: t[:, ::-1]),
        ("int and slice", (2, 3, 4), (1, slice(None), 2), (1, slice(None), 2), lambda tf, t: t[1, :, 2]),
        ("ellipsis", (2, 3, 4), (Ellipsis, 1), (Ellipsis, 1), lambda tf, t: t[..., 1]),
        ("newaxis", (3, 4), (None, slice(None), 0), (None, slice(None), 0), lambda tf, t: t[None, :, 0]),
        ("int array", (3, 4), np.array([2, 0]), [2, 0], lambda tf, t: tf.gather(t, [2, 0])),
        ("repeated int array", (3, 4), ROWS, ROWS.tolist(), lambda tf, t: tf.gather(t, ROWS)),
        ("repeated list", (3, 4), [1, 1, 1], [1, 1, 1], lambda tf, t: tf.gather(t, [1, 1, 1])),
        (
            "repeated array on axis 1",
            (3, 4),
            (slice(None), np.array([3, 3, 0])),
            (slice(None), [3, 3, 0]),
            lambda tf, t: tf.gather(t, [3, 3, 0], axis=1),
        ),
        (
            "paired int arrays",
            (3, 4),
            (np.array([0, 2, 0]), np.array([1, 3, 1])),
            ([0, 2, 0], [1, 3, 1]),
            lambda tf, t: tf.gather_nd(t, [[0, 1], [2, 3], [0, 1]]),
        ),
        ("boolean mask", (3, 4), MASK, MASK, lambda tf, t: tf.boolean_mask(t, MASK)),
        (
            "boolean row mask",
            (3, 4),
            np.array([True, False, True]),
            np.array([True, False, True]),
            lambda tf, t: tf.boolean_mask(t, [True, False, True]),
        ),
    ]


@pytest.mark.parametrize("case", _index_cases(), ids=lambda case: case[0])
def test_indexing(oracles, close, case):
    _, shape, am_index, torch_index, tf_fn = case
    torch = oracles.torch

    def torch_fn(t):
        if isinstance(torch_index, str):  # "flip"
            return t.flip(-1)
        index = torch_index if isinstance(torch_index, tuple) else (torch_index,)
        index = tuple(torch.tensor(i) if isinstance(i, (list, np.ndarray)) else i for i in index)
        return t[index]

    x = np.random.default_rng(12).standard_normal(shape)
    compare(oracles, close, lambda t: t[am_index], torch_fn, lambda t: tf_fn(oracles.tf, t), [x], 12)


def test_indexing_with_an_index_tensor(close):
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    x[Tensor(np.array([2, 2]))].sum().backward()
    close(x.grad, [[0.0, 0.0], [0.0, 0.0], [2.0, 2.0]])


# ---- matmul ------------------------------------------------------------------------------------


def tf_matmul(tf):
    """numpy's matmul rules in TF: 1-D operands become a row (left) or a column (right)."""

    def matmul(a, b):
        vector_a, vector_b = len(a.shape) == 1, len(b.shape) == 1
        out = tf.linalg.matmul(a[None, :] if vector_a else a, b[:, None] if vector_b else b)
        if vector_b:
            out = tf.squeeze(out, -1)
        if vector_a:
            out = tf.squeeze(out, -1 if vector_b else -2)
        return out

    return matmul


MATMUL_CASES = [
    ((3, 4), (4, 5)),  # matrix @ matrix
    ((3, 4), (4,)),  # matrix @ vector
    ((4,), (4, 5)),  # vector @ matrix
    ((4,), (4,)),  # vector @ vector -> scalar
    ((2, 3, 4), (2, 4, 5)),  # batched
    ((2, 3, 4), (4, 5)),  # batch broadcast on the left only
    ((4, 5), (2, 5, 3)),  # ... on the right only
    ((2, 1, 3, 4), (5, 4, 2)),  # both batches broadcast
    ((2, 3, 4), (4,)),  # batch @ vector
    ((4,), (2, 4, 3)),  # vector @ batch
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_CASES)
def test_matmul_named_cases(oracles, close, shape_a, shape_b):
    rng = np.random.default_rng(13)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    compare(oracles, close, operator.matmul, operator.matmul, tf_matmul(oracles.tf), [a, b], 13)


@SETTINGS
@given(
    shapes=mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3, min_side=1, max_side=4),
    seed=seeds,
)
def test_matmul_random_shapes(oracles, close, shapes, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape) for shape in shapes.input_shapes]
    compare(oracles, close, operator.matmul, operator.matmul, tf_matmul(oracles.tf), arrays, seed)


# ---- softmax and log-softmax -------------------------------------------------------------------

SOFTMAXES = {"softmax": "nn.softmax", "log_softmax": "nn.log_softmax"}


@pytest.mark.parametrize("name", sorted(SOFTMAXES))
@SETTINGS
@given(spec=shape_and_axis(min_dims=1), seed=seeds)
def test_softmax(oracles, close, name, spec, seed):
    shape, axis, _ = spec
    if not isinstance(axis, int):
        axis = -1
    x = 3 * np.random.default_rng(seed).standard_normal(shape)
    compare(
        oracles,
        close,
        lambda t: getattr(t, name)(axis),
        lambda t: getattr(t, name)(axis),
        lambda t: framework_fn(oracles.tf, SOFTMAXES[name])(t, axis=axis),
        [x],
        seed,
    )


@pytest.mark.parametrize("name", sorted(SOFTMAXES))
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_extreme_logits_stay_finite(oracles, close, name, axis):
    rng = np.random.default_rng(14)
    x = rng.choice([-1000.0, 0.0, 1000.0], (4, 5)) + rng.uniform(-1.0, 1.0, (4, 5))
    x[0, :] = 1000.0  # a whole row of equal huge logits
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, no inf - inf
        out = getattr(Tensor(x), name)(axis)
    assert np.isfinite(out.data).all()
    compare(
        oracles,
        close,
        lambda t: getattr(t, name)(axis),
        lambda t: getattr(t, name)(axis),
        lambda t: framework_fn(oracles.tf, SOFTMAXES[name])(t, axis=axis),
        [x],
        14,
    )


# ---- dtypes ------------------------------------------------------------------------------------


FLOAT32_OPS = {
    "add": lambda t: t + 1,
    "radd": lambda t: 1.5 + t,
    "sub": lambda t: t - 0.5,
    "rsub": lambda t: 0.5 - t,
    "mul": lambda t: t * 2.0,
    "div": lambda t: t / 3.0,
    "rdiv": lambda t: 3.0 / t,
    "pow": lambda t: t**2,
    "rpow": lambda t: 2.0**t,
    "pow tensors": lambda t: t**t,
    "neg": lambda t: -t,
    "exp": Tensor.exp,
    "log": Tensor.log,
    "sqrt": Tensor.sqrt,
    "abs": Tensor.abs,
    "tanh": Tensor.tanh,
    "sigmoid": Tensor.sigmoid,
    "relu": Tensor.relu,
    "sum": lambda t: t.sum(axis=0),
    "mean": lambda t: t.mean(axis=1),
    "max": lambda t: t.max(axis=1),
    "max all": lambda t: t.max(),
    "softmax": lambda t: t.softmax(-1),
    "log_softmax": lambda t: t.log_softmax(-1),
    "reshape": lambda t: t.reshape(3, 2),
    "transpose": lambda t: t.T,
    "getitem": lambda t: t[[0, 0], 1:],
    "matmul": lambda t: t @ Tensor(np.ones((3, 2), dtype=np.float32)),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_OPS))
def test_float32_stays_float32(name):
    """float32 in, float32 out, and a float32 gradient (as torch and TF keep it)."""
    x = Tensor(np.linspace(0.5, 2.0, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    out = FLOAT32_OPS[name](x)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("data, dtype", [([[1.5, 2.0]], np.float64), (2.5, np.float64), ([1, 2.5], np.float64),
                                         ([1, 2, 3], np.int64), (3, np.int64), ([True, False], np.bool_)])
def test_lists_and_scalars_take_torchs_dtype_with_float64_as_default(torch, data, dtype):
    """Floats become float64 (the course's default, torch's here too); integers stay integers, as in torch."""
    assert Tensor(data).dtype == dtype
    assert str(torch.tensor(data).dtype) == f"torch.{np.dtype(dtype).name}"


def test_numpy_arrays_keep_their_dtype():
    assert Tensor(np.arange(3)).dtype == np.arange(3).dtype
    assert Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32

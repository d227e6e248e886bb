"""autograd_mini.value.Value and autograd_mini.numerical: the scalar engine of lesson 02.

Gradients of random scalar expressions (with forks) agree with torch.autograd and tf.GradientTape to
1e-10; a chain of 100,000 ops goes through backward; forks accumulate; student pieces plug in with
``autograd_mini.use`` and nothing else.
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

import autograd_mini
from autograd_mini import numerical
from autograd_mini.registry import use
from autograd_mini.value import Value, graph_order, local_derivatives, topological_order

RTOL = 1e-10


@pytest.fixture(scope="module")
def torch():
    import torch as torch_module

    torch_module.set_num_threads(1)
    return torch_module


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf_module

    return tf_module


def assert_rel(actual, expected, rtol=RTOL, what="gradient", atol=1e-12):
    """Relative error at most ``rtol``; the tiny ``atol`` only matters where the exact value is ~0
    (a gradient that cancels to 0 in one library and to 1e-16 in another)."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    scale = np.maximum(np.abs(actual), np.abs(expected))
    ok = np.abs(actual - expected) <= rtol * scale + atol
    error = np.abs(actual - expected) / np.where(scale == 0, 1.0, scale)
    assert ok.all(), f"{what}: {actual} vs {expected} (relative error {error.max():.1e})"


# ---- random scalar programs: a list of steps run alike by Value, PyTorch and TensorFlow -------------

BINARY = ("add", "sub", "mul", "div")
UNARY = ("tanh", "exp", "relu")
STEP = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
        "pow": lambda a, e: a**e, "tanh": math.tanh, "exp": math.exp, "relu": lambda a: max(a, 0.0)}


def random_program(seed: int, n_inputs: int = 3, n_steps: int = 10) -> tuple[list, list]:
    """Steps [kind, i, j-or-exponent] reading earlier nodes (often recent ones, often twice: forks), at
    inputs where every step is smooth (no division by ~0, no relu kink, no overflow)."""
    rng = np.random.default_rng(seed)
    values = [float(v) + (0.1 if abs(v) < 0.1 else 0.0) for v in rng.uniform(-1.5, 1.5, n_inputs)]
    inputs, program = list(values), []
    while len(program) < n_steps:
        kind = str(rng.choice(BINARY + UNARY + ("pow",)))
        i = int(len(values) - 1 - min(rng.geometric(0.4) - 1, len(values) - 1))
        j = int(rng.integers(len(values)))
        extra = [j] if kind in BINARY else [float(rng.choice([2.0, 3.0, -1.0]))] if kind == "pow" else []
        a, b = values[i], values[j]
        if kind == "div" and abs(b) < 0.3 or kind == "pow" and abs(a) < 0.3 or kind == "relu" and abs(a) < 1e-3 \
                or kind == "exp" and a > 3:
            continue
        value = STEP[kind](a, *([b] if kind in BINARY else extra))
        if abs(value) <= 20:
            program.append([kind, i, *extra])
            values.append(value)
    return program, inputs


def run_program(program: list, leaves: list, unary: dict):
    """The sum of the nodes no step reads, so that every node matters."""
    nodes, read = list(leaves), set()
    for kind, i, *extra in program:
        a = nodes[i]
        read.add(i)
        if kind in BINARY:
            read.add(extra[0])
            b = nodes[extra[0]]
            nodes.append(a + b if kind == "add" else a - b if kind == "sub" else a * b if kind == "mul" else a / b)
        else:
            nodes.append(a ** extra[0] if kind == "pow" else unary[kind](a))
    return sum((n for k, n in enumerate(nodes) if k not in read), start=0.0)


VALUE_UNARY = {"tanh": Value.tanh, "exp": Value.exp, "relu": Value.relu}


def value_grads(program, inputs):
    leaves = [Value(x) for x in inputs]
    run_program(program, leaves, VALUE_UNARY).backward()
    return [leaf.grad for leaf in leaves]


def torch_grads(torch, program, inputs):
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    out = run_program(program, leaves, {"tanh": torch.tanh, "exp": torch.exp, "relu": torch.relu})
    return [0.0 if g is None else g.item() for g in torch.autograd.grad(out, leaves, allow_unused=True)]


def tf_grads(tf, program, inputs):
    leaves = [tf.Variable(x, dtype=tf.float64) for x in inputs]
    with tf.GradientTape() as tape:
        out = run_program(program, leaves, {"tanh": tf.tanh, "exp": tf.exp, "relu": tf.nn.relu})
    return [0.0 if g is None else float(g) for g in tape.gradient(out, leaves)]


def chain(x, links: int):
    """``links`` times ``x = x * 1.00001 + 0.001``: 2 * links ops; d out / d x = 1.00001 ** links."""
    for _ in range(links):
        x = x * 1.00001 + 0.001
    return x


SEEDS = list(range(20))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_expression_gradients_match_torch_and_tf(seed, torch, tf):
    program, inputs = random_program(seed, n_inputs=2 + seed % 3, n_steps=6 + seed % 11)
    ours = value_grads(program, inputs)
    assert_rel(ours, torch_grads(torch, program, inputs), what=f"seed {seed} vs PyTorch")
    assert_rel(ours, tf_grads(tf, program, inputs), what=f"seed {seed} vs TensorFlow")


def test_random_programs_contain_forks_and_every_op():
    """The expressions above are worth testing: nodes are reused and every primitive appears."""
    kinds, forks = set(), 0
    for seed in SEEDS:
        program, _ = random_program(seed, n_inputs=2 + seed % 3, n_steps=6 + seed % 11)
        reads = [step[1] for step in program] + [step[2] for step in program if step[0] in BINARY]
        forks += len(reads) - len(set(reads))
        kinds |= {step[0] for step in program}
    assert forks > 20
    assert {"add", "sub", "mul", "div", "pow", "tanh", "exp", "relu"} <= kinds


def test_forward_values_match_torch(torch):
    for seed in SEEDS[:5]:
        program, inputs = random_program(seed)
        ours = run_program(program, [Value(x) for x in inputs], VALUE_UNARY).data
        theirs = run_program(program, [torch.tensor(x, dtype=torch.float64) for x in inputs],
                             {"tanh": torch.tanh, "exp": torch.exp, "relu": torch.relu}).item()
        assert_rel(ours, theirs, what="forward value")


def test_derived_ops_match_torch(torch):
    """-, /, neg, reflected ops and sigmoid are compositions of the primitives; their gradients still agree."""
    def expr(a, b, sigmoid):
        return (3.0 - a) / b + 2.0 / (a * b) - (-b) + sigmoid(a - b) + (a / 4.0) ** 2

    a, b = Value(0.7), Value(-1.3)
    expr(a, b, Value.sigmoid).backward()
    ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.7, -1.3))
    expr(ta, tb, torch.sigmoid).backward()
    assert_rel([a.grad, b.grad], [ta.grad.item(), tb.grad.item()])


def test_log_and_relu_kink_match_torch(torch):
    for value in (0.0, 2.0, -1.0):
        v = Value(value)
        v.relu().backward()
        t = torch.tensor(value, dtype=torch.float64, requires_grad=True)
        torch.relu(t).backward()
        assert v.grad == t.grad.item()
    v = Value(2.5)
    (v.log() * v).backward()
    assert_rel(v.grad, math.log(2.5) + 1.0)


def test_relu_of_nan_keeps_nan_and_passes_the_gradient_like_torch(torch):
    v = Value(math.nan)
    out = v.relu()
    out.backward()
    t = torch.tensor(math.nan, dtype=torch.float64, requires_grad=True)
    torch.relu(t).backward()
    assert math.isnan(out.data) and math.isnan(torch.relu(t).item())
    assert v.grad == t.grad.item() == 1.0


# ---- deep graphs and forks ------------------------------------------------------------------------

def test_chain_of_100000_ops_backward():
    x = Value(0.5)
    out = chain(x, 50_000)  # two ops per link
    order = topological_order(out)
    assert len([n for n in order if n.parents]) == 100_000
    out.backward()
    assert_rel(x.grad, 1.00001 ** 50_000, rtol=1e-9)


def test_topological_order_puts_every_node_after_its_parents_once():
    program, inputs = random_program(3, n_inputs=3, n_steps=16)
    leaves = [Value(x) for x in inputs]
    root = run_program(program, leaves, VALUE_UNARY)
    order = topological_order(root)
    position = {id(n): k for k, n in enumerate(order)}
    assert all(position[id(p)] < position[id(n)] for n in order for p in n.parents)
    assert {id(leaf) for leaf in leaves} <= set(position)
    assert order[-1] is root
    assert len(order) == len(position)


def test_gradients_accumulate_at_forks():
    x = Value(3.0)
    (x * x + x).backward()
    assert x.grad == 7.0  # 2x + 1: three paths
    y = Value(2.0)
    (y + y + y).backward()
    assert y.grad == 3.0
    z = Value(-1.5)
    a = z.tanh()
    (a * a).backward()  # a feeds both inputs of one mul
    assert_rel(z.grad, 2 * math.tanh(-1.5) * (1 - math.tanh(-1.5) ** 2))


def torch_scalar(torch, value):
    return torch.tensor(value, dtype=torch.float64, requires_grad=True)


def test_a_second_backward_accumulates_in_leaves_only_like_torch(torch):
    x = Value(3.0)
    y = x * x + x
    y.backward()
    assert x.grad == 7.0
    y.backward()
    assert x.grad == 14.0
    tx = torch_scalar(torch, 3.0)
    ty = tx * tx + tx
    ty.backward(retain_graph=True)
    ty.backward()
    assert tx.grad.item() == 14.0


def test_interior_gradients_are_recomputed_by_each_backward_like_torch(torch):
    """x -> *3 -> tanh -> *1: were interior gradients kept, the leaf would end at 4x its first value."""
    x = Value(0.4)
    scaled = x * 3.0
    y = scaled.tanh() * 1.0
    y.backward()
    first, first_interior = x.grad, scaled.grad
    y.backward()
    assert x.grad == 2 * first
    assert scaled.grad == first_interior
    tx = torch_scalar(torch, 0.4)
    t_scaled = tx * 3.0
    t_scaled.retain_grad()
    ty = t_scaled.tanh() * 1.0
    ty.backward(retain_graph=True)
    assert_rel(first, tx.grad.item())
    ty.backward()
    assert_rel([x.grad, scaled.grad], [tx.grad.item(), t_scaled.grad.item() / 2])  # torch's retained grad accumulates


def test_a_plugged_in_backward_gets_the_same_fresh_interior_gradients():
    x = Value(3.0)
    y = x * x + x
    with use({"value.backward": autograd_mini.registry.reference_of("value.backward")}):
        y.backward()
        y.backward()
    assert x.grad == 14.0


def test_backward_of_a_leaf_accumulates_like_torch(torch):
    x = Value(2.0)
    x.backward()
    x.backward()
    tx = torch_scalar(torch, 2.0)
    tx.backward()
    tx.backward()
    assert x.grad == tx.grad.item() == 2.0


def test_zero_grad_then_backward_gives_the_same_gradient():
    x, w = Value(0.3), Value(-2.0)
    out = (x * w).tanh() + x
    out.backward()
    first = (x.grad, w.grad)
    out.zero_grad()
    assert x.grad == 0.0 and out.grad == 0.0
    out.backward()
    assert (x.grad, w.grad) == first


# ---- plugging in ---------------------------------------------------------------------------------

def test_use_swaps_a_local_rule_for_the_block_only():
    def wrong_tanh(a, out):
        return 1.0 - a**2

    def grad_of_tanh(x0):
        x = Value(x0)
        x.tanh().backward()
        return x.grad

    right = grad_of_tanh(0.8)
    with use({"value.tanh.local": wrong_tanh}):
        assert grad_of_tanh(0.8) == pytest.approx(1 - 0.64)
    assert grad_of_tanh(0.8) == right == pytest.approx(1 - math.tanh(0.8) ** 2)


def test_value_backward_and_graph_order_follow_the_registry():
    calls = []

    def my_order(root):
        calls.append("order")
        return topological_order(root)

    def my_backward(root):
        calls.append("backward")
        autograd_mini.registry.reference_of("value.backward")(root)

    x = Value(2.0)
    with use({"value.topological_order": my_order, "value.backward": my_backward}):
        (x * x).backward()
        graph_order(x)
    # Value.backward() first clears the interior gradients (walking the active order), then runs backward
    assert calls == ["order", "backward", "order", "order"]
    assert x.grad == 4.0


def test_every_lesson_02_piece_is_registered():
    local_rules = {f"value.{op}.local" for op in ("add", "mul", "pow", "exp", "tanh", "relu", "log")}
    assert local_rules | {"value.topological_order", "value.backward", "numerical.gradient"} <= set(autograd_mini.registry.names())


def test_local_derivatives_reports_a_wrong_count():
    with use({"value.mul.local": lambda a, b, out: b}):
        with pytest.raises(TypeError, match="returned 1 derivative"):
            local_derivatives(Value(2.0) * Value(3.0))


def test_value_rejects_what_it_cannot_hold():
    with pytest.raises(TypeError, match="one real number"):
        Value("3")
    with pytest.raises(TypeError, match="plain number as exponent"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="not real"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="positive"):
        Value(0.0).log()
    assert Value(np.float32(1.5)).data == 1.5 and type(Value(np.float32(1.5)).data) is float


# ---- finite differences ----------------------------------------------------------------------------

def test_central_difference_error_shrinks_like_h_squared_forward_like_h():
    f, exact = math.exp, math.exp(0.3)
    fwd = [abs(numerical.forward_difference(f, 0.3, h) - exact) for h in (1e-2, 1e-3)]
    cen = [abs(numerical.central_difference(f, 0.3, h) - exact) for h in (1e-2, 1e-3)]
    assert 8 < fwd[0] / fwd[1] < 12       # ~10x per decade
    assert 80 < cen[0] / cen[1] < 120     # ~100x per decade


def test_numerical_gradient_matches_analytic_and_leaves_x_alone():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    before = x.copy()
    grad = numerical.numerical_gradient(lambda v: float(np.sum(np.sin(v) * v**2)), x)
    assert np.array_equal(x, before)
    assert grad.shape == x.shape
    assert_rel(grad, np.cos(x) * x**2 + 2 * x * np.sin(x), rtol=1e-8)


def test_numerical_gradient_default_step_depends_on_dtype():
    assert numerical.default_step(np.float64) == pytest.approx(6.06e-6, rel=1e-2)
    assert numerical.default_step(np.float32) == pytest.approx(4.92e-3, rel=1e-2)
    x = np.array([0.5, -0.8], dtype=np.float32)
    grad = numerical.numerical_gradient(lambda v: np.sum(v**3), x)
    assert grad.dtype == np.float32
    assert_rel(grad, 3 * x.astype(np.float64) ** 2, rtol=1e-3)
    tiny = numerical.numerical_gradient(lambda v: np.sum(v**3), x, h=np.float32(1e-7))
    assert np.abs(tiny - 3 * x.astype(np.float64) ** 2).max() > 1e-2  # the float32 pitfall, shown

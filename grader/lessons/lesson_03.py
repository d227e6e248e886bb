"""Lesson 03 (tensor backprop): vector-Jacobian products for the ops, unbroadcast, and the engine's backward.

Each op exercise gets a ``ctx`` exactly as autograd_mini's reference forward filled it — the forward runs
here, in the grader's process, and the ctx crosses into the sandbox as data (``calls.lesson_03.context_from``),
sometimes holding a transposed view as ``nn.Linear``'s ``W.T`` does. The engine is graded on small
graphs (grader/harness/programs.py) on its whole contract: forks, a retained interior gradient, a second
backward() that accumulates, leaves that never share memory, every node visited once.
"""
from __future__ import annotations

import functools

import numpy as np

from autograd_mini.function import Context
from autograd_mini.registry import reference_of
from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.calls.lesson_03 import AutogradMiniNS, as_layout, context_from
from grader.harness.case import Case
from grader.harness.programs import GRAPHS
from grader.lesson import Exercise, Lesson

# ---- cases: the reference forward fills the ctx here; saved arrays + output gradient go to the student --


def op_case(op: str, rng, inputs: tuple, layouts=None, **params) -> Case:
    layouts = list(layouts or ["C"] * len(inputs))
    ctx = Context(tuple(True for _ in inputs))
    out = reference_of(op + ".forward")(ctx, *(as_layout(x, lay) for x, lay in zip(inputs, layouts)), **params)
    attributes = {k: v for k, v in vars(ctx).items() if k not in ("needs_input_grad", "saved_tensors")}
    saved = tuple(np.array(a) for a in ctx.saved_tensors)
    data = {"needs_input_grad": list(ctx.needs_input_grad), "attributes": attributes,
            "layouts": layouts[:len(saved)] if op in ("mul", "matmul") else None}
    hint = {"matmul": "matmul", "sum": "reduction", "mean": "reduction", "max": "reduction"}.get(op)
    return Case(saved + (rng.standard_normal(np.shape(out)),), {"ctx": data, "shape_hint": hint, **params},
                inputs=tuple(inputs))


def reference_backward(op: str, case: Case) -> tuple:
    *saved, grad = case.copy_arrays()
    return tuple(reference_of(op + ".backward")(context_from(case.params["ctx"], tuple(saved)), grad))


def _normal(rng, shape):
    return rng.standard_normal(shape)


def mul_cases(rng, hidden):
    shapes = [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1), (1, 5)), ((), (2, 3))]
    shapes += [((3,), (2, 4, 3)), ((2, 1, 4), (3, 1)), ((5,), (5,))] if hidden else []
    return [op_case("mul", rng, (_normal(rng, a), _normal(rng, b))) for a, b in shapes]


def matmul_cases(rng, hidden):
    # (A, B, layout of B): "T" is a transposed view, the weight nn.Linear multiplies by
    shapes = [((2, 3), (3, 4), "C"), ((3, 3), (3, 3), "T"), ((4,), (4, 2), "C"), ((2, 3, 4), (4, 5), "C")]
    if hidden:
        shapes += [((5, 3), (3, 4), "T"), ((3, 2), (2,), "C"), ((3, 4), (2, 4, 5), "C"), ((2, 1, 3, 2), (4, 2, 3), "C"),
                   ((1, 6), (6, 1), "T"), ((5,), (5,), "C")]
    return [op_case("matmul", rng, (_normal(rng, a), _normal(rng, b)), layouts=["C", lay]) for a, b, lay in shapes]


REDUCTIONS = [{"axis": None, "keepdims": False}, {"axis": 0, "keepdims": False}, {"axis": 1, "keepdims": True},
              {"axis": (0, 2), "keepdims": False}]
MORE_REDUCTIONS = [{"axis": 2, "keepdims": False}, {"axis": None, "keepdims": True}, {"axis": (1, 2), "keepdims": True}]


def reduction_cases(op: str, ties: bool = False):
    def cases(rng, hidden):
        draw = (lambda s: rng.integers(-2, 3, size=s).astype(np.float64)) if ties else (lambda s: _normal(rng, s))
        layout = REDUCTIONS + (MORE_REDUCTIONS if hidden else [])
        out = [op_case(op, rng, (draw((4, 3, 2) if hidden else (3, 4, 2)),), **p) for p in layout]
        return out + [op_case(op, rng, (draw((5,)),), axis=None, keepdims=False)]
    return cases


def getitem_cases(rng, hidden):
    layout = [((1,), (4, 3)), ((slice(None), 2), (4, 3)), ((slice(1, 3),), (5, 2)), ((np.array([0, 2, 0]),), (4, 3)),
              ((np.array([3, 3, 1, 3]),), (5,))]
    if hidden:
        layout += [((np.array([0, 1, 1]), np.array([2, 0, 0])), (3, 4)), ((slice(None), np.array([1, 1, 0])), (2, 3)),
                   ((np.array([2, 2]),), (3, 2, 2)), ((0, slice(1, None)), (2, 4))]
    return [op_case("getitem", rng, (_normal(rng, shape),), index=index) for index, shape in layout]


def unbroadcast_cases(rng, hidden):
    pairs = [((2, 3), (3,)), ((4, 3), (1, 3)), ((2, 3, 4), (3, 1)), ((5,), ())]
    pairs += [((2, 3, 4), (2, 1, 4)), ((3, 1, 5), (1, 1, 5)), ((2, 3), (2, 3)), ((6, 2, 1, 3), (2, 1, 1))] if hidden else []
    return [Case((_normal(rng, g),), {"shape": list(s)}) for g, s in pairs]


def engine_cases(rng, hidden):
    names = list(GRAPHS) if hidden else ["fork", "layers", "reuse", "shared"]
    cases = []
    for name in names:
        shapes = GRAPHS[name][1]
        leaves = tuple(_away_from_zero(rng.standard_normal(s)) for s in shapes)
        ops = ["sub.backward", "div.backward", "add.backward", "tanh.backward", "exp.backward", "relu.backward",
               "matmul.backward", "transpose.backward", "mul.backward"]
        cases.append(Case(leaves + (_normal(rng, shapes[0]),), {"graph": name, "ops": ops}))
    return cases


def _away_from_zero(x):
    """Leaves divide, and tanh must stay off its flat tails (where 1 - tanh**2 loses digits)."""
    return np.where(np.abs(x) < 0.2, np.sign(x + 1e-12) * (0.2 + np.abs(x)), x)


# ---- oracles: the same computation differentiated by PyTorch and by TensorFlow ------------------------

def _torch_vjp(forward):
    def compute(case: Case):
        torch = fw.torch()
        leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in case.inputs]
        out = forward(torch, *leaves, **{k: case.params[k] for k in ("axis", "keepdims", "index") if k in case.params})
        return torch.autograd.grad(out, leaves, grad_outputs=torch.tensor(case.arrays[-1]))
    return compute


def _tf_vjp(forward):
    def compute(case: Case):
        tf = fw.tf()
        leaves = [tf.constant(x, dtype=tf.float64) for x in case.inputs]
        with tf.GradientTape() as tape:
            tape.watch(leaves)
            out = forward(tf, *leaves, **{k: case.params[k] for k in ("axis", "keepdims", "index") if k in case.params})
        grads = tape.gradient(out, leaves, output_gradients=tf.constant(case.arrays[-1]))
        return tuple(tf.zeros_like(x) if g is None else tf.convert_to_tensor(g) for g, x in zip(grads, leaves))
    return compute


def _tf_matmul(tf, a, b):
    """numpy's matmul rules in TensorFlow: vectors become rows/columns, batch dimensions broadcast."""
    a2 = a[None, :] if len(a.shape) == 1 else a
    b2 = b[:, None] if len(b.shape) == 1 else b
    out = tf.linalg.matmul(a2, b2)
    if len(b.shape) == 1:
        out = out[..., 0]
    if len(a.shape) == 1:
        out = out[..., 0, :] if len(b.shape) > 1 else out[0]
    return out


def _tf_getitem(tf, a, index):
    """TensorFlow has no numpy fancy indexing: gather the flat positions numpy's indexing selects."""
    positions = np.arange(int(np.prod(a.shape))).reshape(tuple(a.shape))[index]
    return tf.reshape(tf.gather(tf.reshape(a, [-1]), positions.ravel()), positions.shape)


def _dims(a, axis):
    return tuple(range(len(a.shape))) if axis is None else axis


FORWARDS = {  # op -> (PyTorch forward, TensorFlow forward), each (framework, *leaves, **params)
    "mul": (lambda t, a, b: a * b, lambda tf, a, b: a * b),
    "matmul": (lambda t, a, b: t.matmul(a, b), _tf_matmul),
    "sum": (lambda t, a, axis, keepdims: t.sum(a, dim=_dims(a, axis), keepdim=keepdims),
            lambda tf, a, axis, keepdims: tf.reduce_sum(a, axis=axis, keepdims=keepdims)),
    "mean": (lambda t, a, axis, keepdims: t.mean(a, dim=_dims(a, axis), keepdim=keepdims),
             lambda tf, a, axis, keepdims: tf.reduce_mean(a, axis=axis, keepdims=keepdims)),
    "max": (lambda t, a, axis, keepdims: t.amax(a, dim=_dims(a, axis), keepdim=keepdims),
            lambda tf, a, axis, keepdims: tf.reduce_max(a, axis=axis, keepdims=keepdims)),
    "getitem": (lambda t, a, index: a[tuple(t.as_tensor(i) if isinstance(i, np.ndarray) else i for i in index)],
                _tf_getitem),
}


def backward_oracles(op: str) -> list:
    torch_forward, tf_forward = FORWARDS[op]
    return [Oracle("PyTorch (torch.autograd.grad)", _torch_vjp(torch_forward)),
            Oracle("TensorFlow (tf.GradientTape)", _tf_vjp(tf_forward))]


def _unbroadcast_oracles() -> list:
    def torch_grad(case):
        torch = fw.torch()
        x = torch.zeros(tuple(case.params["shape"]), dtype=torch.float64, requires_grad=True)
        return torch.autograd.grad(x.expand(case.arrays[0].shape), x, grad_outputs=torch.tensor(case.arrays[0]))

    def tf_grad(case):
        tf = fw.tf()
        x = tf.zeros(tuple(case.params["shape"]), dtype=tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.broadcast_to(x, case.arrays[0].shape)
        return tape.gradient(y, x, output_gradients=tf.constant(case.arrays[0]))

    return [Oracle("PyTorch (expand + autograd)", torch_grad), Oracle("TensorFlow (broadcast_to + GradientTape)", tf_grad)]


class _TorchNS:
    def __init__(self, torch):
        self.tanh, self.relu, self.exp, self.matmul = torch.tanh, torch.relu, torch.exp, torch.matmul
        self.T = lambda t: t.T


class _TfNS:
    def __init__(self, tf):
        self.tanh, self.relu, self.exp, self.matmul, self.T = tf.tanh, tf.nn.relu, tf.exp, tf.linalg.matmul, tf.transpose


def _engine_torch(case):
    torch = fw.torch()
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in case.arrays[:-1]]
    root, interior = GRAPHS[case.params["graph"]][0](_TorchNS(torch), *leaves)
    grads = torch.autograd.grad(root, leaves + [interior], grad_outputs=torch.tensor(case.arrays[-1]))
    return tuple(grads) + tuple(2 * g for g in grads[:-1])


@functools.cache
def _tf_engine_gradients(graph: str):
    """The graph's gradients as one tf.function: traced once per grader process (the graphs' shapes are fixed),
    not replayed op by op in eager mode for every submission (the 1,200-node chain made judging 2x slower)."""
    tf = fw.tf()

    @tf.function(reduce_retracing=True)
    def gradients(leaves, grad):
        with tf.GradientTape() as tape:
            tape.watch(leaves)
            root, interior = GRAPHS[graph][0](_TfNS(tf), *leaves)
        return tape.gradient(root, list(leaves) + [interior], output_gradients=grad)
    return gradients


def _engine_tf(case):
    tf = fw.tf()
    leaves = [tf.constant(x, dtype=tf.float64) for x in case.arrays[:-1]]
    grads = _tf_engine_gradients(case.params["graph"])(leaves, tf.constant(case.arrays[-1]))
    return tuple(grads) + tuple(2 * g for g in grads[:-1])


# ---- mistakes: wrong answers computed here, from the references --------------------------------------

def _unbroadcast_variant(case, reduce_extra, reduce_stretched, keepdims=True, leading=True):
    """unbroadcast done wrong: ``reduce_extra`` over the extra axes (the leading ones, or wrongly the trailing
    ones), then ``reduce_stretched`` (None: skipped) over the stretched size-1 axes."""
    (grad,), shape = case.arrays, tuple(case.params["shape"])
    extra = grad.ndim - len(shape)
    axes = range(extra) if leading else range(len(shape), grad.ndim)
    grad = reduce_extra(grad, axis=tuple(axes)) if extra else grad
    stretched = tuple(a for a, s in enumerate(shape) if s == 1 and grad.shape[a] != 1)
    return reduce_stretched(grad, axis=stretched, keepdims=keepdims) if reduce_stretched and stretched else grad


UNBROADCAST_MISTAKES = [
    Mistake("mean_not_sum", "you averaged over the broadcast axes: each input element was used once per copy, and "
            "the chain rule adds the gradients of all uses, so sum them (np.sum, not np.mean).",
            lambda c: _unbroadcast_variant(c, np.mean, np.mean)),
    Mistake("stretched_axes_not_summed", "you summed the axes broadcasting added in front, but not the size-1 axes "
            "it stretched (shape (1, 3) used as (4, 3)): sum those too, with keepdims=True.",
            lambda c: _unbroadcast_variant(c, np.sum, None)),
    Mistake("keepdims_missing", "you summed the stretched size-1 axes without keepdims=True, so they disappeared: a "
            "gradient has its input's shape, (1, 3) stays (1, 3).", lambda c: _unbroadcast_variant(c, np.sum, np.sum, False)),
    Mistake("aligned_left", "you matched the shapes from the left. Broadcasting aligns shapes from the *right*: "
            "(3,) against (2, 3) is (1, 3), so the extra axes are the leading ones — sum over axes 0 .. "
            "grad.ndim - len(shape) - 1 first.",
            lambda c: _unbroadcast_variant(c, np.sum, np.sum, leading=False)),
]


def _self_not_other(case):
    a, b, grad = case.arrays
    unbroadcast = reference_of("unbroadcast")
    return unbroadcast(grad * a, a.shape), unbroadcast(grad * b, b.shape)


MUL_MISTAKES = [
    Mistake("self_not_other", "each input's gradient uses the input itself: for out = a * b, d out/d a is b (the "
            "*other* factor), so grad_a = grad * b and grad_b = grad * a.", _self_not_other),
]

MATMUL_MISTAKES = [
    Mistake("returned_in_wrong_order", "your two gradients are in the wrong order: return (grad_a, grad_b), where "
            "grad_a = dC @ B.T has A's shape and grad_b = A.T @ dC has B's shape.",
            lambda case: reference_backward("matmul", case)[::-1]),
]


def _reduced_count(case) -> int:
    a, axis = case.inputs[0], case.params["axis"]
    return int(np.prod([a.shape[i] for i in (range(a.ndim) if axis is None else np.atleast_1d(axis))]))


def _scaled(op, factor):
    return lambda case: tuple(g * factor(case) for g in reference_backward(op, case))


SUM_MISTAKES = [
    Mistake("divided", "your gradient is N times too small: the derivative of a sum with respect to each term is 1, "
            "so every input receives grad unchanged (there is no 1/N: that is mean).",
            _scaled("sum", lambda c: 1 / _reduced_count(c))),
]

MEAN_MISTAKES = [
    Mistake("not_divided", "your gradient is N times too large, N being the number of elements averaged: mean = "
            "sum / N, so every input receives grad / N.", _scaled("mean", _reduced_count)),
    Mistake("divided_by_total_size", "you divided by the total number of elements, not by the number averaged over: "
            "with an axis, N is the size of the reduced axes only (ctx.count).",
            _scaled("mean", lambda c: _reduced_count(c) / c.inputs[0].size)),
]


def _max_ties(case, share: str):
    """The max gradient with every tie getting all of it ("all"), or only the first tie ("first")."""
    a, grad, axis = case.inputs[0], case.arrays[-1], case.params["axis"]
    axes = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis))
    g = grad if case.params["keepdims"] else np.expand_dims(grad, axes)
    winners = (a == a.max(axis=axes, keepdims=True)).astype(np.float64)
    if share == "first":
        kept = [i for i in range(a.ndim) if i not in axes]
        moved = np.transpose(winners, kept + list(axes))
        flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
        first = np.zeros_like(flat)
        np.put_along_axis(first, flat.argmax(axis=-1)[..., None], 1.0, axis=-1)
        winners = np.transpose(first.reshape(moved.shape), np.argsort(kept + list(axes)))
    return (winners * g,)


MAX_MISTAKES = [
    Mistake("ties_full", "where several entries tie for the maximum, each received the whole gradient: PyTorch's "
            "amax and TensorFlow's reduce_max share it equally (divide by the number of ties).",
            lambda c: _max_ties(c, "all")),
    Mistake("ties_first_only", "where several entries tie for the maximum, only one received the gradient (argmax): "
            "PyTorch's amax and TensorFlow's reduce_max share it equally among the ties.",
            lambda c: _max_ties(c, "first")),
]


def _getitem_assign(case):
    full = np.zeros(case.inputs[0].shape)
    full[case.params["index"]] = case.arrays[-1]
    return (full,)


GETITEM_MISTAKES = [
    Mistake("repeated_index_overwritten", "an element picked more than once got only one of its gradients: "
            "`full[index] = grad` keeps the last write. Accumulate with np.add.at(full, index, grad) so repeats add up.",
            _getitem_assign),
]


def _engine_reference(case, engine=None) -> tuple:
    """The case's first-backward gradients (leaves, retained node) with the reference engine (or ``engine``)."""
    import autograd_mini

    leaves = [autograd_mini.Tensor(x, requires_grad=True) for x in case.arrays[:-1]]
    root, interior = GRAPHS[case.params["graph"]][0](AutogradMiniNS, *leaves)
    interior.retain_grad()
    with autograd_mini.use({"engine.backward": engine or reference_of("engine.backward")}):
        root.backward(case.arrays[-1].copy())
    return tuple(leaf.grad for leaf in leaves) + (interior.grad,)


def _engine_overwriting_at_forks(root, grad):
    """Wrong on purpose: a node reached along two paths keeps only the last gradient."""
    from autograd_mini.engine import input_gradients

    grads = {id(root): grad}
    for node in reversed(reference_of("engine.topological_order")(root)):
        node_grad = grads.pop(id(node), None)
        if node_grad is None:
            continue
        if node.is_leaf or node._retains_grad:
            node.grad = node_grad.copy()
        if not node.is_leaf:
            for parent, parent_grad in zip(node.parents, input_gradients(node, node_grad)):
                if parent_grad is not None:
                    grads[id(parent)] = parent_grad


def _second_call(case, factor):
    first = _engine_reference(case)
    return first + tuple(factor * g for g in first[:-1])


ENGINE_MISTAKES = [
    Mistake("fork_not_accumulated", "a node used by two ops kept only one of its gradients: where the graph forks, add "
            "the incoming gradients (grads[parent] = previous + g) instead of overwriting them.",
            lambda c: (lambda g: g + tuple(2 * x for x in g[:-1]))(_engine_reference(c, _engine_overwriting_at_forks))),
    Mistake("leaf_overwritten", "the first backward() is right, but the second one gave the same gradients again: a "
            "leaf's .grad must *accumulate* across backward() calls (add to what is there), as in PyTorch, until "
            "zero_grad().", lambda c: _second_call(c, 1.0)),
    Mistake("leaf_subtracted", "the first backward() is right, but after the second one the leaves' gradients are 0: "
            "when a leaf's .grad already holds a value, add the new gradient to it; you subtracted it.",
            lambda c: _second_call(c, 0.0)),
]

# ---- the lesson ----------------------------------------------------------------------------------

SETUP = """
import numpy as np
from autograd_mini.broadcasting import reduce_to
from autograd_mini.engine import input_gradients
from autograd_mini.ops.reductions import restore_reduced_axes
from autograd_mini.ops.shape import is_basic_index
from autograd_mini.registry import active
"""


def _op_exercise(op, points, cases, mistakes, needs=()):
    return Exercise(f"{op}.backward", f"{op}_backward", points, cases, "op_backward", backward_oracles(op),
                    mistakes, needs=needs, what="gradient")


LESSON = Lesson("03_tensor_backprop", setup=SETUP, exercises=[
    Exercise("unbroadcast", "unbroadcast", 2, unbroadcast_cases, "unbroadcast", _unbroadcast_oracles(),
             UNBROADCAST_MISTAKES, what="gradient"),
    _op_exercise("mul", 2, mul_cases, MUL_MISTAKES, needs=("unbroadcast",)),
    _op_exercise("matmul", 3, matmul_cases, MATMUL_MISTAKES, needs=("unbroadcast",)),
    _op_exercise("sum", 1, reduction_cases("sum"), SUM_MISTAKES),
    _op_exercise("mean", 2, reduction_cases("mean"), MEAN_MISTAKES),
    _op_exercise("max", 2, reduction_cases("max", ties=True), MAX_MISTAKES),
    _op_exercise("getitem", 2, getitem_cases, GETITEM_MISTAKES),
    Exercise("engine.backward", "engine_backward", 3, engine_cases, "engine",
             [Oracle("PyTorch (autograd.grad)", _engine_torch), Oracle("TensorFlow (tf.GradientTape)", _engine_tf)],
             ENGINE_MISTAKES, needs=("engine.topological_order", "unbroadcast", "tanh.forward", "relu.forward",
                                     "mul.backward", "matmul.backward"), what="gradient"),
])
check, grade = LESSON.check, LESSON.grade

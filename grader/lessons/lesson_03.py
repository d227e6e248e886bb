"""Lesson 03 (tensor backprop): the graded exercises and their checks.

Every exercise is one registry entry of autograd_mini (``"mul.backward"``, ``"unbroadcast"``, ...).
Its check runs the student's function on seeded float64 cases and compares with PyTorch
(``torch.autograd``) and TensorFlow (``tf.GradientTape``), both given the same output gradient.

The student half of every check needs numpy and autograd_mini only, and stands on nothing else the
student writes in this lesson: an op's backward is called on a ``ctx`` filled by the reference
*forward*; mul and matmul reduce with a trusted ``unbroadcast`` of this module; the engine is graded
on graphs of ops that are not lesson-03 exercises. That matters because the autograder strips every
lesson-03 reference from autograd_mini while it grades (grader/lessons/03_tensor_backprop.toml, whose
``graded_check`` factory draws the cases from the per-student seed).

In a notebook::

    from grader.lessons import lesson_03
    lesson_03.check("mul.backward", mul_backward)   # check cell: a verdict on the visible cases
    lesson_03.grade("mul.backward", mul_backward)   # hidden test: more cases; raises with the diagnosis
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from grader.checks.core import Case, Check, Oracle
from grader.checks.diagnose import Mistake
from grader.checks.ops import backward_check
from grader.checks.result import CheckResult

LESSON = "03_tensor_backprop"


# ---- cases ------------------------------------------------------------------------------------

def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _normal(rng, shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float64)


def _ties(rng, shape) -> np.ndarray:
    """Small integers as floats: many equal entries, so max has ties."""
    return rng.integers(-2, 3, size=shape).astype(np.float64)


def _forward(op: str, arrays, params) -> np.ndarray:
    from autograd_mini.function import Context
    from autograd_mini.registry import reference_of

    ctx = Context(tuple(True for _ in arrays))
    return np.asarray(reference_of(op + ".forward")(ctx, *arrays, **_decode(params)))


def _op_case(op: str, rng, inputs: tuple, **params) -> Case:
    """Inputs plus a random output gradient of the forward's output shape (the last array)."""
    out = _forward(op, inputs, params)
    return Case(tuple(inputs) + (_normal(rng, out.shape),), params)


def _decode(params: dict) -> dict:
    """JSON-able parameters -> what the op takes (lists become tuples, index strings become slices)."""
    out = dict(params)
    if isinstance(out.get("axis"), list):
        out["axis"] = tuple(out["axis"])
    if "index" in out:
        out["index"] = decode_index(out["index"])
    return out


def decode_index(parts: list):
    """``[[0, 2, 0], ":"]`` -> ``(array([0, 2, 0]), slice(None))``: indices stay JSON-able in a Case."""
    def one(part):
        if isinstance(part, str):
            bounds = [int(b) if b else None for b in part.split(":")]
            return slice(*bounds)
        if isinstance(part, list):
            return np.asarray(part, dtype=np.int64)
        return part

    return tuple(one(p) for p in parts)


# ---- calling the student's function --------------------------------------------------------------

def _matmul_shape_hint(a, b, grad) -> str:
    if a.ndim == 1 or b.ndim == 1:
        return ("a 1-D A acts as a row (1, m) and a 1-D B as a column (m, 1); expand A, B and dC to "
                "matrices first, then reshape each gradient back to its input's shape")
    if a.ndim > 2 or b.ndim > 2:
        return ("with batch dimensions, transpose the last two axes (np.swapaxes(x, -1, -2), not .T) and "
                "unbroadcast each gradient to its input's shape")
    return f"dA = dC @ B.T is {grad.shape} @ {b.T.shape} and dB = A.T @ dC is {a.T.shape} @ {grad.shape}"


def _call_backward(op: str):
    """How a check calls a student's ``<op>.backward(ctx, grad)``: reference forward fills the ctx."""
    from autograd_mini.function import Context
    from autograd_mini.registry import reference_of

    def call(fn, case: Case):
        *inputs, grad = case.copy_arrays()
        ctx = Context(tuple(True for _ in inputs))
        reference_of(op + ".forward")(ctx, *inputs, **_decode(case.params))
        return fn(ctx, grad)

    return call


def _hinted_matmul_call(call: Callable) -> Callable:
    """numpy's long gufunc messages, replaced by the shapes that matter."""
    def hinted(fn, case: Case):
        try:
            return call(fn, case)
        except ValueError as error:
            a, b, grad = case.arrays
            raise ValueError(f"shapes do not fit ({str(error)[:60]}...). A is {a.shape}, B is {b.shape}, dC is "
                             f"{grad.shape}: {_matmul_shape_hint(a, b, grad)}") from None

    return hinted


def _call_unbroadcast(fn, case: Case):
    (grad,) = case.copy_arrays()
    return fn(grad, tuple(case.params["shape"]))


# ---- oracles ------------------------------------------------------------------------------------

def _torch_grads(forward: Callable, inputs, grad):
    from grader.checks.frameworks import torch

    t = torch()
    leaves = [t.tensor(x, dtype=t.float64, requires_grad=True) for x in inputs]
    out = forward(t, *leaves)
    return tuple(t.autograd.grad(out, leaves, grad_outputs=t.tensor(grad, dtype=t.float64)))


def _tf_grads(forward: Callable, inputs, grad):
    from grader.checks.frameworks import tf

    tfm = tf()
    leaves = [tfm.constant(x, dtype=tfm.float64) for x in inputs]
    with tfm.GradientTape() as tape:
        for leaf in leaves:
            tape.watch(leaf)
        out = forward(tfm, *leaves)
    grads = tape.gradient(out, leaves, output_gradients=tfm.constant(grad, dtype=tfm.float64))
    return tuple(tfm.zeros_like(leaf) if g is None else tfm.convert_to_tensor(g) for g, leaf in zip(grads, leaves))


def _backward_oracles(torch_forward: Callable, tf_forward: Callable) -> list:
    """Oracles for an op backward: the framework's gradient of the op, given the same output gradient."""
    def with_params(forward):
        return lambda case: (lambda fw, *xs: forward(fw, *xs, **_decode(case.params)))

    return [
        Oracle("PyTorch (torch.autograd.grad)",
               lambda case: _torch_grads(with_params(torch_forward)(case), case.arrays[:-1], case.arrays[-1])),
        Oracle("TensorFlow (tf.GradientTape)",
               lambda case: _tf_grads(with_params(tf_forward)(case), case.arrays[:-1], case.arrays[-1])),
    ]


def _reference_backward(op: str, case: Case) -> tuple:
    """The reference backward's outputs (numpy only): the base most mistakes are built from."""
    from autograd_mini.function import Context
    from autograd_mini.registry import reference_of

    *inputs, grad = case.copy_arrays()
    ctx = Context(tuple(True for _ in inputs))
    reference_of(op + ".forward")(ctx, *inputs, **_decode(case.params))
    return tuple(np.asarray(g) for g in reference_of(op + ".backward")(ctx, grad))


# ---- exercise: unbroadcast -------------------------------------------------------------------------

def _unbroadcast_cases(seed: int, full: bool) -> list:
    rng = _rng(seed)
    pairs = [((2, 3), (3,)), ((4, 3), (1, 3)), ((2, 3, 4), (3, 1)), ((5,), ())]
    if full:
        pairs += [((2, 3, 4), (2, 1, 4)), ((3, 1, 5), (1, 1, 5)), ((2, 3), (2, 3)), ((6, 2, 1, 3), (2, 1, 1))]
    return [Case((_normal(rng, g),), {"shape": list(s)}) for g, s in pairs]


def _torch_unbroadcast(case: Case):
    from grader.checks.frameworks import torch

    t = torch()
    (grad,) = case.arrays
    x = t.zeros(tuple(case.params["shape"]), dtype=t.float64, requires_grad=True)
    y = x.expand(grad.shape)
    return t.autograd.grad(y, x, grad_outputs=t.tensor(grad, dtype=t.float64))[0]


def _tf_unbroadcast(case: Case):
    from grader.checks.frameworks import tf

    tfm = tf()
    (grad,) = case.arrays
    x = tfm.zeros(tuple(case.params["shape"]), dtype=tfm.float64)
    with tfm.GradientTape() as tape:
        tape.watch(x)
        y = tfm.broadcast_to(x, grad.shape)
    return tape.gradient(y, x, output_gradients=tfm.constant(grad, dtype=tfm.float64))


def _unbroadcast_leading_only(case: Case):
    (grad,) = case.arrays
    shape = tuple(case.params["shape"])
    return grad.sum(axis=tuple(range(grad.ndim - len(shape)))) if grad.ndim > len(shape) else grad


def _unbroadcast_no_keepdims(case: Case):
    (grad,) = case.arrays
    shape = tuple(case.params["shape"])
    grad = _unbroadcast_leading_only(case)
    stretched = tuple(a for a, s in enumerate(shape) if s == 1 and grad.shape[a] != 1)
    return grad.sum(axis=stretched) if stretched else grad


def _unbroadcast_mean(case: Case):
    (grad,) = case.arrays
    shape = tuple(case.params["shape"])
    extra = grad.ndim - len(shape)
    grad = grad.mean(axis=tuple(range(extra))) if extra else grad
    stretched = tuple(a for a, s in enumerate(shape) if s == 1 and grad.shape[a] != 1)
    return grad.mean(axis=stretched, keepdims=True) if stretched else grad


UNBROADCAST_MISTAKES = [
    Mistake("stretched_axes_not_summed",
            "you summed the axes broadcasting added in front, but not the axes of size 1 it stretched "
            "(shape (1, 3) used as (4, 3)): sum those too, with keepdims=True.", _unbroadcast_leading_only),
    Mistake("keepdims_missing",
            "you summed the stretched size-1 axes without keepdims=True, so they disappeared: "
            "a gradient has its input's shape, (1, 3) stays (1, 3).", _unbroadcast_no_keepdims),
    Mistake("mean_not_sum",
            "you averaged over the broadcast axes: each input element was used once per copy, and the "
            "chain rule adds the gradients of all uses, so sum them.", _unbroadcast_mean),
]


# ---- exercise: mul.backward ------------------------------------------------------------------------

def _mul_cases(seed: int, full: bool) -> list:
    rng = _rng(seed)
    shapes = [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1), (1, 5)), ((), (2, 3))]
    if full:
        shapes += [((3,), (2, 4, 3)), ((2, 1, 4), (3, 1)), ((5,), (5,))]
    return [_op_case("mul", rng, (_normal(rng, a), _normal(rng, b))) for a, b in shapes]


def _mul_self_grads(case: Case):
    """grad * a for a and grad * b for b (each input multiplied by itself instead of the other)."""
    from autograd_mini.broadcasting import unbroadcast

    a, b, grad = case.arrays
    return unbroadcast(grad * a, a.shape), unbroadcast(grad * b, b.shape)


def _mul_returned_in_wrong_order(case: Case):
    from autograd_mini.broadcasting import unbroadcast

    a, b, grad = case.arrays
    return unbroadcast(grad * a, b.shape), unbroadcast(grad * b, a.shape)


MUL_MISTAKES = [
    Mistake("self_not_other",
            "each input's gradient uses the input itself: for out = a * b, d out/d a is b (the *other* "
            "factor), so grad_a = grad * b and grad_b = grad * a.", _mul_self_grads),
    Mistake("swapped",
            "your two gradients are in the wrong order: return (grad_a, grad_b), grad_a = grad * b "
            "reduced to a's shape first.", _mul_returned_in_wrong_order),
]


# ---- exercise: matmul.backward ---------------------------------------------------------------------

def _matmul_cases(seed: int, full: bool) -> list:
    rng = _rng(seed)
    shapes = [((2, 3), (3, 4)), ((3, 3), (3, 3)), ((4,), (4, 2)), ((2, 3, 4), (4, 5))]
    # no (5,) @ (5,): grader.checks.ops' TensorFlow oracle does not cover a 1-D @ 1-D product yet
    if full:
        shapes += [((3, 2), (2,)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 2), (4, 2, 3)), ((1, 6), (6, 1))]
    return [_op_case("matmul", rng, (_normal(rng, a), _normal(rng, b))) for a, b in shapes]


MATMUL_MISTAKES = [
    Mistake("returned_in_wrong_order",
            "your two gradients are in the wrong order: return (grad_a, grad_b), where grad_a = dC @ B.T has "
            "A's shape and grad_b = A.T @ dC has B's shape.",
            lambda case: _reference_backward("matmul", case)[::-1]),
]


# ---- exercises: sum / mean / max .backward ---------------------------------------------------------

_REDUCTION_PARAMS = [
    {"axis": None, "keepdims": False}, {"axis": 0, "keepdims": False},
    {"axis": 1, "keepdims": True}, {"axis": (0, 2), "keepdims": False},
]
# axes arrive normalised (non-negative): Tensor.sum(axis=-1) passes axis=2 to the op
_HIDDEN_REDUCTION_PARAMS = _REDUCTION_PARAMS + [
    {"axis": 2, "keepdims": False}, {"axis": None, "keepdims": True}, {"axis": (1, 2), "keepdims": True},
]


def _reduction_cases(op: str, seed: int, full: bool, values=_normal) -> list:
    rng = _rng(seed)
    shape = (4, 3, 2) if full else (3, 4, 2)
    cases = [_op_case(op, rng, (values(rng, shape),), **params)
             for params in (_HIDDEN_REDUCTION_PARAMS if full else _REDUCTION_PARAMS)]
    cases.append(_op_case(op, rng, (values(rng, (5,)),), axis=None, keepdims=False))
    return cases


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


def _reduced_count(case: Case) -> int:
    a = case.arrays[0]
    axis = case.params["axis"]
    axes = range(a.ndim) if axis is None else np.atleast_1d(axis)
    return int(np.prod([a.shape[i] for i in axes]))


def _scaled_reference(op: str, factor: Callable[[Case], float]):
    return lambda case: tuple(g * factor(case) for g in _reference_backward(op, case))


MEAN_MISTAKES = [
    Mistake("not_divided",
            "your gradient is N times too large, N being the number of elements averaged: mean = sum / N, "
            "so every input receives grad / N.", _scaled_reference("mean", _reduced_count)),
    Mistake("divided_twice",
            "your gradient is N times too small, N being the number of elements averaged: divide by N once.",
            _scaled_reference("mean", lambda case: 1 / _reduced_count(case))),
    Mistake("divided_by_total_size",
            "you divided by the total number of elements, not by the number averaged over: with an axis, "
            "N is the size of the reduced axes only (ctx.count).",
            lambda case: tuple(g * _reduced_count(case) / case.arrays[0].size for g in _reference_backward("mean", case))),
]

SUM_MISTAKES = [
    Mistake("divided",
            "your gradient is N times too small: the derivative of a sum with respect to each of its terms is 1, "
            "so every input receives grad unchanged (there is no 1/N: that is mean).",
            _scaled_reference("sum", lambda case: 1 / _reduced_count(case))),
]


def _max_to_all(case: Case):
    (g,) = _reference_backward("sum", case)
    return (g,)


def _max_ties_full(case: Case):
    a, grad = case.arrays
    axis, keepdims = _decode(case.params)["axis"], case.params["keepdims"]
    out = a.max(axis=axis, keepdims=True)
    g = grad if keepdims else np.expand_dims(grad, _dims(axis, a.ndim))
    return ((a == out) * g,)


def _max_first_only(case: Case):
    a, grad = case.arrays
    axis, keepdims = _decode(case.params)["axis"], case.params["keepdims"]
    g = grad if keepdims else np.expand_dims(grad, _dims(axis, a.ndim))
    axes = _dims(axis, a.ndim)
    axes = axes if isinstance(axes, tuple) else (axes,)
    # move the reduced axes to the end, flatten them, mark the first maximum of each row
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    first = np.zeros_like(flat)
    np.put_along_axis(first, flat.argmax(axis=-1)[..., None], 1.0, axis=-1)
    mask = np.transpose(first.reshape(moved.shape), np.argsort(rest + list(axes)))
    return (mask * g,)


MAX_MISTAKES = [
    Mistake("to_all_elements",
            "every element received the gradient, as in sum: only the maximum influenced the output, "
            "so only it gets the gradient (a mask a == max); the others get 0.", _max_to_all),
    Mistake("ties_not_shared",
            "where several elements tie for the maximum, each received the full gradient, so the total is too "
            "large: PyTorch (amax) and TensorFlow (reduce_max) share it equally - divide by the number of ties.",
            _max_ties_full),
    Mistake("first_only",
            "where several elements tie for the maximum, only one received the gradient (argmax): PyTorch's "
            "amax and TensorFlow's reduce_max share it equally among the ties.", _max_first_only),
]


# ---- exercise: getitem.backward --------------------------------------------------------------------

_GETITEM_INDICES = [
    ([1], (4, 3)), ([":", 2], (4, 3)), (["1:3"], (5, 2)), ([[0, 2, 0]], (4, 3)), ([[3, 3, 1, 3]], (5,)),
]
_HIDDEN_GETITEM_INDICES = _GETITEM_INDICES + [
    ([[0, 1, 1], [2, 0, 0]], (3, 4)), ([":", [1, 1, 0]], (2, 3)), ([[2, 2]], (3, 2, 2)), ([0, "1:"], (2, 4)),
]


def _getitem_cases(seed: int, full: bool) -> list:
    rng = _rng(seed)
    return [_op_case("getitem", rng, (_normal(rng, shape),), index=index)
            for index, shape in (_HIDDEN_GETITEM_INDICES if full else _GETITEM_INDICES)]


def _torch_getitem(t, a, index):
    return a[tuple(t.as_tensor(i) if isinstance(i, np.ndarray) else i for i in index)]


def _tf_getitem(tfm, a, index):
    """TensorFlow has no numpy fancy indexing on tensors: gather the selected flat positions."""
    positions = np.arange(int(np.prod(a.shape))).reshape(tuple(a.shape))[index]
    picked = tfm.gather(tfm.reshape(a, [-1]), positions.ravel())
    return tfm.reshape(picked, positions.shape)


def _getitem_assign(case: Case):
    a, grad = case.arrays
    full = np.zeros(a.shape)
    full[_decode(case.params)["index"]] = grad
    return (full,)


GETITEM_MISTAKES = [
    Mistake("repeated_index_overwritten",
            "an element picked more than once got only one of its gradients: `full[index] = grad` keeps "
            "the last write. Accumulate with np.add.at(full, index, grad) so repeats add up.", _getitem_assign),
]


# ---- exercise: engine.backward --------------------------------------------------------------------
#
# The graphs use only ops whose backward is *not* a lesson-03 exercise (elementwise ops on equal
# shapes), because the autograder strips every lesson-03 reference while it grades: the engine is
# graded on its own, whatever the student's op backwards do. The root is a tensor, not a scalar:
# backward(grad) starts from a random output gradient (the last array of a case).

@dataclass
class Graph:
    """A small computation written once for autograd_mini, PyTorch and TensorFlow (``ns`` has the math)."""

    leaves: tuple
    build: Callable  # (ns, *leaves) -> tensor of the leaves' shape


def _graph_fork(ns, x, w):
    y = ns.tanh((x - w) / 2.0)      # y feeds two ops, w feeds two ops: their gradients add up
    return ns.exp(y) + y / w


def _graph_layers(ns, x, w1, w2):
    h = ns.relu(x / w1 - w2)        # two "layers" sharing w2
    return ns.tanh((h - x) / 4.0) - h / w2


def _graph_reuse(ns, a):
    b = ns.exp(a / 3.0)
    c = b / (ns.tanh(a) + 2.0)      # a and b are each used twice
    return b + c - a


def _graph_chain(ns, x, w):
    for _ in range(300):            # deep: 1,200 nodes
        x = ns.tanh(x + w) - w / 4.0
    return x


GRAPHS = {
    "fork": Graph(((3, 4), (3, 4)), _graph_fork),
    "layers": Graph(((5, 3), (5, 3), (5, 3)), _graph_layers),
    "reuse": Graph(((2, 3),), _graph_reuse),
    "chain": Graph(((4,), (4,)), _graph_chain),
}


class _Mini:
    tanh = staticmethod(lambda t: t.tanh())
    relu = staticmethod(lambda t: t.relu())
    exp = staticmethod(lambda t: t.exp())


def _framework_ns(name: str):
    if name == "torch":
        from grader.checks.frameworks import torch

        t = torch()
        return type("TorchNS", (), {"tanh": staticmethod(t.tanh), "relu": staticmethod(t.relu),
                                    "exp": staticmethod(t.exp)})
    from grader.checks.frameworks import tf

    tfm = tf()
    return type("TFNS", (), {"tanh": staticmethod(tfm.tanh), "relu": staticmethod(tfm.nn.relu),
                             "exp": staticmethod(tfm.exp)})


def _graph_leaf(rng, shape) -> np.ndarray:
    """Away from 0: leaves divide, and tanh stays off its flat tails (where 1 - tanh**2 loses digits)."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.2, np.sign(x + 1e-12) * (0.2 + np.abs(x)), x)


def _engine_cases(seed: int, full: bool) -> list:
    rng = _rng(seed)
    names = list(GRAPHS) if full else ["fork", "layers", "reuse"]
    cases = []
    for name in names:
        leaves = tuple(_graph_leaf(rng, s) for s in GRAPHS[name].leaves)
        cases.append(Case(leaves + (_normal(rng, GRAPHS[name].leaves[0]),), {"graph": name}))
    return cases


def _run_engine(engine: Callable, case: Case) -> tuple:
    """Build the case's graph in autograd_mini, run ``engine`` as engine.backward, return the leaves' grads."""
    import autograd_mini

    *arrays, grad = case.copy_arrays()
    leaves = [autograd_mini.Tensor(x, requires_grad=True) for x in arrays]
    root = GRAPHS[case.params["graph"]].build(_Mini, *leaves)
    # constants (a / 3.0) broadcast, and the autograder strips the reference unbroadcast: use the trusted one
    with autograd_mini.use({"engine.backward": engine, "unbroadcast": _trusted_unbroadcast}):
        root.backward(grad)
    for i, leaf in enumerate(leaves):
        if leaf.grad is None:
            raise RuntimeError(
                f"leaf {i + 1} (shape {leaf.shape}) received no gradient: walk every node from the root "
                "down (reversed topological order) and store the gradient of each leaf in leaf.grad")
    return tuple(leaf.grad for leaf in leaves)


def _call_engine(fn, case: Case):
    return _run_engine(fn, case)


def _engine_oracle(framework: str):
    def compute(case: Case):
        graph = GRAPHS[case.params["graph"]]
        ns = _framework_ns(framework)
        forward = lambda fw, *xs: graph.build(ns, *xs)  # noqa: E731
        return (_torch_grads if framework == "torch" else _tf_grads)(forward, case.arrays[:-1], case.arrays[-1])

    return compute


def _engine_overwriting(root, grad):
    """Wrong on purpose: a node used twice keeps only the last gradient that reached it."""
    from autograd_mini.engine import input_gradients
    from autograd_mini.registry import active

    grads = {id(root): grad}
    for node in reversed(active["engine.topological_order"](root)):
        node_grad = grads.pop(id(node), None)
        if node_grad is None:
            continue
        if node.is_leaf:
            node.grad = node_grad
            continue
        for parent, parent_grad in zip(node.parents, input_gradients(node, node_grad)):
            if parent_grad is not None:
                grads[id(parent)] = parent_grad


ENGINE_MISTAKES = [
    Mistake("fork_not_accumulated",
            "a node used by two ops kept only one of its gradients: where the graph forks, add the incoming "
            "gradients (grads[parent] = previous + g) instead of overwriting them.",
            lambda case: _run_engine(_engine_overwriting, case)),
]


# ---- the trusted helper other checks stand on --------------------------------------------------------

def _trusted_unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """unbroadcast for the mul and matmul checks (the autograder strips autograd_mini's own copy)."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _with_trusted_unbroadcast(call: Callable) -> Callable:
    def trusted(fn, case: Case):
        from autograd_mini.registry import use

        with use({"unbroadcast": _trusted_unbroadcast}):
            return call(fn, case)

    return trusted


# ---- the exercise table ----------------------------------------------------------------------------

@dataclass
class Exercise:
    points: int
    registry: str                                  # the autograd_mini registry name it implements
    function: str                                  # the function's name in the notebook
    cases: Callable[[int, bool], list]             # (seed, full) -> cases
    build: Callable[[list], Check]                 # cases -> Check


def _op_check(op: str, mistakes=(), needs_unbroadcast: bool = False) -> Callable[[list], Check]:
    """grader.checks' backward check for ``op`` on this lesson's cases, with this lesson's diagnoses first."""
    def build(cases: list) -> Check:
        base = backward_check(op, cases=cases)
        call = _hinted_matmul_call(base.call) if op == "matmul" else base.call
        if needs_unbroadcast:
            call = _with_trusted_unbroadcast(call)
        return replace(base, name=f"{op}.backward", call=call, mistakes=list(mistakes) + list(base.mistakes))

    return build


def _own_op_check(op: str, torch_forward, tf_forward, mistakes=()) -> Callable[[list], Check]:
    """For indices that grader.checks' TensorFlow oracle does not cover (several fancy axes)."""
    def build(cases: list) -> Check:
        return Check(f"{op}.backward", cases, _backward_oracles(torch_forward, tf_forward),
                     call=_call_backward(op), mistakes=mistakes, what="gradient")

    return build


EXERCISES: dict[str, Exercise] = {
    "unbroadcast": Exercise(2, "unbroadcast", "unbroadcast", _unbroadcast_cases, lambda cases: Check(
        "unbroadcast", cases,
        [Oracle("PyTorch (expand + autograd)", _torch_unbroadcast),
         Oracle("TensorFlow (broadcast_to + GradientTape)", _tf_unbroadcast)],
        call=_call_unbroadcast, mistakes=UNBROADCAST_MISTAKES, what="gradient")),
    "mul.backward": Exercise(2, "mul.backward", "mul_backward", _mul_cases,
                             _op_check("mul", MUL_MISTAKES, needs_unbroadcast=True)),
    "matmul.backward": Exercise(3, "matmul.backward", "matmul_backward", _matmul_cases,
                                _op_check("matmul", MATMUL_MISTAKES, needs_unbroadcast=True)),
    "sum.backward": Exercise(1, "sum.backward", "sum_backward",
                             lambda seed, full: _reduction_cases("sum", seed, full), _op_check("sum", SUM_MISTAKES)),
    "mean.backward": Exercise(2, "mean.backward", "mean_backward",
                              lambda seed, full: _reduction_cases("mean", seed, full), _op_check("mean", MEAN_MISTAKES)),
    "max.backward": Exercise(2, "max.backward", "max_backward",
                             lambda seed, full: _reduction_cases("max", seed, full, values=_ties),
                             _op_check("max", MAX_MISTAKES)),
    "getitem.backward": Exercise(2, "getitem.backward", "getitem_backward", _getitem_cases,
                                 _own_op_check("getitem", _torch_getitem, _tf_getitem, GETITEM_MISTAKES)),
    "engine.backward": Exercise(3, "engine.backward", "engine_backward", _engine_cases, lambda cases: Check(
        "engine.backward", cases,
        [Oracle("PyTorch (autograd.grad)", _engine_oracle("torch")),
         Oracle("TensorFlow (tf.GradientTape)", _engine_oracle("tf"))],
        call=_call_engine, mistakes=ENGINE_MISTAKES, what="gradient")),
}

TOTAL_POINTS = sum(e.points for e in EXERCISES.values())
VISIBLE_SEED = 3    # the check cells' cases
HIDDEN_SEED = 303   # the notebook's hidden tests (the autograder draws its own seed per student)


def _exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        raise KeyError(f"lesson 03 has no exercise {name!r}; it has {', '.join(EXERCISES)}")
    return EXERCISES[name]


def make_check(name: str, hidden: bool = False, seed: int | None = None) -> Check:
    """The check of exercise ``name`` (its registry name): the visible cases, or (``hidden``) more cases."""
    exercise = _exercise(name)
    seed = (HIDDEN_SEED if hidden else VISIBLE_SEED) if seed is None else seed
    return exercise.build(exercise.cases(seed, hidden))


def graded_check(seed: int = 0, cases: list | None = None, exercise: str = "") -> Check:
    """The factory grader/lessons/03_tensor_backprop.toml names: the full case set from ``seed``."""
    spec = _exercise(exercise)
    return spec.build(cases if cases is not None else spec.cases(seed, True))


def check(name: str, fn: Callable) -> CheckResult:
    """The check cell: compare ``fn`` with PyTorch and TensorFlow on the visible cases."""
    return make_check(name).run(fn)


def grade(name: str, fn: Callable) -> None:
    """The hidden test: more cases; raises AssertionError carrying the diagnosis if anything differs."""
    make_check(name, hidden=True).run(fn).assert_passed()
    print(f"{name}: all hidden tests passed")

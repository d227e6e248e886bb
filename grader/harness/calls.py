"""How a check calls the student's function on one case: ``CALLS[name](fn, case) -> what fn returned``.

These run next to the student's code, with a library from which the exercise's reference (and
everything that could stand in for it) has been removed, so they build their inputs from case data and
implement nothing themselves. Problems they spot are raised as ``Hint(code, **values)``; the words for
each code are in HINTS, which the grader reads from its own copy of this module.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .case import Case
from .outcome import Hint
from .programs import FUNCTIONS, GRAPHS, chain, run_program

HINTS = {
    "broadcast": "a {a} and b {b} do not broadcast against each other. Give them the axes of the result (n, m, d): "
                 "a[:, None, :] - b[None, :, :]",
    "overflow": "a floating-point overflow happened inside your function (exp of a large number is inf)",
    "invalid": "a floating-point 0/0 or inf - inf happened inside your function",
    "keepdims": "a reduction dropped the axis it reduced: keep it with keepdims=True, so the result broadcasts "
                "against the array it divides",
    "bias_none": "a layer may have no bias (bias=None): then return x @ weight.T alone",
    "layer_input": "layer {layer} received an input that is not layer {previous}'s output: feed each layer the "
                   "previous layer's output, in order (x = layer(x))",
    "matmul_shapes": "shapes do not fit: A is {a}, B is {b}, dC is {grad}. For C = A @ B: dA = dC @ B.T "
                     "{dA_shapes} and dB = A.T @ dC {dB_shapes}",
    "matmul_vector": "a 1-D A acts as a row (1, m) and a 1-D B as a column (m, 1): expand A, B and dC to "
                     "matrices first, then reshape each gradient back to its input's shape (A is {a}, B is {b})",
    "matmul_batched": "with batch dimensions, transpose the last two axes (np.swapaxes(x, -1, -2), not .T) and "
                      "reduce each gradient to its input's shape (A is {a}, B is {b})",
    "reduced_axes_missing": "your gradient of shape {grad} does not broadcast to the input's shape {shape}: the "
                            "forward dropped the reduced axes (keepdims=False); put them back as size-1 axes "
                            "(np.expand_dims) before np.broadcast_to",
    "changed_input": "numerical_gradient changed its input x: after nudging an entry, put its original value "
                     "back (x[i] = original) before moving to the next one",
    "not_a_list": "topological_order must return a list of the graph's nodes, got {type}",
    "foreign_node": "your order contains something that is not a node of the graph (item {position})",
    "leaf_without_grad": "leaf {leaf} (shape {shape}) received no gradient: its .grad is still None. Every leaf "
                         "the root depends on must get one",
    "grad_not_array": "leaf {leaf}'s .grad is a {type}, not a numpy array",
    "aliased_leaves": "leaves {a} and {b} share one gradient array: when an array is stored in a leaf's .grad, "
                      "store a copy (g.copy()), or a later += on one leaf changes the other",
    "aliased_caller": "leaf {leaf}'s .grad is the very array passed to backward(): store a copy, or the caller's "
                      "array changes when the gradient accumulates",
    "none_grad_added": "a leaf's .grad starts as None: on the first backward store the gradient (a copy); add to "
                       "it only when it already holds one",
    "node_visited_twice": "your engine ran the backward of one node more than once (it follows every path "
                          "separately, which takes exponential time on deep graphs). Visit each node once, in "
                          "reversed topological order, after adding up all the gradients that reach it",
    "retain_grad_ignored": "the interior node marked with retain_grad() has no .grad: besides the leaves, store "
                           "the gradient of every node whose _retains_grad is True",
    "deep_recursion": "your code recursed too deeply on a graph of {nodes:,} ops (Python stops at about 1,000 "
                      "nested calls): use a loop with an explicit stack",
    "values_returned": "return plain numbers (floats), not Values: a local derivative is a number",
    # found by the grader when it checks a returned order against the graph (lesson 02)
    "order_duplicate": "a node appears twice in your order: a node reached along two paths (a fork) must be "
                       "added once. Keep a `visited` set",
    "order_missing": "your order misses {missing} of the {total} nodes{root}: it must hold every node the root "
                     "depends on, the root included",
    "order_parent_after": "a node comes before one of its parents (position {child} uses position {parent}): "
                          "every node must come after all of its parents (append a node only once its parents "
                          "are in the list)",
}


# ---- lesson 00 / generic ----------------------------------------------------------------------------

def plain(fn: Callable, case: Case) -> Any:
    return fn(*case.copy_arrays(), **case.params)


def distances(fn: Callable, case: Case) -> Any:
    a, b = case.copy_arrays()
    try:
        return fn(a, b)
    except ValueError as error:
        if "broadcast" in str(error):
            raise Hint("broadcast", a=list(a.shape), b=list(b.shape)) from None
        raise


# ---- lesson 01 ------------------------------------------------------------------------------------

def _context(needs=(False,)):
    from autograd_mini.function import Context

    return Context(tuple(needs))


def op_forward(fn: Callable, case: Case) -> Any:
    """``fn(ctx, *arrays, **params)`` with floating-point overflow (and for softmax 0/0) raised."""
    params = dict(case.params)
    errstate = params.pop("errstate", {"over": "raise"})
    try:
        with np.errstate(**errstate):
            return fn(_context(), *case.copy_arrays(), **params)
    except FloatingPointError as error:
        raise Hint("invalid" if "invalid" in str(error) else "overflow") from None
    except ValueError as error:
        if "broadcast" in str(error) and "axis" in params:
            raise Hint("keepdims") from None
        raise


def linear(fn: Callable, case: Case) -> Any:
    arrays = case.copy_arrays()
    try:
        return fn(*arrays) if len(arrays) == 3 else fn(*arrays, None)
    except TypeError as error:
        if "NoneType" in str(error):
            raise Hint("bias_none") from None
        raise


class _RecordedLayer:
    """A layer that knows the one input it will be given and the output the grader computed for it."""

    def __init__(self, position: int, name: str, expected_input: np.ndarray, output: np.ndarray):
        self.position, self.name, self._input, self._output = position, name, expected_input, output

    def __call__(self, x):
        x = np.asarray(getattr(x, "data", x) if not isinstance(x, np.ndarray) else x)
        if x.shape != self._input.shape or not np.array_equal(x, self._input):
            raise Hint("layer_input", layer=self.position, previous=self.position - 1)
        return self._output.copy()

    def __repr__(self) -> str:
        return self.name


def sequential(fn: Callable, case: Case) -> Any:
    """The layers are recorded: layer i returns the output the grader computed, for the input it expects."""
    activations = case.copy_arrays()  # x, then each layer's output
    layers = [_RecordedLayer(i + 1, name, activations[i], activations[i + 1])
              for i, name in enumerate(case.params["layers"])]
    out = fn(layers, activations[0])
    return getattr(out, "data", out) if not isinstance(out, np.ndarray) else out


# ---- lesson 02 ------------------------------------------------------------------------------------

NUMPY_F = {"sum": np.sum, "exp": np.exp, "tanh": np.tanh, "log": np.log, "cos": np.cos, "sin": np.sin}


def numerical_gradient(fn: Callable, case: Case) -> Any:
    (x,) = case.copy_arrays()
    x = x.astype(case.params["dtype"])
    original = x.copy()
    f_np = FUNCTIONS[case.params["f"]]
    h = case.params.get("h")
    f = lambda v: f_np(v, NUMPY_F)  # noqa: E731
    result = fn(f, x) if h is None else fn(f, x, h)
    if not np.array_equal(x, original):
        raise Hint("changed_input")
    return result


def _scalars(result):
    items = result if isinstance(result, (tuple, list)) else (result,)
    if any(type(item).__name__ == "Value" for item in items):
        raise Hint("values_returned")
    return result


FORWARD = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "exp": np.exp, "tanh": np.tanh,
           "relu": lambda a: max(a, 0.0)}


def local(fn: Callable, case: Case) -> Any:
    args = [float(a) for a in case.arrays]
    op = case.params["op"]
    if op == "pow":
        e = case.params["exponent"]
        return _scalars(fn(args[0], e, args[0] ** e))
    return _scalars(fn(*args, float(FORWARD[op](*args))))


VALUE_UNARY = {"tanh": lambda v: v.tanh(), "exp": lambda v: v.exp(), "relu": lambda v: v.relu()}


def value_graph(case: Case):
    """(leaves, root) of autograd_mini ``Value``s for a program or chain case."""
    from autograd_mini.value import Value

    leaves = [Value(float(x)) for x in case.arrays[0]]
    if "chain" in case.params:
        return leaves, chain(leaves[0], case.params["chain"])
    return leaves, run_program(case.params["program"], leaves, VALUE_UNARY)


def node_index(root) -> dict:
    """id(node) -> a number, the same for the same graph built twice (first seen, walking parents from the root).
    Called only after the student's function has returned."""
    index, stack = {}, [root]
    while stack:
        node = stack.pop()
        if id(node) not in index:
            index[id(node)] = len(index)
            stack.extend(reversed(node.parents))
    return index


def _too_deep(case: Case) -> Hint:
    if "chain" in case.params:  # what ran: 2 ops per link
        return Hint("deep_chain", ops=2 * case.params["chain"], links=case.params["chain"])
    return Hint("deep_recursion", nodes=len(case.params["program"]))


def value_order(fn: Callable, case: Case) -> Any:
    leaves, root = value_graph(case)
    try:
        order = fn(root)
    except RecursionError:
        raise _too_deep(case) from None
    if not isinstance(order, (list, tuple)):
        raise Hint("not_a_list", type=type(order).__name__)
    index = node_index(root)
    positions = []
    for k, node in enumerate(order):
        if id(node) not in index:
            raise Hint("foreign_node", position=k)
        positions.append(index[id(node)])
    return np.array(positions, dtype=np.float64)


def value_backward(fn: Callable, case: Case) -> Any:
    leaves, root = value_graph(case)
    try:
        fn(root)
    except RecursionError:
        raise _too_deep(case) from None
    return np.array([leaf.grad for leaf in leaves], dtype=np.float64)


# ---- lesson 03 ------------------------------------------------------------------------------------

def unbroadcast(fn: Callable, case: Case) -> Any:
    (grad,) = case.copy_arrays()
    return fn(grad, tuple(case.params["shape"]))


def _as_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """The memory layout the library itself produces: "T" is a transposed view (what W.T gives nn.Linear)."""
    if layout == "T":
        return np.ascontiguousarray(array.T).T
    return array


def context_from(data: dict, arrays: tuple):
    """A Context filled as the reference forward filled it in the grader's process (attributes as data)."""
    ctx = _context(data["needs_input_grad"])
    layouts = data.get("layouts") or ["C"] * len(arrays)
    ctx.save_for_backward(*(_as_layout(a, layout) for a, layout in zip(arrays, layouts)))
    for name, value in data["attributes"].items():
        setattr(ctx, name, value)
    return ctx


def op_backward(fn: Callable, case: Case) -> Any:
    """``fn(ctx, grad)``: the saved arrays come first in ``case.arrays``, the output gradient last."""
    *saved, grad = case.copy_arrays()
    ctx = context_from(case.params["ctx"], tuple(saved))
    try:
        return fn(ctx, grad)
    except ValueError as error:
        hint = case.params.get("shape_hint")
        if hint == "matmul" and ("mismatch" in str(error) or "shape" in str(error) or "align" in str(error)):
            a, b = saved[0], saved[1]
            if a.ndim == 1 or b.ndim == 1:
                raise Hint("matmul_vector", a=list(a.shape), b=list(b.shape)) from None
            if a.ndim > 2 or b.ndim > 2:
                raise Hint("matmul_batched", a=list(a.shape), b=list(b.shape)) from None
            raise Hint("matmul_shapes", a=list(a.shape), b=list(b.shape), grad=list(grad.shape),
                       dA_shapes=f"is {grad.shape} @ {b.T.shape}", dB_shapes=f"is {a.T.shape} @ {grad.shape}") from None
        if hint == "reduction" and "broadcast" in str(error):
            raise Hint("reduced_axes_missing", grad=list(grad.shape), shape=list(ctx.shape)) from None
        raise


class _Namespace:
    """What the tensor graphs need, as autograd_mini Tensor methods."""
    tanh = staticmethod(lambda t: t.tanh())
    relu = staticmethod(lambda t: t.relu())
    exp = staticmethod(lambda t: t.exp())
    matmul = staticmethod(lambda a, b: a @ b)
    T = staticmethod(lambda t: t.T)


def _leaf_grads(leaves, grad, count_from: int = 1) -> tuple:
    out = []
    for i, leaf in enumerate(leaves):
        if leaf.grad is None:
            raise Hint("leaf_without_grad", leaf=i + count_from, shape=list(leaf.shape))
        if type(leaf.grad) is not np.ndarray:
            raise Hint("grad_not_array", leaf=i + count_from, type=type(leaf.grad).__name__)
        if np.shares_memory(leaf.grad, grad):
            raise Hint("aliased_caller", leaf=i + count_from)
        for j in range(i):
            if leaves[j].grad is not None and np.shares_memory(leaf.grad, leaves[j].grad):
                raise Hint("aliased_leaves", a=j + count_from, b=i + count_from)
        out.append(leaf.grad.copy())
    return tuple(out)


def _once_per_node(backward: Callable) -> Callable:
    seen = set()

    def counted(ctx, grad):
        if id(ctx) in seen:
            raise Hint("node_visited_twice")
        seen.add(id(ctx))
        return backward(ctx, grad)
    return counted


def engine(fn: Callable, case: Case) -> Any:
    """The engine's whole contract on one graph: leaf gradients, the retained interior gradient, and a
    second backward() that adds to the leaves (retain_graph=True the first time, as in PyTorch)."""
    import autograd_mini
    from autograd_mini.registry import active

    *arrays, grad = case.copy_arrays()
    leaves = [autograd_mini.Tensor(x, requires_grad=True) for x in arrays]
    build, _ = GRAPHS[case.params["graph"]]
    root, interior = build(_Namespace, *leaves)
    interior.retain_grad()
    counted = {name: _once_per_node(active[name]) for name in case.params["ops"]}
    try:
        with autograd_mini.use({"engine.backward": fn, **counted}):
            root.backward(grad, retain_graph=True)
        first = _leaf_grads(leaves, grad)
        if interior.grad is None:
            raise Hint("retain_grad_ignored")
        retained = interior.grad.copy()
        with autograd_mini.use({"engine.backward": fn}):
            root.backward(grad)
    except RecursionError:
        raise Hint("deep_recursion", nodes=1200) from None
    except TypeError as error:
        if "NoneType" in str(error):
            raise Hint("none_grad_added") from None
        raise
    return first + (retained,) + _leaf_grads(leaves, grad)


CALLS: dict[str, Callable[[Callable, Case], Any]] = {
    "plain": plain, "distances": distances, "op_forward": op_forward, "linear": linear, "sequential": sequential,
    "numerical_gradient": numerical_gradient, "local": local, "value_order": value_order,
    "value_backward": value_backward, "unbroadcast": unbroadcast, "op_backward": op_backward, "engine": engine,
}


# ---- appended for lesson 01: hints that name the op's own fix ----------------------------------------

HINTS.update({
    "overflow_relu": "a floating-point overflow: ReLU needs no exp, just np.maximum(a, 0)",
    "overflow_sigmoid": "exp overflowed: exp(-a) is inf for a < -709 (and np.where computes both of its branches "
                        "everywhere). Compute e = np.exp(-np.abs(a)), which never overflows: 1/(1+e) where a >= 0, "
                        "e/(1+e) elsewhere",
    "overflow_tanh": "exp overflowed: a formula with exp(a) and exp(-a) overflows for |a| > 709; use np.tanh(a)",
    "overflow_softmax": "exp overflowed: exp(1000) is inf. Softmax does not change when a constant is subtracted "
                        "from a slice, so subtract each slice's max first: a - a.max(axis=axis, keepdims=True)",
    "invalid_softmax": "0/0: every exp in a slice underflowed to 0. Subtract each slice's own max "
                       "(a.max(axis=axis, keepdims=True)), not the max of the whole array",
    "linear_weight": "x {x} and weight {weight} do not multiply: weight is stored (out_features, in_features) as "
                     "in PyTorch, so the layer is x @ weight.T, of shape (..., out_features)",
    "linear_bias": "the bias {bias} does not broadcast against x @ weight.T: it is one number per output feature, "
                   "added to every row; `out + bias` already broadcasts along the last axis (no reshape, no [:, None])",
})


def op_forward_explained(op: str) -> Callable[[Callable, Case], Any]:
    """``op_forward``, whose overflow and 0/0 hints name the fix for ``op``."""
    def call(fn: Callable, case: Case) -> Any:
        try:
            return op_forward(fn, case)
        except Hint as hint:
            if f"{hint.code}_{op}" not in HINTS:
                raise
            raise Hint(f"{hint.code}_{op}", **hint.values) from None
    return call


def linear_explained(fn: Callable, case: Case) -> Any:
    """``linear``, with the two shape errors of a linear layer explained."""
    try:
        return linear(fn, case)
    except ValueError as error:
        x, weight, *bias = case.arrays
        if "broadcast" in str(error) and bias:
            raise Hint("linear_bias", bias=list(bias[0].shape)) from None
        if "matmul" in str(error) or "align" in str(error):
            raise Hint("linear_weight", x=list(x.shape), weight=list(weight.shape)) from None
        raise


CALLS.update({f"op_forward_{op}": op_forward_explained(op) for op in ("relu", "sigmoid", "tanh", "softmax")})
CALLS["linear_explained"] = linear_explained


# ---- optimizers ------------------------------------------------------------------------------------

def optimizer_steps(fn: Callable, case: Case) -> Any:
    """``fn(param, grad, state, **hyper)`` updates ``param`` in place, once per given gradient; returns the
    trajectory (the parameter after every step)."""
    param, *grads = case.copy_arrays()
    state: dict = {}
    trajectory = []
    for grad in grads:
        before = param.copy()
        returned = fn(param, grad, state, **case.params["hyper"])
        if returned is not None and not np.shares_memory(returned, param):
            raise Hint("not_in_place")
        if np.array_equal(param, before) and np.any(grad):
            raise Hint("not_in_place")
        trajectory.append(param.copy())
    return np.stack(trajectory)


CALLS["optimizer_steps"] = optimizer_steps
HINTS["not_in_place"] = ("the parameter did not change: update it in place (param -= ..., or param[...] = ...); "
                         "rebinding the name (param = param - ...) changes only your local variable")


# ---- lesson 02: h probed, float32 next to float64, the deep chain named by its size ---------------------

HINTS.update({
    "ignores_h": "your estimate does not change when the step does (with h = {h} it equals your estimate with a "
                 "tiny step): use the h numerical_gradient is given, x[i] = original + h and x[i] = original - h, "
                 "and divide by 2 * h",
    "float32_step": "in float32 your estimate is far off while float64 is fine: the step is too small for float32. "
                    "Rounding error grows like eps / h (float32's eps is 1.2e-7), so use the h the function is "
                    "given (default: default_step(x.dtype) = eps ** (1/3), about 5e-3 in float32) and compute in "
                    "x's dtype",
    "deep_chain": "your code recursed too deeply on a chain of {ops:,} ops (chain={links}: {links:,} times "
                  "x = x * 1.00001 + 0.001; Python stops at about 1,000 nested calls): use a loop with an "
                  "explicit stack",
})


PROBE_H = 0.05  # a step far from the default one: an estimate that ignores h does not move when h does


def numerical_gradient_runs(fn: Callable, case: Case) -> Any:
    """``numerical_gradient`` on the case, then on variations the grader compares with it: with a given h, also
    without one; in float32, also in float64 without h and with h = PROBE_H."""
    changes = [{"h": None}] if "h" in case.params else []
    if case.params["dtype"] == "float32":
        changes += [{"dtype": "float64"}, {"dtype": "float64", "h": PROBE_H}]
    first = numerical_gradient(fn, case)
    if first is None or not changes:
        return first
    return (first,) + tuple(numerical_gradient(fn, Case(case.arrays, {**case.params, **change})) for change in changes)


CALLS["numerical_gradient_runs"] = numerical_gradient_runs


# ---- lesson 05: optimizers with a changing learning rate, schedules, predictions ----------------------

def optimizer_steps_with_rates(fn: Callable, case: Case) -> Any:
    """``optimizer_steps``, with the learning rate set to ``case.params["lrs"][k]`` before step k, as a schedule
    does (without "lrs", the same as ``optimizer_steps``)."""
    param, *grads = case.copy_arrays()
    hyper, rates = case.params["hyper"], case.params.get("lrs")
    state: dict = {}
    trajectory = []
    for k, grad in enumerate(grads):
        before = param.copy()
        returned = fn(param, grad, state, **(hyper if rates is None else {**hyper, "lr": rates[k]}))
        if returned is not None and not np.shares_memory(returned, param):
            raise Hint("not_in_place")
        if np.array_equal(param, before) and np.any(grad):
            raise Hint("not_in_place")
        trajectory.append(param.copy())
    return np.stack(trajectory)


def schedule_rates(fn: Callable, case: Case) -> Any:
    """``fn(step, **settings)`` for step = 0 .. case.params["steps"]: the learning rate at every step."""
    rates = []
    for step in range(case.params["steps"] + 1):
        rate = fn(step, **case.params["settings"])
        if isinstance(rate, (np.ndarray, list, tuple)) and np.size(rate) != 1:
            raise Hint("rate_not_a_number", step=step, shape=list(np.shape(rate)))
        rates.append(rate)
    return np.array(rates, dtype=np.float64).reshape(-1)


def prediction(fn: Callable, case: Case) -> Any:
    """``fn()`` returns the student's answer: a number, or with ``case.params["choices"]`` one of those numbers."""
    answer = fn()
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise Hint("prediction_not_a_number", type=type(answer).__name__)
    choices = case.params.get("choices")
    if choices is not None and answer not in choices:
        raise Hint("prediction_choice", choices=", ".join(map(str, choices)))
    return np.float64(answer)


CALLS.update({"optimizer_steps_with_rates": optimizer_steps_with_rates, "schedule_rates": schedule_rates,
              "prediction": prediction})
HINTS.update({
    "rate_not_a_number": "at step {step} your function returned an array of shape {shape}: return one number, the "
                         "learning rate at that step",
    "prediction_not_a_number": "return your answer as a number (int or float), not a {type}",
    "prediction_choice": "answer with one of the numbers {choices}",
    "prediction_high": "your prediction is too large (it is more than {tolerance} away from the measured value): "
                       "{advice}",
    "prediction_low": "your prediction is too small (it is more than {tolerance} away from the measured value): "
                      "{advice}",
})


# ---- lesson 04: losses built from Tensor ops, and the loss ops' forwards -------------------------------

HINTS.update({
    "loss_not_tensor": "your loss returned a {type}, not an autograd_mini Tensor: build it from Tensor operations "
                       "(input - target, ** 2, .abs(), .mean(), .sum()) so that backward() can differentiate it; a "
                       "numpy result (np.mean, .data) has no graph",
    "loss_no_graph": "backward() through your loss gave the input no gradient: the result is not connected to "
                     "`input` (an op on .data or a numpy function cut the graph). Use Tensor operations throughout",
    "loss_shape": "your loss with reduction={reduction!r} has shape {got}, expected {expected}: 'mean' and 'sum' "
                  "give one number (shape ()), 'none' one loss per element (the input's shape)",
    "overflow_logsumexp": "exp overflowed: exp(1000) is inf. Shift by the slice's max m first: logsumexp(a) = m + "
                          "log(sum(exp(a - m))), so the largest exponent is 0",
    "invalid_logsumexp": "inf - inf happened: a slice's max is -inf (every entry -inf) or +inf. Shift by the max "
                         "only where it is finite (np.where(np.isfinite(m), m, 0)), as torch.logsumexp does",
    "overflow_log_softmax": "exp overflowed: exp(1000) is inf. log_softmax(a) = a - logsumexp(a); compute it with "
                            "the max subtracted first, never as log(softmax(a))",
    "overflow_cross_entropy": "exp overflowed: exp(1000) is inf. Compute log-probabilities as shifted - "
                              "log(sum(exp(shifted))) with shifted = logits - their row's max",
    "overflow_binary_cross_entropy_with_logits": "exp overflowed: exp(-x) is inf for x < -709. Write the loss as "
                                                 "max(x, 0) - x t + log(1 + exp(-|x|)): exp of a non-positive "
                                                 "number never overflows",
    "loss_nan_gradient": "backward() through your loss gave nan in the gradient, at inputs where input == target: a "
                         "formula like sqrt(e**2) has the derivative 0/0 at e = 0. Use .abs(), whose gradient at the "
                         "kink is 0, as in PyTorch and TensorFlow",
})


def loss_tensor(fn: Callable, case: Case) -> Any:
    """``fn(input, target, reduction[, delta])`` on Tensors; then backward() with the case's output gradient.
    Returns (the loss, input.grad)."""
    import autograd_mini

    x, target, upstream = case.copy_arrays()
    params = case.params
    input = autograd_mini.Tensor(x, requires_grad=True)
    extra = (params["delta"],) if "delta" in params else ()
    out = fn(input, autograd_mini.Tensor(target), params["reduction"], *extra)
    if not isinstance(out, autograd_mini.Tensor):
        raise Hint("loss_not_tensor", type=type(out).__name__)
    expected = x.shape if params["reduction"] == "none" else ()
    if out.shape != expected:
        raise Hint("loss_shape", reduction=params["reduction"], got=list(out.shape), expected=list(expected))
    if not out.requires_grad:
        raise Hint("loss_no_graph")
    out.backward(upstream)
    if input.grad is None:
        raise Hint("loss_no_graph")
    if np.isnan(input.grad[x == target]).any():
        raise Hint("loss_nan_gradient")
    return out.data.copy(), input.grad.copy()


CALLS["loss_tensor"] = loss_tensor
CALLS.update({f"op_forward_{op}": op_forward_explained(op) for op in
              ("logsumexp", "log_softmax", "cross_entropy", "binary_cross_entropy_with_logits")})


# ---- lesson 06: training runs and training steps --------------------------------------------------------

HINTS.update({
    "parameter_rebound": "a parameter's .grad was None at a later step: `w = w - lr * w.grad` (and `w -= ...` on a "
                         "Tensor) makes a new tensor computed from w, which is not a leaf, so backward() gives it no "
                         ".grad. Change the parameter itself, in place: w.data -= lr * w.grad (what optimizer.step() "
                         "does), or use optim.SGD",
    "loss_not_a_number": "training_step returned a {type}: return the batch's loss as a number, loss.item()",
    "parameters_unchanged": "after step {step} the parameters had not changed: call optimizer.step() after "
                            "loss.backward(), and optimizer.zero_grad() before the backward, not between backward and "
                            "step",
})


def training_run(fn: Callable, case: Case) -> Any:
    """``fn(*arrays, **params)``: a whole training run; a parameter rebound to a new tensor is named."""
    try:
        return fn(*case.copy_arrays(), **case.params)
    except TypeError as error:
        if "NoneType" in str(error):
            raise Hint("parameter_rebound") from None
        raise


def _mlp_from(weights: list, activation: str):
    """An autograd_mini Sequential of Linear layers holding ``weights`` (weight, bias per layer), ``activation``
    between them."""
    from autograd_mini import Tensor, nn

    layers = []
    for i in range(0, len(weights), 2):
        linear = nn.Linear(weights[i].shape[1], weights[i].shape[0])
        linear.weight = Tensor(weights[i], requires_grad=True)
        linear.bias = Tensor(weights[i + 1], requires_grad=True)
        layers.append(linear)
        if i + 2 < len(weights):
            layers.append({"relu": nn.ReLU, "tanh": nn.Tanh}[activation]())
    return nn.Sequential(*layers)


def training_steps(fn: Callable, case: Case) -> Any:
    """``fn(model, optimizer, x, labels) -> loss`` once per batch, on an MLP and an ``optim.SGD`` built from the case
    (arrays: batches x (K, B, d) and labels (K, B), then weight and bias of every layer). Returns the losses (K,)
    and all parameters, flattened, after every step (K, P)."""
    from autograd_mini import Tensor, optim

    x_batches, label_batches, *weights = case.copy_arrays()
    model = _mlp_from(weights, case.params["activation"])
    optimizer = optim.SGD(model.parameters(), **case.params["sgd"])
    losses, trajectory = [], []
    for x, labels in zip(x_batches, label_batches):
        before = [p.data.copy() for p in model.parameters()]
        loss = fn(model, optimizer, Tensor(x), labels.astype(np.int64))
        if isinstance(loss, bool) or not isinstance(loss, (int, float, np.integer, np.floating)):
            raise Hint("loss_not_a_number", type=type(loss).__name__)
        if all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before)):
            raise Hint("parameters_unchanged", step=len(losses) + 1)
        losses.append(float(loss))
        trajectory.append(np.concatenate([p.data.ravel() for p in model.parameters()]))
    return np.array(losses), np.stack(trajectory)


CALLS.update({"training_run": training_run, "training_steps": training_steps})


# ---- lesson 07: initialisers drawn again and again, gradients clipped in place -----------------------------------

HINTS.update({
    "init_not_array": "your initialiser returned a {type}: return a numpy array of the weight's shape (the values; "
                      "nn.init's in-place functions put them into a tensor)",
    "init_shape": "your initialiser returned shape {got} for a weight of shape {expected}: draw exactly `shape` values "
                  "(size=shape)",
    "init_ignores_rng": "two runs with the same seed gave different values: draw from the `rng` you are given "
                        "(np.random.default_rng(rng), then its .uniform / .normal), not from np.random's global state",
    "init_repeats": "two calls with one Generator gave the same values: draw from the Generator you are given (it "
                    "moves on after each draw) instead of making a new one from a fixed seed",
    # found by the grader when it compares one draw with numpy's standard draws of the same seed (lesson 07)
    "init_uniform_not_normal": "your values are uniform: {name} draws from a normal distribution, {call} (for a "
                               "normal, the formula gives the std)",
    "init_normal_not_uniform": "your values are normal: {name} draws uniformly from [-bound, bound], {call} (for a "
                               "uniform, the formula gives the bound)",
    "init_other_stream": "your values are not one scaled draw of the Generator's standard stream, so the exact check "
                         "cannot read your {name}'s scale: draw all of them with one call, {call}, centred on 0",
    "clip_rebound": "parameter {index}'s .grad is a new array: scale the gradient in place (p.grad *= factor), as "
                    "torch.nn.utils.clip_grad_norm_ does, so that whoever holds the array (an optimizer, a hook) sees "
                    "the clipped values",
    "clip_norm_not_a_number": "clip_grad_norm returned a {type}: return the total norm (before clipping) as a number",
    "clip_grad_created": "parameter {index} had no gradient (.grad None) and now has one: skip such parameters, as "
                         "PyTorch does",
})


def initializer_draws(fn: Callable, case: Case) -> Any:
    """``fn(shape, **settings, rng=...)`` called ``draws`` times on one Generator seeded from the case; returns the
    draws stacked (draws, *shape). Also checks that the same seed gives the same values and the next call new ones."""
    shape, settings, seed = tuple(case.params["shape"]), case.params["settings"], case.params["seed"]

    def draw(rng):
        values = fn(shape, **settings, rng=rng)
        if not isinstance(values, np.ndarray):
            raise Hint("init_not_array", type=type(values).__name__)
        if values.shape != shape:
            raise Hint("init_shape", got=list(values.shape), expected=list(shape))
        return values.astype(np.float64)

    rng = np.random.default_rng(seed)
    draws = [draw(rng) for _ in range(case.params["draws"])]
    if np.array_equal(draws[0], draws[1] if len(draws) > 1 else draw(rng)):
        raise Hint("init_repeats")
    if not np.array_equal(draw(np.random.default_rng(seed)), draws[0]):
        raise Hint("init_ignores_rng")
    return np.stack(draws)


def clip_grads(fn: Callable, case: Case) -> Any:
    """``fn(parameters, max_norm)`` on Tensors whose .grad are the case's arrays (none for the indices in
    ``no_grad``); returns (the norm it returned, every gradient afterwards), checking they changed in place."""
    from autograd_mini import Tensor

    grads = case.copy_arrays()
    missing = set(case.params["no_grad"])
    params = [Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    for i, (p, g) in enumerate(zip(params, grads)):
        if i not in missing:
            p.grad = g
    total = fn(params, case.params["max_norm"])
    if isinstance(total, bool) or not isinstance(total, (int, float, np.integer, np.floating, np.ndarray)) \
            or np.size(total) != 1:
        raise Hint("clip_norm_not_a_number", type=type(total).__name__)
    for i, (p, g) in enumerate(zip(params, grads)):
        if i in missing and p.grad is not None:
            raise Hint("clip_grad_created", index=i)
        if i not in missing and p.grad is not g:
            raise Hint("clip_rebound", index=i)
    return (np.float64(total), *[g for i, g in enumerate(grads) if i not in missing])


CALLS.update({"initializer_draws": initializer_draws, "clip_grads": clip_grads})


# ---- lesson 08: a checkpointed segment's backward ----------------------------------------------------------------

HINTS.update({
    "checkpoint_grads_left": "after your backward, parameter {index}'s .grad is not what it was before: the inner "
                             "backward() writes the segment's parameter gradients into .grad, so take them from there "
                             "and put back what .grad held before (the engine adds the gradients you return)",
    "checkpoint_count": "your backward returned {got} gradients; the node has {expected} parents (the segment's "
                        "inputs, then ctx.params): return one per parent, in that order",
})


def checkpoint_segment(arrays, activations) -> tuple:
    """(segment function, parameter Tensors) for weights and biases ``arrays`` (W1, b1, W2, b2, ...): the segment
    applies ``functional.linear`` and then the named activation of each layer ("none" for none)."""
    from autograd_mini import Tensor, functional

    params = tuple(Tensor(a, requires_grad=True) for a in arrays)

    def segment(h):
        for k, activation in enumerate(activations):
            h = functional.linear(h, params[2 * k], params[2 * k + 1])
            h = h if activation == "none" else getattr(h, activation)()
        return h

    return segment, params


def checkpoint_backward(fn: Callable, case: Case) -> Any:
    """``fn(ctx, grad)``: ctx holds the segment's saved input (arrays[0]), ``ctx.function`` and ``ctx.params`` (built
    from arrays[1:-2]); each parameter's .grad holds an earlier gradient (arrays[-2] scales them) that must be back
    afterwards. Returns the gradients returned."""
    from autograd_mini.function import Context

    x, *weights, earlier, grad = case.copy_arrays()
    segment, params = checkpoint_segment(weights, case.params["activations"])
    before = [earlier.item() * np.ones_like(p.data) for p in params]
    for p, g in zip(params, before):
        p.grad = g.copy()
    ctx = Context((True,) * (1 + len(params)))
    ctx.save_for_backward(x)
    ctx.function, ctx.params = segment, params
    found = fn(ctx, grad)
    found = tuple(found) if isinstance(found, (tuple, list)) else (found,)
    if len(found) != 1 + len(params):
        raise Hint("checkpoint_count", got=len(found), expected=1 + len(params))
    for k, (p, g) in enumerate(zip(params, before)):
        if p.grad is None or not np.array_equal(p.grad, g):
            raise Hint("checkpoint_grads_left", index=k)
    return found


CALLS["checkpoint_backward"] = checkpoint_backward


# ---- lesson 09: which statements are wrong, answered as a set of their indices -----------------------------------

HINTS.update({
    "statements_not_indices": "return the indices of the wrong statements as a set or list of integers (e.g. {0, 3}), "
                              "not a {type}",
    "statement_out_of_range": "there is no statement {index}: the statements are numbered 0 to {last}",
    # found by the grader when it compares the answer with what PyTorch and TensorFlow show (lesson 09)
    "statements_misjudged": "{count} of the {total} statements are judged wrongly. Each statement has an experiment in "
                            "the notebook's FAQ section: run it and read what it printed",
})


def statement_indices(fn: Callable, case: Case) -> Any:
    """``fn()`` returns the indices of the statements it finds wrong; returns a 0/1 vector over the
    ``case.params["statements"]`` statements (1 = called wrong)."""
    answer = fn()
    if isinstance(answer, (str, bytes, dict)) or not hasattr(answer, "__iter__"):
        raise Hint("statements_not_indices", type=type(answer).__name__)
    count = case.params["statements"]
    chosen = np.zeros(count)
    for index in answer:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise Hint("statements_not_indices", type=f"collection holding a {type(index).__name__}")
        if not 0 <= index < count:
            raise Hint("statement_out_of_range", index=int(index), last=count - 1)
        chosen[index] = 1.0
    return chosen


CALLS["statement_indices"] = statement_indices

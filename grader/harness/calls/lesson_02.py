"""Lesson 02 (chain rule): finite differences, local derivatives, and the scalar graph's order and backward."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..case import Case
from ..outcome import Hint
from ..programs import FUNCTIONS, chain, run_program

HINTS = {
    "changed_input": "numerical_gradient changed its input x: after nudging an entry, put its original value "
                     "back (x[i] = original) before moving to the next one",
    "ignores_h": "your estimate does not change when the step does (with h = {h} it equals your estimate with a "
                 "tiny step): use the h numerical_gradient is given, x[i] = original + h and x[i] = original - h, "
                 "and divide by 2 * h",
    "float32_step": "in float32 your estimate is far off while float64 is fine: the step is too small for float32. "
                    "Rounding error grows like eps / h (float32's eps is 1.2e-7), so use the h the function is "
                    "given (default: default_step(x.dtype) = eps ** (1/3), about 5e-3 in float32) and compute in "
                    "x's dtype",
    "values_returned": "return plain numbers (floats), not Values: a local derivative is a number",
    "not_a_list": "topological_order must return a list of the graph's nodes, got {type}",
    "foreign_node": "your order contains something that is not a node of the graph (item {position})",
    "deep_chain": "your code recursed too deeply on a chain of {ops:,} ops (chain={links}: {links:,} times "
                  "x = x * 1.00001 + 0.001; Python stops at about 1,000 nested calls): use a loop with an "
                  "explicit stack",
    # found by the grader when it checks a returned order against the graph
    "order_duplicate": "a node appears twice in your order: a node reached along two paths (a fork) must be "
                       "added once. Keep a `visited` set",
    "order_missing": "your order misses {missing} of the {total} nodes{root}: it must hold every node the root "
                     "depends on, the root included",
    "order_parent_after": "a node comes before one of its parents (position {child} uses position {parent}): "
                          "every node must come after all of its parents (append a node only once its parents "
                          "are in the list)",
}


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


CALLS: dict[str, Callable[[Callable, Case], Any]] = {
    "numerical_gradient": numerical_gradient, "numerical_gradient_runs": numerical_gradient_runs, "local": local,
    "value_order": value_order, "value_backward": value_backward,
}

"""Computations written once and run by the student's library, PyTorch and TensorFlow alike.

A scalar *program* is a JSON-able list of steps (``["mul", 0, 2]`` multiplies nodes 0 and 2) over
scalar inputs; a tensor *graph* is a small function of a namespace (``ns.tanh``...) and leaves. The
harness builds them with autograd_mini; the grader's oracles build the very same ones in PyTorch and
TensorFlow. Nothing here differentiates anything.
"""
from __future__ import annotations

from typing import Any, Callable

BINARY = ("add", "sub", "mul", "div")
UNARY = ("tanh", "exp", "relu")


def sinks(program: list, n_inputs: int) -> list[int]:
    """Nodes no step reads: the program's output is their sum, so every node matters."""
    used = set()
    for step in program:
        used.add(step[1])
        if step[0] in BINARY:
            used.add(step[2])
    return [k for k in range(n_inputs + len(program)) if k not in used]


def run_program(program: list, leaves: list, unary: dict) -> Any:
    """Evaluate ``program`` on ``leaves`` (Values, torch or TF scalars); ``unary`` maps tanh/exp/relu."""
    nodes = list(leaves)
    for step in program:
        kind, a = step[0], nodes[step[1]]
        if kind in BINARY:
            b = nodes[step[2]]
            nodes.append(a + b if kind == "add" else a - b if kind == "sub" else a * b if kind == "mul" else a / b)
        elif kind == "pow":
            nodes.append(a ** step[2])
        elif kind == "addc":
            nodes.append(a + step[2])
        elif kind == "mulc":
            nodes.append(a * step[2])
        else:
            nodes.append(unary[kind](a))
    out = None
    for k in sinks(program, len(leaves)):
        out = nodes[k] if out is None else out + nodes[k]
    return out


def chain(x, links: int):
    """``links`` times ``x = x * 1.00001 + 0.001``: 2 * links ops deep; d out / d x = 1.00001 ** links."""
    for _ in range(links):
        x = x * 1.00001 + 0.001
    return x


# Scalar functions whose gradient numerical_gradient estimates; F maps sum/exp/tanh/log/cos/sin.
FUNCTIONS: dict[str, Callable] = {
    "sin_x2": lambda x, F: F["sum"](F["sin"](x) * x**2),
    "exp_tanh": lambda x, F: F["sum"](F["exp"](0.5 * x) * F["tanh"](x + 0.3)),
    "log_cosh": lambda x, F: F["sum"](F["log"](1.0 + x**2) + F["cos"](x) * x),
    "cubic": lambda x, F: F["sum"](x**3),  # a central difference of x**3 with step h is 3 x**2 + h**2 exactly
}


# ---- tensor graphs for the engine: (ns, *leaves) -> (root, an interior node) ---------------------
# Every leaf is used twice somewhere (forks); "layers" multiplies by a transposed view, as nn.Linear does.

def graph_fork(ns, x, w):
    y = ns.tanh((x - w) / 2.0)
    return ns.exp(y) + y / w, y


def graph_layers(ns, x, w1, w2):
    h = ns.relu(ns.matmul(x, ns.T(w1)) - 0.1)   # (5, 3) @ (3, 4).T -> (5, 4)... w1 is (4, 3)
    out = ns.tanh(ns.matmul(h, ns.T(w2)) / 4.0)  # w2 (3, 4): back to (5, 3)
    return out * x - x / 3.0, h


def graph_reuse(ns, a):
    b = ns.exp(a / 3.0)
    c = b / (ns.tanh(a) + 2.0)
    return b + c - a, b


def graph_shared(ns, x, w):
    s = x + w  # add's backward hands both inputs the same array: the engine must not store it twice
    return s * 3.0, s


def graph_chain(ns, x, w):
    mid = None
    for k in range(300):  # deep: 1,200 nodes
        x = ns.tanh(x + w) - w / 4.0
        mid = x if k == 150 else mid
    return x, mid


GRAPHS = {
    "fork": (graph_fork, ((3, 4), (3, 4))),
    "layers": (graph_layers, ((5, 3), (4, 3), (3, 4))),
    "reuse": (graph_reuse, ((2, 3),)),
    "shared": (graph_shared, ((2, 3), (2, 3))),
    "chain": (graph_chain, ((4,), (4,))),
}

"""``Value``: one number that remembers how it was computed, so its gradient can flow back.

The scalar twin of ``Tensor`` (lesson 02), in the spirit of micrograd. Each op records its inputs
(``parents``) and its name (``op``); its *local derivatives* (d out / d input, one per input) are
named implementations in the registry (``"value.mul.local"`` ...), and so are the topological sort
and the backward loop. A lesson plugs the student's versions in with one call::

    with autograd_mini.use({"value.backward": backward}):
        out.backward()

Derived ops are built from the primitives (``a - b`` is ``a + (-1 * b)``, ``a / b`` is ``a * b**-1``),
so the primitives' rules are all there is to differentiate.
"""
from __future__ import annotations

import math
import numbers

from .registry import active, reference


class Value:
    """A scalar node of the computation graph: ``data`` (a float) and, after ``backward()``, ``grad``."""

    __slots__ = ("data", "grad", "parents", "op", "params", "label")

    def __init__(self, data, parents: tuple = (), op: str = "", params: tuple = (), label: str = ""):
        if type(data) is not float:  # the fast path: ops pass floats
            if isinstance(data, Value):
                data = data.data
            if not isinstance(data, numbers.Real) or isinstance(data, bool):
                raise TypeError(f"a Value holds one real number, got {type(data).__name__}")
            data = float(data)
        self.data = data
        self.grad = 0.0
        self.parents: tuple[Value, ...] = tuple(parents)
        self.op = op
        self.params = tuple(params)  # plain numbers an op needs besides its inputs (pow's exponent)
        self.label = label

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        how = f", op={self.op!r}" if self.op else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g}{how})"

    @property
    def is_leaf(self) -> bool:
        return not self.parents

    # ---- primitives: forward here, local derivatives in the rules below ---------------------
    def __add__(self, other) -> "Value":
        other = _as_value(other)
        return Value(self.data + other.data, (self, other), "add")

    def __mul__(self, other) -> "Value":
        other = _as_value(other)
        return Value(self.data * other.data, (self, other), "mul")

    def __pow__(self, exponent) -> "Value":
        if not isinstance(exponent, numbers.Real) or isinstance(exponent, bool):
            raise TypeError(f"Value ** needs a plain number as exponent, got {type(exponent).__name__}")
        if self.data == 0 and exponent < 0:
            raise ZeroDivisionError(f"0 ** {exponent} is undefined")
        if self.data < 0 and float(exponent) != int(exponent):
            raise ValueError(f"a negative base ({self.data:g}) with a fractional exponent ({exponent}) is not real")
        return Value(self.data ** exponent, (self,), "pow", (float(exponent),))

    def exp(self) -> "Value":
        return Value(math.exp(self.data), (self,), "exp")

    def log(self) -> "Value":
        if self.data <= 0:
            raise ValueError(f"log needs a positive number, got {self.data:g}")
        return Value(math.log(self.data), (self,), "log")

    def tanh(self) -> "Value":
        return Value(math.tanh(self.data), (self,), "tanh")

    def relu(self) -> "Value":
        return Value(0.0 if self.data <= 0 else self.data, (self,), "relu")  # NaN stays NaN, as in PyTorch

    # ---- derived ops: compositions of the primitives ---------------------------------------
    def __neg__(self): return self * -1.0
    def __sub__(self, other): return self + (-_as_value(other))
    def __truediv__(self, other): return self * _as_value(other) ** -1
    def __radd__(self, other): return _as_value(other) + self
    def __rsub__(self, other): return _as_value(other) - self
    def __rmul__(self, other): return _as_value(other) * self
    def __rtruediv__(self, other): return _as_value(other) / self

    def sigmoid(self) -> "Value":
        return 1.0 / (1.0 + (-self).exp())

    # ---- reverse mode -----------------------------------------------------------------------
    def backward(self) -> None:
        """Fill ``.grad`` of every node this value depends on with d self / d node.

        Runs the active ``"value.backward"`` (the reference, or yours inside ``autograd_mini.use``).
        As in PyTorch, a second call adds to the *leaves'* gradients (``zero_grad()`` resets them),
        while every interior node's gradient is computed afresh: it is set to 0 before each call.
        """
        if self.is_leaf:  # nothing to propagate: d self / d self = 1 accumulates like any leaf's gradient
            self.grad += 1.0
            return
        for node in graph_order(self):
            if node.parents:
                node.grad = 0.0
        active["value.backward"](self)

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0 on this node and everything it depends on."""
        for node in graph_order(self):
            node.grad = 0.0


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def value(data, label: str = "") -> Value:
    """A leaf ``Value`` with a name (the name shows in drawings of the graph)."""
    return Value(data, label=label)


# ---- local derivatives: d out / d input for each input, given the inputs and the output --------
# Binary rules get (a, b, out), unary rules (a, out), pow gets (a, exponent, out). They return one
# number per Value input (a bare number for one input).

@reference("value.add.local")
def add_local(a: float, b: float, out: float) -> tuple[float, float]:
    """out = a + b."""
    ### BEGIN SOLUTION
    return 1.0, 1.0
    ### END SOLUTION


@reference("value.mul.local")
def mul_local(a: float, b: float, out: float) -> tuple[float, float]:
    """out = a * b."""
    ### BEGIN SOLUTION
    return b, a
    ### END SOLUTION


@reference("value.pow.local")
def pow_local(a: float, exponent: float, out: float) -> float:
    """out = a ** exponent, the exponent a plain number (no gradient flows to it)."""
    ### BEGIN SOLUTION
    return exponent * a ** (exponent - 1)
    ### END SOLUTION


@reference("value.exp.local")
def exp_local(a: float, out: float) -> float:
    """out = exp(a)."""
    ### BEGIN SOLUTION
    return out
    ### END SOLUTION


@reference("value.tanh.local")
def tanh_local(a: float, out: float) -> float:
    """out = tanh(a)."""
    ### BEGIN SOLUTION
    return 1.0 - out**2
    ### END SOLUTION


@reference("value.relu.local")
def relu_local(a: float, out: float) -> float:
    """out = max(a, 0); at the kink a = 0 the derivative is taken as 0, as in PyTorch and TensorFlow."""
    ### BEGIN SOLUTION
    return 0.0 if a <= 0 else 1.0  # written this way round, a NaN input passes its gradient on, as in PyTorch
    ### END SOLUTION


@reference("value.log.local")
def log_local(a: float, out: float) -> float:
    """out = log(a)."""
    return 1.0 / a


def local_derivatives(node: Value) -> tuple[float, ...]:
    """d node / d parent for each of ``node.parents``, by the active rule for ``node.op``."""
    if not node.parents:
        return ()
    rule = active["value." + node.op + ".local"]
    local = rule(*[p.data for p in node.parents], *node.params, node.data)
    local = tuple(local) if isinstance(local, (tuple, list)) else (local,)
    if len(local) != len(node.parents):
        raise TypeError(f"value.{node.op}.local returned {len(local)} derivative(s) for {len(node.parents)} input(s)")
    return local


# ---- the graph walk -------------------------------------------------------------------------

@reference("value.topological_order")
def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, ``root`` included, once each, every node after its parents.

    Iterative depth-first search with an explicit stack, so a chain of 100,000 ops does not hit
    Python's recursion limit.
    """
    ### BEGIN SOLUTION
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            for parent in node.parents:
                if parent not in visited:
                    stack.append((parent, False))
    ### END SOLUTION
    return order


def graph_order(root: Value) -> list[Value]:
    """``root``'s graph in topological order, by the active ``"value.topological_order"``."""
    return active["value.topological_order"](root)


@reference("value.backward")
def backward(root: Value) -> None:
    """Set ``root.grad`` to 1, then walk the graph from ``root`` to the leaves applying the chain rule.

    Each node passes ``local * node.grad`` to each parent, and a parent *adds* what it receives:
    a node used twice (a fork) gets the sum of both paths.
    """
    ### BEGIN SOLUTION
    root.grad = 1.0
    for node in reversed(graph_order(root)):
        for parent, local in zip(node.parents, local_derivatives(node)):
            parent.grad += local * node.grad
    ### END SOLUTION

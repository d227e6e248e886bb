"""Lesson 02 (chain rule): finite differences, the local derivatives of ``Value``, the topological order, backward.

Scalar expressions are *programs* (grader/harness/programs.py): JSON lists of steps that the harness runs
with ``Value`` and the oracles run with PyTorch and TensorFlow, so the same random expression is
differentiated by the student's code and by both frameworks. The generator of random programs is here,
on the grader's side; wrong answers are computed with autograd_mini's references in the grader's process.
"""
from __future__ import annotations

import math

import numpy as np

import autograd_mini
from autograd_mini.numerical import default_step, forward_difference
from autograd_mini.registry import reference_of
from autograd_mini.value import local_derivatives
from grader.checks import frameworks as fw
from grader.checks.core import Oracle, output_error
from grader.checks.diagnose import Mistake
from grader.harness.calls.lesson_02 import FORWARD, NUMPY_F, PROBE_H, node_index, value_graph
from grader.harness.case import Case
from grader.harness.outcome import Failure
from grader.harness.programs import BINARY, FUNCTIONS, UNARY, run_program
from grader.lesson import Exercise, Lesson


def torch_functions() -> dict:
    torch = fw.torch()
    return {"sum": torch.sum, "exp": torch.exp, "tanh": torch.tanh, "log": torch.log, "cos": torch.cos,
            "sin": torch.sin, "relu": torch.relu}


def tf_functions() -> dict:
    tf = fw.tf()
    return {"sum": tf.reduce_sum, "exp": tf.exp, "tanh": tf.tanh, "log": tf.math.log, "cos": tf.cos,
            "sin": tf.sin, "relu": tf.nn.relu}


def torch_grads(build, values) -> list:
    """d build(F, *leaves) / d leaf for each of ``values`` (PyTorch, float64; 0 for a leaf not used)."""
    torch = fw.torch()
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    grads = torch.autograd.grad(build(torch_functions(), *leaves), leaves, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads)]


def tf_grads(build, values) -> list:
    tf = fw.tf()
    leaves = [tf.Variable(v, dtype=tf.float64) for v in values]
    with tf.GradientTape() as tape:
        out = build(tf_functions(), *leaves)
    return [tf.zeros_like(x) if g is None else g for x, g in zip(leaves, tape.gradient(out, leaves))]


def both(label: str, build, values=lambda case: case.arrays, then=lambda case, grads: tuple(grads)) -> list:
    """The PyTorch and TensorFlow oracles of one computation ``build(F, *leaves)`` of a case."""
    return [Oracle(f"PyTorch (torch.autograd{label})", lambda c: then(c, torch_grads(build(c), values(c)))),
            Oracle(f"TensorFlow (tf.GradientTape{label})", lambda c: then(c, tf_grads(build(c), values(c))))]


# ==== numerical.gradient ===========================================================================

TOLERANCES = {"float64": (1e-7, 1e-8), "float32": (2e-2, 2e-3)}  # a central difference is an estimate


def gradient_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    """(f, shape, dtype, h): h given only with "cubic", whose central difference is exactly 3 x**2 + h**2."""
    specs = ([("exp_tanh", (4,), "float64", None), ("log_cosh", (3, 2), "float64", None),
              ("cubic", (5,), "float64", None), ("sin_x2", (2, 2, 2), "float64", None),
              ("cubic", (2, 3), "float64", 0.01), ("cubic", (4,), "float64", 0.05),
              ("exp_tanh", (3,), "float32", None), ("sin_x2", (4,), "float32", None)] if hidden else
             [("sin_x2", (3,), "float64", None), ("exp_tanh", (2, 3), "float64", None),
              ("cubic", (3,), "float64", 0.02), ("log_cosh", (4,), "float32", None)])
    cases = []
    for name, shape, dtype, h in specs:
        x = rng.uniform(-1.5, 1.5, shape).astype(np.float32).astype(np.float64)  # float32-exact inputs
        params = {"f": name, "dtype": dtype} if h is None else {"f": name, "dtype": dtype, "h": h}
        cases.append(Case((x,), params, tol=TOLERANCES[dtype]))
    return cases


def estimate(case: Case, dtype: str | None = None, h="given") -> np.ndarray:
    """autograd_mini's reference central difference on the case (h: the case's, or the one passed)."""
    x = case.arrays[0].astype(dtype or case.params["dtype"])
    f = FUNCTIONS[case.params["f"]]
    return reference_of("numerical.gradient")(lambda v: f(v, NUMPY_F), x, case.params.get("h") if h == "given" else h)


def judge_steps(case: Case, outputs: tuple):
    """Compare the runs calls.numerical_gradient_runs made: does the estimate move with h? Is float64 right
    where float32 is not?"""
    out, *runs = outputs
    if not runs:
        return outputs

    def near(a, b):
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-7, atol=1e-9)

    if case.params["dtype"] == "float64":  # h given; the run: no h (the default step)
        tiny = estimate(case, h=None)
        ignores = near(out, runs[0]) and near(runs[0], tiny)
        return Failure("hint", code="ignores_h", values={"h": case.params["h"]}) if ignores else (out,)
    tiny = estimate(case, "float64", h=None)  # runs: float64 with no h, float64 with PROBE_H
    if near(runs[0], tiny) and near(runs[1], tiny):
        return Failure("hint", code="ignores_h", values={"h": PROBE_H})
    if near(runs[0], tiny) and not output_error((out,), (estimate(case),), *case.tol)[1]:
        return Failure("hint", code="float32_step")
    return (out,)


def one_sided(sign: float):
    """(f(x + s) - f(x)) / s per entry, s = sign * h: the forward (+1) or backward (-1) difference."""
    def wrong(case: Case) -> np.ndarray:
        x = case.arrays[0].astype(case.params["dtype"])
        f = FUNCTIONS[case.params["f"]]
        h = case.params.get("h") or default_step(x.dtype)
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            def along(t, i=i):
                y = x.copy()
                y[i] = t
                return f(y, NUMPY_F)
            grad[i] = forward_difference(along, x[i], sign * h)
        return grad
    return wrong


GRADIENT_MISTAKES = [
    Mistake("forward_difference", "this is the forward difference (f(x + h) - f(x)) / h: its error shrinks only "
            "like h. Use the central difference (f(x + h) - f(x - h)) / (2h), whose error shrinks like h**2.",
            one_sided(1.0)),
    Mistake("backward_difference", "this is the backward difference (f(x) - f(x - h)) / h: its error shrinks "
            "only like h. Use the central difference (f(x + h) - f(x - h)) / (2h).", one_sided(-1.0)),
    Mistake("over_h", "your gradient is 2x too large: x + h and x - h are 2h apart, so divide by 2 * h.",
            lambda case: 2 * estimate(case)),
]


def plus_h_squared(case: Case, grads) -> np.ndarray:
    """The framework's gradient, plus h**2 where h is given: what a central difference of sum(x**3) returns."""
    return fw.to_numpy(grads[0]) + case.params.get("h", 0.0) ** 2


GRADIENT_ORACLES = both("; + h**2 for sum(x**3) at a given h, as its central difference",
                        lambda c: lambda F, x: FUNCTIONS[c.params["f"]](x, F), then=plus_h_squared)


# ==== value.*.local ================================================================================

def local_cases(op: str):
    def cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
        n = 8 if hidden else 4
        if op in ("add", "mul"):
            return [Case((np.array(rng.uniform(-3, 3)), np.array(rng.uniform(-3, 3))), {"op": op}) for _ in range(n)]
        if op == "pow":
            exponents = [2.0, 3.0, -1.0, 0.5, -2.0, 1.5, 4.0, 0.5] if hidden else [2.0, 3.0, 0.5, -1.0]
            return [Case((np.array(rng.uniform(0.3, 2.5) * (1 if e % 1 or k % 2 else -1)),),
                         {"op": op, "exponent": e}) for k, e in enumerate(exponents)]
        values = list(rng.uniform(-3, 3, n))
        if op == "relu":
            values[1:4] = [0.0, abs(values[2]) + 0.1, -abs(values[3]) - 0.1]  # the kink: both frameworks use 0
        return [Case((np.array(v),), {"op": op}) for v in values]
    return cases


def local_oracles(op: str) -> list:
    def build(case: Case):
        if op == "pow":
            return lambda F, a: a ** case.params["exponent"]
        return lambda F, *xs: FORWARD[op](*xs) if op in ("add", "mul") else F[op](xs[0])
    return both("", build)


def _a(case: Case) -> float:
    return float(case.arrays[0])


def _b(case: Case) -> float:
    return float(case.arrays[1])


LOCAL_MISTAKES = {
    "add": [
        Mistake("sign", "d(a + b)/db is +1, not -1: that is the rule for a - b.", lambda c: (1.0, -1.0)),
        Mistake("mul_rule", "(b, a) is the rule for a * b. For a sum, nudging either input by h moves the "
                "output by h: both local derivatives are 1.", lambda c: (_b(c), _a(c))),
        Mistake("values", "you returned the inputs; the local derivative of a + b with respect to a is 1 "
                "(it does not depend on the values).", lambda c: (_a(c), _b(c))),
    ],
    "mul": [
        Mistake("swapped", "d(a * b)/da is b (the *other* factor), and d(a * b)/db is a: yours are swapped.",
                lambda c: (_a(c), _b(c))),
        Mistake("add_rule", "(1, 1) is the rule for a + b. For a * b, nudging a by h moves the output by b * h.",
                lambda c: (1.0, 1.0)),
    ],
    "pow": [
        Mistake("forgot_minus_one", "the power rule lowers the exponent by one: d(a**n)/da = n * a**(n - 1), "
                "not n * a**n.", lambda c: c.params["exponent"] * _a(c) ** c.params["exponent"]),
        Mistake("forgot_factor", "the power rule brings the exponent down as a factor: "
                "d(a**n)/da = n * a**(n - 1), not a**(n - 1).", lambda c: _a(c) ** (c.params["exponent"] - 1)),
    ],
    "exp": [
        Mistake("power_rule", "exp(a) is not a power of a: the power rule does not apply. exp is its own "
                "derivative, so the local derivative is exp(a), which is out.", lambda c: _a(c) * math.exp(_a(c) - 1)),
        Mistake("input", "you returned the input a; the derivative of exp(a) is exp(a) itself (= out).", _a),
        Mistake("times_a", "a * exp(a) is too much: the derivative of exp(a) is exp(a) itself (= out).",
                lambda c: _a(c) * math.exp(_a(c))),
    ],
    "tanh": [
        Mistake("input_squared", "you used 1 - a**2, the input squared. The derivative of tanh is "
                "1 - tanh(a)**2: square the *output*, 1 - out**2.", lambda c: 1.0 - _a(c) ** 2),
        Mistake("no_square", "1 - tanh(a) is missing a square: the derivative of tanh is 1 - tanh(a)**2 = 1 - out**2.",
                lambda c: 1.0 - math.tanh(_a(c))),
        Mistake("sigmoid_rule", "out * (1 - out) is the sigmoid's derivative; tanh's is 1 - out**2.",
                lambda c: math.tanh(_a(c)) * (1 - math.tanh(_a(c)))),
    ],
    "relu": [
        Mistake("kink", "right everywhere except at exactly a = 0: relu has a kink there and no derivative. "
                "PyTorch and TensorFlow both use 0 at the kink, so test a > 0, not a >= 0.",
                lambda c: 1.0 if _a(c) >= 0 else 0.0),
        Mistake("output", "you returned relu(a) itself, the output. The local derivative is its slope: "
                "1 where a > 0, else 0.", lambda c: max(_a(c), 0.0)),
        Mistake("flipped", "the slope is 1 where a > 0 and 0 where a < 0: yours is the other way round.",
                lambda c: 0.0 if _a(c) > 0 else 1.0),
    ],
}


def local_exercise(op: str, cell: str) -> Exercise:
    return Exercise(f"value.{op}.local", function=f"{op}_local", points=1, cell=cell, cases=local_cases(op),
                    call="local", oracles=local_oracles(op), mistakes=LOCAL_MISTAKES[op], what="local derivative")


# ==== scalar graphs: random programs, fixed forks, one deep chain ==================================

STEP = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
        "pow": lambda a, e: a ** e, "addc": lambda a, c: a + c, "mulc": lambda a, c: a * c,
        "tanh": math.tanh, "exp": math.exp, "relu": lambda a: max(a, 0.0)}  # one step's value, on floats


def random_program(rng: np.random.Generator, n_inputs: int, n_steps: int) -> tuple[list, list]:
    """(program, input values): a random scalar expression with forks, and inputs where it is smooth.

    Every step reads earlier nodes (inputs are nodes 0..n_inputs-1), often the same node twice or a node
    already used, so gradients meet at forks. Steps that would blow up, divide by something near 0, take
    a fractional power of a negative number or sit on relu's kink are redrawn.
    """
    inputs = [float(v) + (0.1 if abs(v) < 0.1 else 0.0) for v in rng.uniform(-1.5, 1.5, n_inputs)]
    values, program = list(inputs), []
    while len(program) < n_steps:
        kind = str(rng.choice(BINARY + UNARY + ("pow", "addc", "mulc")))
        i = int(len(values) - 1 - min(rng.geometric(0.4) - 1, len(values) - 1))  # favour recent nodes
        j = int(rng.integers(len(values)))
        a, b = values[i], values[j]
        extra = ([j] if kind in BINARY else [float(rng.choice([2.0, 3.0, -1.0, 0.5]))] if kind == "pow" else
                 [round(float(rng.uniform(-2, 2)), 3) or 0.5] if kind in ("addc", "mulc") else [])
        if (kind == "div" and abs(b) < 0.3 or kind == "pow" and (abs(a) < 0.3 or a < 0 and extra[0] % 1)
                or kind == "relu" and abs(a) < 1e-3 or kind == "exp" and a > 3):
            continue
        value = STEP[kind](a, *([b] if kind in BINARY else extra))
        if abs(value) <= 20:
            program.append([kind, i, *extra])
            values.append(value)
    return program, inputs


# Small fixed expressions: the root reads the inputs directly, so a backward that walks the wrong way or
# overwrites at a fork gives a result of its own (one that a diagnosis can recognise).
NAMED = [[["mul", 0, 1], ["add", 2, 0]],                                  # x * y + x
         [["mul", 0, 0], ["tanh", 2], ["mul", 3, 1], ["add", 4, 0]]]      # tanh(x * x) * y + x
# Far deeper than Python's recursion limit (~1,000 nested calls): 2 ops a link (programs.chain).
CHAIN_LINKS = {False: 5_000, True: 20_000}  # a chain of 10,000 ops in the check cell, 40,000 in the graded one


def graph_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for _ in range(6 if hidden else 3):
        program, inputs = random_program(rng, int(rng.integers(2, 5)), int(rng.integers(8, 17)))
        cases.append(Case((np.array(inputs),), {"program": program}))
    cases += [Case((np.array([rng.uniform(0.5, 1.2), -1.3]),), {"program": p}) for p in NAMED]
    # the chain reads input 0 only; 5 inputs make it the largest case, so a failure is told on a small one first
    cases.append(Case((np.array([0.5, 0.0, 0.0, 0.0, 0.0]),), {"chain": CHAIN_LINKS[hidden]}))
    return cases


def graph_build(case: Case):
    """The case's expression for the frameworks. The chain's derivative is 1.00001 ** links: one op for it
    (the same derivative as programs.chain; a 40,000-op tape takes seconds in TensorFlow)."""
    if "chain" in case.params:
        return lambda F, x, *unused: x * 1.00001 ** case.params["chain"]
    return lambda F, *leaves: run_program(case.params["program"], list(leaves), F)


GRAPH_ORACLES = both("", graph_build, values=lambda c: [float(v) for v in c.arrays[0]],
                     then=lambda c, grads: np.array([float(g) for g in grads]))


def order_gradients(case: Case, outputs: tuple):
    """A returned order (node numbers, calls.lesson_02.node_index) checked against the graph, then used by the
    reference backward: the leaves' gradients, or a Failure saying what is wrong with the order."""
    leaves, root = value_graph(case)
    index = node_index(root)
    nodes = {index[id(n)]: n for n in reference_of("value.topological_order")(root)}
    order = [int(k) for k in outputs[0]]
    if len(set(order)) < len(order):
        return Failure("hint", code="order_duplicate")
    if len(order) < len(nodes):
        return Failure("hint", code="order_missing", values={"missing": len(nodes) - len(order), "total": len(nodes),
                                                             "root": "" if 0 in order else " (the root among them)"})
    position = {k: p for p, k in enumerate(order)}
    for k in order:
        for parent in nodes[k].parents:
            if position[index[id(parent)]] > position[k]:
                return Failure("hint", code="order_parent_after",
                               values={"child": position[k], "parent": position[index[id(parent)]]})
    with autograd_mini.use({"value.topological_order": lambda _: [nodes[k] for k in order]}):
        reference_of("value.backward")(root)
    return (np.array([leaf.grad for leaf in leaves]),)


def wrong_backward(kind: str):
    """The leaves' gradients when backward makes mistake ``kind``, with the reference sort and local rules."""
    def run(root) -> None:
        root.grad = 0.0 if kind == "no_seed" else 1.0
        order = reference_of("value.topological_order")(root)
        for node in (order if kind == "not_reversed" else reversed(order)):
            for parent, local in zip(node.parents, local_derivatives(node)):
                if kind == "assign":
                    parent.grad = local * node.grad
                elif kind == "no_chain":
                    parent.grad += local
                else:  # subtract, or the update right and the mistake elsewhere
                    parent.grad += (-1.0 if kind == "subtract" else 1.0) * local * node.grad

    def wrong(case: Case) -> np.ndarray:
        leaves, root = value_graph(case)
        run(root)
        return np.array([leaf.grad for leaf in leaves])
    return wrong


BACKWARD_MISTAKES = [
    Mistake("assign", "right where a node is used once, wrong at forks: a node used by two others must *add* "
            "the gradient from both paths (parent.grad += ...), not overwrite it (parent.grad = ...).",
            wrong_backward("assign")),
    Mistake("no_seed", "every gradient is 0: start with root.grad = 1.0 (d root / d root = 1), then pass it on.",
            wrong_backward("no_seed")),
    Mistake("not_reversed", "you walked the graph from the leaves towards the root. Gradients flow from the root: "
            "visit the nodes in *reversed* topological order, so a node's gradient is complete before it is "
            "passed on.", wrong_backward("not_reversed")),
    Mistake("subtract", "the signs flip from one node to the next: you subtracted (parent.grad -= ...). The chain "
            "rule adds: parent.grad += local * node.grad.", wrong_backward("subtract")),
    Mistake("no_chain", "you passed on the local derivative alone: the chain rule multiplies it by the gradient "
            "arriving at the node, parent.grad += local * node.grad.", wrong_backward("no_chain")),
]

VALUE_LOCALS = tuple(f"value.{op}.local" for op in ("add", "mul", "pow", "exp", "tanh", "relu", "log"))


# ==== the lesson ==================================================================================

LESSON = Lesson("02_chain_rule", setup=(
    "import math\nfrom typing import Callable\n\nimport numpy as np\n\nimport autograd_mini as am\n"
    "from autograd_mini.numerical import central_difference, default_step, forward_difference\n"
    "from autograd_mini.value import Value, graph_order, local_derivatives\n"), exercises=[
    Exercise("numerical.gradient", function="numerical_gradient", points=2, cases=gradient_cases,
             call="numerical_gradient_runs", oracles=GRADIENT_ORACLES, mistakes=GRADIENT_MISTAKES,
             transform=judge_steps, what="gradient"),
    *(local_exercise(op, "arithmetic_locals") for op in ("add", "mul", "pow")),
    *(local_exercise(op, "nonlinear_locals") for op in ("exp", "tanh", "relu")),
    Exercise("value.topological_order", function="topological_order", points=2, cases=graph_cases,
             call="value_order", oracles=GRAPH_ORACLES, transform=order_gradients, what="gradient",
             also_strip=("engine.topological_order",)),
    Exercise("value.backward", function="backward", points=2, cases=graph_cases, call="value_backward",
             oracles=GRAPH_ORACLES, mistakes=BACKWARD_MISTAKES, what="gradient",
             needs=("value.topological_order",) + VALUE_LOCALS),
])
check, grade = LESSON.check, LESSON.grade

"""Lesson 02 (chain rule): the graded exercises, their checks against PyTorch and TensorFlow, their diagnoses.

Notebook cells use two calls::

    lesson_02.check("tanh_local", tanh_local)   # check cell: prints a verdict on the visible cases
    lesson_02.grade("tanh_local", tanh_local)   # hidden test: new cases; raises with the diagnosis

``EXERCISES`` lists every graded exercise with its points and its autograd_mini registry name;
``make_check(name, hidden)`` builds the :class:`~grader.checks.core.Check`, whose student half needs
numpy and autograd_mini only.

Scalar expressions are *programs*: JSON-able lists of steps (``["mul", 0, 2]`` multiplies nodes 0 and
2) that :func:`run_program` evaluates with ``Value``, PyTorch or TensorFlow alike, so the same random
expression is differentiated by the student's code and by both frameworks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from grader.checks import frameworks as fw
from grader.checks.core import Case, Check, Failure, Oracle, compare_outputs
from grader.checks.diagnose import Mistake, diagnose, explain_failure
from grader.checks.result import CheckResult

LESSON = "02_chain_rule"


@dataclass(frozen=True)
class Exercise:
    points: int
    registry: str | None  # the autograd_mini registry entry it implements
    make_check: Callable[[bool], Check]


# ==== scalar programs ==============================================================================

BINARY = ("add", "sub", "mul", "div")
UNARY = ("tanh", "exp", "relu")


def random_program(seed: int, n_inputs: int = 3, n_steps: int = 12) -> tuple[list, list]:
    """(program, input values): a random scalar expression with forks, and inputs where it is smooth.

    Every step reads earlier nodes (inputs are nodes 0..n_inputs-1), often the same node twice or a
    node already used, so gradients meet at forks. Steps whose value would blow up, divide by
    something near 0, or sit on relu's kink are redrawn.
    """
    rng = np.random.default_rng(seed)
    inputs = [float(v) for v in rng.uniform(-1.5, 1.5, n_inputs)]
    for i, v in enumerate(inputs):
        if abs(v) < 0.1:
            inputs[i] = 0.1 + v
    values = list(inputs)
    program: list = []
    while len(program) < n_steps:
        kind = str(rng.choice(BINARY + UNARY + ("pow", "addc", "mulc")))
        i = int(len(values) - 1 - min(rng.geometric(0.4) - 1, len(values) - 1))  # favour recent nodes
        j = int(rng.integers(len(values)))
        if kind in BINARY:
            step = [kind, i, j]
        elif kind == "pow":
            step = [kind, i, float(rng.choice([2.0, 3.0, -1.0, 0.5]))]
        elif kind in ("addc", "mulc"):
            step = [kind, i, round(float(rng.uniform(-2, 2)), 3) or 0.5]
        else:
            step = [kind, i]
        try:
            value = _float_step(step, values)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        if not math.isfinite(value) or abs(value) > 20 or (kind == "relu" and abs(values[i]) < 1e-3):
            continue
        if kind == "div" and abs(values[j]) < 0.3 or kind == "pow" and abs(values[i]) < 0.3:
            continue
        if kind == "pow" and step[2] == 0.5 and values[i] <= 0:
            continue
        program.append(step)
        values.append(value)
    return program, inputs


def _float_step(step, values) -> float:
    kind, i = step[0], step[1]
    a = values[i]
    if kind in BINARY:
        b = values[step[2]]
        return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b if b else math.inf}[kind]
    if kind == "pow":
        if a < 0 and step[2] % 1:
            raise ValueError("a fractional power of a negative number is not real")
        return a ** step[2]
    if kind == "addc":
        return a + step[2]
    if kind == "mulc":
        return a * step[2]
    return {"tanh": math.tanh, "exp": math.exp, "relu": lambda x: max(x, 0.0)}[kind](a)


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
            nodes.append({"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
                          "div": lambda: a / b}[kind]())
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


VALUE_UNARY = {"tanh": lambda v: v.tanh(), "exp": lambda v: v.exp(), "relu": lambda v: v.relu()}


def value_program_grads(program: list, inputs, backward: Callable | None = None) -> np.ndarray:
    """d output / d input for every input, with autograd_mini's ``Value`` (``backward`` defaults to the active one)."""
    from autograd_mini.value import Value

    leaves = [Value(float(x)) for x in inputs]
    out = run_program(program, leaves, VALUE_UNARY)
    if backward is None:
        out.backward()
    else:
        backward(out)
    return np.array([leaf.grad for leaf in leaves], dtype=np.float64)


def torch_program_grads(program: list, inputs) -> np.ndarray:
    torch = fw.torch()
    leaves = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in inputs]
    out = run_program(program, leaves, {"tanh": torch.tanh, "exp": torch.exp, "relu": torch.relu})
    grads = torch.autograd.grad(out, leaves, allow_unused=True)
    return np.array([0.0 if g is None else g.item() for g in grads], dtype=np.float64)


def tf_program_grads(program: list, inputs) -> np.ndarray:
    tf = fw.tf()
    leaves = [tf.Variable(float(x), dtype=tf.float64) for x in inputs]
    with tf.GradientTape() as tape:
        out = run_program(program, leaves, {"tanh": tf.tanh, "exp": tf.exp, "relu": tf.nn.relu})
    grads = tape.gradient(out, leaves)
    return np.array([0.0 if g is None else float(g.numpy()) for g in grads], dtype=np.float64)


def chain(x, links: int):
    """``links`` times ``x = x * 1.00001 + 0.001``: 2 * links ops deep; d out / d x = 1.00001 ** links."""
    for _ in range(links):
        x = x * 1.00001 + 0.001
    return x


# A chain far deeper than Python's recursion limit (~1,000): 10,000 ops in the check cell, 40,000 hidden.
CHAIN_LINKS = {False: 5_000, True: 20_000}


def _program_cases(seeds, chain_links: int) -> list[Case]:
    cases = [Case((np.array(program_of(seed)[1]),), {"seed": seed}) for seed in seeds]
    start = seeds[0] if len(seeds) else 0
    cases += [Case((np.array([0.7 + 0.1 * (start % 5), -1.3]),), {"named": name}) for name in NAMED]
    if chain_links:
        cases.append(Case((np.array([0.5]),), {"chain": chain_links}))
    return cases


def program_of(seed: int) -> tuple[list, list]:
    """The random expression a case names by its seed (2 to 4 inputs, 8 to 16 steps)."""
    return random_program(seed, n_inputs=2 + seed % 3, n_steps=8 + seed % 9)


# Small fixed expressions: the root touches the inputs directly, so a backward that walks the wrong way
# or overwrites at a fork gives a result of its own (one that a diagnosis can recognise).
NAMED = {
    "fork": [["mul", 0, 1], ["add", 2, 0]],                 # x * y + x
    "square_fork": [["mul", 0, 0], ["tanh", 2], ["mul", 3, 1], ["add", 4, 0]],  # tanh(x * x) * y + x
}


def case_program(case: Case) -> list:
    return NAMED[case.params["named"]] if "named" in case.params else program_of(case.params["seed"])[0]


def _torch_case_grads(case: Case) -> np.ndarray:
    if "chain" in case.params:  # the same derivative in one op: a long tape is slow in TF
        torch = fw.torch()
        x = torch.tensor(float(case.arrays[0][0]), dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(x * torch.tensor(1.00001, dtype=torch.float64) ** case.params["chain"], x)
        return np.array([g.item()])
    return torch_program_grads(case_program(case), case.arrays[0])


def _tf_case_grads(case: Case) -> np.ndarray:
    if "chain" in case.params:
        tf = fw.tf()
        x = tf.Variable(float(case.arrays[0][0]), dtype=tf.float64)
        with tf.GradientTape() as tape:
            y = x * tf.constant(1.00001, dtype=tf.float64) ** case.params["chain"]
        return np.array([float(tape.gradient(y, x).numpy())])
    return tf_program_grads(case_program(case), case.arrays[0])


GRAPH_ORACLES = [Oracle("PyTorch (torch.autograd)", _torch_case_grads),
                 Oracle("TensorFlow (tf.GradientTape)", _tf_case_grads)]


def _build_case_graph(case: Case):
    """(leaves, root) of ``Value``s for a program or chain case."""
    from autograd_mini.value import Value

    leaves = [Value(float(x)) for x in case.arrays[0]]
    if "chain" in case.params:
        return leaves, chain(leaves[0], case.params["chain"])
    return leaves, run_program(case_program(case), leaves, VALUE_UNARY)


# ==== exercise 1: numerical_gradient ===============================================================

def _np_ns():
    return {"sin": np.sin, "cos": np.cos, "exp": np.exp, "tanh": np.tanh, "log": np.log, "sum": np.sum}


def _torch_ns():
    torch = fw.torch()
    return {"sin": torch.sin, "cos": torch.cos, "exp": torch.exp, "tanh": torch.tanh, "log": torch.log,
            "sum": torch.sum}


def _tf_ns():
    tf = fw.tf()
    return {"sin": tf.sin, "cos": tf.cos, "exp": tf.exp, "tanh": tf.tanh, "log": tf.math.log,
            "sum": tf.reduce_sum}


# Scalar functions of an array, written once for numpy, PyTorch and TensorFlow; all curved everywhere.
FUNCTIONS: dict[str, Callable] = {
    "sin_x2": lambda x, F: F["sum"](F["sin"](x) * x**2),
    "exp_tanh": lambda x, F: F["sum"](F["exp"](0.5 * x) * F["tanh"](x + 0.3)),
    "log_cosh": lambda x, F: F["sum"](F["log"](1.0 + x**2) + F["cos"](x) * x),
    "cubic": lambda x, F: F["sum"](x**3 - 2.0 * x**2 + x) / 3.0,
}


def _gradient_cases(hidden: bool, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    specs = ([("exp_tanh", (4,), "float64"), ("log_cosh", (3, 2), "float64"), ("cubic", (5,), "float64"),
              ("sin_x2", (2, 2, 2), "float64"), ("exp_tanh", (3,), "float32"), ("sin_x2", (4,), "float32")]
             if hidden else
             [("sin_x2", (3,), "float64"), ("exp_tanh", (2, 3), "float64"), ("cubic", (4,), "float32")])
    cases = []
    for name, shape, dtype in specs:
        x = rng.uniform(-1.5, 1.5, shape).astype(np.float32).astype(np.float64)  # float32-exact inputs
        cases.append(Case((x,), {"f": name, "dtype": dtype}))
    return cases


def _call_gradient(fn: Callable, case: Case) -> Any:
    (x,) = case.copy_arrays()
    x = x.astype(case.params["dtype"])
    original = x.copy()
    f_np = FUNCTIONS[case.params["f"]]
    ns = _np_ns()
    result = fn(lambda v: f_np(v, ns), x)
    if not np.array_equal(x, original):
        raise ValueError("numerical_gradient changed its input x: after nudging an entry, put its original "
                         "value back (x[i] = original) before moving to the next one")
    return result


def _torch_gradient(case: Case):
    torch = fw.torch()
    x = torch.tensor(case.arrays[0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(FUNCTIONS[case.params["f"]](x, _torch_ns()), x)
    return g


def _tf_gradient(case: Case):
    tf = fw.tf()
    x = tf.Variable(case.arrays[0], dtype=tf.float64)
    with tf.GradientTape() as tape:
        y = FUNCTIONS[case.params["f"]](x, _tf_ns())
    return tape.gradient(y, x)


def _difference(case: Case, kind: str, h: float | None = None) -> np.ndarray:
    """What a typical wrong numerical gradient returns on ``case`` (computed as the student would)."""
    from autograd_mini.numerical import default_step

    x = case.arrays[0].astype(case.params["dtype"])
    h = default_step(x.dtype) if h is None else h
    f_np, ns = FUNCTIONS[case.params["f"]], _np_ns()
    f = lambda v: f_np(v, ns)  # noqa: E731
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down, at = x.copy(), x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        if kind == "forward":
            grad[i] = (f(up) - f(at)) / h
        elif kind == "backward":
            grad[i] = (f(at) - f(down)) / h
        elif kind == "over_h":
            grad[i] = (f(up) - f(down)) / h
        else:
            grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


GRADIENT_MISTAKES = [
    Mistake("forward_difference", "this is the forward difference (f(x + h) - f(x)) / h: its error shrinks only "
            "like h. Use the central difference (f(x + h) - f(x - h)) / (2h), whose error shrinks like h**2.",
            lambda case: _difference(case, "forward")),
    Mistake("backward_difference", "this is the backward difference (f(x) - f(x - h)) / h: its error shrinks "
            "only like h. Use the central difference (f(x + h) - f(x - h)) / (2h).",
            lambda case: _difference(case, "backward")),
    Mistake("over_h", "your gradient is 2x too large: x + h and x - h are 2h apart, so divide by 2 * h.",
            lambda case: _difference(case, "over_h")),
]

FLOAT32_STEP = ("in float32 your estimate is far off while float64 is fine: the step is too small for "
                "float32. Rounding error grows like eps / h (float32's eps is 1.2e-7), so use the h the "
                "function is given (default: np.finfo(x.dtype).eps ** (1/3), about 5e-3 in float32) and "
                "compute in x's dtype.")

# Central differences are estimates: float64 agrees with autodiff to ~1e-9, float32 to ~1e-3.
TOLERANCES = {"float64": (1e-7, 1e-8), "float32": (2e-2, 2e-3)}


class PerDtypeCheck(Check):
    """A Check whose tolerance depends on each case's ``dtype`` parameter (float64 vs float32)."""

    def judge(self, outcomes: list) -> CheckResult:
        failures = [o for o in outcomes if isinstance(o, Failure)]
        if failures:
            kind, text = explain_failure(failures[0])
            return CheckResult(self.name, False, float("inf"), text,
                               [f"vs {o.label}: not compared" for o in self.oracles], kind)
        expected = self.expected()
        lines, passed, worst, failed = [], True, 0.0, set()
        for label, exp in expected.items():
            errors = []
            for k, (got, want, case) in enumerate(zip(outcomes, exp, self.cases)):
                rtol, atol = TOLERANCES[case.params["dtype"]]
                ok, err = compare_outputs([got], [want], rtol, atol)
                errors.append(err)
                if not ok:
                    failed.add(k)
            ok_all = not any(k in failed for k in range(len(self.cases)))
            passed &= ok_all
            worst = max(worst, max(errors))
            lines.append(f"vs {label}: {'matches' if ok_all else 'differs'}, largest relative error "
                         f"{max(errors):.1e} over {len(self.cases)} cases (float64 cases within 1e-7, "
                         f"float32 within 2e-2)")
        if passed:
            return CheckResult(self.name, True, worst, "", lines, None)
        reference = next(iter(expected.values()))
        f64 = [k for k, c in enumerate(self.cases) if c.params["dtype"] == "float64"]
        if f64 and not failed & set(f64):
            return CheckResult(self.name, False, worst, FLOAT32_STEP, lines, "float32_step")
        idx = [k for k in f64 if k in failed] or sorted(failed)
        kind, text = diagnose([outcomes[k] for k in idx], [reference[k] for k in idx], [self.cases[k] for k in idx],
                              self.mistakes, *TOLERANCES["float64"], self.what)
        return CheckResult(self.name, False, worst, text, lines, kind)


def gradient_check(hidden: bool = False, seed: int | None = None, cases: list | None = None) -> Check:
    seed = (202 if hidden else 2) if seed is None else seed
    return PerDtypeCheck(
        name="numerical_gradient", cases=cases or _gradient_cases(hidden, seed),
        oracles=[Oracle("PyTorch (torch.autograd)", _torch_gradient),
                 Oracle("TensorFlow (tf.GradientTape)", _tf_gradient)],
        call=_call_gradient, mistakes=GRADIENT_MISTAKES, what="gradient")


# ==== exercises 2-7: local derivatives ============================================================

def _np_op(op: str) -> Callable:
    return {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "exp": np.exp, "tanh": np.tanh,
            "relu": lambda a: np.maximum(a, 0.0)}.get(op, None)


def _local_cases(op: str, hidden: bool, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    n = 8 if hidden else 4
    if op in ("add", "mul"):
        return [Case((np.array(rng.uniform(-3, 3)), np.array(rng.uniform(-3, 3)))) for _ in range(n)]
    if op == "pow":
        exponents = [2.0, 3.0, -1.0, 0.5, -2.0, 1.5, 4.0, 0.5][:n] if hidden else [2.0, 3.0, 0.5, -1.0]
        return [Case((np.array(rng.uniform(0.3, 2.5) * (1 if e % 1 or k % 2 else -1)),), {"exponent": e})
                for k, e in enumerate(exponents)]
    values = list(rng.uniform(-3, 3, n))
    if op == "relu":
        values[1] = 0.0  # the kink: PyTorch and TensorFlow both use 0 there
        values[2] = abs(values[2]) + 0.1
        values[3] = -abs(values[3]) - 0.1
    return [Case((np.array(v),)) for v in values]


def _call_local(op: str) -> Callable:
    def call(fn: Callable, case: Case) -> Any:
        args = [float(a) for a in case.arrays]
        if op == "pow":
            e = case.params["exponent"]
            return _scalars(fn(args[0], e, args[0] ** e))
        return _scalars(fn(*args, float(_np_op(op)(*args))))
    return call


def _scalars(result):
    """Plain Python numbers (or numpy scalars) only: a Value or a tensor would hide a bug."""
    items = result if isinstance(result, (tuple, list)) else (result,)
    for item in items:
        if type(item).__name__ == "Value":
            raise TypeError("return plain numbers (floats), not Values: a local derivative is a number")
    return result


def _torch_local(op: str) -> Callable:
    def oracle(case: Case):
        torch = fw.torch()
        xs = [torch.tensor(float(a), dtype=torch.float64, requires_grad=True) for a in case.arrays]
        if op == "pow":
            out = xs[0] ** case.params["exponent"]
        elif op in ("add", "mul"):
            out = xs[0] + xs[1] if op == "add" else xs[0] * xs[1]
        else:
            out = {"exp": torch.exp, "tanh": torch.tanh, "relu": torch.relu}[op](xs[0])
        return torch.autograd.grad(out, xs)
    return oracle


def _tf_local(op: str) -> Callable:
    def oracle(case: Case):
        tf = fw.tf()
        xs = [tf.Variable(float(a), dtype=tf.float64) for a in case.arrays]
        with tf.GradientTape() as tape:
            if op == "pow":
                out = xs[0] ** case.params["exponent"]
            elif op in ("add", "mul"):
                out = xs[0] + xs[1] if op == "add" else xs[0] * xs[1]
            else:
                out = {"exp": tf.exp, "tanh": tf.tanh, "relu": tf.nn.relu}[op](xs[0])
        return tuple(tape.gradient(out, xs))
    return oracle


def _a(case):
    return float(case.arrays[0])


def _b(case):
    return float(case.arrays[1])


LOCAL_MISTAKES: dict[str, list] = {
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
        Mistake("input", "you returned the input a; the derivative of exp(a) is exp(a) itself (= out).",
                lambda c: _a(c)),
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


UNARY_OPS = ("add", "mul", "pow", "exp", "tanh", "relu")


def local_check(op: str) -> Callable[[bool], Check]:
    def make(hidden: bool = False, seed: int | None = None, cases: list | None = None) -> Check:
        seed = (1000 if hidden else 10) + UNARY_OPS.index(op) if seed is None else seed
        return Check(name=f"{op}_local", cases=cases or _local_cases(op, hidden, seed),
                     oracles=[Oracle("PyTorch (torch.autograd)", _torch_local(op)),
                              Oracle("TensorFlow (tf.GradientTape)", _tf_local(op))],
                     call=_call_local(op), mistakes=LOCAL_MISTAKES[op], what="local derivative")
    return make


# ==== the checker's own engine pieces ==============================================================
# While a lesson is autograded, *every* graded reference of autograd_mini is stripped from the copy
# the student's code runs against (grader/sandbox/strip.py), so a check that needs a working sort,
# local rules or backward loop besides the student's own piece brings its own.

CHECKER_LOCALS = {
    "value.add.local": lambda a, b, out: (1.0, 1.0),
    "value.mul.local": lambda a, b, out: (b, a),
    "value.pow.local": lambda a, n, out: n * a ** (n - 1),
    "value.exp.local": lambda a, out: out,
    "value.tanh.local": lambda a, out: 1.0 - out * out,
    "value.relu.local": lambda a, out: 1.0 if a > 0 else 0.0,
}


def _checker_order(root) -> list:
    """Kahn's algorithm on the ancestors of ``root``: a topological order found without recursion."""
    nodes = _ancestors(root)
    waiting = {i: len({id(p) for p in n.parents}) for i, n in nodes.items()}
    children: dict = {}
    for i, node in nodes.items():
        for pid in {id(p) for p in node.parents}:
            children.setdefault(pid, []).append(node)
    ready = [n for i, n in nodes.items() if waiting[i] == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for child in children.get(id(node), ()):
            waiting[id(child)] -= 1
            if waiting[id(child)] == 0:
                ready.append(child)
    return order


def _checker_backward(root, order) -> None:
    """The chain rule over ``order`` with the checker's local rules."""
    root.grad = 1.0
    for node in reversed(order):
        if not node.parents:
            continue
        rule = CHECKER_LOCALS["value." + node.op + ".local"]
        local = rule(*[p.data for p in node.parents], *node.params, node.data)
        local = local if isinstance(local, tuple) else (local,)
        for parent, d in zip(node.parents, local):
            parent.grad += d * node.grad


def checker_engine() -> dict:
    """What the backward check plugs in around the student's ``backward``: sort and local rules."""
    return {**CHECKER_LOCALS, "value.topological_order": _checker_order}


# ==== exercise 8: topological_order ===============================================================

def _ancestors(root) -> dict:
    """id -> node for everything ``root`` depends on (iterative; the checker's own walk)."""
    seen, stack = {}, [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(node.parents)
    return seen


def _node_name(node, leaves) -> str:
    for k, leaf in enumerate(leaves):
        if leaf is node:
            return f"input {k}"
    return f"the {node.op} node (value {node.data:.4g})" if node.op else f"the constant {node.data:.4g}"


def validate_order(order, root, leaves=()) -> None:
    """Raise ValueError saying what is wrong with ``order`` as a topological order of ``root``'s graph."""
    if order is None:
        raise ValueError("topological_order returned None: did you forget `return order`?")
    if not isinstance(order, (list, tuple)):
        raise ValueError(f"topological_order must return a list of Values, got {type(order).__name__}")
    expected = _ancestors(root)
    position = {}
    for k, node in enumerate(order):
        if id(node) not in expected:
            raise ValueError(f"your order contains {node!r}, which is not part of the graph")
        if id(node) in position:
            raise ValueError(f"{_node_name(node, leaves)} appears twice in your order: a node reached along two "
                             "paths (a fork) must be added once. Keep a `visited` set.")
        position[id(node)] = k
    missing = [n for i, n in expected.items() if i not in position]
    if missing:
        what = "the root itself" if any(n is root for n in missing) else _node_name(missing[0], leaves)
        raise ValueError(f"your order misses {len(missing)} of the {len(expected)} nodes, e.g. {what}: "
                         "it must hold every node the root depends on, the root included.")
    for node in order:
        for parent in node.parents:
            if position[id(parent)] > position[id(node)]:
                raise ValueError(f"{_node_name(parent, leaves)} comes after {_node_name(node, leaves)}, which "
                                 "uses it: every node must come after all of its parents (append a node only "
                                 "once its parents are in the list).")


def _refuse(what: str, instead: str) -> Callable:
    def refuse(*args):
        raise RuntimeError(f"your function calls {what}, the engine's own version of this very exercise: "
                           f"{instead}")
    return refuse


def _call_topological(fn: Callable, case: Case) -> Any:
    from autograd_mini.registry import use

    leaves, root = _build_case_graph(case)
    try:
        with use({"value.topological_order": _refuse("graph_order", "build the order yourself with a stack")}):
            order = fn(root)
    except RecursionError:
        raise RuntimeError(f"your sort recursed too deeply on a chain of {2 * case.params.get('chain', 0):,} ops "
                           "(Python stops at about 1,000 nested calls). Use a loop with an explicit stack "
                           "instead of recursion.") from None
    validate_order(order, root, leaves)
    _checker_backward(root, list(order))
    return np.array([leaf.grad for leaf in leaves])


def _graph_cases(hidden: bool, seed: int | None, default: int, links: int | None = None) -> list[Case]:
    start = (default if hidden else 0) if seed is None else seed * 16
    return _program_cases(range(start, start + (6 if hidden else 3)), links or CHAIN_LINKS[hidden])


def topological_check(hidden: bool = False, seed: int | None = None, cases: list | None = None) -> Check:
    return Check(name="topological_order", cases=cases or _graph_cases(hidden, seed, 300), oracles=GRAPH_ORACLES,
                 call=_call_topological, what="gradient")


# ==== exercise 9: backward ========================================================================

def _wrong_backward(kind: str) -> Callable:
    from autograd_mini.registry import use
    from autograd_mini.value import local_derivatives

    def run(root):
        root.grad = 0.0 if kind == "no_seed" else 1.0
        sign = -1.0 if kind == "subtract" else 1.0
        order = _checker_order(root)
        for node in (order if kind == "not_reversed" else reversed(order)):
            with use(CHECKER_LOCALS):
                locals_ = local_derivatives(node)
            for parent, local in zip(node.parents, locals_):
                if kind == "assign":
                    parent.grad = local * node.grad
                elif kind == "no_chain":
                    parent.grad += local
                else:
                    parent.grad += sign * local * node.grad
    return run


def _wrong_graph_grads(kind: str) -> Callable:
    def wrong(case: Case):
        leaves, root = _build_case_graph(case)
        _wrong_backward(kind)(root)
        return np.array([leaf.grad for leaf in leaves])
    return wrong


BACKWARD_MISTAKES = [
    Mistake("assign", "right where a node is used once, wrong at forks: a node used by two others must *add* "
            "the gradient from both paths (parent.grad += ...), not overwrite it (parent.grad = ...).",
            _wrong_graph_grads("assign")),
    Mistake("no_seed", "every gradient is 0: start with root.grad = 1.0 (d root / d root = 1), then pass it on.",
            _wrong_graph_grads("no_seed")),
    Mistake("not_reversed", "you walked the graph from the leaves towards the root. Gradients flow from the root: "
            "visit the nodes in *reversed* topological order, so a node's gradient is complete before it is "
            "passed on.", _wrong_graph_grads("not_reversed")),
    Mistake("subtract", "the signs flip from one node to the next: you subtracted (parent.grad -= ...). The chain "
            "rule adds: parent.grad += local * node.grad.", _wrong_graph_grads("subtract")),
    Mistake("no_chain", "you passed on the local derivative alone: the chain rule multiplies it by the gradient "
            "arriving at the node, parent.grad += local * node.grad.", _wrong_graph_grads("no_chain")),
]


def _call_backward(fn: Callable, case: Case) -> Any:
    from autograd_mini.registry import use

    leaves, root = _build_case_graph(case)
    try:
        with use({**checker_engine(), "value.backward": _refuse(
                "Value.backward()", "write the loop over the nodes yourself")}):
            fn(root)
    except RecursionError:
        raise RuntimeError("backward recursed too deeply on a long chain: walk the nodes with a loop "
                           "(graph_order(root) gives them in order).") from None
    return np.array([leaf.grad for leaf in leaves])


def backward_check(hidden: bool = False, seed: int | None = None, cases: list | None = None) -> Check:
    return Check(name="backward", cases=cases or _graph_cases(hidden, seed, 400, links=5_000 if not hidden else 10_000), oracles=GRAPH_ORACLES,
                 call=_call_backward, mistakes=BACKWARD_MISTAKES, what="gradient")


# ==== the table and what the notebook calls ========================================================

EXERCISES: dict[str, Exercise] = {
    "numerical_gradient": Exercise(points=2, registry="numerical.gradient", make_check=gradient_check),
    "add_local": Exercise(points=1, registry="value.add.local", make_check=local_check("add")),
    "mul_local": Exercise(points=1, registry="value.mul.local", make_check=local_check("mul")),
    "pow_local": Exercise(points=1, registry="value.pow.local", make_check=local_check("pow")),
    "exp_local": Exercise(points=1, registry="value.exp.local", make_check=local_check("exp")),
    "tanh_local": Exercise(points=1, registry="value.tanh.local", make_check=local_check("tanh")),
    "relu_local": Exercise(points=1, registry="value.relu.local", make_check=local_check("relu")),
    "topological_order": Exercise(points=2, registry="value.topological_order", make_check=topological_check),
    "backward": Exercise(points=2, registry="value.backward", make_check=backward_check),
}


def make_check(name: str, hidden: bool = False, seed: int | None = None, cases: list | None = None) -> Check:
    if name not in EXERCISES:
        raise KeyError(f"lesson 02 has no exercise {name!r}; it has {', '.join(EXERCISES)}")
    return EXERCISES[name].make_check(hidden, seed, cases)


def exercise_check(seed: int = 0, cases: list | None = None, exercise: str = "") -> Check:
    """The factory ``grader/lessons/02_chain_rule.toml`` names: the hidden check of ``exercise``.

    ``seed`` 0 gives the notebook's hidden cases; any other seed gives fresh ones of the same kinds.
    """
    return make_check(exercise, hidden=True, seed=seed or None, cases=cases)


def check(name: str, fn: Callable, hidden: bool = False) -> CheckResult:
    """The check cell: compare ``fn`` with PyTorch and TensorFlow (visible cases unless ``hidden``)."""
    return make_check(name, hidden).run(fn)


def grade(name: str, fn: Callable) -> None:
    """The hidden test: new inputs; raises AssertionError carrying the diagnosis if anything differs."""
    make_check(name, hidden=True).run(fn).assert_passed()
    print(f"{name}: all hidden tests passed")

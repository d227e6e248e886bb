"""Lesson 01 (forward pass): the graded exercises, their checks and the mistakes they diagnose.

Every exercise is one registry entry of autograd_mini (``"relu.forward"``, ``"linear"``, ...). Its check
runs the student's function on seeded float64 cases and compares with ``torch.nn.functional`` and
``tf.nn``. The student half needs numpy and autograd_mini only (op forwards receive a fresh
``autograd_mini.function.Context``; the MLP exercise gets trusted numpy layers defined here), so a check
grades one exercise and nothing else, even in the autograder's library with the lesson's references
stripped.

Stability is part of the lesson: the activations and softmax run under ``np.errstate(over="raise")``
(softmax also ``invalid="raise"``), so an implementation that overflows fails even where the rounded
result happens to be right, with a diagnosis that says how to avoid the overflow.

In a notebook::

    from grader.lessons import lesson_01
    lesson_01.check("relu.forward", relu_forward)                               # check cell
    lesson_01.check("relu.forward", relu_forward, hidden=True).assert_passed()  # graded cell
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from grader.checks import frameworks as fw
from grader.checks.core import Case, Check, Oracle
from grader.checks.diagnose import Mistake
from grader.lessons.common import Exercise, Lesson

LESSON = "01_forward_pass"


VISIBLE_SEED, HIDDEN_SEED = 1, 1001  # the notebook's check cell and graded cell; the autograder seeds per student


# ---- inputs ---------------------------------------------------------------------------------------

# Values that overflow a naive exp (exp(x) is inf for x > 709.78). They are chosen so that no result is a
# subnormal number (below 2.2e-308), which PyTorch and TensorFlow may flush to 0.
EXTREME = np.array([[1000.0, 0.0, -1000.0], [800.0, 799.0, 0.5], [-800.0, -30.0, 40.0]])
EXTREME_SOFTMAX = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]])


def _unary_cases(seed: int, hidden: bool) -> list[Case]:
    rng = np.random.default_rng(seed)
    shapes = [(7,), (4, 5), (2, 1, 3), (1,)] if hidden else [(5,), (3, 4), (2, 3, 2)]
    cases = [Case((rng.standard_normal(s) * 3,)) for s in shapes]
    cases.append(Case((np.array([-2.0, -0.0, 0.0, 1e-300, -1e-300, 3.5]),)))  # the kink at 0
    cases.append(Case((EXTREME.copy(),)))
    if hidden:
        cases.append(Case((-EXTREME.T.copy(),)))
    return cases


def _softmax_cases(seed: int, hidden: bool) -> list[Case]:
    rng = np.random.default_rng(seed)
    layout = ([((6,), 0), ((2, 3, 4), 1), ((4, 5), -1), ((5, 2), 0), ((3, 3), 1)] if hidden
              else [((5,), -1), ((3, 4), -1), ((4, 3), 0)])
    cases = [Case((rng.standard_normal(s) * 2,), {"axis": axis}) for s, axis in layout]
    cases.append(Case((EXTREME.copy(),), {"axis": -1}))
    if hidden:
        cases.append(Case((EXTREME_SOFTMAX.copy(),), {"axis": -1}))
        cases.append(Case((EXTREME_SOFTMAX.T.copy(),), {"axis": 0}))
    return cases


def _linear_cases(seed: int, hidden: bool) -> list[Case]:
    rng = np.random.default_rng(seed)
    # (x shape, out_features, with bias)
    layout = ([((7, 4), 3, True), ((4,), 6, True), ((3, 2, 5), 4, True), ((5, 5), 5, True), ((8, 2), 1, False)]
              if hidden else [((5, 3), 4, True), ((3,), 2, True), ((2, 4, 3), 5, True), ((6, 3), 2, False)])
    cases = []
    for x_shape, out_features, bias in layout:
        x = rng.standard_normal(x_shape)
        weight = rng.standard_normal((out_features, x_shape[-1]))
        arrays = (x, weight, rng.standard_normal(out_features)) if bias else (x, weight)
        cases.append(Case(arrays))
    return cases


def _mlp_cases(seed: int, hidden: bool) -> list[Case]:
    rng = np.random.default_rng(seed)
    layout = ([((5, 4), [4, 4, 4], "relu"), ((7, 3), [3, 6, 5, 2], "sigmoid"), ((2, 5), [5, 3], "tanh"),
               ((10, 2), [2, 16, 16, 16, 3], "relu"), ((6,), [6, 6, 6], "tanh")]
              if hidden else [((4, 3), [3, 5, 2], "relu"), ((6, 2), [2, 8, 8, 3], "tanh"), ((3,), [3, 4, 1], "sigmoid")])
    return [Case((rng.standard_normal(x_shape),), {"sizes": sizes, "activation": act, "seed": int(rng.integers(2**31))})
            for x_shape, sizes, act in layout]


def _stable_sigmoid_fn(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


# ---- how the student's function is called ---------------------------------------------------------

def _context():
    from autograd_mini.function import Context

    return Context((False,))


def _call_op_forward(hints: dict, errstate: dict):
    """Call ``fn(ctx, *arrays, **params)`` with floating-point errors raised, and explain them.

    ``hints`` maps "overflow" / "invalid" to what the student should do about it.
    """

    def call(fn: Callable, case: Case) -> Any:
        try:
            with np.errstate(**errstate):
                return fn(_context(), *case.copy_arrays(), **case.params)
        except FloatingPointError as error:
            kind = "invalid" if "invalid" in str(error) else "overflow"
            raise FloatingPointError(hints.get(kind, hints["overflow"])) from None
        except ValueError as error:
            if "broadcast" in str(error) and "axis" in case.params:
                raise ValueError(f"{error}. Reductions drop the axis they sum over: keep it with keepdims=True, "
                                 "so the sum broadcasts against the array it divides") from None
            raise

    return call


def _call_linear(fn: Callable, case: Case) -> Any:
    x, weight, *bias = case.copy_arrays()
    try:
        return fn(x, weight, bias[0] if bias else None)
    except ValueError as error:
        if "matmul" in str(error) or "aligned" in str(error):
            raise ValueError(f"x {x.shape} and weight {weight.shape} do not multiply: weight is stored "
                             f"(out_features, in_features) as in PyTorch, so the layer is x @ weight.T, of shape "
                             f"(..., out_features)") from None
        if "broadcast" in str(error):
            raise ValueError(f"the bias {bias[0].shape} does not broadcast against x @ weight.T: it is one number "
                             "per output feature, added to every row; `out + bias` already broadcasts along the "
                             "last axis (no reshape, no [:, None])") from None
        raise
    except TypeError as error:
        if "NoneType" in str(error):
            raise TypeError("a layer may have no bias (bias=None): then return x @ weight.T alone") from None
        raise


class _Linear:
    """A trusted numpy linear layer: the MLP check must not depend on autograd_mini's references,
    which the autograder strips from the library while this lesson is graded."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.weight, self.bias = weight, bias

    def __call__(self, x):
        x = np.asarray(x.data if hasattr(x, "data") and not isinstance(x, np.ndarray) else x, dtype=np.float64)
        if x.shape[-1:] != self.weight.shape[1:]:
            raise ValueError(f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}) "
                             f"got an input with {x.shape[-1] if x.ndim else 0} features (shape {x.shape})")
        return x @ self.weight.T + self.bias

    def __repr__(self) -> str:
        return f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]})"


class _Activation:
    FUNCTIONS = {"relu": lambda x: np.maximum(x, 0), "tanh": np.tanh, "sigmoid": _stable_sigmoid_fn}

    def __init__(self, name: str):
        self.name = name

    def __call__(self, x):
        return self.FUNCTIONS[self.name](np.asarray(x, dtype=np.float64))

    def __repr__(self) -> str:
        return {"relu": "ReLU()", "tanh": "Tanh()", "sigmoid": "Sigmoid()"}[self.name]


def mlp_parameters(case: Case) -> list:
    """(weight, bias) per layer of the case's MLP, drawn like torch.nn.Linear's init from the case's seed."""
    rng = np.random.default_rng(case.params["seed"])
    sizes = case.params["sizes"]
    params = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        bound = 1 / np.sqrt(n_in)
        params.append((rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)))
    return params


def mlp_layers(case: Case) -> list:
    """The layers the student's ``sequential_forward`` receives: Linear, activation, ..., Linear."""
    params = mlp_parameters(case)
    layers = []
    for i, (weight, bias) in enumerate(params):
        layers.append(_Linear(weight, bias))
        if i < len(params) - 1:
            layers.append(_Activation(case.params["activation"]))
    return layers


def _call_sequential(fn: Callable, case: Case) -> Any:
    try:
        out = fn(mlp_layers(case), case.copy_arrays()[0])
    except ValueError as error:
        if "features" in str(error):
            raise ValueError("a layer received an input of the wrong width: each layer must get the previous "
                             f"layer's output (x = layer(x)), in order. {error}"[:260]) from None
        raise
    return getattr(out, "data", out) if not isinstance(out, np.ndarray) else out


# ---- oracles --------------------------------------------------------------------------------------

def _torch_op(op: str):
    def compute(case: Case):
        torch = fw.torch()
        F = torch.nn.functional
        x = torch.tensor(case.arrays[0], dtype=torch.float64)
        if op == "softmax":
            return F.softmax(x, dim=case.params["axis"])
        return {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[op](x)

    return compute


def _tf_op(op: str):
    def compute(case: Case):
        tf = fw.tf()
        x = tf.constant(case.arrays[0], dtype=tf.float64)
        if op == "softmax":
            return tf.nn.softmax(x, axis=case.params["axis"])
        return {"relu": tf.nn.relu, "sigmoid": tf.nn.sigmoid, "tanh": tf.nn.tanh}[op](x)

    return compute


def _torch_linear(case: Case):
    torch = fw.torch()
    return torch.nn.functional.linear(*(torch.tensor(a, dtype=torch.float64) for a in case.arrays))


def _tf_linear_arrays(tf, x, weight, bias=None):
    out = tf.tensordot(x, weight, axes=[[len(x.shape) - 1], [1]])
    return out if bias is None else out + bias


def _tf_linear(case: Case):
    tf = fw.tf()
    return _tf_linear_arrays(tf, *(tf.constant(a, dtype=tf.float64) for a in case.arrays))


def _torch_mlp(case: Case):
    torch = fw.torch()
    F = torch.nn.functional
    act = {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[case.params["activation"]]
    params = mlp_parameters(case)
    h = torch.tensor(case.arrays[0], dtype=torch.float64)
    for i, (w, b) in enumerate(params):
        h = F.linear(h, torch.tensor(w), torch.tensor(b))
        h = act(h) if i < len(params) - 1 else h
    return h


def _tf_mlp(case: Case):
    tf = fw.tf()
    act = {"relu": tf.nn.relu, "tanh": tf.nn.tanh, "sigmoid": tf.nn.sigmoid}[case.params["activation"]]
    params = mlp_parameters(case)
    h = tf.constant(case.arrays[0], dtype=tf.float64)
    for i, (w, b) in enumerate(params):
        h = _tf_linear_arrays(tf, h, tf.constant(w), tf.constant(b))
        h = act(h) if i < len(params) - 1 else h
    return h


def _oracles(torch_fn, tf_fn) -> list[Oracle]:
    return [Oracle("PyTorch (torch.nn.functional)", torch_fn), Oracle("TensorFlow (tf.nn)", tf_fn)]


# ---- mistakes (numpy only: they run where the student's code runs) ----------------------------------

_stable_sigmoid = _stable_sigmoid_fn


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _x(case):
    return case.arrays[0]


RELU_MISTAKES = [
    Mistake("leaky", "negative inputs must give exactly 0; you scaled them instead (a * slope for a < 0 is "
            "*leaky* ReLU). ReLU is max(a, 0).", lambda c: np.where(_x(c) > 0, _x(c), 0.01 * _x(c))),
    Mistake("leaky", "negative inputs must give exactly 0; you scaled them instead (a * slope for a < 0 is "
            "*leaky* ReLU). ReLU is max(a, 0).", lambda c: np.where(_x(c) > 0, _x(c), 0.1 * _x(c))),
    Mistake("mask", "you returned the mask (a > 0), which is ReLU's *derivative*; ReLU itself returns the "
            "value a where a > 0 and 0 elsewhere: max(a, 0).", lambda c: (_x(c) > 0).astype(np.float64)),
    Mistake("reduction", "np.max(a, 0) is a *reduction*: the largest entry along axis 0, so the shape shrinks. "
            "The elementwise maximum of a and 0 is np.maximum(a, 0).", lambda c: np.max(_x(c), 0)),
    Mistake("abs", "negative inputs must give 0, not |a|: ReLU is max(a, 0).", lambda c: np.abs(_x(c))),
    Mistake("min", "you kept the negative part, min(a, 0); ReLU keeps the positive part, max(a, 0).",
            lambda c: np.minimum(_x(c), 0)),
]

SIGMOID_MISTAKES = [
    Mistake("sign", "you computed sigma(-a) = 1 / (1 + exp(a)): the exponent must be -a, so that large "
            "positive a gives values near 1.", lambda c: _stable_sigmoid(-_x(c))),
    Mistake("tanh", "that is tanh(a), which lies in (-1, 1); the sigmoid lies in (0, 1): 1 / (1 + exp(-a)).",
            lambda c: np.tanh(_x(c))),
]

TANH_MISTAKES = [
    Mistake("half", "2*sigmoid(a) - 1 is tanh(a/2): the identity is tanh(a) = 2*sigmoid(2a) - 1.",
            lambda c: np.tanh(_x(c) / 2)),
    Mistake("sigmoid", "that is the sigmoid, which lies in (0, 1); tanh lies in (-1, 1).",
            lambda c: _stable_sigmoid(_x(c))),
]

SOFTMAX_MISTAKES = [
    Mistake("axis", "every case used the last axis, but some ask for another one: normalise along the "
            "`axis` argument (max and sum with axis=axis, keepdims=True).", lambda c: _softmax(_x(c), -1)),
    Mistake("whole_array", "you divided by the sum over the whole array; each slice along `axis` must sum to 1: "
            "e.sum(axis=axis, keepdims=True).",
            lambda c: np.exp(_x(c) - _x(c).max(axis=c.params["axis"], keepdims=True))
            / np.exp(_x(c) - _x(c).max(axis=c.params["axis"], keepdims=True)).sum()),
    Mistake("no_exp", "you normalised the logits themselves; softmax exponentiates first: exp(a) / sum(exp(a)).",
            lambda c: _x(c) / _x(c).sum(axis=c.params["axis"], keepdims=True)),
]

LINEAR_MISTAKES = [
    Mistake("no_bias", "you left out the bias: a linear layer computes x @ weight.T + bias.",
            lambda c: c.arrays[0] @ c.arrays[1].T),
    Mistake("no_transpose", "weight is stored (out_features, in_features), as in PyTorch: the layer is "
            "x @ weight.T + bias, not x @ weight + bias.",
            lambda c: c.arrays[0] @ c.arrays[1] + (c.arrays[2] if len(c.arrays) > 2 else 0)),
]


def _mlp_layers_output(case: Case, which: str):
    layers, x = mlp_layers(case), case.arrays[0]
    return layers[0](x) if which == "first" else layers[-1](x)  # "last": every layer saw the original input


SEQUENTIAL_MISTAKES = [
    Mistake("first_only", "only the first layer ran: a `return` inside the loop ends the function at once. "
            "Return after the loop.", lambda c: _mlp_layers_output(c, "first")),
    Mistake("stale_input", "every layer received the network's input, so only the last layer's work survived: "
            "feed each layer the previous layer's output (x = layer(x)).", lambda c: _mlp_layers_output(c, "last")),
]


# ---- the checks -----------------------------------------------------------------------------------

SIGMOID_HINTS = {"overflow": (
    "exp overflowed: exp(-a) is inf for a < -709 (and np.where computes both of its branches everywhere). "
    "Compute e = np.exp(-np.abs(a)), which never overflows: 1/(1+e) where a >= 0, e/(1+e) elsewhere.")}
TANH_HINTS = {"overflow": "exp overflowed: a formula with exp(a) and exp(-a) overflows for |a| > 709; use np.tanh(a)."}
SOFTMAX_HINTS = {
    "overflow": ("exp overflowed: exp(1000) is inf. Softmax does not change when a constant is subtracted from a "
                 "slice, so subtract each slice's max first: a - a.max(axis=axis, keepdims=True)."),
    "invalid": ("0/0: every exp in a slice underflowed to 0. Subtract each slice's own max "
                "(a.max(axis=axis, keepdims=True)), not the max of the whole array."),
}
RELU_HINTS = {"overflow": "a floating-point overflow: ReLU needs no exp, just np.maximum(a, 0)."}


def _op_check(op: str, function: str, mistakes: list, hints: dict, errstate: dict) -> Callable[[list], Check]:
    def build(cases: list) -> Check:
        return Check(name=f"{function} ({op}.forward)", cases=cases, oracles=_oracles(_torch_op(op), _tf_op(op)),
                     call=_call_op_forward(hints, errstate), mistakes=mistakes)
    return build


def _linear_check(cases: list) -> Check:
    return Check(name="linear", cases=cases, oracles=_oracles(_torch_linear, _tf_linear),
                 call=_call_linear, mistakes=LINEAR_MISTAKES)


def _sequential_check(cases: list) -> Check:
    return Check(name="sequential_forward (an MLP's forward pass)", cases=cases,
                 oracles=_oracles(_torch_mlp, _tf_mlp), call=_call_sequential, mistakes=SEQUENTIAL_MISTAKES)


EXERCISES: dict[str, Exercise] = {  # keyed by the autograd_mini registry name each exercise implements
    "relu.forward": Exercise("relu_forward", 1, _unary_cases,
                             _op_check("relu", "relu_forward", RELU_MISTAKES, RELU_HINTS, {"over": "raise"})),
    "sigmoid.forward": Exercise("sigmoid_forward", 2, _unary_cases,
                                _op_check("sigmoid", "sigmoid_forward", SIGMOID_MISTAKES, SIGMOID_HINTS, {"over": "raise"})),
    "tanh.forward": Exercise("tanh_forward", 1, _unary_cases,
                             _op_check("tanh", "tanh_forward", TANH_MISTAKES, TANH_HINTS, {"over": "raise"})),
    "softmax.forward": Exercise("softmax_forward", 2, _softmax_cases,
                                _op_check("softmax", "softmax_forward", SOFTMAX_MISTAKES, SOFTMAX_HINTS,
                                          {"over": "raise", "invalid": "raise"})),
    "linear": Exercise("linear", 2, _linear_cases, _linear_check),
    "nn.sequential.forward": Exercise("sequential_forward", 2, _mlp_cases, _sequential_check),
}


# ---- what the notebook and the autograder call -----------------------------------------------------

_lesson = Lesson("01", EXERCISES, VISIBLE_SEED, HIDDEN_SEED)
make_check, graded_check, check, grade = _lesson.make_check, _lesson.graded_check, _lesson.check, _lesson.grade

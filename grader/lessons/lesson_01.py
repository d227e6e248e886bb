"""Lesson 01 (forward pass): a linear layer, the activations, softmax and an MLP's forward pass.

Stability is part of the lesson: the activations and softmax run with floating-point overflow raised
(softmax also 0/0), so an implementation that overflows fails even where the rounded result happens to
be right, and a sigmoid of -650 (about 1e-283, a normal float64) is compared without an absolute
tolerance, so clipping the input is caught. Wrong answers are computed with autograd_mini's references.
"""
from __future__ import annotations

import numpy as np

from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.case import Case
from grader.lesson import Exercise, Lesson

# exp overflows past 709.78; no result here is subnormal (below 2.2e-308), which the frameworks may flush to 0
EXTREME = np.array([[1000.0, 0.0, -1000.0], [800.0, 799.0, 0.5], [-800.0, -30.0, 40.0]])
EXTREME_SOFTMAX = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]])
NO_ATOL = (1e-10, 0.0)  # results near 1e-300 count: an absolute tolerance would hide any error there
ACTIVATIONS = {"relu": "ReLU()", "tanh": "Tanh()", "sigmoid": "Sigmoid()"}
ACTIVATION_OF = {name: act for act, name in ACTIVATIONS.items()}


def ref(name: str, *args, **params):
    """autograd_mini's reference ``name`` on numpy arrays (an op's forward gets a fresh Context)."""
    from autograd_mini.function import Context
    from autograd_mini.registry import reference_of

    fn = reference_of(name)
    return fn(Context((False,)), *args, **params) if name.endswith(".forward") else fn(*args, **params)


# ---- cases ----------------------------------------------------------------------------------------

def unary_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    shapes = [(7,), (4, 5), (2, 1, 3), (1,)] if hidden else [(5,), (3, 4), (2, 3, 2)]
    arrays = [rng.standard_normal(s) * 3 for s in shapes]
    arrays += [np.array([-2.0, -0.0, 0.0, 1e-300, -1e-300, 3.5]), EXTREME] + ([EXTREME.T] if hidden else [])
    tails = [np.append(-708.0, -rng.uniform(600, 708, 5))] + ([-rng.uniform(600, 708, (4, 3)).T] if hidden else [])
    return [Case((a,)) for a in arrays] + [Case((t,), tol=NO_ATOL) for t in tails]


def softmax_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    layout = ([((6,), 0), ((2, 3, 4), 1), ((4, 5), -1), ((5, 2), 0), ((3, 3), 1)] if hidden
              else [((5,), -1), ((3, 4), -1), ((4, 3), 0)])
    arrays = [(rng.standard_normal(s) * 2, axis) for s, axis in layout] + [(EXTREME, -1)]
    arrays += [(EXTREME_SOFTMAX, -1), (EXTREME_SOFTMAX.T, 0)] if hidden else []
    return [Case((a,), {"axis": axis, "errstate": {"over": "raise", "invalid": "raise"}})
            for a, axis in arrays]


def linear_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    layout = ([((7, 4), 3, True), ((4,), 6, True), ((3, 2, 5), 4, True), ((5, 5), 5, True), ((8, 2), 1, False)]
              if hidden else [((5, 3), 4, True), ((3,), 2, True), ((2, 4, 3), 5, True), ((6, 3), 2, False)])
    cases = []
    for x_shape, out_features, bias in layout + ([((4, 6), 3, True)] if hidden else []):
        x = rng.standard_normal(x_shape)
        x = x if len(cases) < len(layout) else x.T  # the extra hidden case: x as a transposed view
        weight = rng.standard_normal((out_features, x.shape[-1]))
        cases.append(Case((x, weight, rng.standard_normal(out_features)) if bias else (x, weight)))
    return cases


def mlp_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    """Each layer is recorded: the arrays are x and every layer's output, computed with the references;
    the oracles get x and the weights (``inputs``)."""
    from autograd_mini import nn

    layout = ([((5, 4), [4, 4, 4], "relu"), ((7, 3), [3, 6, 5, 2], "sigmoid"), ((2, 5), [5, 3], "tanh"),
               ((10, 2), [2, 16, 16, 16, 3], "relu"), ((6,), [6, 6, 6], "tanh")]
              if hidden else
              [((4, 3), [3, 5, 2], "relu"), ((6, 2), [2, 8, 8, 3], "tanh"), ((3,), [3, 4, 1], "sigmoid")])
    cases = []
    for x_shape, sizes, act in layout:
        outputs, names, weights = [rng.standard_normal(x_shape)], [], []
        for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            layer = nn.Linear(n_in, n_out, rng=rng)  # torch.nn.Linear's initialisation
            weights += [layer.weight.data, layer.bias.data]
            outputs.append(ref("linear", outputs[-1], *weights[-2:]))
            names.append(repr(layer))
            if k < len(sizes) - 2:
                outputs.append(ref(f"{act}.forward", outputs[-1]))
                names.append(ACTIVATIONS[act])
        cases.append(Case(tuple(outputs), {"layers": names}, inputs=(outputs[0], *weights)))
    return cases


# ---- oracles: the same computation in torch.nn.functional and tf.nn, float64 -------------------------

def torch_ops():
    torch = fw.torch()
    F = torch.nn.functional
    return {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "linear": F.linear,
            "softmax": lambda x, axis: F.softmax(x, dim=axis)}, lambda a: torch.tensor(a, dtype=torch.float64)


def tf_ops():
    tf = fw.tf()

    def linear(x, weight, bias=None):
        out = tf.tensordot(x, weight, axes=[[len(x.shape) - 1], [1]])
        return out if bias is None else out + bias

    return {"relu": tf.nn.relu, "sigmoid": tf.nn.sigmoid, "tanh": tf.nn.tanh, "linear": linear,
            "softmax": lambda x, axis: tf.nn.softmax(x, axis=axis)}, lambda a: tf.constant(a, dtype=tf.float64)


def oracles(compute) -> list[Oracle]:
    """``compute(ops, tensor, case)`` in both frameworks."""
    return [Oracle(label, lambda case, ops=ops: compute(*ops(), case))
            for label, ops in (("PyTorch (torch.nn.functional)", torch_ops), ("TensorFlow (tf.nn)", tf_ops))]


def op_oracles(op: str) -> list[Oracle]:
    return oracles(lambda ops, T, c: ops[op](T(c.arrays[0]), **{k: v for k, v in c.params.items() if k == "axis"}))


def mlp(ops, T, case: Case):
    h, weights = T(case.inputs[0]), iter(case.inputs[1:])
    for name in case.params["layers"]:
        is_linear = name.startswith("Linear")
        h = ops["linear"](h, T(next(weights)), T(next(weights))) if is_linear else ops[ACTIVATION_OF[name]](h)
    return h


# ---- mistakes, computed in the grader's process --------------------------------------------------------

def arg(case: Case) -> np.ndarray:
    """The op's input a."""
    return case.arrays[0]


LEAKY = ("negative inputs must give exactly 0; you scaled them instead (a * slope for a < 0 is *leaky* ReLU). "
         "ReLU is max(a, 0).")
RELU_MISTAKES = [Mistake("leaky", LEAKY, lambda c, s=slope: np.where(arg(c) > 0, arg(c), s * arg(c)))
                 for slope in (0.01, 0.1)] + [
    Mistake("mask", "you returned the mask (a > 0), which is ReLU's *derivative*; ReLU itself returns the value a "
            "where a > 0 and 0 elsewhere: max(a, 0).", lambda c: (arg(c) > 0).astype(np.float64)),
    Mistake("reduction", "np.max(a, 0) is a *reduction*: the largest entry along axis 0, so the shape shrinks. The "
            "elementwise maximum of a and 0 is np.maximum(a, 0).", lambda c: np.max(arg(c), 0)),
    Mistake("abs", "negative inputs must give 0, not |a|: ReLU is max(a, 0).", lambda c: np.abs(arg(c))),
    Mistake("min", "you kept the negative part, min(a, 0); ReLU keeps the positive part, max(a, 0).",
            lambda c: np.minimum(arg(c), 0)),
]

SIGMOID_MISTAKES = [
    Mistake("sign", "you computed sigma(-a) = 1 / (1 + exp(a)): the exponent must be -a, so that large positive a "
            "gives values near 1.", lambda c: ref("sigmoid.forward", -arg(c))),
    Mistake("tanh", "that is tanh(a), which lies in (-1, 1); the sigmoid lies in (0, 1): 1 / (1 + exp(-a)).",
            lambda c: ref("tanh.forward", arg(c))),
] + [Mistake("clipped", f"you clipped the input to +-{bound}, which changes the result below -{bound}: "
             f"sigmoid(-650) is about 1e-283, a normal float64, not sigmoid(-{bound}). Clipping is not needed: "
             "e = np.exp(-np.abs(a)) never overflows; use 1/(1+e) where a >= 0 and e/(1+e) elsewhere.",
             lambda c, b=bound: ref("sigmoid.forward", np.clip(arg(c), -b, b))) for bound in (100, 500, 700)]

TANH_MISTAKES = [
    Mistake("half", "2*sigmoid(a) - 1 is tanh(a/2): the identity is tanh(a) = 2*sigmoid(2a) - 1.",
            lambda c: ref("tanh.forward", arg(c) / 2)),
    Mistake("sigmoid", "that is the sigmoid, which lies in (0, 1); tanh lies in (-1, 1).",
            lambda c: ref("sigmoid.forward", arg(c))),
]


def exp_shifted(case: Case) -> np.ndarray:
    return np.exp(arg(case) - arg(case).max(axis=case.params["axis"], keepdims=True))


SOFTMAX_MISTAKES = [
    Mistake("axis", "every case used the last axis, but some ask for another one: normalise along the `axis` "
            "argument (max and sum with axis=axis, keepdims=True).", lambda c: ref("softmax.forward", arg(c), axis=-1)),
    Mistake("whole_array", "you divided by the sum over the whole array; each slice along `axis` must sum to 1: "
            "e.sum(axis=axis, keepdims=True).", lambda c: exp_shifted(c) / exp_shifted(c).sum()),
    Mistake("no_exp", "you normalised the logits themselves; softmax exponentiates first: exp(a) / sum(exp(a)).",
            lambda c: arg(c) / arg(c).sum(axis=c.params["axis"], keepdims=True)),
]

LINEAR_MISTAKES = [
    Mistake("no_bias", "you left out the bias: a linear layer computes x @ weight.T + bias.",
            lambda c: ref("linear", c.arrays[0], c.arrays[1], None)),
    Mistake("no_transpose", "weight is stored (out_features, in_features), as in PyTorch: the layer is "
            "x @ weight.T + bias, not x @ weight + bias.",
            lambda c: ref("linear", c.arrays[0], c.arrays[1].T, *c.arrays[2:])),
]

SEQUENTIAL_MISTAKES = [
    Mistake("first_only", "only the first layer ran: a `return` inside the loop ends the function at once. Return "
            "after the loop.", lambda c: c.arrays[1]),
]


def op_exercise(op: str, points: int, cases, mistakes, also_strip: tuple = ()) -> Exercise:
    return Exercise(f"{op}.forward", function=f"{op}_forward", points=points, cases=cases, call=f"op_forward_{op}",
                    oracles=op_oracles(op), mistakes=mistakes, also_strip=also_strip)


SETUP = "import numpy as np\nimport autograd_mini as am\nfrom autograd_mini import nn\nfrom autograd_mini.function import Context\n"
LESSON = Lesson("01_forward_pass", setup=SETUP, exercises=[
    Exercise("linear", function="linear", points=2, cases=linear_cases, call="linear_explained",
             oracles=oracles(lambda ops, T, c: ops["linear"](*map(T, c.arrays))), mistakes=LINEAR_MISTAKES),
    op_exercise("relu", 1, unary_cases, RELU_MISTAKES),
    op_exercise("sigmoid", 2, unary_cases, SIGMOID_MISTAKES,
                also_strip=("binary_cross_entropy_with_logits.forward",)),
    op_exercise("tanh", 1, unary_cases, TANH_MISTAKES),
    op_exercise("softmax", 2, softmax_cases, SOFTMAX_MISTAKES, also_strip=("log_softmax.forward",)),
    Exercise("nn.sequential.forward", function="sequential_forward", points=2, cases=mlp_cases, call="sequential",
             oracles=oracles(mlp), mistakes=SEQUENTIAL_MISTAKES),
])
check, grade = LESSON.check, LESSON.grade

"""Lesson 09 (capstone): a new op end to end (GELU's forward and backward), a predict-first question on its slope, and
which statements of the source article's FAQ are wrong.

Oracles: ``F.gelu`` (approximate="none") and TensorFlow's ``0.5 x erfc(-x / sqrt 2)`` with a float64 constant
(``tf.nn.gelu`` makes its 1/sqrt(2) through float32 and is float32-accurate only); their autograd for the backward.
Every FAQ statement is settled by an experiment each framework runs here (``FAQ``): the answer key is what PyTorch
and TensorFlow show, not a list typed in. Wrong answers come from autograd_mini's references, in this process.
"""
from __future__ import annotations

import numpy as np

from autograd_mini.function import Context
from autograd_mini.registry import reference_of
from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.case import Case
from grader.harness.outcome import Failure
from grader.lesson import Exercise, Lesson
from grader.lessons.lesson_03 import _tf_vjp, _torch_vjp, op_case, reference_backward
from grader.predictions import number_prediction, oracle_number

ACCURACY_THRESHOLD = 0.95  # the capstone's digits classifier must beat this on the validation set (notebook)
AGREEMENT_STEPS, AGREEMENT_TOLERANCE = 20, 1e-8  # the three loss curves' first steps agree to this (notebook)

# ---- GELU, forward and backward ------------------------------------------------------------------------------------

def _gelu_inputs(rng, hidden):
    shapes = [(6,), (3, 4), (2, 3, 2)] + ([(1,), (5, 5), (4, 1, 3), (64,)] if hidden else [])
    arrays = []
    for shape in shapes:
        x = 2.5 * rng.standard_normal(shape)
        x.reshape(-1)[: min(3, x.size)] = [0.0, -9.0, 7.0][: min(3, x.size)]  # the kink's middle and both tails
        arrays.append(x)
    return arrays


def gelu_cases(rng, hidden):
    return [Case((x,)) for x in _gelu_inputs(rng, hidden)]


def gelu_backward_cases(rng, hidden):
    return [op_case("gelu", rng, (x,)) for x in _gelu_inputs(rng, hidden)]


def _tf_gelu(tf, x):
    return 0.5 * x * tf.math.erfc(-x * tf.constant(1 / np.sqrt(2.0), tf.float64))


GELU_ORACLES = [
    Oracle("PyTorch (F.gelu, approximate='none')",
           lambda c: fw.torch().nn.functional.gelu(fw.torch().tensor(c.arrays[0]))),
    Oracle("TensorFlow (0.5 x erfc(-x / sqrt 2))", lambda c: _tf_gelu(fw.tf(), fw.tf().constant(c.arrays[0]))),
]
GELU_BACKWARD_ORACLES = [
    Oracle("PyTorch (F.gelu, autograd.grad)", _torch_vjp(lambda t, x: t.nn.functional.gelu(x))),
    Oracle("TensorFlow (0.5 x erfc(-x / sqrt 2), GradientTape)", _tf_vjp(_tf_gelu)),
]


def _reference_gelu(a):
    ctx = Context((False,))
    out = reference_of("gelu.forward")(ctx, a)
    return out, ctx.saved_tensors[1]


def _tanh_approximation(a):
    return 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))


def _logistic(a):
    return 0.5 * (1 + np.tanh(a / 2))  # 1 / (1 + exp(-a)), without overflow


GELU_MISTAKES = [
    Mistake("tanh_approximation", "that is GELU's tanh approximation (PyTorch's approximate='tanh'), off by up to "
            "about 1e-3: the exact GELU is a * Phi(a) with Phi(a) = (1 + erf(a / sqrt(2))) / 2.",
            lambda c: _tanh_approximation(c.arrays[0])),
    Mistake("silu", "that is a * sigmoid(a), SiLU (Swish), not GELU: GELU weighs a by the normal CDF Phi(a), "
            "(1 + erf(a / sqrt(2))) / 2.", lambda c: c.arrays[0] * _logistic(c.arrays[0])),
    Mistake("sigmoid_approximation", "that is a * sigmoid(1.702 a), a sigmoid approximation of GELU: use the exact "
            "normal CDF, (1 + erf(a / sqrt(2))) / 2.", lambda c: c.arrays[0] * _logistic(1.702 * c.arrays[0])),
    Mistake("cdf_only", "you returned Phi(a), the weight, without multiplying by a: GELU(a) = a * Phi(a).",
            lambda c: _reference_gelu(c.arrays[0])[1]),
    Mistake("erf_without_sqrt2", "the normal CDF is (1 + erf(a / sqrt(2))) / 2: the argument of erf is divided by "
            "sqrt(2) (erf belongs to a normal of variance 1/2).",
            lambda c: _reference_gelu(np.sqrt(2) * c.arrays[0])[0] / np.sqrt(2)),
]


def _backward_parts(case):
    """(the reference's gradient, grad * Phi(a), the upstream gradient) for a backward case."""
    saved_a, cdf, grad = case.arrays
    return reference_backward("gelu", case)[0], grad * cdf, grad


GELU_BACKWARD_MISTAKES = [
    Mistake("cdf_only", "you kept only Phi(a), as if a * Phi(a) were a constant times a: by the product rule the "
            "derivative is Phi(a) + a * phi(a), with phi(a) = exp(-a^2 / 2) / sqrt(2 pi) the normal density.",
            lambda c: _backward_parts(c)[1]),
    Mistake("density_only", "you kept only a * phi(a): the product rule gives Phi(a) + a * phi(a), the CDF term "
            "too.", lambda c: _backward_parts(c)[0] - _backward_parts(c)[1]),
    Mistake("density_unnormalised", "the normal density is exp(-a^2 / 2) / sqrt(2 pi): the 1 / sqrt(2 pi) is "
            "missing.",
            lambda c: _backward_parts(c)[1] + (_backward_parts(c)[0] - _backward_parts(c)[1]) * np.sqrt(2 * np.pi)),
    Mistake("upstream_ignored", "multiply the local derivative by grad, the gradient arriving from the output "
            "(the chain rule): return grad * (Phi(a) + a * phi(a)).",
            lambda c: reference_of("gelu.backward")(_saved(c), np.ones_like(c.arrays[-1]))[0]),
]


def _saved(case):
    ctx = Context((True,))
    ctx.save_for_backward(*case.arrays[:-1])
    return ctx


# ---- predict first: GELU's slope at 0 -------------------------------------------------------------------------------

def _slope_at_zero():
    from autograd_mini import Tensor
    from autograd_mini.functional import gelu

    x = Tensor(np.zeros(1), requires_grad=True)
    gelu(x).sum().backward()
    return float(x.grad[0])


def _torch_slope(torch):
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.gelu(x).sum().backward()
    return x.grad.item()


def _tf_slope(tf):
    x = tf.zeros(1, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(_tf_gelu(tf, x))
    return float(tape.gradient(y, x)[0])


SLOPE_ADVICE = {0.0: "that is ReLU's slope left of 0: GELU is smooth there, and at 0 it lets half through",
                1.0: "that is ReLU's slope right of 0: GELU is smooth, and at 0 it is neither off nor on",
                0.25: "that is the sigmoid's slope at 0, not GELU's",
                float(1 / np.sqrt(2 * np.pi)): "that is phi(0), the density alone: the product rule has a Phi(0) "
                                               "term too"}


# ---- which statements of the FAQ are wrong ---------------------------------------------------------------------------
# Each statement, and the experiment that settles it; the experiments return True when the statement holds.

FAQ = (
    "Backpropagation is the step that updates the network's weights.",
    "Without backpropagation, the gradient of the loss could not be computed at all.",
    "Backpropagation also gives the gradient with respect to the inputs, so it can show which pixels a "
    "prediction depends on.",
    "Training with 'SGD' on the whole dataset in every step is stochastic: two runs from the same start end at "
    "different weights.",
    "Gradient descent, momentum and Adam all apply the same update to the weights, w <- w - lr * gradient.",
    "In a deep stack of sigmoid layers, the first layer's weights get a far smaller gradient than the last layer's.",
    "A graph that is captured once and then replayed (TensorFlow's tf.function, PyTorch's torch.fx) cannot take a "
    "batch of a new size.",
)


def _faq_data():
    rng = np.random.default_rng(9)  # fixed data: the experiments' answers do not depend on it
    return rng.standard_normal((6, 4)), rng.standard_normal((4, 3)) / 2, rng.standard_normal((6, 3))


def _torch_facts(torch):
    x, w0, y = (torch.tensor(a) for a in _faq_data())

    def loss_of(w, inputs=x):
        return ((torch.tanh(inputs @ w) - y) ** 2).mean()

    def gradient(w):
        w = w.clone().requires_grad_(True)
        loss_of(w).backward()
        return w.grad

    w = w0.clone().requires_grad_(True)
    loss_of(w).backward()
    updates = not torch.equal(w.detach(), w0)
    numerical = torch.zeros_like(w0)
    for index in np.ndindex(*w0.shape):
        step = torch.zeros_like(w0)
        step[index] = 1e-6
        numerical[index] = (loss_of(w0 + step) - loss_of(w0 - step)) / 2e-6
    no_other_way = not torch.allclose(numerical, w.grad, rtol=1e-6, atol=1e-9)
    inputs = x.clone().requires_grad_(True)
    loss_of(w0, inputs).backward()
    input_gradients = inputs.grad is not None and bool(inputs.grad.abs().sum() > 0)

    def full_batch_run():
        v = w0.clone().requires_grad_(True)
        optimizer = torch.optim.SGD([v], lr=0.1)
        for _ in range(5):
            optimizer.zero_grad()
            loss_of(v).backward()
            optimizer.step()
        return v.detach()
    stochastic = not torch.equal(full_batch_run(), full_batch_run())

    def two_steps(make):
        v = w0.clone().requires_grad_(True)
        optimizer = make([v])
        for _ in range(2):
            v.grad = gradient(v.detach())
            optimizer.step()
        return v.detach()
    runs = [two_steps(lambda p: torch.optim.SGD(p, lr=0.1)),
            two_steps(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
            two_steps(lambda p: torch.optim.Adam(p, lr=0.1))]
    same_update = torch.allclose(runs[0], runs[1]) and torch.allclose(runs[0], runs[2])
    vanishing = _torch_depth_ratio(torch) < 1e-2

    class Layer(torch.nn.Module):
        def forward(self, inputs):
            return torch.tanh(inputs @ w0)
    graph = torch.fx.symbolic_trace(Layer())
    bigger = torch.tensor(np.random.default_rng(10).standard_normal((11, 4)))
    fixed_shape = not torch.allclose(graph(bigger), torch.tanh(bigger @ w0))
    return [updates, no_other_way, input_gradients, stochastic, same_update, vanishing, fixed_shape]


def _torch_depth_ratio(torch, depth=10, width=8):
    generator = torch.Generator().manual_seed(0)
    weights = [(torch.randn(width, width, generator=generator, dtype=torch.float64) / np.sqrt(width))
               .requires_grad_(True) for _ in range(depth)]
    h = torch.randn(16, width, generator=generator, dtype=torch.float64)
    for w in weights:
        h = torch.sigmoid(h @ w)
    h.sum().backward()
    return (weights[0].grad.norm() / weights[-1].grad.norm()).item()


def _tf_facts(tf):
    keras = fw.keras()
    x, w0, y = (tf.constant(a) for a in _faq_data())

    def loss_of(w, inputs=x):
        return tf.reduce_mean((tf.tanh(inputs @ w) - y) ** 2)

    def gradient(v):
        with tf.GradientTape() as tape:
            loss = loss_of(v)
        return tape.gradient(loss, v)

    w = tf.Variable(w0)
    grad = gradient(w)
    updates = not np.array_equal(w.numpy(), w0.numpy())
    numerical = np.zeros(w0.shape)
    for index in np.ndindex(*w0.shape):
        step = np.zeros(w0.shape)
        step[index] = 1e-6
        numerical[index] = (loss_of(w0 + step) - loss_of(w0 - step)).numpy() / 2e-6
    no_other_way = not np.allclose(numerical, grad.numpy(), rtol=1e-6, atol=1e-9)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = loss_of(w0, x)
    input_gradient = tape.gradient(loss, x)
    input_gradients = input_gradient is not None and float(tf.reduce_sum(tf.abs(input_gradient))) > 0

    def steps(make, count):
        v = tf.Variable(w0)
        optimizer = make()
        for _ in range(count):
            optimizer.apply_gradients([(gradient(v), v)])
        return v.numpy()
    f64 = np.float64
    stochastic = not np.array_equal(steps(lambda: keras.optimizers.SGD(f64(0.1)), 5),
                                    steps(lambda: keras.optimizers.SGD(f64(0.1)), 5))
    runs = [steps(lambda: keras.optimizers.SGD(f64(0.1)), 2),
            steps(lambda: keras.optimizers.SGD(f64(0.1), momentum=f64(0.9)), 2),
            steps(lambda: keras.optimizers.Adam(f64(0.1)), 2)]
    same_update = np.allclose(runs[0], runs[1]) and np.allclose(runs[0], runs[2])
    vanishing = _tf_depth_ratio(tf) < 1e-2
    layer = tf.function(lambda inputs: tf.tanh(inputs @ w0))
    layer(x)
    bigger = tf.constant(np.random.default_rng(10).standard_normal((11, 4)))
    fixed_shape = not np.allclose(layer(bigger).numpy(), tf.tanh(bigger @ w0).numpy())
    return [updates, no_other_way, input_gradients, stochastic, same_update, vanishing, fixed_shape]


def _tf_depth_ratio(tf, depth=10, width=8):
    rng = np.random.default_rng(0)
    weights = [tf.Variable(rng.standard_normal((width, width)) / np.sqrt(width)) for _ in range(depth)]
    h = tf.constant(rng.standard_normal((16, width)))
    with tf.GradientTape() as tape:
        for w in weights:
            h = tf.sigmoid(h @ w)
        total = tf.reduce_sum(h)
    grads = tape.gradient(total, weights)
    return float(tf.norm(grads[0]) / tf.norm(grads[-1]))


def _wrong_ones(facts: list) -> np.ndarray:
    return np.array([0.0 if holds else 1.0 for holds in facts])


def faq_cases(rng, hidden):
    return [Case((), {"statements": len(FAQ)})]


FAQ_ORACLES = [
    Oracle("PyTorch (an experiment per statement)", lambda c: _wrong_ones(_torch_facts(fw.torch()))),
    Oracle("TensorFlow (an experiment per statement)", lambda c: _wrong_ones(_tf_facts(fw.tf()))),
]


def _key(case):
    return _wrong_ones(_torch_facts(fw.torch()))


def _flipped(index):
    def wrong(case):
        answer = _key(case)
        answer[index] = 1.0 - answer[index]
        return answer
    return wrong


FAQ_MISTAKES = [
    Mistake("backprop_updates", "statement 0: backpropagation only *computes* the gradients (loss.backward() fills "
            ".grad, tape.gradient returns them); the optimizer's step changes the weights. The experiment ran a "
            "backward pass and found every weight as it was.", _flipped(0)),
    Mistake("no_other_way", "statement 1: finite differences give the same gradient, one pair of forward passes per "
            "weight: backpropagation makes gradients *cheap* (one backward pass for all of them), not possible.",
            _flipped(1)),
    Mistake("full_batch_stochastic", "statement 3: with the whole dataset in every step nothing is random: 'SGD' "
            "then is plain gradient descent, and two runs agree to the last bit.", _flipped(3)),
    Mistake("same_update", "statement 4: only plain gradient descent steps by lr * gradient; momentum adds up past "
            "gradients and Adam divides by their running scale (lesson 05), so after two steps the three differ.",
            _flipped(4)),
    Mistake("replay_fixed_shape", "statement 6: a replayed graph takes a new batch size (tf.function retraces or "
            "uses a shape-generic graph, a torch.fx graph is shape-generic); lesson 08's replay does the same.",
            _flipped(6)),
    Mistake("true_ones", "you returned the statements that hold: return the indices of the *wrong* ones.",
            lambda c: 1.0 - _key(c)),
]


def faq_transform(case, outputs):
    """An answer that is neither right nor a known misconception is told how many statements it misjudges (the generic
    diagnosis would show the answer key)."""
    answer = outputs[0]
    known = [_key(case)] + [m.wrong(case) for m in FAQ_MISTAKES]
    if any(answer.shape == k.shape and np.array_equal(answer, k) for k in known):
        return outputs
    misjudged = int(np.sum(answer != known[0])) if answer.shape == known[0].shape else len(FAQ)
    return Failure("hint", code="statements_misjudged", values={"count": misjudged, "total": len(FAQ)})


# ---- the lesson ----------------------------------------------------------------------------------------------------

SETUP = """
import numpy as np
import autograd_mini
from autograd_mini import Tensor
from autograd_mini.function import Context
"""

LESSON = Lesson("09_capstone", setup=SETUP, exercises=[
    Exercise("gelu.forward", "gelu_forward", 2, gelu_cases, "op_forward", GELU_ORACLES, GELU_MISTAKES),
    Exercise("gelu.backward", "gelu_backward", 3, gelu_backward_cases, "op_backward", GELU_BACKWARD_ORACLES,
             GELU_BACKWARD_MISTAKES, what="gradient"),
    number_prediction(
        "predict_gelu_slope", _slope_at_zero,
        oracle_number(_torch_slope, _tf_slope, "PyTorch (F.gelu, autograd at 0)",
                      "TensorFlow (GELU through erfc, GradientTape at 0)"),
        SLOPE_ADVICE, "write GELU as a * Phi(a) and use the product rule; Phi(0) = 1/2"),
    Exercise("faq_wrong_statements", "faq_wrong_statements", 2, faq_cases, "statement_indices", FAQ_ORACLES,
             FAQ_MISTAKES, transform=faq_transform, rtol=0.0, atol=0.0, what="answer"),
])
check, grade = LESSON.check, LESSON.grade

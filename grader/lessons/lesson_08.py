"""Lesson 08 (efficiency): the fused linear op's forward and backward, a checkpointed segment's backward, and two
predict-first questions (derivative passes for a Jacobian; layer forwards under checkpointing).

Oracles: ``F.linear`` and ``x @ W^T + b`` in TensorFlow; ``torch.utils.checkpoint`` and ``tf.recompute_grad`` on the
same segment; each prediction is counted by running PyTorch and TensorFlow. Wrong answers come from autograd_mini's
references, in this process.
"""
from __future__ import annotations

import numpy as np

from autograd_mini.function import Context
from autograd_mini.registry import reference_of
from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.calls.lesson_08 import checkpoint_segment
from grader.harness.case import Case
from grader.lesson import Exercise, Lesson
from grader.lessons.lesson_03 import _tf_vjp, _torch_vjp, op_case, reference_backward
from grader.predictions import number_prediction, oracle_number

# ---- the fused linear op ------------------------------------------------------------------------------------------

def _linear_arrays(rng, hidden):
    shapes = [((4, 3), 2), ((5, 4), 4), ((2, 3, 5), 3)]  # (x shape, out features); one square weight
    shapes += [((1, 6), 3), ((7, 2), 5), ((3,), 2), ((2, 2, 4), 4)] if hidden else []
    return [(rng.standard_normal(s), rng.standard_normal((n, s[-1])), rng.standard_normal(n)) for s, n in shapes]


def fused_linear_cases(rng, hidden):
    return [Case(arrays) for arrays in _linear_arrays(rng, hidden)]


def fused_linear_backward_cases(rng, hidden):
    return [op_case("fused_linear", rng, arrays) for arrays in _linear_arrays(rng, hidden)]


def _tf_linear(tf, x, w, b):
    return tf.tensordot(x, tf.transpose(w), axes=1) + b


FUSED_LINEAR_ORACLES = [
    Oracle("PyTorch (F.linear(x, weight, bias))",
           lambda c: fw.torch().nn.functional.linear(*(fw.torch().tensor(a) for a in c.arrays))),
    Oracle("TensorFlow (x @ transpose(weight) + bias)", lambda c: _tf_linear(fw.tf(), *(fw.tf().constant(a) for a in c.arrays))),
]
FUSED_LINEAR_BACKWARD_ORACLES = [
    Oracle("PyTorch (F.linear, autograd.grad)", _torch_vjp(lambda t, x, w, b: t.nn.functional.linear(x, w, b))),
    Oracle("TensorFlow (x @ transpose(weight) + bias, GradientTape)", _tf_vjp(_tf_linear)),
]


def _forward(case):
    return reference_of("fused_linear.forward")(Context((False,) * 3), *case.copy_arrays())


FUSED_LINEAR_MISTAKES = [
    Mistake("bias_forgotten", "the bias is missing: the layer is x @ weight.T + bias.",
            lambda c: _forward(c) - c.arrays[2]),
]


def _rows(case):
    return int(np.prod(case.arrays[-1].shape[:-1]))


def _changed_backward(change):
    def wrong(case):
        grad_x, grad_w, grad_b = reference_backward("fused_linear", case)
        return change(case, grad_x, grad_w, grad_b)
    return wrong


FUSED_LINEAR_BACKWARD_MISTAKES = [
    Mistake("bias_averaged", "the bias's gradient is the *sum* of the output gradient over the batch rows (each row "
            "added the bias once), not their mean.", _changed_backward(lambda c, gx, gw, gb: (gx, gw, gb / _rows(c)))),
    Mistake("weight_averaged", "the weight's gradient is grad.T @ x summed over the batch rows, not divided by their "
            "number (any averaging is the loss's job).", _changed_backward(lambda c, gx, gw, gb: (gx, gw / _rows(c), gb))),
]


# ---- a checkpointed segment's backward ----------------------------------------------------------------------------

SEGMENTS = [("tanh",), ("tanh", "none"), ("relu", "tanh", "none")]


def checkpoint_cases(rng, hidden):
    layouts = [(SEGMENTS[0], 4, 3), (SEGMENTS[1], 3, 4)] + ([(SEGMENTS[2], 5, 3), (SEGMENTS[1], 1, 5)] if hidden else [])
    cases = []
    for activations, rows, width in layouts:
        weights = []
        for _ in activations:
            weights += [rng.standard_normal((width, width)) / np.sqrt(width), rng.standard_normal(width)]
        x, up = rng.standard_normal((rows, width)), rng.standard_normal((rows, width))
        earlier = np.array(float(rng.integers(1, 5)))
        cases.append(Case((x, *weights, earlier, up), {"activations": list(activations)}))
    return cases


def _torch_checkpoint(case):
    torch = fw.torch()
    x, *weights, _, up = case.arrays
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, *weights)]

    def segment(h):
        for k, activation in enumerate(case.params["activations"]):
            h = torch.nn.functional.linear(h, leaves[1 + 2 * k], leaves[2 + 2 * k])
            h = h if activation == "none" else getattr(torch, activation)(h)
        return h

    out = torch.utils.checkpoint.checkpoint(segment, leaves[0], use_reentrant=False)
    return torch.autograd.grad(out, leaves, grad_outputs=torch.tensor(up))


def _tf_checkpoint(case):
    tf = fw.tf()
    x, *weights, _, up = case.arrays
    variables = [tf.Variable(a) for a in weights]

    @tf.recompute_grad
    def segment(h):
        for k, activation in enumerate(case.params["activations"]):
            h = _tf_linear(tf, h, variables[2 * k], variables[2 * k + 1])
            h = h if activation == "none" else getattr(tf.nn, activation)(h)
        return h

    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = segment(inputs)
    return tuple(tape.gradient(out, [inputs, *variables], output_gradients=tf.constant(up)))


CHECKPOINT_ORACLES = [Oracle("PyTorch (torch.utils.checkpoint, use_reentrant=False)", _torch_checkpoint),
                      Oracle("TensorFlow (tf.recompute_grad, GradientTape)", _tf_checkpoint)]


def _reference_checkpoint(case, grad=None, clear=True):
    """The reference backward on the case's segment; ``clear=False`` leaves the earlier gradients in .grad while it
    runs, ``grad`` replaces the output gradient."""
    x, *weights, earlier, up = case.copy_arrays()
    segment, params = checkpoint_segment(weights, case.params["activations"])
    for p in params:
        p.grad = None if clear else earlier.item() * np.ones_like(p.data)
    ctx = Context((True,) * (1 + len(params)))
    ctx.save_for_backward(x)
    ctx.function, ctx.params = segment, params
    found = reference_of("checkpoint.backward")(ctx, up if grad is None else grad)
    if clear:
        return found
    return found[:1] + tuple(g + earlier.item() for g in found[1:])


CHECKPOINT_MISTAKES = [
    Mistake("earlier_gradients_kept", "your parameter gradients include what .grad held before: set each parameter's "
            ".grad to None before the inner backward(), take the new gradients, then put the old ones back.",
            lambda c: _reference_checkpoint(c, clear=False)),
    Mistake("upstream_ignored", "you called backward() on the recomputed output without `grad`, the gradient flowing "
            "into the segment: out.backward(grad).", lambda c: _reference_checkpoint(c, grad=np.ones_like(c.arrays[-1]))),
]


# ---- predict first ------------------------------------------------------------------------------------------------

JACOBIAN_INPUTS, JACOBIAN_OUTPUTS = 200, 3  # stated in the notebook
LAYERS, SEGMENT_LENGTH = 12, 3


def _jacobian_passes():
    return float(min(JACOBIAN_INPUTS, JACOBIAN_OUTPUTS))


def _jacobian_matrix(rng_seed=0):
    return np.random.default_rng(rng_seed).standard_normal((JACOBIAN_OUTPUTS, JACOBIAN_INPUTS)) / 10


def _torch_passes(torch):
    a = torch.tensor(_jacobian_matrix())
    jacobian = torch.func.jacrev(lambda x: torch.tanh(a @ x))(torch.zeros(JACOBIAN_INPUTS, dtype=torch.float64))
    return min(jacobian.shape)  # jacrev: one VJP per output; jacfwd would need one JVP per input


def _tf_passes(tf):
    a, x = tf.constant(_jacobian_matrix()), tf.zeros(JACOBIAN_INPUTS, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.tanh(tf.linalg.matvec(a, x))
    return min(tape.jacobian(y, x).shape)


def _layer_forwards():
    return float(2 * LAYERS)


def _torch_forwards(torch):
    calls = []

    def layer(h):
        calls.append(1)
        return torch.tanh(h * 0.9)

    def segment(h):
        for _ in range(SEGMENT_LENGTH):
            h = layer(h)
        return h

    h = x = torch.ones(3, dtype=torch.float64, requires_grad=True)
    for _ in range(LAYERS // SEGMENT_LENGTH):
        h = torch.utils.checkpoint.checkpoint(segment, h, use_reentrant=True)
    h.sum().backward()
    return len(calls) if x.grad is not None else -1


def _tf_forwards(tf):
    calls = []

    def layer(h):
        calls.append(1)
        return tf.tanh(h * 0.9)

    @tf.recompute_grad
    def segment(h):
        for _ in range(SEGMENT_LENGTH):
            h = layer(h)
        return h

    x = tf.ones(3, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = x
        for _ in range(LAYERS // SEGMENT_LENGTH):
            h = segment(h)
        total = tf.reduce_sum(h)
    tape.gradient(total, x)
    return len(calls)


# ---- the lesson ---------------------------------------------------------------------------------------------------

SETUP = """
import numpy as np
import autograd_mini
from autograd_mini import Tensor, enable_grad
"""
SEGMENT_NEEDS = ("linear", "fused_linear.forward", "fused_linear.backward", "tanh.forward", "tanh.backward",
                 "relu.forward", "relu.backward", "engine.backward", "engine.topological_order")

LESSON = Lesson("08_efficiency", setup=SETUP, exercises=[
    number_prediction(
        "predict_jacobian_passes", _jacobian_passes,
        oracle_number(_torch_passes, _tf_passes, "PyTorch (torch.func.jacrev: the Jacobian's rows)",
                      "TensorFlow (GradientTape.jacobian)"),
        {float(JACOBIAN_INPUTS): "that many passes would compute the Jacobian one column at a time: is that the "
                                 "cheaper direction here?",
         float(JACOBIAN_INPUTS * JACOBIAN_OUTPUTS): "one pass gives a whole row or a whole column, not one entry"},
        "one pass of forward mode gives one column of the Jacobian, one pass of reverse mode one row"),
    Exercise("fused_linear.forward", "fused_linear_forward", 1, fused_linear_cases, "op_forward", FUSED_LINEAR_ORACLES,
             FUSED_LINEAR_MISTAKES),
    Exercise("fused_linear.backward", "fused_linear_backward", 2, fused_linear_backward_cases, "op_backward",
             FUSED_LINEAR_BACKWARD_ORACLES, FUSED_LINEAR_BACKWARD_MISTAKES, what="gradient"),
    Exercise("checkpoint.backward", "checkpoint_backward", 3, checkpoint_cases, "checkpoint_backward",
             CHECKPOINT_ORACLES, CHECKPOINT_MISTAKES, needs=SEGMENT_NEEDS, what="gradient"),
    number_prediction(
        "predict_checkpoint_forwards", _layer_forwards,
        oracle_number(_torch_forwards, _tf_forwards, "PyTorch (torch.utils.checkpoint, layer calls counted)",
                      "TensorFlow (tf.recompute_grad, layer calls counted)"),
        {float(LAYERS): "that is the count without checkpointing: what runs again during backward?",
         float(LAYERS + SEGMENT_LENGTH): "every checkpointed segment runs again, not only one"},
        "count the forward pass, then what backward runs again, segment by segment"),
])
check, grade = LESSON.check, LESSON.grade

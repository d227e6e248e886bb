"""Lesson 04 (losses): MSE / L1 / Huber built from Tensor ops, logsumexp, log_softmax, a fused cross-entropy,
binary cross-entropy from logits and from probabilities, and three predict-first questions.

Conventions are configured explicitly on both oracles and named in their labels: PyTorch's losses take
``(input, target)``, Keras' ``(y_true, y_pred)``; Keras losses average over the last axis first, so they get
inputs of shape (..., 1) and are computed in float64 (their default dtype is float32); BCE from probabilities
follows PyTorch (each log clamped at -100), which Keras (probabilities clipped to [1e-7, 1 - 1e-7]) does not,
so its TensorFlow oracle writes PyTorch's rule in tf ops. Wrong answers are computed here with autograd_mini's
references; a predict-first question's wrong answer is never compared in words that could give the answer away.
"""
from __future__ import annotations

import numpy as np

from autograd_mini.function import Context
from autograd_mini.registry import reference_of
from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.case import Case
from grader.lesson import Exercise, Lesson
from grader.predictions import number_prediction, oracle_number
from grader.lessons.lesson_03 import _tf_vjp, _torch_vjp, op_case, reference_backward

REDUCTIONS = ("mean", "sum", "none")
KERAS_REDUCTION = {"mean": "sum_over_batch_size", "sum": "sum", "none": None}


def forward_of(op: str, *arrays, **params):
    """autograd_mini's reference forward of ``op`` on numpy arrays, with warnings silenced."""
    with np.errstate(all="ignore"):
        return reference_of(op + ".forward")(Context((False,) * len(arrays)), *arrays, **params)


# ---- regression losses built from Tensor ops: (input, target, output gradient) -------------------------------

def _upstream(rng, shape, reduction):
    return rng.standard_normal(shape if reduction == "none" else ())


def regression_cases(kinks: str = ""):
    """Random shapes and every reduction; ``kinks`` adds inputs on a grid of halves that hit the loss's kinks
    exactly: input == target (L1, Huber) and |input - target| == delta (Huber)."""
    def cases(rng, hidden):
        layout = [((6,), "mean"), ((3, 4), "sum"), ((2, 3, 2), "none")]
        layout += [((5, 1), "none"), ((4, 3), "mean"), ((7,), "sum"), ((1,), "mean")] if hidden else []
        out = []
        for shape, reduction in layout:
            x, t = rng.standard_normal(shape) * 2, rng.standard_normal(shape) * 2
            params = {"reduction": reduction, **({"delta": float(rng.choice([0.5, 1.0, 1.5]))} if kinks == "huber" else {})}
            out.append(Case((x, t, _upstream(rng, shape, reduction)), params))
        if kinks:
            for reduction in (("none", "mean", "sum") if hidden else ("none",)):
                x = rng.integers(-6, 7, size=(3, 4)) / 2.0
                delta = 1.0 if kinks == "huber" else None
                offsets = rng.choice([0.0, 0.0, -1.0, 1.0, 0.5, -2.5], size=x.shape)  # exact ties and |e| == delta
                params = {"reduction": reduction, **({"delta": delta} if delta else {})}
                out.append(Case((x, x + offsets, _upstream(rng, x.shape, reduction)), params))
        return out
    return cases


def _torch_loss(name):
    def compute(case):
        torch = fw.torch()
        x, t, up = case.arrays
        xt = torch.tensor(x, requires_grad=True)
        extra = {"delta": case.params["delta"]} if "delta" in case.params else {}
        out = getattr(torch.nn.functional, name)(xt, torch.tensor(t), reduction=case.params["reduction"], **extra)
        (grad,) = torch.autograd.grad(out, xt, grad_outputs=torch.tensor(up))
        return out, grad
    return compute


def _keras_loss(name):
    def compute(case):
        tf, keras = fw.tf(), fw.keras()
        x, t, up = case.arrays
        extra = {"delta": case.params["delta"]} if "delta" in case.params else {}
        loss = getattr(keras.losses, name)(reduction=KERAS_REDUCTION[case.params["reduction"]], dtype="float64", **extra)
        xf = tf.constant(x[..., None])
        with tf.GradientTape() as tape:
            tape.watch(xf)
            out = loss(tf.constant(t[..., None]), xf)  # Keras: (y_true, y_pred)
        grad = tape.gradient(out, xf, output_gradients=tf.constant(up))
        return tf.reshape(out, up.shape), tf.reshape(grad, x.shape)
    return compute


def loss_oracles(torch_name, keras_name):
    return [Oracle(f"PyTorch (F.{torch_name}(input, target, reduction), autograd)", _torch_loss(torch_name)),
            Oracle(f"TensorFlow (keras.losses.{keras_name}(y_true, y_pred) on (..., 1), float64, GradientTape)",
                   _keras_loss(keras_name))]


def _engine_loss(name, case, transform=None, reduction=None, upstream=None):
    """(loss, d loss / d input) of the reference ``name`` through the reference engine, with an optional wrong
    ``transform`` of the input - target difference standing in (for mistakes)."""
    from autograd_mini import Tensor

    x, t, up = case.copy_arrays()
    reduction = reduction or case.params["reduction"]
    up = up if upstream is None else upstream
    up = up if reduction == "none" or np.ndim(up) == 0 else up.sum()
    if reduction == "none" and np.ndim(up) == 0:
        up = np.full(x.shape, float(up))
    xt = Tensor(x, requires_grad=True)
    extra = (case.params["delta"],) if "delta" in case.params else ()
    with np.errstate(all="ignore"):
        out = (transform or reference_of(name))(xt, Tensor(t), reduction, *extra)
        out.backward(up)
    return out.data, xt.grad


def _count(case):
    return case.arrays[0].size


def _as_mean(case):
    """The reference loss and gradient, as if every reduction averaged (divided by N)."""
    value, grad = _engine_loss("loss.mse_loss", case)
    n = 1 if case.params["reduction"] == "mean" else _count(case)
    return (value / n, grad / n)


MSE_MISTAKES = [
    Mistake("numpy_mean_of_sum", "for reduction='sum' you averaged: 'sum' adds the squared errors, only 'mean' "
            "divides by their number.", lambda c: _engine_loss("loss.mse_loss", c, reduction="mean")
            if c.params["reduction"] == "sum" else _engine_loss("loss.mse_loss", c)),
    Mistake("halved", "your loss is half of PyTorch's: some texts define MSE as ½(input - target)² so that the "
            "gradient has no 2; PyTorch's F.mse_loss and Keras' MeanSquaredError do not halve.",
            lambda c: tuple(v / 2 for v in _engine_loss("loss.mse_loss", c))),
]

L1_MISTAKES = [
    Mistake("squared", "that is the squared error (MSE): L1 is the absolute error |input - target|, whose gradient "
            "is sign(input - target) whatever the error's size.",
            lambda c: _engine_loss("loss.l1_loss", c, lambda x, t, r: reference_of("loss.mse_loss")(x, t, r))),
]


def _huber_mse_inside_and_outside(case):
    return _engine_loss("loss.mse_loss", case, lambda x, t, r, d: reference_of("loss.mse_loss")(x, t, r) * 0.5)


HUBER_MISTAKES = [
    Mistake("linear_part_not_shifted", "outside |e| < delta the loss must continue the parabola without a jump: "
            "delta * (|e| - delta/2), not delta * |e|.", lambda c: _engine_loss(
                "loss.huber_loss", c, lambda x, t, r, d: reference_of("loss.huber_loss")(x, t, r, d)
                + _huber_shift(x, t, r, d))),
    Mistake("half_square_everywhere", "your loss is ½ e² everywhere: Huber switches to the linear delta * (|e| - "
            "delta/2) where |e| >= delta, which is what makes it robust to outliers.", _huber_mse_inside_and_outside),
]


def _huber_shift(x, t, reduction, delta):
    """+ delta²/2 on the elements outside |e| < delta: the constant a forgotten shift leaves, reduced."""
    from autograd_mini import Tensor
    from autograd_mini.losses import _reduce

    outside = (np.abs(x.data - t.data) >= delta).astype(np.float64) * (0.5 * delta * delta)
    return _reduce(Tensor(outside), reduction)


# ---- mse_backward: the gradient by hand, numpy in, numpy out ----------------------------------------------------

def mse_backward_cases(rng, hidden):
    return [Case((x, t, up), {"reduction": c.params["reduction"]}) for c in regression_cases()(rng, hidden)
            for x, t, up in [c.arrays]]


def _mse_grad_oracles():
    torch_loss, keras_loss = _torch_loss("mse_loss"), _keras_loss("MeanSquaredError")
    return [Oracle("PyTorch (F.mse_loss(input, target, reduction), autograd)", lambda c: torch_loss(c)[1]),
            Oracle("TensorFlow (keras.losses.MeanSquaredError(y_true, y_pred) on (..., 1), float64, GradientTape)",
                   lambda c: keras_loss(c)[1])]


def _grad(case, **changes):
    return _engine_loss("loss.mse_loss", case, **changes)[1]


MSE_BACKWARD_MISTAKES = [
    Mistake("missing_two", "your gradient is half of PyTorch's: d/dx (x - t)² = 2 (x - t). (Texts that define MSE "
            "with a ½ in front lose the 2; PyTorch's and Keras' MSE have no ½.)", lambda c: _grad(c) / 2),
    Mistake("always_divided", "you divided by N for every reduction: only reduction='mean' divides by the number "
            "of elements; 'sum' and 'none' do not.",
            lambda c: _grad(c) / (1 if c.params["reduction"] == "mean" else _count(c))),
    Mistake("never_divided", "for reduction='mean' the loss is the sum divided by N (the number of elements), so "
            "each gradient is divided by N too.",
            lambda c: _grad(c) * (_count(c) if c.params["reduction"] == "mean" else 1)),
    Mistake("sign", "your gradient has the wrong sign: the loss grows as input moves away from target, so "
            "d loss / d input = +2 (input - target) (times grad, / N for the mean).", lambda c: -_grad(c)),
    Mistake("upstream_ignored", "you ignored `grad`, the gradient flowing into the loss (it is not always 1: a "
            "loss can be scaled or summed with others). Multiply by it — elementwise for reduction='none'.",
            lambda c: _grad(c, upstream=np.ones_like(c.arrays[2]))),
]


# ---- predict first: a number, checked like code, never revealed ------------------------------------------------

def _broadcast_terms():
    return float(np.broadcast(np.zeros((4, 1)), np.zeros(4)).size)


def _ce_gradient():
    from autograd_mini import Tensor, losses

    logits = Tensor(np.zeros((2, 4)), requires_grad=True)
    losses.cross_entropy(logits, np.array([2, 0])).backward()
    return float(logits.grad[0, 2])


def _bce_at_zero():
    from autograd_mini import Tensor, losses

    return float(losses.binary_cross_entropy(Tensor(np.array([0.0])), np.array([1.0])).item())


def _torch_terms(torch):
    return torch.nn.functional.mse_loss(torch.zeros(4, 1, dtype=torch.float64), torch.zeros(4, dtype=torch.float64),
                                        reduction="none").numel()


def _torch_ce_gradient(torch):
    logits = torch.zeros(2, 4, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.cross_entropy(logits, torch.tensor([2, 0])).backward()
    return logits.grad[0, 2].item()


def _tf_ce_gradient(tf):
    logits = tf.zeros((2, 4), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[2, 0], logits=logits))
    return tape.gradient(loss, logits)[0, 2].numpy()


def _torch_bce(torch):
    return torch.nn.functional.binary_cross_entropy(torch.tensor([0.0], dtype=torch.float64),
                                                    torch.tensor([1.0], dtype=torch.float64)).item()


def _tf_bce_pytorch_rule(tf):
    p, t = tf.constant([0.0], tf.float64), tf.constant([1.0], tf.float64)
    log_p, log_1mp = tf.maximum(tf.math.log(p), -100.0), tf.maximum(tf.math.log1p(-p), -100.0)
    return tf.reduce_mean(-(t * log_p + (1 - t) * log_1mp)).numpy()


# ---- logsumexp, log_softmax: ops on numpy arrays -------------------------------------------------------------------

RAISE = {"over": "raise", "invalid": "raise"}
FAR_APART = np.array([[1000.0, 999.0, 990.0], [-1000.0, -1001.0, -1030.0]])  # one max for both rows underflows


def _axis_cases(op, rng, hidden, extra=()):
    layout = ([((7,), 0), ((2, 3, 4), 1), ((4, 5), -1), ((5, 2), 0), ((3, 3), 1)] if hidden
              else [((5,), -1), ((3, 4), -1), ((4, 3), 0)])
    arrays = [(rng.standard_normal(s) * 3, axis) for s, axis in layout] + [(FAR_APART, 1)]
    arrays += [(FAR_APART.T * 0.8, 0), (np.array([[0.0, -800.0, 3.0], [50.0, 700.0, 710.0]]), -1)] if hidden else []
    return [Case((a,), {"axis": axis, "errstate": RAISE}) for a, axis in list(arrays) + list(extra)]


def logsumexp_cases(rng, hidden):
    infinite = [(np.array([[-np.inf, -np.inf, -np.inf], [np.inf, 1.0, 2.0], [-np.inf, 0.5, -1.0]]), 1)]
    return _axis_cases("logsumexp", rng, hidden, infinite if hidden else ())


def log_softmax_cases(rng, hidden):
    return _axis_cases("log_softmax", rng, hidden)


def _torch_forward(fn):
    return lambda c: fn(fw.torch(), fw.torch().tensor(c.arrays[0]), c.params["axis"])


def _tf_forward(fn):
    return lambda c: fn(fw.tf(), fw.tf().constant(c.arrays[0]), c.params["axis"])


LOGSUMEXP_ORACLES = [Oracle("PyTorch (torch.logsumexp)", _torch_forward(lambda t, a, axis: t.logsumexp(a, dim=axis))),
                     Oracle("TensorFlow (tf.reduce_logsumexp)",
                            _tf_forward(lambda tf, a, axis: tf.reduce_logsumexp(a, axis=axis)))]
LOG_SOFTMAX_ORACLES = [Oracle("PyTorch (torch.log_softmax)", _torch_forward(lambda t, a, axis: t.log_softmax(a, dim=axis))),
                       Oracle("TensorFlow (tf.nn.log_softmax)",
                              _tf_forward(lambda tf, a, axis: tf.nn.log_softmax(a, axis=axis)))]


def _global_shift(op):
    """``op`` computed with the whole array's max subtracted instead of each slice's."""
    def wrong(case):
        a, axis = case.arrays[0], case.params["axis"]
        shifted = a - a.max()
        with np.errstate(all="ignore"):
            lse = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return np.squeeze(lse + a.max(), axis) if op == "logsumexp" else shifted - lse
    return wrong


def _peak(case):
    """Each slice's max, 0 where it is infinite (as a correct shift takes it)."""
    peak = np.squeeze(case.arrays[0].max(axis=case.params["axis"], keepdims=True), case.params["axis"])
    return np.where(np.isfinite(peak), peak, 0.0)


LOGSUMEXP_MISTAKES = [
    Mistake("max_not_added_back", "you subtracted the max m before exp but did not add it back: logsumexp(a) = m + "
            "log(sum(exp(a - m))).", lambda c: forward_of("logsumexp", c.arrays[0], axis=c.params["axis"]) - _peak(c)),
    Mistake("global_max", "you subtracted the max of the whole array: a slice far below it underflows to exp(...) = "
            "0 and log(0) = -inf. Subtract each slice's own max (keepdims=True along the axis).",
            _global_shift("logsumexp")),
]

LOG_SOFTMAX_MISTAKES = [
    Mistake("log_of_softmax", "log(softmax(a)) underflows: a probability below 1e-308 rounds to 0 and its log is "
            "-inf, where the log-probability itself (e.g. -800) is a fine number. Compute a - m - log(sum(exp(a - m))) "
            "directly.", lambda c: np.log(forward_of("softmax", c.arrays[0], axis=c.params["axis"]))),
    Mistake("global_max", "you subtracted the max of the whole array: a slice far below it underflows to exp(...) = "
            "0 and log(0) = -inf. Subtract each slice's own max (keepdims=True along the axis).",
            _global_shift("log_softmax")),
    Mistake("logsumexp_forgotten", "you returned a - max(a): the log-probabilities also subtract log(sum(exp(a - m)))",
            lambda c: c.arrays[0] - c.arrays[0].max(axis=c.params["axis"], keepdims=True)),
]


def log_softmax_backward_cases(rng, hidden):
    return [op_case("log_softmax", rng, case.arrays, axis=case.params["axis"])
            for case in _axis_cases("log_softmax", rng, hidden)]


def _saved_out(case):
    return case.arrays[0], case.arrays[-1], case.params["axis"]


LOG_SOFTMAX_BACKWARD_MISTAKES = [
    Mistake("softmax_rule", "that is softmax's backward rule applied to log-probabilities. For out = log_softmax(a): "
            "grad_a = grad - softmax(a) * sum(grad), with softmax(a) = exp(out).",
            lambda c: (lambda out, g, axis: out * (g - (g * out).sum(axis=axis, keepdims=True)))(*_saved_out(c))),
    Mistake("exp_forgotten", "you multiplied the sum by out (the log-probabilities): the rule needs the "
            "probabilities, exp(out).",
            lambda c: (lambda out, g, axis: g - out * g.sum(axis=axis, keepdims=True))(*_saved_out(c))),
    Mistake("sum_forgotten", "each output depends on every input of its slice (through the logsumexp), so grad_a "
            "= grad - exp(out) * grad.sum(axis, keepdims=True): the sum over the slice is missing.",
            lambda c: (lambda out, g, axis: g - np.exp(out) * g)(*_saved_out(c))),
]

LOG_SOFTMAX_BACKWARD_ORACLES = [
    Oracle("PyTorch (torch.log_softmax, autograd.grad)", _torch_vjp(lambda t, a, axis: t.log_softmax(a, dim=axis))),
    Oracle("TensorFlow (tf.nn.log_softmax, GradientTape)", _tf_vjp(lambda tf, a, axis: tf.nn.log_softmax(a, axis=axis))),
]


# ---- cross-entropy from logits, fused ------------------------------------------------------------------------------

def _class_layout(rng, hidden):
    layout = [((4, 3), "mean"), ((5, 2), "sum"), ((3, 5), "none")]
    layout += [((1, 4), "mean"), ((6, 3), "none"), ((7, 2), "mean"), ((2, 6), "sum")] if hidden else []
    out = [(rng.standard_normal(s) * 3, rng.integers(0, s[1], size=s[0]), r) for s, r in layout]
    # the target logit 800 below the row's max: its softmax underflows, its log-probability is -800
    far = np.array([[0.0, -800.0, 3.0], [1000.0, 990.0, -5.0]])
    out.append((far, np.array([1, 2]), "mean"))
    if hidden:
        out.append((far * 0.9, np.array([1, 0]), "none"))
    return out


def cross_entropy_cases(rng, hidden):
    return [Case((x, t), {"reduction": r, "errstate": RAISE}) for x, t, r in _class_layout(rng, hidden)]


def cross_entropy_backward_cases(rng, hidden):
    return [op_case("cross_entropy", rng, (x,), target=t, reduction=r) for x, t, r in _class_layout(rng, hidden)]


def _ce_torch(case, logits, target):
    return fw.torch().nn.functional.cross_entropy(logits, fw.torch().tensor(np.asarray(target)),
                                                  reduction=case.params["reduction"])


def _ce_tf(case, logits, target):
    tf = fw.tf()
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=np.asarray(target), logits=logits)
    return {"mean": tf.reduce_mean, "sum": tf.reduce_sum, "none": lambda v: v}[case.params["reduction"]](losses)


CROSS_ENTROPY_ORACLES = [
    Oracle("PyTorch (F.cross_entropy(input, target, reduction))",
           lambda c: _ce_torch(c, fw.torch().tensor(c.arrays[0]), c.arrays[1])),
    Oracle("TensorFlow (tf.nn.sparse_softmax_cross_entropy_with_logits, then the reduction)",
           lambda c: _ce_tf(c, fw.tf().constant(c.arrays[0]), c.arrays[1])),
]


def _ce_backward_torch(case):
    torch = fw.torch()
    logits = torch.tensor(case.inputs[0], requires_grad=True)
    out = _ce_torch(case, logits, case.params["target"])
    return torch.autograd.grad(out, logits, grad_outputs=torch.tensor(case.arrays[-1]))


def _ce_backward_tf(case):
    tf = fw.tf()
    logits = tf.constant(case.inputs[0])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        out = _ce_tf(case, logits, case.params["target"])
    return (tape.gradient(out, logits, output_gradients=tf.constant(case.arrays[-1])),)


CROSS_ENTROPY_BACKWARD_ORACLES = [Oracle("PyTorch (F.cross_entropy, autograd.grad)", _ce_backward_torch),
                                  Oracle("TensorFlow (sparse_softmax_cross_entropy_with_logits, GradientTape)",
                                         _ce_backward_tf)]


def _ce_reduced(case, losses):
    reduction = case.params["reduction"]
    return losses if reduction == "none" else losses.sum() / (len(losses) if reduction == "mean" else 1)


def _log_probs(case):
    return forward_of("log_softmax", case.arrays[0], axis=1)


CROSS_ENTROPY_MISTAKES = [
    Mistake("log_of_softmax", "log(softmax) underflows: a target class 800 below its row's max has probability "
            "e^-800, which rounds to 0, and -log(0) = inf. Compute the log-probabilities directly: shifted - "
            "log(sum(exp(shifted))).", lambda c: _ce_reduced(
                c, -np.log(forward_of("softmax", c.arrays[0], axis=1))[np.arange(len(c.arrays[1])), c.arrays[1]])),
    Mistake("picked_by_column", "log_probs[:, target] picks whole columns (an N x N block): pick one entry per row, "
            "log_probs[np.arange(N), target].",
            lambda c: _ce_reduced(c, -_log_probs(c)[:, c.arrays[1]].mean(axis=1))),
    Mistake("mean_over_classes", "you averaged over every entry of the (N, C) log-probabilities: the loss of a row "
            "is only its target class's -log p; 'mean' averages those N numbers.",
            lambda c: _ce_reduced(c, -_log_probs(c).mean(axis=1))),
    Mistake("sign", "cross-entropy is -log p of the target class (a positive number): the sign is missing.",
            lambda c: -forward_of("cross_entropy", *c.arrays, reduction=c.params["reduction"])),
]


def _ce_backward_scaled(scale):
    return lambda c: tuple(g * scale(c) for g in reference_backward("cross_entropy", c))


def _ce_backward_softmax_only(case):
    probs, target, up = case.arrays
    reduction = case.params["reduction"]
    scale = up[:, None] if reduction == "none" else up / (len(target) if reduction == "mean" else 1)
    return (probs * scale,)


CROSS_ENTROPY_BACKWARD_MISTAKES = [
    Mistake("not_divided", "for reduction='mean' the loss is divided by N (the number of rows), so the gradient is "
            "too: (softmax - one_hot) * grad / N.",
            _ce_backward_scaled(lambda c: len(c.arrays[1]) if c.params["reduction"] == "mean" else 1)),
    Mistake("one_hot_missing", "you returned softmax * grad: the target class also gets -1, d loss / d logits = "
            "softmax - one_hot(target) (then * grad, / N for the mean).", _ce_backward_softmax_only),
    Mistake("sign", "your gradient has the wrong sign: it is softmax - one_hot (the target's logit must go *up* "
            "when we step against the gradient).", _ce_backward_scaled(lambda c: -1)),
]


# ---- binary cross-entropy ----------------------------------------------------------------------------------------

def bce_logits_cases(rng, hidden):
    shapes = [(6,), (3, 4)] + ([(2, 3, 2), (1,)] if hidden else [])
    cases = [Case((rng.standard_normal(s) * 4, rng.uniform(0, 1, s))) for s in shapes]
    # targets chosen so that a probabilities-first formula gives inf, not 0 * inf = nan, where it fails
    extreme = np.array([-1000.0, -800.0, -40.0, -0.0, 0.0, 40.0, 800.0, 1000.0])
    cases.append(Case((extreme, np.array([1.0, 0.5, 0.3, 1.0, 0.0, 0.7, 0.0, 0.0]))))
    # confident and right: the loss is log1p(exp(-|x|)), 4e-18 at |x| = 40 (TensorFlow keeps it, PyTorch rounds it to 0)
    confident = np.array([-40.0, -36.5, 20.0, 30.0, 1e-3, -30.0])
    cases.append(Case((confident, (confident > 0).astype(np.float64))))
    if hidden:
        cases.append(Case((np.array([[745.0, -745.0], [-2.0, 60.0]]), np.array([[0.0, 1.0], [0.5, 0.9]]))))
    return [Case(c.arrays, {"errstate": {"over": "raise"}}) for c in cases]


def _bce_logits_torch(c):
    torch = fw.torch()
    return torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(c.arrays[0]), torch.tensor(c.arrays[1]),
                                                                reduction="none")


def _bce_logits_tf(c):
    return fw.tf().nn.sigmoid_cross_entropy_with_logits(labels=c.arrays[1], logits=c.arrays[0])


BCE_LOGITS_ORACLES = [Oracle("PyTorch (F.binary_cross_entropy_with_logits, reduction='none')", _bce_logits_torch),
                      Oracle("TensorFlow (tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))", _bce_logits_tf)]


def _bce_of_sigmoid(case, log=np.log):
    x, t = case.arrays
    p = forward_of("sigmoid", x)
    with np.errstate(all="ignore"):
        return -(t * log(p) + (1 - t) * np.log1p(-p))


BCE_LOGITS_MISTAKES = [
    Mistake("probabilities_first", "you computed sigmoid(x) first and then its log: for x = -800 the probability "
            "rounds to 0 (or 1 - p to 0 for x = 40) and the log is -inf. Stay in logits: max(x, 0) - x t + log(1 + "
            "exp(-|x|)).", _bce_of_sigmoid),
]


def bce_logits_backward_cases(rng, hidden):
    return [op_case("binary_cross_entropy_with_logits", rng, c.arrays) for c in bce_logits_cases(rng, hidden)]


def _bce_logits_vjp_torch(case):
    torch = fw.torch()
    x, t = (torch.tensor(a, requires_grad=True) for a in case.inputs)
    out = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
    return torch.autograd.grad(out, (x, t), grad_outputs=torch.tensor(case.arrays[-1]))


def _bce_logits_vjp_tf(case):
    tf = fw.tf()
    x, t = (tf.constant(a) for a in case.inputs)
    with tf.GradientTape() as tape:
        tape.watch([x, t])
        out = tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=x)
    return tuple(tape.gradient(out, [x, t], output_gradients=tf.constant(case.arrays[-1])))


BCE_LOGITS_BACKWARD_ORACLES = [Oracle("PyTorch (F.binary_cross_entropy_with_logits, autograd.grad)", _bce_logits_vjp_torch),
                               Oracle("TensorFlow (sigmoid_cross_entropy_with_logits, GradientTape)", _bce_logits_vjp_tf)]


def _bce_backward_changed(change):
    def wrong(case):
        grad_x, grad_t = reference_backward("binary_cross_entropy_with_logits", case)
        return change(case, grad_x, grad_t)
    return wrong


BCE_LOGITS_BACKWARD_MISTAKES = [
    Mistake("sign", "d loss / dx = sigmoid(x) - t, not t - sigmoid(x): a logit above its target must come down.",
            _bce_backward_changed(lambda c, gx, gt: (-gx, gt))),
    Mistake("target_gradient_sign", "the target's gradient is -x * grad (the loss has the term -x t), not +x * grad.",
            _bce_backward_changed(lambda c, gx, gt: (gx, -gt))),
    Mistake("upstream_ignored", "you ignored `grad`, the gradient flowing in: multiply both gradients by it.",
            _bce_backward_changed(lambda c, gx, gt: (gx / c.arrays[-1], gt / c.arrays[-1]))),
]


def bce_cases(rng, hidden):
    shapes = [(6,), (3, 4)] + ([(2, 3, 2), (5,)] if hidden else [])
    cases = [Case((rng.uniform(0.01, 0.99, s), rng.uniform(0, 1, s))) for s in shapes]
    # p = 0 and 1 against the opposite or a soft target: an unclamped log gives inf (never 0 * inf = nan)
    edges = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 1 - 1e-12, 0.5, 1e-8])
    cases.append(Case((edges, np.array([1.0, 0.0, 0.5, 0.25, 1.0, 0.0, 0.5, 1.0]))))
    if hidden:
        cases.append(Case((np.array([[0.0, 1.0], [1e-45, 0.3]]), np.array([[0.5, 0.25], [1.0, 1.0]]))))
    return cases


def _bce_tf_pytorch_rule(c):
    tf = fw.tf()
    p, t = tf.constant(c.arrays[0]), tf.constant(c.arrays[1])
    log_p, log_1mp = tf.maximum(tf.math.log(p), -100.0), tf.maximum(tf.math.log1p(-p), -100.0)
    return -(t * log_p + (1 - t) * log_1mp)


BCE_ORACLES = [
    Oracle("PyTorch (F.binary_cross_entropy, reduction='none': each log clamped at -100)",
           lambda c: fw.torch().nn.functional.binary_cross_entropy(fw.torch().tensor(c.arrays[0]),
                                                                   fw.torch().tensor(c.arrays[1]), reduction="none")),
    Oracle("TensorFlow (PyTorch's rule in tf ops, max(log p, -100); Keras would clip p to [1e-7, 1 - 1e-7])",
           _bce_tf_pytorch_rule),
]


def _bce_unclamped(case):
    p, t = case.arrays
    with np.errstate(all="ignore"):
        return -(t * np.log(p) + (1 - t) * np.log1p(-p))


def _bce_keras_clip(case):
    p, t = np.clip(case.arrays[0], 1e-7, 1 - 1e-7), case.arrays[1]
    return -(t * np.log(p) + (1 - t) * np.log1p(-p))


BCE_MISTAKES = [
    Mistake("no_clamp", "at p = 0 (or 1) log gives -inf and your loss is inf: PyTorch clamps each log at -100, so "
            "the loss stays finite (100 at p = 0, t = 1). Use np.maximum(np.log(p), -100.0).", _bce_unclamped),
    Mistake("keras_clip", "you clipped the probabilities to [1e-7, 1 - 1e-7], as Keras does (-log(1e-7) = 16.1 at "
            "p = 0): this exercise follows PyTorch, which keeps p and clamps each log at -100.", _bce_keras_clip),
    Mistake("clamped_loss", "you clamped the loss at 100 instead of each log at -100: with a soft target (t = 0.5, "
            "p = 0) the loss is 0.5 * 100 + 0.5 * 0 = 50, not 100.",
            lambda c: np.minimum(_bce_unclamped(c), 100.0)),
]


# ---- the lesson ----------------------------------------------------------------------------------------------------

SETUP = """
import numpy as np
from autograd_mini import Tensor
from autograd_mini.broadcasting import reduce_to
from autograd_mini.losses import _reduce
"""
ENGINE = ("engine.backward", "engine.topological_order", "unbroadcast", "mul.backward", "sum.backward",
          "mean.backward")


def _loss_exercise(name, points, cases, torch_name, keras_name, mistakes):
    return Exercise(f"loss.{name}", name, points, cases, "loss_tensor", loss_oracles(torch_name, keras_name),
                    mistakes, needs=ENGINE)


def _op(op, part, function, points, cases, call, oracles, mistakes, **extra):
    return Exercise(f"{op}.{part}", function, points, cases, call, oracles, mistakes,
                    what="gradient" if part == "backward" else "result", **extra)


LESSON = Lesson("04_losses", setup=SETUP, exercises=[
    _loss_exercise("mse_loss", 1, regression_cases(), "mse_loss", "MeanSquaredError", MSE_MISTAKES),
    Exercise("mse_backward", "mse_backward", 2, mse_backward_cases, "plain", _mse_grad_oracles(),
             MSE_BACKWARD_MISTAKES, what="gradient"),
    number_prediction(
        "predict_broadcast_terms", _broadcast_terms,
        oracle_number(_torch_terms, lambda tf: tf.size(tf.zeros((4, 1), tf.float64) - tf.zeros(4, tf.float64)).numpy(),
                      "PyTorch (F.mse_loss(..., reduction='none').numel(), broadcasting as it warns)",
                      "TensorFlow (tf.size of the broadcast difference)"),
        {4.0: "that is the count if the two shapes matched. Write both shapes right-aligned, as numpy does, and "
              "stretch every size-1 axis", 1.0: "that is how many numbers mean() returns, not how many it "
              "averages"},
        "write both shapes right-aligned, as numpy does, and stretch every size-1 axis"),
    _loss_exercise("l1_loss", 1, regression_cases("l1"), "l1_loss", "MeanAbsoluteError", L1_MISTAKES),
    _loss_exercise("huber_loss", 2, regression_cases("huber"), "huber_loss", "Huber", HUBER_MISTAKES),
    _op("logsumexp", "forward", "logsumexp_forward", 2, logsumexp_cases, "op_forward_logsumexp", LOGSUMEXP_ORACLES,
        LOGSUMEXP_MISTAKES, also_strip=("log_softmax.forward", "cross_entropy.forward")),
    _op("log_softmax", "forward", "log_softmax_forward", 1, log_softmax_cases, "op_forward_log_softmax",
        LOG_SOFTMAX_ORACLES, LOG_SOFTMAX_MISTAKES),
    _op("log_softmax", "backward", "log_softmax_backward", 2, log_softmax_backward_cases, "op_backward",
        LOG_SOFTMAX_BACKWARD_ORACLES, LOG_SOFTMAX_BACKWARD_MISTAKES),
    _op("cross_entropy", "forward", "cross_entropy_forward", 2, cross_entropy_cases, "op_forward_cross_entropy",
        CROSS_ENTROPY_ORACLES, CROSS_ENTROPY_MISTAKES),
    _op("cross_entropy", "backward", "cross_entropy_backward", 2, cross_entropy_backward_cases, "op_backward",
        CROSS_ENTROPY_BACKWARD_ORACLES, CROSS_ENTROPY_BACKWARD_MISTAKES),
    number_prediction(
        "predict_ce_gradient", _ce_gradient,
        oracle_number(_torch_ce_gradient, _tf_ce_gradient, "PyTorch (F.cross_entropy, mean; autograd)",
                      "TensorFlow (sparse_softmax_cross_entropy_with_logits, reduce_mean; GradientTape)"),
        {-0.75: "you forgot that reduction='mean' divides by the number of rows",
         0.125: "the target class also gets the -1 of the one-hot vector",
         -0.1875: "the mean divides by the number of rows N, not by N * C"},
        "the gradient of the mean cross-entropy is (softmax - one_hot) / N"),
    _op("binary_cross_entropy_with_logits", "forward", "bce_with_logits_forward", 2, bce_logits_cases,
        "op_forward_binary_cross_entropy_with_logits", BCE_LOGITS_ORACLES, BCE_LOGITS_MISTAKES),
    _op("binary_cross_entropy_with_logits", "backward", "bce_with_logits_backward", 1, bce_logits_backward_cases,
        "op_backward", BCE_LOGITS_BACKWARD_ORACLES, BCE_LOGITS_BACKWARD_MISTAKES, needs=("unbroadcast",)),
    _op("binary_cross_entropy", "forward", "bce_forward", 2, bce_cases, "op_forward", BCE_ORACLES, BCE_MISTAKES),
    number_prediction(
        "predict_bce_at_zero", _bce_at_zero,
        oracle_number(_torch_bce, _tf_bce_pytorch_rule, "PyTorch (F.binary_cross_entropy)",
                      "TensorFlow (PyTorch's clamping rule written in tf ops)"),
        {16.118095650958319: "that is Keras' answer (it clips p to [1e-7, 1 - 1e-7]); PyTorch does something "
                             "else at p = 0", float("inf"): "PyTorch's loss stays finite at p = 0"},
        "read again what PyTorch does to log(p) when p = 0"),
])
check, grade = LESSON.check, LESSON.grade

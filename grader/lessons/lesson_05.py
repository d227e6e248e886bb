"""Lesson 05 (optimizers): the update rules of SGD (GD, momentum, Nesterov), AdaGrad, RMSProp, Adam and AdamW, a
warmup + cosine learning-rate schedule, and two predictions.

An update rule is graded step by step: the student's ``rule(param, grad, state, **hyper)`` takes 50 given
gradients (``optimizer_steps``), and the 50 parameters it leaves are compared with ``torch.optim``'s and
TensorFlow's. TensorFlow is ``tf.keras.optimizers`` configured to PyTorch's convention (docs/optimizer_conventions.md:
float64 hyperparameters, coupled weight decay as the loss term 0.5 wd |p|^2, Adam's epsilon changed every step).
Where Keras cannot follow PyTorch — epsilon outside the root in AdaGrad and RMSProp, and SGD momentum while the
learning rate changes (Keras keeps lr inside its velocity) — the case runs TensorFlow's own C++ kernels, which
follow PyTorch there: ApplyAdagradV2, ApplyAdam with beta1 = 0 and no bias correction (that is RMSProp), and
ApplyMomentum. What Keras does differently is a prediction the student makes (``predict.keras_rmsprop_step``).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from autograd_mini.registry import reference_of
from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.calls.lesson_05 import CALLS
from grader.harness.case import Case
from grader.lesson import Exercise, Lesson
from grader.predictions import prediction

STEPS = 50

# ---- cases: a starting parameter and 50 gradients; the hyperparameters in torch's names ------------------


def _steps_case(rng, shape, hyper, steps=STEPS, zero_rows=0, zero_column=False, lrs=None) -> Case:
    """A parameter of ``shape`` and ``steps`` gradients: the first ``zero_rows`` all zero, with ``zero_column``
    one coordinate whose gradient is always zero."""
    grads = rng.standard_normal((steps,) + tuple(shape))
    grads[:zero_rows] = 0.0
    if zero_column:
        grads.reshape(steps, -1)[:, 0] = 0.0
    params = {"hyper": dict(hyper)} | ({"lrs": [float(r) for r in lrs]} if lrs is not None else {})
    return Case((rng.standard_normal(shape),) + tuple(grads), params)


def _warmup(lr, steps=STEPS, warmup=10):
    return [lr * min(1.0, (k + 1) / warmup) for k in range(steps)]


def sgd_cases(rng, hidden):
    cases = [_steps_case(rng, (3,), {"lr": 0.1}),
             _steps_case(rng, (2, 3), {"lr": 0.05, "momentum": 0.9}),
             _steps_case(rng, (4,), {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
             _steps_case(rng, (2, 2), {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1}),
             _steps_case(rng, (3,), {"lr": 0.1, "momentum": 0.9}, lrs=_warmup(0.1))]  # a schedule changes lr
    if hidden:
        cases += [_steps_case(rng, (3,), {"lr": 0.1, "momentum": 0.9}, steps=1),  # the first step of momentum
                  _steps_case(rng, (5,), {"lr": 0.05, "momentum": 0.9}, zero_rows=3, zero_column=True),
                  _steps_case(rng, (2, 3), {"lr": 0.03, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
                  _steps_case(rng, (3, 2), {"lr": 0.1, "momentum": 0.9}, lrs=_warmup(0.1)),
                  _steps_case(rng, (4,), {"lr": 0.1, "momentum": 0.7, "nesterov": True}, lrs=_warmup(0.1, warmup=20)),
                  _steps_case(rng, (2,), {"lr": 0.2, "weight_decay": 0.5}, lrs=_warmup(0.2))]
    return cases


def adagrad_cases(rng, hidden):
    cases = [_steps_case(rng, (3,), {"lr": 0.1, "eps": 0.0}),
             _steps_case(rng, (2, 3), {"lr": 0.1, "eps": 0.1}),
             _steps_case(rng, (4,), {"lr": 0.1, "lr_decay": 0.05, "eps": 0.0})]
    if hidden:
        cases += [_steps_case(rng, (2, 2), {"lr": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.1, "eps": 0.0}),
                  _steps_case(rng, (5,), {"lr": 0.1}, zero_rows=2, zero_column=True),  # torch's eps 1e-10 keeps 0/0 away
                  _steps_case(rng, (3,), {"lr": 0.5, "initial_accumulator_value": 0.5, "weight_decay": 0.2, "eps": 0.3}),
                  _steps_case(rng, (2, 3), {"lr": 0.1, "eps": 0.0}, steps=1)]
    return cases


def rmsprop_cases(rng, hidden):
    cases = [_steps_case(rng, (3,), {"lr": 0.01, "eps": 0.0}),
             _steps_case(rng, (2, 3), {"lr": 0.01, "alpha": 0.9, "eps": 0.1}),
             _steps_case(rng, (4,), {"lr": 0.003, "alpha": 0.9, "momentum": 0.5, "eps": 0.0})]
    if hidden:
        cases += [_steps_case(rng, (2, 2), {"lr": 0.005, "alpha": 0.95, "centered": True, "momentum": 0.7,
                                            "weight_decay": 0.1, "eps": 0.0}),
                  _steps_case(rng, (3,), {"lr": 0.01, "centered": True, "eps": 0.0}),
                  _steps_case(rng, (5,), {"lr": 0.01, "weight_decay": 0.1}, zero_rows=2, zero_column=True),
                  _steps_case(rng, (2, 3), {"lr": 0.02, "alpha": 0.8, "eps": 0.05}, steps=1)]
    return cases


def adam_cases(rng, hidden):
    cases = [_steps_case(rng, (3,), {"lr": 0.05}),
             _steps_case(rng, (2, 3), {"lr": 0.05, "betas": (0.8, 0.99), "eps": 0.1}),
             _steps_case(rng, (4,), {"lr": 0.05, "weight_decay": 0.1, "eps": 1e-3})]
    if hidden:
        cases += [_steps_case(rng, (2, 2), {"lr": 0.05, "betas": (0.8, 0.99), "amsgrad": True}),
                  _steps_case(rng, (5,), {"lr": 0.01}, zero_rows=2, zero_column=True),
                  _steps_case(rng, (3,), {"lr": 0.1, "betas": (0.5, 0.9), "eps": 0.3}, steps=1),
                  _steps_case(rng, (2, 3), {"lr": 0.02, "betas": (0.9, 0.95), "weight_decay": 0.3, "eps": 0.01,
                                            "amsgrad": True})]
    return cases


def adamw_cases(rng, hidden):
    cases = [_steps_case(rng, (3,), {"lr": 0.05, "weight_decay": 0.1}),
             _steps_case(rng, (2, 3), {"lr": 0.05, "weight_decay": 0.5, "eps": 0.1}),
             _steps_case(rng, (4,), {"lr": 0.05, "betas": (0.85, 0.95), "weight_decay": 0.2, "amsgrad": True})]
    if hidden:
        cases += [_steps_case(rng, (2, 2), {"lr": 0.1, "weight_decay": 1.0, "eps": 1e-3}, zero_rows=3, zero_column=True),
                  _steps_case(rng, (3,), {"lr": 0.1, "betas": (0.5, 0.9), "weight_decay": 0.3, "eps": 0.3}, steps=1),
                  _steps_case(rng, (5,), {"lr": 0.01, "weight_decay": 0.01})]
    return cases


def schedule_cases(rng, hidden):
    layouts = [(10, 50, 0.1, 0.0), (5, 30, 0.5, 0.02)]  # warmup_steps, total_steps, start_factor, eta_min / base
    if hidden:
        layouts += [(1, 12, 0.01, 0.2), (0, 20, 0.1, 0.0), (8, 9, 1.0, 0.0), (25, 50, 0.25, 0.1)]
    cases = []
    for warmup, total, start, floor in layouts:
        base = float(rng.uniform(0.01, 1.0))
        settings = {"base_lr": base, "warmup_steps": warmup, "total_steps": total, "start_factor": start,
                    "eta_min": floor * base}
        cases.append(Case((), {"settings": settings, "steps": total}, tol=(1e-12, 1e-12 * base)))
    return cases


# ---- oracles ---------------------------------------------------------------------------------------------


def _torch_steps(name: str):
    def compute(case: Case):
        torch = fw.torch()
        param = torch.tensor(case.arrays[0], dtype=torch.float64, requires_grad=True)
        optimizer = getattr(torch.optim, name)([param], **case.params["hyper"])
        rows = []
        for k, grad in enumerate(case.arrays[1:]):
            if "lrs" in case.params:
                optimizer.param_groups[0]["lr"] = case.params["lrs"][k]
            param.grad = torch.tensor(grad, dtype=torch.float64)
            optimizer.step()
            rows.append(param.detach().clone())
        return torch.stack(rows)
    return compute


def _tf_gradient(tf, variable, grad, l2: float):
    """The gradient of sum(variable * grad) + 0.5 l2 |variable|^2 (torch's coupled weight decay as a loss term)."""
    if not l2:
        return tf.constant(grad)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(variable * tf.constant(grad))
        if l2:
            loss += 0.5 * l2 * tf.reduce_sum(variable * variable)
    return tape.gradient(loss, variable)


def _keras_steps(case: Case, make_optimizer, l2=0.0, epsilon_at=None):
    tf = fw.tf()
    variable = tf.Variable(np.array(case.arrays[0], dtype=np.float64))
    with fw.keras_float64() as keras:
        optimizer = make_optimizer(keras)
    optimizer.build([variable])
    if epsilon_at is not None:  # Keras adds epsilon before the bias correction: change it every step
        optimizer.epsilon = tf.Variable(np.float64(epsilon_at(1)), trainable=False)
    rows = []
    for t, grad in enumerate(case.arrays[1:], start=1):
        if epsilon_at is not None:
            optimizer.epsilon.assign(np.float64(epsilon_at(t)))
        optimizer.apply_gradients([(_tf_gradient(tf, variable, grad, l2), variable)])
        rows.append(variable.numpy().copy())
    return np.stack(rows)


def _kernel_steps(case: Case, apply, slots: int, initial=0.0):
    """TensorFlow's own C++ update (``apply(variable, slots, grad, lr)``), coupled weight decay as a loss term."""
    tf = fw.tf()
    hyper = case.params["hyper"]
    variable = tf.Variable(np.array(case.arrays[0], dtype=np.float64))
    state = [tf.Variable(np.full(case.arrays[0].shape, initial, dtype=np.float64)) for _ in range(slots)]
    rows = []
    for k, grad in enumerate(case.arrays[1:]):
        lr = case.params["lrs"][k] if "lrs" in case.params else hyper["lr"]
        apply(tf, variable, state, _tf_gradient(tf, variable, grad, hyper.get("weight_decay", 0.0)), lr)
        rows.append(variable.numpy().copy())
    return np.stack(rows)


def _f64(tf, x):
    return tf.constant(x, dtype=tf.float64)


def _tf_sgd(case):
    h = case.params["hyper"]
    if "lrs" in case.params:  # Keras' velocity holds the old lr; TF's ApplyMomentum kernel, like torch, does not
        def apply(tf, variable, state, grad, lr):
            tf.raw_ops.ResourceApplyMomentum(var=variable.handle, accum=state[0].handle, lr=_f64(tf, lr), grad=grad,
                                             momentum=_f64(tf, h.get("momentum", 0.0)),
                                             use_nesterov=h.get("nesterov", False))
        return _kernel_steps(case, apply, 1)
    return _keras_steps(case, lambda keras: keras.optimizers.SGD(
        np.float64(h["lr"]), momentum=np.float64(h.get("momentum", 0.0)), nesterov=h.get("nesterov", False)),
        l2=h.get("weight_decay", 0.0))


def _tf_adagrad(case):
    h = case.params["hyper"]
    if h.get("eps", 1e-10):  # Keras: sqrt(s + eps); TF's ApplyAdagradV2 kernel and torch: sqrt(s) + eps
        def apply(tf, variable, state, grad, lr):
            tf.raw_ops.ResourceApplyAdagradV2(var=variable.handle, accum=state[0].handle, lr=_f64(tf, lr),
                                              epsilon=_f64(tf, h.get("eps", 1e-10)), grad=grad)
        return _kernel_steps(case, apply, 1, initial=h.get("initial_accumulator_value", 0.0))

    def make(keras):
        lr = np.float64(h["lr"])
        if h.get("lr_decay"):  # torch's lr / (1 + (t - 1) decay) is Keras' InverseTimeDecay at iteration t - 1
            lr = keras.optimizers.schedules.InverseTimeDecay(lr, 1, np.float64(h["lr_decay"]))
        return keras.optimizers.Adagrad(lr, initial_accumulator_value=np.float64(h.get("initial_accumulator_value", 0.0)),
                                        epsilon=np.float64(0.0))
    return _keras_steps(case, make, l2=h.get("weight_decay", 0.0))


def _tf_rmsprop(case):
    h = case.params["hyper"]
    if h.get("eps", 1e-8):  # Keras: sqrt(v + eps). ApplyAdam with beta1 = 0 and no bias correction is RMSProp
        def apply(tf, variable, state, grad, lr):  # with sqrt(v) + eps, as in torch
            tf.raw_ops.ResourceApplyAdam(var=variable.handle, m=state[0].handle, v=state[1].handle,
                                         beta1_power=_f64(tf, 0.0), beta2_power=_f64(tf, 0.0), lr=_f64(tf, lr),
                                         beta1=_f64(tf, 0.0), beta2=_f64(tf, h.get("alpha", 0.99)),
                                         epsilon=_f64(tf, h.get("eps", 1e-8)), grad=grad)
        return _kernel_steps(case, apply, 2)
    return _keras_steps(case, lambda keras: keras.optimizers.RMSprop(
        np.float64(h["lr"]), rho=np.float64(h.get("alpha", 0.99)), momentum=np.float64(h.get("momentum", 0.0)),
        epsilon=np.float64(0.0), centered=h.get("centered", False)), l2=h.get("weight_decay", 0.0))


def _tf_adam(decoupled: bool):
    def compute(case):
        h = case.params["hyper"]
        beta1, beta2 = h.get("betas", (0.9, 0.999))
        eps = h.get("eps", 1e-8)

        def epsilon_at(t):  # Keras' "epsilon hat": torch's eps times sqrt(1 - beta2^t)
            return eps * math.sqrt(1 - beta2 ** t)

        common = dict(beta_1=np.float64(beta1), beta_2=np.float64(beta2), amsgrad=h.get("amsgrad", False),
                      epsilon=np.float64(epsilon_at(1)))
        if decoupled:  # both decay p -= lr wd p before the Adam step
            return _keras_steps(case, lambda keras: keras.optimizers.AdamW(
                np.float64(h["lr"]), weight_decay=np.float64(h.get("weight_decay", 1e-2)), **common),
                epsilon_at=epsilon_at)
        return _keras_steps(case, lambda keras: keras.optimizers.Adam(np.float64(h["lr"]), **common),
                            l2=h.get("weight_decay", 0.0), epsilon_at=epsilon_at)
    return compute


def _torch_schedule(case):
    torch = fw.torch()
    s = case.params["settings"]
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=s["base_lr"])
    schedulers = torch.optim.lr_scheduler
    cosine = schedulers.CosineAnnealingLR(optimizer, T_max=s["total_steps"] - s["warmup_steps"], eta_min=s["eta_min"])
    scheduler = cosine if s["warmup_steps"] == 0 else schedulers.SequentialLR(
        optimizer, [schedulers.LinearLR(optimizer, start_factor=s["start_factor"], total_iters=s["warmup_steps"]),
                    cosine], milestones=[s["warmup_steps"]])
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(case.params["steps"]):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    return np.array(rates)


def _keras_schedule(case):
    s = case.params["settings"]
    with fw.keras_float64() as keras:
        schedule = keras.optimizers.schedules.CosineDecay(
            np.float64(s["start_factor"] * s["base_lr"]), decay_steps=s["total_steps"] - s["warmup_steps"],
            alpha=np.float64(s["eta_min"] / s["base_lr"]), warmup_target=np.float64(s["base_lr"]),
            warmup_steps=s["warmup_steps"])
        return np.array([float(schedule(step)) for step in range(case.params["steps"] + 1)])


# ---- the two predictions: what PyTorch and TensorFlow measure ---------------------------------------------

# Race: f(x, y) = (x^2 + 50 y^2) / 2 from (-4, 1); who first brings f below 1e-3?
RACE_START, RACE_CURVATURE, RACE_TARGET, RACE_LIMIT = (-4.0, 1.0), (1.0, 50.0), 1e-3, 1000
RACERS = [("SGD", {"lr": 0.035}), ("SGD", {"lr": 0.02, "momentum": 0.9}), ("Adam", {"lr": 0.05})]


def _race_torch(case):
    return _race_winner_torch()


def _race_keras(case):
    return _race_winner_keras()


def _first_home(racers: list) -> np.float64:
    """Step every racer once per round (``racer()`` returns its loss after the step); the index of the first whose
    loss falls below RACE_TARGET (ties: the lower index)."""
    for _ in range(RACE_LIMIT):
        finished = [k for k, racer in enumerate(racers) if racer() < RACE_TARGET]
        if finished:
            return np.float64(finished[0])
    raise RuntimeError(f"no optimizer reached {RACE_TARGET} in {RACE_LIMIT} steps")


@functools.lru_cache(maxsize=None)  # the race has no inputs: run it once per process
def _race_winner_torch():
    torch = fw.torch()
    curvature = torch.tensor(RACE_CURVATURE, dtype=torch.float64)

    def racer(name, hyper):
        p = torch.tensor(RACE_START, dtype=torch.float64, requires_grad=True)
        optimizer = getattr(torch.optim, name)([p], **hyper)

        def step():
            optimizer.zero_grad()
            (0.5 * (curvature * p * p).sum()).backward()
            optimizer.step()
            return 0.5 * float((curvature * p * p).sum())
        return step
    return _first_home([racer(name, hyper) for name, hyper in RACERS])


@functools.lru_cache(maxsize=None)
def _race_winner_keras():
    tf = fw.tf()
    curvature = tf.constant(RACE_CURVATURE, dtype=tf.float64)

    def racer(name, hyper):
        p = tf.Variable(np.array(RACE_START))
        with fw.keras_float64() as keras:
            optimizer = (keras.optimizers.SGD(np.float64(hyper["lr"]), momentum=np.float64(hyper.get("momentum", 0.0)))
                         if name == "SGD" else keras.optimizers.Adam(np.float64(hyper["lr"])))
        optimizer.build([p])
        if name == "Adam":  # torch's eps = 1e-8 in Keras' place: 1e-8 sqrt(1 - 0.999^t), changed every step
            optimizer.epsilon = tf.Variable(np.float64(0.0), trainable=False)
        t = [0]

        def step():
            t[0] += 1
            if name == "Adam":
                optimizer.epsilon.assign(np.float64(1e-8 * math.sqrt(1 - 0.999 ** t[0])))
            with tf.GradientTape() as tape:
                loss = 0.5 * tf.reduce_sum(curvature * p * p)
            optimizer.apply_gradients([(tape.gradient(loss, p), p)])
            return 0.5 * float(tf.reduce_sum(curvature * p * p))
        return step
    return _first_home([racer(name, hyper) for name, hyper in RACERS])


RACE_MISTAKES = [
    Mistake("gd_not_first", "not plain gradient descent: its learning rate is capped by the steep direction "
            "(lr < 2/50 = 0.04), so along the flat direction x shrinks by only a factor 1 - 0.035 per step.",
            lambda case: np.float64(0)),
    Mistake("adam_not_first", "not Adam: Adam moves each coordinate by about lr per step whatever the gradient's "
            "size, so at lr = 0.05 it needs at least 4 / 0.05 = 80 steps just to cover the distance in x, and more "
            "once it starts to zigzag near the minimum.", lambda case: np.float64(2)),
]

# Keras vs torch RMSProp at the first step, same eps: g = 1e-4, alpha = rho = 0.99, eps = 1e-8
FIRST_STEP = {"grad": 1e-4, "lr": 0.01, "alpha": 0.99, "eps": 1e-8}


def _keras_first_rmsprop_step(alpha):
    tf = fw.tf()
    p = tf.Variable(np.zeros(1))
    with fw.keras_float64() as keras:
        optimizer = keras.optimizers.RMSprop(np.float64(FIRST_STEP["lr"]), rho=np.float64(alpha),
                                             epsilon=np.float64(FIRST_STEP["eps"]))
    optimizer.apply_gradients([(tf.constant([FIRST_STEP["grad"]], dtype=tf.float64), p)])
    return -float(p.numpy()[0])


def _torch_first_rmsprop_step(alpha):
    torch = fw.torch()
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.RMSprop([p], lr=FIRST_STEP["lr"], alpha=alpha, eps=FIRST_STEP["eps"])
    p.grad = torch.tensor([FIRST_STEP["grad"]], dtype=torch.float64)
    optimizer.step()
    return -p.item()


def _tf_kernel_first_rmsprop_step(alpha):
    """torch's placement (sqrt(v) + eps) computed by TensorFlow's ApplyAdam kernel with beta1 = 0, no bias correction."""
    case = Case((np.zeros(1), np.array([FIRST_STEP["grad"]])),
                {"hyper": {"lr": FIRST_STEP["lr"], "alpha": alpha, "eps": FIRST_STEP["eps"]}})
    return -float(_tf_rmsprop(case)[0, 0])


def _step_ratio_torch(case, alpha=FIRST_STEP["alpha"]):
    return np.float64(_keras_first_rmsprop_step(alpha) / _torch_first_rmsprop_step(alpha))


def _step_ratio_tf(case, alpha=FIRST_STEP["alpha"]):
    return np.float64(_keras_first_rmsprop_step(alpha) / _tf_kernel_first_rmsprop_step(alpha))


RATIO_MISTAKES = [
    Mistake("inverted", "you gave PyTorch's step divided by Keras' step: the question asks for Keras' / PyTorch's.",
            lambda case: 1 / _step_ratio_torch(case)),
    Mistake("full_square", "after one step v is not g^2 but (1 - alpha) g^2 = 0.01 g^2: v starts at 0 and is a "
            "running average. Redo the two denominators with that v.", lambda case: _step_ratio_torch(case, alpha=0.0)),
]
RATIO_RTOL = 1e-2


# ---- mistakes: wrong update rules, run here on the case as the harness runs the student's ----------------


def _run(rule, case: Case, **changes) -> np.ndarray:
    params = {**case.params, "hyper": {**case.params["hyper"], **changes}}
    return CALLS["optimizer_steps"](rule, Case(case.arrays, params))


def _with(name, **changes):
    return lambda case: _run(reference_of(name), case, **changes)


def _sgd_averaging(param, grad, state, *, lr, momentum=0.0, nesterov=False, weight_decay=0.0, **_):
    """Wrong on purpose: the momentum buffer as an average, b = m b + (1 - m) g, starting from 0."""
    grad = grad + weight_decay * param
    if momentum:
        state["buffer"] = momentum * state.get("buffer", 0.0) + (1 - momentum) * grad
        grad = grad + momentum * state["buffer"] if nesterov else state["buffer"]
    param -= lr * grad


def _sgd_keras_velocity(param, grad, state, *, lr, momentum=0.0, nesterov=False, weight_decay=0.0, **_):
    """Keras' form, v = m v - lr g: PyTorch's iterates only while lr stays the same."""
    grad = grad + weight_decay * param
    state["velocity"] = momentum * state.get("velocity", 0.0) - lr * grad
    param += momentum * state["velocity"] - lr * grad if nesterov else state["velocity"]


SGD_MISTAKES = [
    Mistake("momentum_averaged", "your momentum steps are (1 - momentum) times too small: you averaged the gradients "
            "(b = m b + (1 - m) g, the form of some texts and of Adam's first moment). PyTorch sums them: "
            "b = m b + g (b = g at the first step), then p -= lr b.", lambda case: _run(_sgd_averaging, case)),
    Mistake("lr_inside_velocity", "right while the learning rate is constant, wrong once it changes: your velocity "
            "already contains the learning rate (Keras' form v = m v - lr g). PyTorch's buffer sums gradients only, "
            "b = m b + g, and the *current* lr multiplies it at each step (p -= lr b), so a schedule acts at once.",
            lambda case: _run(_sgd_keras_velocity, case)),
    Mistake("nesterov_ignored", "with nesterov=True you took the plain momentum step: Nesterov steps by "
            "g + momentum * b (a look ahead along the new buffer), not by b.", _with("optim.sgd", nesterov=False)),
    Mistake("weight_decay_ignored", "weight_decay is ignored: PyTorch's SGD adds weight_decay * param to the gradient "
            "before everything else (an L2 penalty).", _with("optim.sgd", weight_decay=0.0)),
]


def _root_plus_eps_inside(name, eps_default, accumulate):
    """Wrong on purpose (Keras' placement) where eps > 0: p -= lr g / sqrt(s + eps); the reference where eps = 0."""
    def rule(param, grad, state, *, lr, eps=eps_default, weight_decay=0.0, **hyper):
        if not eps:
            return reference_of(name)(param, grad, state, lr=lr, eps=eps, weight_decay=weight_decay, **hyper)
        grad = grad + weight_decay * param
        state["sum"] = accumulate(state.get("sum", hyper.get("initial_accumulator_value", 0.0)), grad, hyper)
        param -= lr * grad / np.sqrt(state["sum"] + eps)
    return lambda case: _run(rule, case)


def _adagrad_decay_from_step_one(param, grad, state, *, lr, lr_decay=0.0, **hyper):
    t = state.get("step", 0) + 1  # the reference divides by 1 + (t - 1) decay; this by 1 + t decay
    reference_of("optim.adagrad")(param, grad, state, lr=lr * (1 + (t - 1) * lr_decay) / (1 + t * lr_decay),
                                  lr_decay=lr_decay, **hyper)


EPS_INSIDE = ("you added eps inside the square root, sqrt(s + eps) (Keras' placement). PyTorch adds it outside: "
              "p -= lr g / (sqrt(s) + eps). The two differ whenever sqrt(s) is not much larger than eps.")

ADAGRAD_MISTAKES = [
    Mistake("eps_inside_root", EPS_INSIDE, _root_plus_eps_inside("optim.adagrad", 1e-10, lambda s, g, h: s + g * g)),
    Mistake("decay_off_by_one", "your lr_decay starts one step early: PyTorch's rate at step t (1, 2, ...) is "
            "lr / (1 + (t - 1) lr_decay), so the first step uses lr itself.",
            lambda case: _run(_adagrad_decay_from_step_one, case)),
    Mistake("initial_accumulator_ignored", "initial_accumulator_value is ignored: the sum of squares starts at that "
            "value, not at 0.", _with("optim.adagrad", initial_accumulator_value=0.0)),
]

RMSPROP_MISTAKES = [
    Mistake("eps_inside_root", EPS_INSIDE.replace("sqrt(s", "sqrt(v"),
            _root_plus_eps_inside("optim.rmsprop", 1e-8,
                                  lambda v, g, h: h.get("alpha", 0.99) * v + (1 - h.get("alpha", 0.99)) * g * g)),
    Mistake("alpha_swapped", "alpha and 1 - alpha are swapped: the running average keeps alpha of the old value, "
            "v = alpha v + (1 - alpha) g^2 (alpha = 0.99 remembers about 100 steps).",
            lambda case: _run(reference_of("optim.rmsprop"), case, alpha=1 - case.params["hyper"].get("alpha", 0.99))),
]


def _adam_rescaled(case: Case, lr_factor, eps_factor) -> np.ndarray:
    """The reference Adam with lr and eps rescaled before each step by functions of (bias_correction1, bias_correction2)."""
    def rule(param, grad, state, *, lr, betas=(0.9, 0.999), eps=1e-8, **hyper):
        t = state.get("step", 0) + 1
        c1, c2 = 1 - betas[0] ** t, 1 - betas[1] ** t
        reference_of("optim.adam")(param, grad, state, lr=lr * lr_factor(c1, c2), betas=betas,
                                   eps=eps * eps_factor(c1, c2), **hyper)
    return _run(rule, case)


def _decay_then_adam(scale_by_lr: bool, after: bool = False, default_decay: float = 1e-2):
    def rule(param, grad, state, *, lr, weight_decay=default_decay, **hyper):
        factor = 1 - (lr * weight_decay if scale_by_lr else weight_decay)
        if not after:
            param *= factor
        reference_of("optim.adam")(param, grad, state, lr=lr, weight_decay=0.0, **hyper)
        if after:
            param *= factor
    return lambda case: _run(rule, case)


ADAM_MISTAKES = [
    Mistake("no_bias_correction", "no bias correction: m and v start at 0, so early on they are too small by "
            "(1 - beta1^t) and (1 - beta2^t). Divide m by 1 - beta1^t and v by 1 - beta2^t (t = 1, 2, ...).",
            lambda case: _adam_rescaled(case, lambda c1, c2: c1 / math.sqrt(c2), lambda c1, c2: 1 / math.sqrt(c2))),
    Mistake("epsilon_hat", "you added eps before correcting v (Keras' \"epsilon hat\": lr sqrt(1 - beta2^t) / "
            "(1 - beta1^t) * m / (sqrt(v) + eps)). PyTorch adds eps to the corrected root: "
            "m_hat / (sqrt(v_hat) + eps).", lambda case: _adam_rescaled(case, lambda c1, c2: 1.0,
                                                                          lambda c1, c2: 1 / math.sqrt(c2))),
    Mistake("decoupled_in_adam", "your weight decay is decoupled (p *= 1 - lr wd, AdamW's rule). torch.optim.Adam's "
            "weight_decay is an L2 penalty: add weight_decay * param to the gradient first.",
            _decay_then_adam(True, default_decay=0.0)),
]

ADAMW_MISTAKES = [
    Mistake("coupled_decay", "your weight decay goes through the gradient (Adam's L2 penalty), so Adam's scaling "
            "divides it away. AdamW decouples it: p *= 1 - lr * weight_decay, then the Adam step without decay.",
            _with("optim.adam")),
    Mistake("decay_without_lr", "your decay is not multiplied by the learning rate: PyTorch's AdamW shrinks by "
            "p *= 1 - lr * weight_decay.", _decay_then_adam(False)),
    Mistake("decay_after_step", "you decayed after the Adam step; PyTorch (and Keras) decay first, then step.",
            _decay_then_adam(True, after=True)),
]


def _schedule_rates(rate_at):
    def wrong(case):
        s = case.params["settings"]
        return np.array([rate_at(step, s) for step in range(case.params["steps"] + 1)])
    return wrong


def _reference_rate(step, s, **changes):
    return reference_of("lr_scheduler.warmup_cosine")(step, **{**s, **changes})


def _cosine_from_zero(step, s):
    """Wrong on purpose: the cosine's progress counted from step 0 over the whole run, not from the warmup's end."""
    if step < s["warmup_steps"]:
        return _reference_rate(step, s)
    return s["eta_min"] + (s["base_lr"] - s["eta_min"]) * (1 + math.cos(math.pi * step / s["total_steps"])) / 2


SCHEDULE_MISTAKES = [
    Mistake("warmup_from_zero", "your warmup starts at 0: it starts at start_factor * base_lr and rises linearly to "
            "base_lr at step warmup_steps.", _schedule_rates(lambda t, s: _reference_rate(t, s, start_factor=0.0))),
    Mistake("warmup_one_step_ahead", "your warmup is one step ahead: at step 0 the rate is start_factor * base_lr, "
            "so the fraction of warmup done is step / warmup_steps (not (step + 1) / warmup_steps).",
            _schedule_rates(lambda t, s: _reference_rate(t + 1 if t < s["warmup_steps"] else t, s))),
    Mistake("cosine_from_zero", "your cosine starts counting at step 0: it starts at the end of the warmup, so its "
            "progress is (step - warmup_steps) / (total_steps - warmup_steps).", _schedule_rates(_cosine_from_zero)),
]

# ---- the lesson ------------------------------------------------------------------------------------------

SETUP = """
import math

import numpy as np
from autograd_mini.registry import active
"""


def _rule_exercise(name, function, points, cases, torch_name, tf_oracle, tf_label, mistakes, needs=()):
    return Exercise(f"optim.{name}", function, points, cases, "optimizer_steps",
                    [Oracle(f"PyTorch (torch.optim.{torch_name})", _torch_steps(torch_name)),
                     Oracle(f"TensorFlow ({tf_label})", tf_oracle)], mistakes, needs=needs, what="trajectory")


LESSON = Lesson("05_optimizers", setup=SETUP, exercises=[
    _rule_exercise("sgd", "sgd_update", 3, sgd_cases, "SGD", _tf_sgd,
                   "keras.optimizers.SGD; TF's ApplyMomentum kernel where lr changes", SGD_MISTAKES),
    _rule_exercise("adagrad", "adagrad_update", 2, adagrad_cases, "Adagrad", _tf_adagrad,
                   "keras.optimizers.Adagrad at eps = 0; TF's ApplyAdagradV2 kernel at eps > 0", ADAGRAD_MISTAKES),
    _rule_exercise("rmsprop", "rmsprop_update", 2, rmsprop_cases, "RMSprop", _tf_rmsprop,
                   "keras.optimizers.RMSprop at eps = 0; TF's ApplyAdam kernel as RMSProp at eps > 0", RMSPROP_MISTAKES),
    _rule_exercise("adam", "adam_update", 3, adam_cases, "Adam", _tf_adam(False),
                   "keras.optimizers.Adam, epsilon per step", ADAM_MISTAKES),
    _rule_exercise("adamw", "adamw_update", 2, adamw_cases, "AdamW", _tf_adam(True),
                   "keras.optimizers.AdamW, epsilon per step", ADAMW_MISTAKES, needs=("optim.adam",)),
    Exercise("lr_scheduler.warmup_cosine", "warmup_cosine", 2, schedule_cases, "schedule_rates",
             [Oracle("PyTorch (SequentialLR: LinearLR, CosineAnnealingLR)", _torch_schedule),
              Oracle("TensorFlow (keras CosineDecay with warmup)", _keras_schedule)], SCHEDULE_MISTAKES,
             what="learning rate"),
    prediction("predict.first_to_the_valley", "first_to_the_valley", _race_torch,
               [Oracle("PyTorch (torch.optim race)", _race_torch), Oracle("TensorFlow (keras.optimizers race)", _race_keras)],
               mistakes=RACE_MISTAKES, choices=[0, 1, 2], rtol=1e-10),
    prediction("predict.keras_rmsprop_step", "keras_step_ratio", _step_ratio_torch,
               [Oracle("PyTorch (Keras' step / torch.optim.RMSprop's)", _step_ratio_torch),
                Oracle("TensorFlow (Keras' step / TF's ApplyAdam kernel as RMSProp)", _step_ratio_tf)],
               mistakes=RATIO_MISTAKES, rtol=RATIO_RTOL,
               advice="after one step v = (1 - alpha) g^2; compare sqrt(v) + eps with sqrt(v + eps) for g = 1e-4 and "
                      "eps = 1e-8"),
])
check, grade = LESSON.check, LESSON.grade

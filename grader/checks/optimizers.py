"""Ready-made checks for optimizer update rules, as 50-step trajectories.

The student writes one update rule, PyTorch's convention, updating ``param`` in place::

    def sgd_momentum(param, grad, state, lr, momentum=0.0, nesterov=False, weight_decay=0.0): ...

``state`` is a dict the rule may keep buffers in (empty at the first step). The check runs the rule
for 50 steps on a seeded quadratic with noisy gradients and compares the parameter after every step
with ``torch.optim`` and ``keras.optimizers`` configured to the same convention:

* Keras' SGD momentum (``v = mu v - lr g; p += v``) equals PyTorch's (``v = mu v + g; p -= lr v``)
  for a constant learning rate; L2 weight decay is added to the gradient for Keras, as torch does.
* Keras puts epsilon inside the square root (RMSprop, Adagrad) or before bias correction (Adam), so
  no Keras setting reproduces PyTorch's epsilon. The rule is therefore run twice: with the lesson's
  epsilon (compared with PyTorch) and with epsilon = 0 (compared with PyTorch and Keras).
* Learning rates and betas default to values exact in float32 (0.015625, 0.875, 1 - 2**-10): Keras
  passes Python floats through float32, which would otherwise differ from PyTorch by ~1e-6.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import frameworks as fw
from .core import Case, Check, Oracle
from .diagnose import Mistake
from .result import CheckResult

STEPS = 50


@dataclass
class OptimizerSpec:
    defaults: dict
    has_eps: bool
    torch: Callable  # (torch, [param], hyper) -> torch.optim.Optimizer
    keras: Callable | None  # (keras, hyper) -> keras optimizer (hyper has eps=0 where relevant)
    numpy: Callable  # (param, grad, state, **hyper) -> None, the reference rule (for mistake variants)
    mistakes: list = field(default_factory=list)


# ---- numpy reference rules, used to build known wrong trajectories ---------------------------------

def _sgd(p, g, s, lr, momentum=0.0, nesterov=False, weight_decay=0.0, ema=False):
    g = g + weight_decay * p
    if momentum:
        v = s.get("v")
        v = g.copy() if v is None else momentum * v + ((1 - momentum) * g if ema else g)
        s["v"] = v
        g = g + momentum * v if nesterov else v
    p -= lr * g


def _adagrad(p, g, s, lr, eps=1e-10, weight_decay=0.0, eps_inside=False):
    g = g + weight_decay * p
    s["sum"] = s.get("sum", 0.0) + g * g
    p -= lr * g / (np.sqrt(s["sum"] + eps) if eps_inside else np.sqrt(s["sum"]) + eps)


def _rmsprop(p, g, s, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, eps_inside=False):
    g = g + weight_decay * p
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
    p -= lr * g / (np.sqrt(s["v"] + eps) if eps_inside else np.sqrt(s["v"]) + eps)


def _adam(p, g, s, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, eps_inside=False,
          no_bias_correction=False):
    b1, b2 = betas
    if decoupled:
        p *= 1 - lr * weight_decay
    else:
        g = g + weight_decay * p
    t = s["t"] = s.get("t", 0) + 1
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    m_hat, v_hat = (s["m"], s["v"]) if no_bias_correction else (s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t))
    p -= lr * m_hat / (np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps)


def _adamw(p, g, s, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, **kw):
    _adam(p, g, s, lr, betas, eps, weight_decay, decoupled=True, **kw)


def _variant(rule, **changes):
    return lambda p, g, s, **hyper: rule(p, g, s, **hyper, **changes)


EPS_MESSAGE = ("epsilon is in the wrong place: PyTorch adds it outside the square root, "
               "p -= lr * g / (sqrt(v) + eps); Keras puts it inside, sqrt(v + eps)")

OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(
        {"lr": 0.0625, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}, False,
        lambda torch, params, h: torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"], nesterov=h["nesterov"],
                                                 weight_decay=h["weight_decay"]),
        lambda keras, h: keras.optimizers.SGD(learning_rate=h["lr"], momentum=h["momentum"], nesterov=h["nesterov"]),
        _sgd,
        [Mistake("momentum_convention", "your momentum averages the gradient, v = mu*v + (1-mu)*g (Adam's first "
                 "moment); PyTorch's SGD adds the whole gradient, v = mu*v + g (Keras writes the same rule as "
                 "v = mu*v - lr*g, p += v)", _variant(_sgd, ema=True))]),
    "adagrad": OptimizerSpec(
        {"lr": 0.125, "eps": 1e-6, "weight_decay": 0.0}, True,
        lambda torch, params, h: torch.optim.Adagrad(params, lr=h["lr"], eps=h["eps"], weight_decay=h["weight_decay"]),
        lambda keras, h: keras.optimizers.Adagrad(learning_rate=h["lr"], initial_accumulator_value=0.0, epsilon=0.0),
        _adagrad, [Mistake("epsilon_convention", EPS_MESSAGE, _variant(_adagrad, eps_inside=True))]),
    "rmsprop": OptimizerSpec(
        {"lr": 0.015625, "alpha": 0.99, "eps": 1e-6, "weight_decay": 0.0}, True,
        lambda torch, params, h: torch.optim.RMSprop(params, lr=h["lr"], alpha=h["alpha"], eps=h["eps"],
                                                     weight_decay=h["weight_decay"]),
        lambda keras, h: keras.optimizers.RMSprop(learning_rate=h["lr"], rho=h["alpha"], epsilon=0.0),
        _rmsprop, [Mistake("epsilon_convention", EPS_MESSAGE, _variant(_rmsprop, eps_inside=True))]),
    "adam": OptimizerSpec(
        {"lr": 0.015625, "betas": (0.875, 0.9990234375), "eps": 1e-6, "weight_decay": 0.0}, True,
        lambda torch, params, h: torch.optim.Adam(params, lr=h["lr"], betas=tuple(h["betas"]), eps=h["eps"],
                                                  weight_decay=h["weight_decay"]),
        lambda keras, h: keras.optimizers.Adam(learning_rate=h["lr"], beta_1=h["betas"][0], beta_2=h["betas"][1],
                                               epsilon=0.0),
        _adam, [Mistake("epsilon_convention", EPS_MESSAGE, _variant(_adam, eps_inside=True)),
                Mistake("bias_correction", "Adam divides m by (1 - beta1**t) and v by (1 - beta2**t), t counting "
                        "from 1: the bias correction is missing", _variant(_adam, no_bias_correction=True))]),
    "adamw": OptimizerSpec(
        {"lr": 0.015625, "betas": (0.875, 0.9990234375), "eps": 1e-6, "weight_decay": 0.25}, True,
        lambda torch, params, h: torch.optim.AdamW(params, lr=h["lr"], betas=tuple(h["betas"]), eps=h["eps"],
                                                   weight_decay=h["weight_decay"]),
        lambda keras, h: keras.optimizers.AdamW(learning_rate=h["lr"], weight_decay=h["weight_decay"],
                                                beta_1=h["betas"][0], beta_2=h["betas"][1], epsilon=0.0),
        _adamw, [Mistake("weight_decay_convention", "AdamW decays the parameter itself, p *= 1 - lr*weight_decay, "
                         "before the Adam step; adding weight_decay*p to the gradient is Adam's L2 penalty",
                         lambda p, g, s, **h: _adam(p, g, s, **h))]),
}


def _gradient(case: Case, p: np.ndarray, step: int) -> np.ndarray:
    _, scale, target, noise = case.arrays
    return scale * (p - target) + noise[step]


def optimizer_cases(optimizer: str, hyper: dict | None = None, seed: int = 0) -> list[Case]:
    spec = OPTIMIZERS[optimizer]
    params = {**spec.defaults, **(hyper or {})}
    rng = np.random.default_rng(seed)
    cases = []
    for shape in ((3,), (2, 3)):
        p0 = rng.standard_normal(shape)
        scale = rng.uniform(0.5, 2.0, shape)
        target = rng.standard_normal(shape)
        noise = 0.1 * rng.standard_normal((STEPS,) + shape)
        cases.append(Case((p0, scale, target, noise), dict(params)))
    return cases


def _runs(spec: OptimizerSpec, hyper: dict) -> list[dict]:
    return [hyper, {**hyper, "eps": 0.0}] if spec.has_eps else [hyper]


def run_trajectories(rule: Callable, case: Case, spec: OptimizerSpec) -> tuple:
    """Numpy-only: apply ``rule`` for STEPS steps, once per configuration; one trajectory each."""
    trajectories = []
    for hyper in _runs(spec, case.params):
        p = np.array(case.arrays[0], dtype=np.float64, copy=True)
        state: dict = {}
        path = []
        for step in range(STEPS):
            result = rule(p, _gradient(case, p.copy(), step), state, **hyper)
            if isinstance(result, np.ndarray) and step == 0 and np.array_equal(p, case.arrays[0]):
                raise TypeError("your update returned a new array and left param unchanged: update it in place "
                                "(param -= ..., or param[...] = ...)")
            path.append(np.array(p, dtype=np.float64, copy=True))
        trajectories.append(np.stack(path))
    return tuple(trajectories)


def _torch_trajectories(spec: OptimizerSpec, which: tuple):
    def compute(case: Case):
        torch = fw.torch()
        out = []
        for index, hyper in enumerate(_runs(spec, case.params)):
            if index not in which:
                continue
            p = torch.tensor(case.arrays[0], dtype=torch.float64, requires_grad=True)
            opt = spec.torch(torch, [p], hyper)
            path = []
            for step in range(STEPS):
                p.grad = torch.tensor(_gradient(case, p.detach().numpy().copy(), step))
                opt.step()
                path.append(p.detach().numpy().copy())
            out.append(np.stack(path))
        return tuple(out)
    return compute


def _keras_trajectories(spec: OptimizerSpec, which: tuple):
    def compute(case: Case):
        tf, keras = fw.tf(), fw.keras()
        out = []
        for index, hyper in enumerate(_runs(spec, case.params)):
            if index not in which:
                continue
            var = keras.Variable(case.arrays[0], dtype="float64")
            opt = spec.keras(keras, hyper)
            path = []
            for step in range(STEPS):
                current = np.array(var.numpy(), dtype=np.float64)
                g = _gradient(case, current.copy(), step) + hyper.get("weight_decay", 0.0) * current * (spec.numpy is not _adamw)
                opt.apply_gradients([(tf.constant(g, dtype=tf.float64), var)])
                path.append(np.array(var.numpy(), dtype=np.float64))
            out.append(np.stack(path))
        return tuple(out)
    return compute


def optimizer_check(optimizer: str, hyper: dict | None = None, *, seed: int = 0, cases=None,
                    rtol: float = 1e-9, atol: float = 1e-12) -> Check:
    if optimizer not in OPTIMIZERS:
        raise KeyError(f"no check for optimizer {optimizer!r}; known: {', '.join(sorted(OPTIMIZERS))}")
    spec = OPTIMIZERS[optimizer]
    all_runs = tuple(range(len(_runs(spec, spec.defaults))))
    keras_runs = (len(all_runs) - 1,)  # the eps = 0 run when eps exists, else the only run
    keras_label = "keras.optimizers" + (" (eps = 0: Keras places eps differently)" if spec.has_eps else "")
    oracles = [Oracle("torch.optim", _torch_trajectories(spec, all_runs)),
               Oracle(keras_label, _keras_trajectories(spec, keras_runs), covers=keras_runs)]
    mistakes = [Mistake(m.key, m.message, lambda case, m=m: run_trajectories(m.wrong, case, spec)) for m in spec.mistakes]
    mistakes.append(Mistake("not_in_place", "the parameter never changed: update it in place (param -= ...); "
                            "param = param - ... only rebinds the local name",
                            lambda case: tuple(np.repeat(case.arrays[0][None], STEPS, 0) for _ in all_runs)))
    return Check(
        name=f"{optimizer} update rule", cases=cases if cases is not None else optimizer_cases(optimizer, hyper, seed),
        oracles=oracles, call=lambda rule, case: run_trajectories(rule, case, spec),
        mistakes=mistakes, rtol=rtol, atol=atol, what="parameter trajectory",
    )


def check_optimizer(student_rule: Callable, optimizer: str, *, seed: int = 0, **hyper) -> CheckResult:
    """Compare ``student_rule(param, grad, state, **hyper)`` over 50 steps with torch.optim and Keras."""
    return optimizer_check(optimizer, hyper, seed=seed).run(student_rule)

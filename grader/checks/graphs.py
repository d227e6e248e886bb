"""Checks for whole computations: gradients of small graphs, and a training loop.

* ``check_gradient(student_grads, graph="fork")``: ``student_grads(x, y) -> (dL/dx, dL/dy)`` computed
  with the student's own engine; the graphs reuse a node, so a backward that overwrites instead of
  accumulating is caught.
* ``check_training(student_train)``: ``student_train(w, b, X, y, lr, steps) -> losses`` runs plain
  gradient descent on mean squared error for a linear model and returns the loss before each step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import frameworks as fw
from .core import Case, Check, Oracle
from .diagnose import Mistake
from .result import CheckResult

ACCUMULATE = ("your gradient equals what one branch alone gives: a value used twice must receive the sum "
              "of both gradients. Accumulate with +=, never overwrite with =.")


@dataclass
class Graph:
    expression: Callable  # (ns, x, y) -> scalar; ns has exp/tanh/sum for the framework
    mistakes: list


class _Ns:
    def __init__(self, exp, tanh, sum):
        self.exp, self.tanh, self.sum = exp, tanh, sum


GRAPHS: dict[str, Graph] = {
    # x feeds two branches: dL/dx = y + 1; one branch alone gives y or 1
    "fork": Graph(lambda ns, x, y: ns.sum(x * y + x), [
        Mistake("accumulation", ACCUMULATE, lambda c: (c.arrays[1].copy(), c.arrays[0].copy())),
        Mistake("accumulation", ACCUMULATE, lambda c: (np.ones_like(c.arrays[0]), c.arrays[0].copy()))]),
    # x * x: a node used twice by the same op: dL/dx = 2 x y; one use alone gives x y
    "square": Graph(lambda ns, x, y: ns.sum(x * x * y), [
        Mistake("accumulation", ACCUMULATE, lambda c: (c.arrays[0] * c.arrays[1], c.arrays[0] ** 2))]),
    # a small chain with a fork through tanh: h = tanh(x * y); L = sum(h * h + h * x)
    "chain": Graph(lambda ns, x, y: ns.sum(ns.tanh(x * y) * ns.tanh(x * y) + ns.tanh(x * y) * x), []),
}


def graph_cases(seed: int = 0) -> list[Case]:
    rng = np.random.default_rng(seed)
    return [Case((rng.standard_normal(s), rng.standard_normal(s))) for s in ((1,), (4,), (2, 3))]


def _graph_oracle(graph: Graph, framework: str):
    def compute(case: Case):
        if framework == "torch":
            torch = fw.torch()
            x, y = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in case.arrays)
            graph.expression(_Ns(torch.exp, torch.tanh, torch.sum), x, y).backward()
            return x.grad, y.grad
        tf = fw.tf()
        x, y = (tf.constant(a, dtype=tf.float64) for a in case.arrays)
        with tf.GradientTape() as tape:
            tape.watch([x, y])
            out = graph.expression(_Ns(tf.exp, tf.tanh, tf.reduce_sum), x, y)
        return tuple(tape.gradient(out, [x, y]))
    return compute


def gradient_check(graph: str = "fork", *, seed: int = 0, cases=None, rtol=1e-10, atol=1e-12) -> Check:
    if graph not in GRAPHS:
        raise KeyError(f"no graph {graph!r}; known: {', '.join(sorted(GRAPHS))}")
    spec = GRAPHS[graph]
    return Check(f"gradients of the {graph!r} graph", cases if cases is not None else graph_cases(seed),
                 [Oracle("torch.autograd", _graph_oracle(spec, "torch")), Oracle("tf.GradientTape", _graph_oracle(spec, "tf"))],
                 mistakes=spec.mistakes, rtol=rtol, atol=atol, what="gradient")


def check_gradient(student_grads: Callable, graph: str = "fork", **kw) -> CheckResult:
    """Compare ``student_grads(x, y) -> (dL/dx, dL/dy)`` for a named graph with torch and TF."""
    return gradient_check(graph, **kw).run(student_grads)


# ---- a training loop ------------------------------------------------------------------------------

TRAIN_STEPS = 20


def training_cases(seed: int = 0) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for n, d in ((8, 1), (16, 3)):
        X = rng.standard_normal((n, d))
        y = X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)
        cases.append(Case((np.zeros(d), np.zeros(()), X, y), {"lr": 0.0625, "steps": TRAIN_STEPS}))
    return cases


def _numpy_training(case: Case, accumulate: bool) -> tuple:
    w, b, X, y = (np.array(a, dtype=np.float64) for a in case.arrays)
    gw, gb = np.zeros_like(w), 0.0
    losses = []
    for _ in range(case.params["steps"]):
        residual = X @ w + b - y
        losses.append(np.mean(residual ** 2))
        step_gw, step_gb = 2 * X.T @ residual / len(y), 2 * residual.mean()
        gw, gb = (gw + step_gw, gb + step_gb) if accumulate else (step_gw, step_gb)
        w, b = w - case.params["lr"] * gw, b - case.params["lr"] * gb
    return (np.array(losses),)


def _training_oracle(framework: str):
    def compute(case: Case):
        lr, steps = case.params["lr"], case.params["steps"]
        w0, b0, X, y = case.arrays
        losses = []
        if framework == "torch":
            torch = fw.torch()
            w = torch.tensor(w0, requires_grad=True)
            b = torch.tensor(b0, requires_grad=True)
            Xt, yt = torch.tensor(X), torch.tensor(y)
            opt = torch.optim.SGD([w, b], lr=lr)
            for _ in range(steps):
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(Xt @ w + b, yt)
                losses.append(loss.item())
                loss.backward()
                opt.step()
            return np.array(losses)
        tf, keras = fw.tf(), fw.keras()
        w, b = keras.Variable(w0, dtype="float64"), keras.Variable(b0, dtype="float64")
        opt = keras.optimizers.SGD(learning_rate=lr)
        Xt, yt = tf.constant(X), tf.constant(y)
        for _ in range(steps):
            with tf.GradientTape() as tape:  # a fresh tape each step: TF has nothing to zero
                loss = tf.reduce_mean(tf.square(tf.linalg.matvec(Xt, w) + b - yt))
            losses.append(float(loss.numpy()))
            opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
        return np.array(losses)
    return compute


def training_check(*, seed: int = 0, cases=None, rtol=1e-9, atol=1e-12) -> Check:
    return Check("linear regression training", cases if cases is not None else training_cases(seed),
                 [Oracle("PyTorch (torch.optim.SGD)", _training_oracle("torch")),
                  Oracle("TensorFlow (keras SGD)", _training_oracle("tf"))],
                 mistakes=[Mistake("zero_grad", "your gradients keep growing from step to step: they accumulate "
                                   "across steps. Call zero_grad() (or set .grad = None) before each backward().",
                                   lambda case: _numpy_training(case, accumulate=True))],
                 rtol=rtol, atol=atol, what="loss curve")


def check_training(student_train: Callable, **kw) -> CheckResult:
    """Compare ``student_train(w, b, X, y, lr=..., steps=...) -> losses`` with torch and Keras SGD loops."""
    return training_check(**kw).run(student_train)

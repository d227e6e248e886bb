"""Time one training step of an MLP in numpy, autograd_mini, PyTorch and TensorFlow, in one run.

    python -m benchmarks.train_step [--quick]
    BENCHMARK_THREADS=2 python -m benchmarks.train_step

A step is: forward (linear, ReLU, linear), mean cross-entropy, backward, plain SGD update.
Hand-written numpy backprop is the floor: no graph, no bookkeeping, just the arithmetic.
Prints the median time per step and its ratio to the numpy floor and to PyTorch eager.

Every library gets the same number of threads, BENCHMARK_THREADS (default 1): with more, the
numbers swing wildly whenever anything else runs on the machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Callable

THREADS = int(os.environ.get("BENCHMARK_THREADS", "1"))
# numpy's BLAS reads these when it is first imported, so they come before ``import numpy``.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(THREADS)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

from benchmarks import checkpointing  # noqa: E402

LEARNING_RATE = 0.1


@dataclass(frozen=True)
class Workload:
    name: str
    sizes: tuple[int, int, int]  # inputs, hidden, classes
    batch: int
    dtype: type
    steps: int  # timed steps per repeat


WORKLOADS = [
    Workload("small", (64, 64, 10), 32, np.float64, 200),
    Workload("medium", (784, 256, 10), 128, np.float32, 40),
]


def make_problem(w: Workload, seed: int = 0):
    """The same data and initial weights for every library (weights are (out, in) as in PyTorch)."""
    rng = np.random.default_rng(seed)
    n_in, n_hidden, n_out = w.sizes
    x = rng.standard_normal((w.batch, n_in)).astype(w.dtype)
    y = rng.integers(0, n_out, w.batch)
    params = [
        (rng.uniform(-1, 1, (n_hidden, n_in)) / np.sqrt(n_in)).astype(w.dtype),
        np.zeros(n_hidden, w.dtype),
        (rng.uniform(-1, 1, (n_out, n_hidden)) / np.sqrt(n_hidden)).astype(w.dtype),
        np.zeros(n_out, w.dtype),
    ]
    return x, y, params


def numpy_step(x, y, params) -> Callable[[], float]:
    w1, b1, w2, b2 = [p.copy() for p in params]
    rows = np.arange(len(y))

    def step() -> float:
        h = x @ w1.T + b1
        a = np.maximum(h, 0)
        z = a @ w2.T + b2
        shifted = z - z.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(total[:, 0]) - shifted[rows, y])
        dz = exp / total
        dz[rows, y] -= 1
        dz /= len(y)
        dw2, db2 = dz.T @ a, dz.sum(axis=0)
        dh = (dz @ w2) * (h > 0)
        dw1, db1 = dh.T @ x, dh.sum(axis=0)
        for p, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
            p -= LEARNING_RATE * g
        return float(loss)

    return step


def autograd_mini_steps(x, y, params) -> dict[str, Callable[[], float]]:
    """autograd_mini three ways: eager with one op per step of arithmetic (matmul, transpose, add, log_softmax,
    nll_loss), eager with the fused ops (linear, cross_entropy), and that fused step traced once and replayed."""
    import autograd_mini as am

    F = am.functional

    def build(forward, traced=False):
        tensors = [am.Tensor(p.copy(), requires_grad=True) for p in params]
        optimizer = am.optim.SGD(tensors, lr=LEARNING_RATE)

        def step(inputs, targets):
            optimizer.zero_grad()
            loss = forward(inputs, targets, *tensors)
            loss.backward()
            optimizer.step()
            return loss

        if traced:
            replay = am.trace(step)
            return lambda: replay(x, y).item()
        inputs = am.Tensor(x)
        return lambda: step(inputs, y).item()

    def unfused(inputs, targets, w1, b1, w2, b2):
        logits = F.relu(inputs @ w1.T + b1) @ w2.T + b2
        return am.losses.nll_loss(logits.log_softmax(axis=1), targets)

    def fused(inputs, targets, w1, b1, w2, b2):
        return am.losses.cross_entropy(F.linear(F.relu(F.linear(inputs, w1, b1)), w2, b2), targets)

    return {"autograd_mini eager": build(unfused), "autograd_mini fused": build(fused),
            "autograd_mini replay": build(fused, traced=True)}


def torch_step(x, y, params) -> Callable[[], float]:
    import torch
    import torch.nn.functional as F

    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    w1, b1, w2, b2 = tensors
    optimizer = torch.optim.SGD(tensors, lr=LEARNING_RATE)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        optimizer.zero_grad()
        loss = F.cross_entropy(F.linear(F.relu(F.linear(inputs, w1, b1)), w2, b2), targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def tensorflow_steps(x, y, params) -> tuple[Callable[[], float], Callable[[], float]]:
    """TF eager and the same step traced once by tf.function (a static graph replayed each call)."""
    import tensorflow as tf

    def build():
        variables = [tf.Variable(p) for p in params]
        inputs, targets = tf.constant(x), tf.constant(y)

        def step():
            w1, b1, w2, b2 = variables
            with tf.GradientTape() as tape:
                hidden = tf.nn.relu(tf.matmul(inputs, w1, transpose_b=True) + b1)
                logits = tf.matmul(hidden, w2, transpose_b=True) + b2
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits))
            for v, g in zip(variables, tape.gradient(loss, variables)):
                v.assign_sub(LEARNING_RATE * g)
            return loss

        return step

    eager = build()
    traced = tf.function(build())
    return (lambda: float(eager())), (lambda: float(traced()))


def time_steps(contestants: dict[str, Callable[[], float]], steps: int, repeats: int) -> dict[str, float]:
    """Median seconds per step of each contestant over ``repeats`` rounds of ``steps`` steps, after a warm-up.
    The rounds interleave the contestants, so that a busy moment on the machine hits all of them alike."""
    for step in contestants.values():
        for _ in range(max(steps // 4, 5)):
            step()
    samples: dict[str, list[float]] = {name: [] for name in contestants}
    for _ in range(repeats):
        for name, step in contestants.items():
            start = time.perf_counter()
            for _ in range(steps):
                step()
            samples[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(found) for name, found in samples.items()}


def run(workload: Workload, repeats: int, quick: bool) -> dict[str, float]:
    x, y, params = make_problem(workload)
    tf_eager, tf_function = tensorflow_steps(x, y, params)
    contestants = {
        "numpy (hand-written)": numpy_step(x, y, params),
        **autograd_mini_steps(x, y, params),
        "PyTorch eager": torch_step(x, y, params),
        "TensorFlow eager": tf_eager,
        "tf.function": tf_function,
    }
    losses = {name: step() for name, step in contestants.items()}  # same first step: same loss
    spread = max(losses.values()) - min(losses.values())
    steps = max(workload.steps // 10, 5) if quick else workload.steps
    times = time_steps(contestants, steps, repeats)
    print(f"\n{workload.name}: MLP {'-'.join(map(str, workload.sizes))}, batch {workload.batch}, "
          f"{np.dtype(workload.dtype).name}; first-step losses agree to {spread:.1e}")
    floor, torch_time = times["numpy (hand-written)"], times["PyTorch eager"]
    print(f"  {'':22s} {'median/step':>12s} {'x numpy':>8s} {'x PyTorch':>10s}")
    for name, seconds in times.items():
        print(f"  {name:22s} {seconds * 1e6:9.1f} us {seconds / floor:8.2f} {seconds / torch_time:10.2f}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run, noisy numbers)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import tensorflow as tf
    import torch

    torch.set_num_threads(THREADS)
    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"tensorflow {tf.__version__}; {THREADS} thread(s) each, {os.cpu_count()} cores")
    times = {w.name: run(w, 3 if args.quick else args.repeats, args.quick) for w in WORKLOADS}
    memory = checkpointing.measure(3 if args.quick else 5)
    checkpointing.report(memory)
    report_targets(times, memory["autograd_mini"])


def report_targets(times: dict, checkpoint: dict) -> None:
    """Issue 12's targets, each with the measured number."""
    small, medium = times["small"], times["medium"]
    floor_small, floor_medium = small["numpy (hand-written)"], medium["numpy (hand-written)"]
    plain, cut = checkpoint["plain"], checkpoint["7 decreasing"]
    targets = [
        ("replay, small workload <= 1.3x the numpy floor", small["autograd_mini replay"] / floor_small, 1.3, "x"),
        ("replay, small workload faster than tf.function",
         small["autograd_mini replay"] / small["tf.function"], 1.0, "x tf.function"),
        ("eager with fusion, medium workload <= 1.15x the numpy floor",
         medium["autograd_mini fused"] / floor_medium, 1.15, "x"),
        ("checkpointing (7 decreasing segments) keeps >= 4x less", cut["kept"] / plain["kept"], 0.25,
         "x the plain tape"),
        ("... and at its peak during backward", cut["peak"] / plain["peak"], 0.25, "x the plain tape's peak"),
        ("... for <= 1.5x the compute", cut["seconds"] / plain["seconds"], 1.5, "x"),
    ]
    print("\ntargets (issue 12):")
    for label, value, bound, unit in targets:
        print(f"  {'met    ' if value <= bound else 'MISSED '} {label}: {value:.2f}{unit}")


if __name__ == "__main__":
    main()

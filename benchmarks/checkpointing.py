"""Gradient checkpointing on a 32-layer MLP: the bytes the tape keeps for backward and the time of a forward +
backward, with and without, in autograd_mini and PyTorch (counted with its saved-tensor hooks).

Run by ``python -m benchmarks.train_step`` (which pins the threads first); ``measure()`` returns the numbers.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

DEPTH, WIDTH, BATCH, SEGMENTS = 32, 256, 128, 8


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = [(rng.uniform(-1, 1, (WIDTH, WIDTH)) * np.sqrt(6 / WIDTH), np.zeros(WIDTH)) for _ in range(DEPTH)]
    return rng.standard_normal((BATCH, WIDTH)), rng.integers(0, WIDTH, BATCH), weights


def _median_seconds(run, repeats: int) -> float:
    run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def autograd_mini_runs(x, y, weights):
    """(kept bytes, run) for plain and checkpointed forward + backward."""
    import autograd_mini as am

    layers = []
    for k, (w, b) in enumerate(weights):
        linear = am.nn.Linear(WIDTH, WIDTH)
        linear.weight, linear.bias = am.Tensor(w, requires_grad=True), am.Tensor(b, requires_grad=True)
        layers += [linear, am.nn.ReLU()] if k < DEPTH - 1 else [linear]
    model, inputs = am.nn.Sequential(*layers), am.Tensor(x)

    def loss_of(checkpointed: bool):
        out = am.checkpoint_sequential(layers, SEGMENTS, inputs) if checkpointed else model(inputs)
        return am.losses.cross_entropy(out, y)

    def run(checkpointed: bool):
        def step():
            model.zero_grad()
            loss_of(checkpointed).backward()
        return step

    return {mode: (am.memory.saved_bytes(loss_of(mode)), run(mode)) for mode in (False, True)}


def torch_runs(x, y, weights):
    import torch

    layers = []
    for k, (w, b) in enumerate(weights):
        linear = torch.nn.Linear(WIDTH, WIDTH, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU()] if k < DEPTH - 1 else [linear]
    model, inputs, targets = torch.nn.Sequential(*layers), torch.from_numpy(x), torch.from_numpy(y)
    leaves = {p.untyped_storage().data_ptr() for p in model.parameters()} | {inputs.untyped_storage().data_ptr()}

    def loss_of(checkpointed: bool):
        if checkpointed:
            out = torch.utils.checkpoint.checkpoint_sequential(model, SEGMENTS, inputs, use_reentrant=False)
        else:
            out = model(inputs)
        return torch.nn.functional.cross_entropy(out, targets)

    def kept(checkpointed: bool) -> int:
        storages = {}

        def pack(t):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss_of(checkpointed)
        return sum(n for ptr, n in storages.items() if ptr not in leaves)

    def run(checkpointed: bool):
        def step():
            model.zero_grad()
            loss_of(checkpointed).backward()
        return step

    return {mode: (kept(mode), run(mode)) for mode in (False, True)}


def measure(repeats: int = 5) -> dict:
    """{library: {"kept": (plain, checkpointed) bytes, "seconds": (plain, checkpointed)}}."""
    x, y, weights = _problem()
    found = {}
    for library, runs in (("autograd_mini", autograd_mini_runs(x, y, weights)), ("PyTorch", torch_runs(x, y, weights))):
        seconds = {mode: [] for mode in runs}
        for _ in range(repeats):  # interleaved, as the training-step benchmark does
            for mode, (_, run) in runs.items():
                seconds[mode].append(_median_seconds(run, 1))
        found[library] = {"kept": (runs[False][0], runs[True][0]),
                          "seconds": (statistics.median(seconds[False]), statistics.median(seconds[True]))}
    return found


def report(found: dict) -> None:
    print(f"\ncheckpointing: MLP of {DEPTH} linear layers {WIDTH} wide (ReLU), batch {BATCH}, float64, "
          f"{SEGMENTS} segments (the last one not checkpointed); forward + backward")
    print(f"  {'':14s} {'kept, plain':>12s} {'checkpointed':>13s} {'less':>6s} {'time, plain':>12s} "
          f"{'checkpointed':>13s} {'x time':>7s}")
    for library, numbers in found.items():
        (plain, kept), (slow, fast) = numbers["kept"], numbers["seconds"]
        print(f"  {library:14s} {plain / 2**20:9.2f} MiB {kept / 2**20:10.2f} MiB {plain / kept:5.1f}x "
              f"{slow * 1e3:9.1f} ms {fast * 1e3:10.1f} ms {fast / slow:6.2f}x")

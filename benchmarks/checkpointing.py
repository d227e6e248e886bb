"""Gradient checkpointing on a 32-layer MLP: the bytes the tape keeps for backward and the time of a forward +
backward, plain and checkpointed, in autograd_mini and PyTorch (counted with its saved-tensor hooks).

Two ways to cut the 63 layers: 8 segments of equal length, and 7 segments of decreasing length
(``lengths="decreasing"``). PyTorch runs the same segments, one ``torch.utils.checkpoint.checkpoint`` each (its
``checkpoint_sequential`` would give the 7 layers left over by 63 // 8 to the last segment, which keeps more).
For autograd_mini the tape's peak during backward is measured too (``memory.tape_peak``): what a checkpointed
segment keeps while backward runs it again.

Run by ``python -m benchmarks.train_step`` (which pins the threads first); ``measure()`` returns the numbers.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

DEPTH, WIDTH, BATCH = 32, 256, 128
# (name, segments, lengths); None: no checkpointing
VARIANTS = (("plain", None, None), ("8 equal", 8, "equal"), ("7 decreasing", 7, "decreasing"))


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
    """{variant: (kept bytes after the forward pass, peak bytes during backward, run)}."""
    import autograd_mini as am

    layers = []
    for k, (w, b) in enumerate(weights):
        linear = am.nn.Linear(WIDTH, WIDTH)
        linear.weight, linear.bias = am.Tensor(w, requires_grad=True), am.Tensor(b, requires_grad=True)
        layers += [linear, am.nn.ReLU()] if k < DEPTH - 1 else [linear]
    model, inputs = am.nn.Sequential(*layers), am.Tensor(x)

    def loss_of(segments, lengths):
        out = am.checkpoint_sequential(layers, segments, inputs, lengths) if segments else model(inputs)
        return am.losses.cross_entropy(out, y)

    def measured(segments, lengths):
        with am.memory.tape_peak(inputs, *model.parameters()) as peak:
            loss = loss_of(segments, lengths)
            kept = am.memory.saved_bytes(loss)
            loss.backward()
        model.zero_grad()

        def step():
            model.zero_grad()
            loss_of(segments, lengths).backward()
        return kept, peak.bytes, step

    return {name: measured(segments, lengths) for name, segments, lengths in VARIANTS}


def torch_runs(x, y, weights):
    """{variant: (kept bytes after the forward pass, None: no peak measured, run)}."""
    import torch

    from autograd_mini.checkpointing import segment_bounds

    layers = []
    for k, (w, b) in enumerate(weights):
        linear = torch.nn.Linear(WIDTH, WIDTH, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU()] if k < DEPTH - 1 else [linear]
    model, inputs, targets = torch.nn.Sequential(*layers), torch.from_numpy(x), torch.from_numpy(y)
    leaves = {p.untyped_storage().data_ptr() for p in model.parameters()} | {inputs.untyped_storage().data_ptr()}

    def loss_of(segments, lengths):
        if segments is None:
            out = model(inputs)
        else:  # autograd_mini's bounds; the last segment is not checkpointed either
            out = inputs
            for k, (start, stop) in enumerate(zip(*segment_bounds(len(layers), segments, lengths))):
                part = model[start:stop]
                out = part(out) if k == segments - 1 else torch.utils.checkpoint.checkpoint(
                    part, out, use_reentrant=False)
        return torch.nn.functional.cross_entropy(out, targets)

    def measured(segments, lengths):
        storages = {}

        def pack(t):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss_of(segments, lengths)

        def step():
            model.zero_grad()
            loss_of(segments, lengths).backward()
        return sum(n for ptr, n in storages.items() if ptr not in leaves), None, step

    return {name: measured(segments, lengths) for name, segments, lengths in VARIANTS}


def measure(repeats: int = 5) -> dict:
    """{library: {variant: {"kept": bytes, "peak": bytes or None, "seconds": median}}}."""
    x, y, weights = _problem()
    found = {}
    for library, runs in (("autograd_mini", autograd_mini_runs(x, y, weights)), ("PyTorch", torch_runs(x, y, weights))):
        seconds = {name: [] for name in runs}
        for _ in range(repeats):  # interleaved, as the training-step benchmark does
            for name, (_, _, run) in runs.items():
                seconds[name].append(_median_seconds(run, 1))
        found[library] = {name: {"kept": kept, "peak": peak, "seconds": statistics.median(seconds[name])}
                          for name, (kept, peak, _) in runs.items()}
    return found


def report(found: dict) -> None:
    print(f"\ncheckpointing: MLP of {DEPTH} linear layers {WIDTH} wide (ReLU), batch {BATCH}, float64; forward + "
          "backward; the last segment is not checkpointed")
    print(f"  {'':28s} {'kept':>10s} {'less':>6s} {'peak':>10s} {'less':>6s} {'time':>9s} {'x time':>7s}")
    for library, variants in found.items():
        plain = variants["plain"]
        for name, numbers in variants.items():
            peak = numbers["peak"]
            peak_columns = (f"{peak / 2**20:6.2f} MiB {plain['peak'] / peak:5.1f}x" if peak is not None
                            else f"{'-':>10s} {'':6s}")
            print(f"  {library + ', ' + name:28s} {numbers['kept'] / 2**20:6.2f} MiB "
                  f"{plain['kept'] / numbers['kept']:5.1f}x {peak_columns} {numbers['seconds'] * 1e3:6.1f} ms "
                  f"{numbers['seconds'] / plain['seconds']:6.2f}x")

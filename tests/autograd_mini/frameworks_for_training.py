"""Shared helpers for the loss / optimizer / schedule / nn tests: the two oracles, in float64.

Importing this module imports PyTorch and TensorFlow once (TensorFlow quietly), makes torch's
default dtype float64 and pins both to one thread (the course runs on 2 cores).

The numbers that matter for the lessons live here too:

* ``assert_close`` — |actual - expected| <= rtol |expected| + atol, with ``atol`` a tiny multiple of
  the largest |expected| (entries that are ~0 only through cancellation have no meaningful
  relative error, and summation order differs between numpy, torch and TF kernels).
* ``keras_float64`` — Keras reads Python-float hyperparameters through float32 (in TF,
  ``ops.cast(0.9, "float64")`` first makes a float32 tensor: 0.8999999761581421) and creates its
  learning-rate variable in ``floatx``. Inside this context ``floatx`` is float64, and
  ``f64(...)`` wraps hyperparameters as numpy float64 so they reach the update rule unrounded.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)
try:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
except RuntimeError:  # TF already ran an op in this process (another test module got there first)
    pass

RTOL = 1e-10
# Relative to the largest |expected| entry, see assert_close.
ATOL_SCALE = 1e-13


def assert_close(actual, expected, what: str = "value", rtol: float = RTOL, atol: float | None = None) -> None:
    """Elementwise |actual - expected| <= rtol |expected| + atol, shapes equal, both finite where expected is."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    assert np.isfinite(expected).all(), f"{what}: the oracle itself is not finite: {expected}"
    assert np.isfinite(actual).all(), f"{what}: non-finite entries {actual[~np.isfinite(actual)]}"
    if atol is None:
        atol = ATOL_SCALE * (np.abs(expected).max() if expected.size else 0.0)
    error = np.abs(actual - expected)
    bound = rtol * np.abs(expected) + atol
    bad = error > bound
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(bad, error - bound, -np.inf)), bad.shape) if bad.ndim else ()
        raise AssertionError(
            f"{what}: {np.count_nonzero(bad)} of {bad.size} entries differ; worst at {worst}: "
            f"{actual[worst]!r} vs expected {expected[worst]!r} "
            f"(relative error {error[worst] / max(abs(expected[worst]), 1e-300):.3g}, rtol={rtol}, atol={atol:.3g})"
        )


def f64(x):
    """A hyperparameter Keras will not round through float32."""
    return np.float64(x)


@contextmanager
def keras_float64():
    """Keras optimizers created inside keep their learning rate (and schedules) in float64."""
    previous = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


def upstream_for(shape, seed: int = 0) -> np.ndarray:
    """A random upstream gradient (d final / d output), so a non-scalar output is checked in full."""
    return np.random.default_rng(seed + 12345).normal(size=shape)


def run_mini(fn, x: np.ndarray, *others):
    """``fn(Tensor(x), *others)`` and d(sum(upstream * out))/dx in autograd_mini."""
    from autograd_mini import Tensor

    xt = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    out = fn(xt, *others)
    out.backward(upstream_for(out.shape))
    return out.data, xt.grad


def run_torch(fn, x: np.ndarray, *others):
    """Same as ``run_mini`` with torch.autograd; numpy ``others`` become tensors (ints stay int64)."""
    xt = torch.tensor(np.array(x, dtype=np.float64), requires_grad=True)
    out = fn(xt, *(torch.as_tensor(o) if isinstance(o, np.ndarray) else o for o in others))
    out.backward(torch.as_tensor(upstream_for(tuple(out.shape))))
    return out.detach().numpy(), xt.grad.numpy()


def run_tf(fn, x: np.ndarray, *others):
    """Same as ``run_mini`` with tf.GradientTape."""
    xt = tf.constant(np.array(x, dtype=np.float64))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = fn(xt, *(tf.constant(o) if isinstance(o, np.ndarray) else o for o in others))
    grad = tape.gradient(out, xt, output_gradients=tf.constant(upstream_for(tuple(out.shape))))
    return out.numpy(), tf.convert_to_tensor(grad).numpy()

"""Shared set-up for the autograd_mini tests: the two oracle frameworks, imported once per session.

PyTorch and TensorFlow are slow to import and greedy with threads; the course runs on 2 cores, so
both are pinned to one thread right after import, before any op runs.
"""
from __future__ import annotations

import os
import types

import numpy as np
import pytest

# Both float64 comparisons in this folder allow this much (see ``assert_close``).
RTOL = 1e-10
ATOL = 1e-12


@pytest.fixture(scope="session")
def torch():
    import torch as torch_module

    torch_module.set_num_threads(1)
    torch_module.set_default_dtype(torch_module.float64)
    return torch_module


@pytest.fixture(scope="session")
def tf():
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    import tensorflow as tf_module

    try:
        tf_module.config.threading.set_intra_op_parallelism_threads(1)
        tf_module.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised by an earlier import in this process
        pass
    return tf_module


@pytest.fixture(scope="session")
def oracles(torch, tf):
    return types.SimpleNamespace(torch=torch, tf=tf)


@pytest.fixture(scope="session")
def close():
    """``close(actual, expected, what)``: the float64 comparison every test here uses."""
    return assert_close


def assert_close(actual, expected, what: str = "value", rtol: float = RTOL, atol: float = ATOL) -> None:
    """|actual - expected| <= rtol * |expected| + atol, elementwise, with equal shapes.

    The tiny ``atol`` only matters for entries whose exact value is ~0 (e.g. a gradient summed over
    a broadcast axis where terms cancel): there a relative bound is meaningless, and summation
    order (numpy pairwise vs. torch/TF kernels) leaves ~1e-16 per term.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    both_nan = np.isnan(actual) & np.isnan(expected)
    same_inf = np.isinf(expected) & (actual == expected)
    with np.errstate(invalid="ignore"):  # inf - inf is NaN: those entries are judged by same_inf
        error = np.abs(actual - expected)
    bound = rtol * np.abs(expected) + atol
    ok = both_nan | same_inf | (error <= bound)
    if not ok.all():
        worst = np.unravel_index(np.argmax(np.where(ok, 0, error - bound)), ok.shape) if ok.ndim else ()
        raise AssertionError(
            f"{what}: {np.count_nonzero(~ok)} of {ok.size} entries differ; worst at {worst}: "
            f"{actual[worst]!r} vs {expected[worst]!r} (rtol={rtol}, atol={atol})"
        )

"""The pieces lesson 07 added to autograd_mini, against PyTorch and TensorFlow in float64.

* the initialisers ``nn.init.xavier_uniform`` / ``xavier_normal`` / ``kaiming_uniform`` / ``kaiming_normal``: their
  exact bound or std against ``torch.nn.init`` and Keras' ``VarianceScaling``. Each library scales one stream of
  standard draws, so a draw divided by the standard draws of the same seed is the scale, to rounding. Keras'
  uniform bound is rounded to float32 even for float64 weights (its TensorFlow backend casts the Python float
  bound with ``tf.cast``, which makes a float32 tensor first); its normal std is not;
* ``nn.utils.clip_grad_norm``: ``torch.nn.utils.clip_grad_norm_`` and ``tf.clip_by_global_norm`` (configured with
  PyTorch's eps), in place, above and below max_norm, with a parameter that has no gradient;
* ``nn.utils.count_dead_relus``: the units whose ReLU passes no gradient for any example, from each framework's
  own ReLU gradient (0 at 0 in both).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import Tensor, nn

# (PyTorch layout (out, in, *kernel), Keras' layout of the same weight, how to turn Keras' into PyTorch's)
SHAPES = [((64, 32), (32, 64), (1, 0)), ((10, 300), (300, 10), (1, 0)), ((8, 3, 5, 5), (5, 5, 3, 8), (3, 2, 0, 1))]
GAINS = [1.0, 5 / 3]
NONLINEARITIES = ["relu", "tanh", "linear"]


def scale_of(draws: np.ndarray, standard: np.ndarray) -> float:
    """The one number s with draws == s * standard (least squares), asserting that there is one."""
    s = float(np.vdot(draws, standard) / np.vdot(standard, standard))
    assert np.abs(draws - s * standard).max() <= 1e-12 * np.abs(draws).max(), "not one scaled stream of standard draws"
    return s


def ours(name, shape, seed, **settings):
    draws = am.registry.reference_of(name)(shape, rng=np.random.default_rng(seed), **settings)
    uniform = "uniform" in name
    standard = np.random.default_rng(seed).uniform(-1, 1, shape) if uniform else np.random.default_rng(seed).standard_normal(shape)
    assert draws.shape == shape and draws.dtype == np.float64
    return scale_of(draws, standard)


def torch_scale(torch, initialiser, shape, seed, uniform, **settings):
    w = initialiser(torch.empty(shape, dtype=torch.float64), generator=torch.Generator().manual_seed(seed), **settings)
    z = torch.empty(shape, dtype=torch.float64)
    z = z.uniform_(-1, 1, generator=torch.Generator().manual_seed(seed)) if uniform else \
        z.normal_(0, 1, generator=torch.Generator().manual_seed(seed))
    return scale_of(w.numpy(), z.numpy())


def keras_scale(keras, shape, scale, mode, distribution, seed):
    w = keras.initializers.VarianceScaling(scale=scale, mode=mode, distribution=distribution, seed=seed)(shape, dtype="float64")
    standard = (keras.initializers.RandomUniform(-1.0, 1.0, seed=seed) if distribution == "uniform"
                else keras.initializers.RandomNormal(0.0, 1.0, seed=seed))(shape, dtype="float64")
    return scale_of(np.asarray(w), np.asarray(standard))


@pytest.fixture(scope="module")
def keras(tf):
    import keras as keras_module

    return keras_module


@pytest.mark.parametrize("gain", GAINS)
@pytest.mark.parametrize("torch_shape, keras_shape, _", SHAPES)
def test_xavier_bound_and_std_match_torch_and_keras(torch_shape, keras_shape, _, gain, torch, keras, close):
    for name, torch_init, distribution in (("nn.init.xavier_uniform", torch.nn.init.xavier_uniform_, "uniform"),
                                           ("nn.init.xavier_normal", torch.nn.init.xavier_normal_, "untruncated_normal")):
        mine = ours(name, torch_shape, 3, gain=gain)
        uniform = distribution == "uniform"
        close(mine, torch_scale(torch, torch_init, torch_shape, 4, uniform, gain=gain), f"{name} vs torch")
        theirs = keras_scale(keras, keras_shape, gain**2, "fan_avg", distribution, 5)
        close(float(np.float32(mine)) if uniform else mine, theirs, f"{name} vs Keras")


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("torch_shape, keras_shape, _", SHAPES)
def test_kaiming_bound_and_std_match_torch_and_keras(torch_shape, keras_shape, _, nonlinearity, torch, keras, close):
    gain = torch.nn.init.calculate_gain(nonlinearity)
    for name, torch_init, distribution in (("nn.init.kaiming_uniform", torch.nn.init.kaiming_uniform_, "uniform"),
                                           ("nn.init.kaiming_normal", torch.nn.init.kaiming_normal_, "untruncated_normal")):
        mine = ours(name, torch_shape, 3, nonlinearity=nonlinearity)
        close(mine, torch_scale(torch, torch_init, torch_shape, 4, distribution == "uniform", mode="fan_in",
                                nonlinearity=nonlinearity), f"{name} vs torch")
        theirs = keras_scale(keras, keras_shape, gain**2, "fan_in", distribution, 5)
        close(float(np.float32(mine)) if distribution == "uniform" else mine, theirs, f"{name} vs Keras")


def test_keras_he_normal_truncates_yet_keeps_the_variance(keras):
    """Keras' he_normal draws a normal of std sqrt(2/fan_in) / 0.8796 cut at 2 of those stds: the variance is He's,
    the tails are gone (PyTorch's kaiming_normal_ keeps them)."""
    fan_in = 400
    w = np.asarray(keras.initializers.HeNormal(seed=0)((fan_in, 500), dtype="float64"))
    std = math.sqrt(2 / fan_in)
    assert abs(w.std() / std - 1) < 0.01
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 * (1 + 1e-12)


def test_the_in_place_initialisers_run_the_registered_piece():
    weight = Tensor(np.zeros((3, 4)), requires_grad=True)
    with am.use({"nn.init.kaiming_normal": lambda shape, nonlinearity, rng: np.full(shape, 7.0)}):
        assert nn.init.kaiming_normal_(weight) is weight
    assert np.all(weight.data == 7.0)
    nn.init.kaiming_normal_(weight, rng=np.random.default_rng(0))
    assert np.allclose(weight.data / np.random.default_rng(0).standard_normal((3, 4)), math.sqrt(2 / 4), rtol=1e-12)
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(5,\)"):
        nn.init.xavier_uniform_(Tensor(np.zeros(5)))


# ---- clipping by global norm --------------------------------------------------------------------------------------

def clip_case(seed, max_norm):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * rng.uniform(0.1, 3) for s in [(4, 3), (3,), (2, 2, 2)]], max_norm


CLIP_CASES = [clip_case(0, 1.0), clip_case(1, 100.0), clip_case(2, 2.5), clip_case(3, 1e-3)]


def clipped_by_us(grads, max_norm):
    params = [Tensor(np.zeros_like(g), requires_grad=True) for g in grads] + [Tensor(np.zeros(2), requires_grad=True)]
    held = [g.copy() for g in grads]
    for p, g in zip(params, held):
        p.grad = g  # the last parameter has no gradient and is skipped
    total = nn.utils.clip_grad_norm_(params, max_norm)
    assert all(p.grad is g for p, g in zip(params, held)), "clipping must change the gradient arrays in place"
    assert params[-1].grad is None
    return total, held


@pytest.mark.parametrize("grads, max_norm", CLIP_CASES)
def test_clip_grad_norm_matches_torch(grads, max_norm, torch, close):
    total, clipped = clipped_by_us(grads, max_norm)
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    close(total, torch.nn.utils.clip_grad_norm_(params, max_norm).item(), "total norm vs torch")
    for mine, p in zip(clipped, params):
        close(mine, p.grad.numpy(), "clipped gradient vs torch")


@pytest.mark.parametrize("grads, max_norm", CLIP_CASES)
def test_clip_grad_norm_matches_tf_with_pytorchs_eps(grads, max_norm, tf, close):
    total, clipped = clipped_by_us(grads, max_norm)
    tensors = [tf.constant(g) for g in grads]
    norm = tf.linalg.global_norm(tensors)
    # tf.clip_by_global_norm scales by clip_norm / max(norm, clip_norm); PyTorch by max_norm / (norm + 1e-6), at most 1
    theirs, tf_norm = tf.clip_by_global_norm(tensors, max_norm * norm / (norm + 1e-6), use_norm=norm)
    close(total, tf_norm.numpy(), "total norm vs TF")
    for mine, t in zip(clipped, theirs):
        close(mine, t.numpy(), "clipped gradient vs TF")
    plain, _ = tf.clip_by_global_norm(tensors, max_norm)  # without the eps: ~1e-6 / norm relative apart when clipping
    if total > max_norm:
        assert 0 < np.abs(plain[0].numpy() / clipped[0] - 1).max() < 2e-6 / total + 1e-15


# ---- dead ReLUs ------------------------------------------------------------------------------------------------------

def dead_case(seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((16, 12))
    z[:, [1, 5]] = -np.abs(z[:, [1, 5]])          # off for every example
    z[:, 7] = 0.0                                 # exactly 0 everywhere: passes no gradient either
    z[:, 9] = np.minimum(z[:, 9], 0.0)            # off or exactly 0
    z[3, 2] = -np.abs(z[3, 2]) - 5                # off for one example only: alive
    return z


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dead_relus_are_the_units_frameworks_give_no_gradient(seed, torch, tf):
    z = dead_case(seed)
    zt = torch.tensor(z, requires_grad=True)
    torch.relu(zt).sum().backward()
    zf = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zf)
        out = tf.reduce_sum(tf.nn.relu(zf))
    for grad in (zt.grad.numpy(), tape.gradient(out, zf).numpy()):
        assert nn.utils.count_dead_relus(z) == int(np.all(grad == 0, axis=0).sum())
    assert nn.utils.count_dead_relus(z) >= 4

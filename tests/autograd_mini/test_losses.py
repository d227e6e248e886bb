"""Every loss of autograd_mini.losses, each reduction, against PyTorch and TensorFlow in float64.

For each loss: the value and the gradient with respect to the input (after a random upstream
gradient, so reduction="none" is checked in full) equal torch.nn.functional's and TensorFlow's to
1e-10 relative, on seeded random shapes.

The TensorFlow side uses the Keras loss class where Keras means the same thing, configured to:

* compute in float64: a Keras loss casts to its ``dtype``, which defaults to floatx (float32);
* reduce elementwise: Keras losses average over the last axis first (one loss per sample), so the
  inputs get a trailing axis of size 1; then Keras ``reduction="sum_over_batch_size"`` is torch's
  "mean", ``"sum"`` is "sum" and ``None`` is "none";
* Huber: Keras' ``delta`` is torch's ``delta`` (0.5 e^2 inside |e| < delta, delta (|e| - delta/2) outside);
* BinaryCrossentropy on probabilities: Keras *clips the probabilities* to [1e-7, 1 - 1e-7] where
  torch *clamps each log at -100*. The two agree for probabilities inside [1e-7, 1 - 1e-7] (the
  random tests stay in [0.02, 0.98]); at p = 0 or 1 Keras gives -log(1e-7) = 16.1 and torch 100, so
  the boundary test compares against the torch formula written in TF ops instead.

and plain tf.nn where Keras has no equivalent: ``tf.nn.sigmoid_cross_entropy_with_logits``,
``tf.nn.sparse_softmax_cross_entropy_with_logits`` and, for nll_loss, ``-gather(log_probs, target)``.
"""
from __future__ import annotations

import numpy as np
import pytest
from frameworks_for_training import assert_close, keras, run_mini, run_tf, run_torch, tf, torch

from autograd_mini import Tensor, losses

F = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]
SEEDS = [0, 1, 2, 3]
KERAS_REDUCTION = {"mean": "sum_over_batch_size", "sum": "sum", "none": None}
TF_REDUCE = {"mean": tf.reduce_mean, "sum": tf.reduce_sum, "none": lambda x: x}


def random_shape(rng) -> tuple[int, ...]:
    return tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4)))


# ---- data for each loss: (input, target, extra keyword arguments) --------------------------------


def regression_data(seed):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng)
    return rng.normal(size=shape) * 2, rng.normal(size=shape) * 2


def probability_data(seed):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng)
    # soft targets in [0, 1], as torch allows; probabilities away from Keras' 1e-7 clipping
    return rng.uniform(0.02, 0.98, size=shape), rng.uniform(0, 1, size=shape)


def logit_data(seed):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng)
    return rng.normal(size=shape) * 4, rng.uniform(0, 1, size=shape)


def class_data(seed):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 9)), int(rng.integers(2, 7))
    return rng.normal(size=(n, c)) * 3, rng.integers(0, c, size=n)


def log_prob_data(seed):
    logits, target = class_data(seed)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)), target


def keras_elementwise(loss_class, **options):
    """A Keras loss applied elementwise (trailing axis of 1), as torch's losses are."""

    def run(x, t, reduction):
        loss = loss_class(reduction=KERAS_REDUCTION[reduction], dtype="float64", **options)
        return loss(t[..., None], x[..., None])  # Keras takes (y_true, y_pred)

    return run


def tf_nll(log_probs, target, reduction):
    return TF_REDUCE[reduction](-tf.gather(log_probs, target, batch_dims=1))


def tf_bce_logits(x, t, reduction):
    return TF_REDUCE[reduction](tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=x))


def tf_sparse_ce(x, t, reduction):
    return TF_REDUCE[reduction](tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=x))


def keras_sparse_ce(x, t, reduction):
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=KERAS_REDUCTION[reduction], dtype="float64"
    )(t, x)


# name: (data, autograd_mini loss, torch loss, [TensorFlow oracles], keyword arguments)
CASES = {
    "mse_loss": (regression_data, losses.mse_loss, F.mse_loss, [keras_elementwise(keras.losses.MeanSquaredError)], {}),
    "l1_loss": (regression_data, losses.l1_loss, F.l1_loss, [keras_elementwise(keras.losses.MeanAbsoluteError)], {}),
    "huber_loss": (regression_data, losses.huber_loss, F.huber_loss, [keras_elementwise(keras.losses.Huber, delta=1.0)], {}),
    "huber_loss_delta_0.7": (
        regression_data, losses.huber_loss, F.huber_loss, [keras_elementwise(keras.losses.Huber, delta=0.7)], {"delta": 0.7}
    ),
    "binary_cross_entropy": (
        probability_data, losses.binary_cross_entropy, F.binary_cross_entropy,
        [keras_elementwise(keras.losses.BinaryCrossentropy)], {},
    ),
    "binary_cross_entropy_with_logits": (
        logit_data, losses.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
        [tf_bce_logits, keras_elementwise(keras.losses.BinaryCrossentropy, from_logits=True)], {},
    ),
    "cross_entropy": (class_data, losses.cross_entropy, F.cross_entropy, [tf_sparse_ce, keras_sparse_ce], {}),
    "nll_loss": (log_prob_data, losses.nll_loss, F.nll_loss, [tf_nll], {}),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_loss_value_and_input_gradient_match_torch(name, reduction, seed):
    data, mini_loss, torch_loss, _, kwargs = CASES[name]
    x, target = data(seed)
    value, grad = run_mini(lambda a, t: mini_loss(a, t, reduction=reduction, **kwargs), x, target)
    torch_value, torch_grad = run_torch(lambda a, t: torch_loss(a, t, reduction=reduction, **kwargs), x, target)
    assert_close(value, torch_value, f"{name}({reduction}) value, input shape {x.shape}")
    assert_close(grad, torch_grad, f"{name}({reduction}) gradient, input shape {x.shape}")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_loss_value_and_input_gradient_match_tensorflow(name, reduction, seed):
    data, mini_loss, _, tf_losses, kwargs = CASES[name]
    x, target = data(seed)
    value, grad = run_mini(lambda a, t: mini_loss(a, t, reduction=reduction, **kwargs), x, target)
    for tf_loss in tf_losses:
        tf_value, tf_grad = run_tf(lambda a, t: tf_loss(a, t, reduction), x, target)
        assert_close(value, tf_value, f"{name}({reduction}) value vs {tf_loss.__name__}, input shape {x.shape}")
        assert_close(grad, tf_grad, f"{name}({reduction}) gradient vs {tf_loss.__name__}, input shape {x.shape}")


# ---- targets: numpy or Tensor ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mse_loss", "binary_cross_entropy", "cross_entropy", "nll_loss"])
def test_target_may_be_a_tensor_or_a_numpy_array(name):
    data, mini_loss, _, _, kwargs = CASES[name]
    x, target = data(5)
    from_numpy = mini_loss(Tensor(x), target, **kwargs).item()
    from_tensor = mini_loss(Tensor(x), Tensor(target), **kwargs).item()
    assert from_numpy == from_tensor


# ---- gradient with respect to the target, and ties ---------------------------------------------


@pytest.mark.parametrize(
    "name", ["mse_loss", "l1_loss", "huber_loss_delta_0.7", "binary_cross_entropy", "binary_cross_entropy_with_logits"]
)
def test_target_gradient_matches_torch(name):
    """torch differentiates these losses with respect to the target too (e.g. distillation)."""
    data, mini_loss, torch_loss, _, kwargs = CASES[name]
    x, target = data(6)
    value, grad_target = run_mini(lambda t, a: mini_loss(a, t, **kwargs), target, Tensor(x))
    torch_value, torch_grad_target = run_torch(lambda t, a: torch_loss(a, t, **kwargs), target, x)
    assert_close(value, torch_value, f"{name} value")
    assert_close(grad_target, torch_grad_target, f"{name} gradient with respect to the target")


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "huber_loss_delta_0.7"])
def test_ties_and_the_huber_threshold_match_torch(name):
    # input == target (l1's kink: torch's gradient there is 0) and |input - target| == delta exactly
    _, mini_loss, torch_loss, _, kwargs = CASES[name]
    delta = kwargs.get("delta", 1.0)
    target = np.array([0.5, -1.0, 2.0, 0.0, 3.0, -2.0])
    x = target + np.array([0.0, 0.0, delta, -delta, 2 * delta, 0.25])
    value, grad = run_mini(lambda a, t: mini_loss(a, t, reduction="none", **kwargs), x, target)
    torch_value, torch_grad = run_torch(lambda a, t: torch_loss(a, t, reduction="none", **kwargs), x, target)
    assert_close(value, torch_value, f"{name} at ties")
    assert_close(grad, torch_grad, f"{name} gradient at ties")


# ---- extreme inputs ------------------------------------------------------------------------------

EXTREME_LOGITS = np.array([1000.0, -1000.0, 1000.0, -1000.0, 1e-3, 35.0, -35.0, 700.0])
EXTREME_TARGETS = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 1.0, 1.0, 0.25])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_is_finite_and_equals_torch_for_logits_of_1000(reduction):
    value, grad = run_mini(
        lambda a, t: losses.binary_cross_entropy_with_logits(a, t, reduction=reduction), EXTREME_LOGITS, EXTREME_TARGETS
    )
    torch_value, torch_grad = run_torch(
        lambda a, t: F.binary_cross_entropy_with_logits(a, t, reduction=reduction), EXTREME_LOGITS, EXTREME_TARGETS
    )
    assert np.isfinite(value).all() and np.isfinite(grad).all()
    assert_close(value, torch_value, f"bce_with_logits({reduction}) at +-1000")
    assert_close(grad, torch_grad, f"bce_with_logits({reduction}) gradient at +-1000")
    tf_value, tf_grad = run_tf(lambda a, t: tf_bce_logits(a, t, reduction), EXTREME_LOGITS, EXTREME_TARGETS)
    assert_close(value, tf_value, f"bce_with_logits({reduction}) at +-1000 vs TF")
    assert_close(grad, tf_grad, f"bce_with_logits({reduction}) gradient at +-1000 vs TF")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradient_at_logit_zero_is_sigmoid_0_minus_target(reduction):
    # A zero-initialised logistic regression starts with every logit exactly 0; there the gradient
    # is sigmoid(0) - t = 0.5 - t (the loss is smooth at 0, whatever kinks its formula has).
    logits = np.zeros(4)
    targets = np.array([0.0, 1.0, 0.5, 0.25])
    _, grad = run_mini(lambda a, t: losses.binary_cross_entropy_with_logits(a, t, reduction=reduction), logits, targets)
    _, torch_grad = run_torch(lambda a, t: F.binary_cross_entropy_with_logits(a, t, reduction=reduction), logits, targets)
    _, tf_grad = run_tf(lambda a, t: tf_bce_logits(a, t, reduction), logits, targets)
    assert_close(torch_grad, tf_grad, "the oracles agree")
    assert_close(grad, torch_grad, f"bce_with_logits({reduction}) gradient at logit 0")


def test_bce_with_logits_keeps_relative_precision_for_confident_correct_predictions():
    # The loss of a confident, correct prediction is tiny but not zero: log1p(exp(-30)) = 9.4e-14.
    # TF's formula, max(x, 0) - x t + log1p(exp(-|x|)), keeps it to full relative precision;
    # log(1 + exp(-|x|)) would round it to 0. (torch keeps it for x > 0, t = 1, but returns 0 for
    # x = -40, t = 0: it computes (1 - t) x - log_sigmoid(x) = -40 + 40.)
    logits = np.array([15.0, 20.0, 30.0, 40.0, -30.0, -40.0])
    targets = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    exact = np.log1p(np.exp(-np.abs(logits)))
    value, _ = run_mini(lambda a, t: losses.binary_cross_entropy_with_logits(a, t, reduction="none"), logits, targets)
    tf_value, _ = run_tf(lambda a, t: tf_bce_logits(a, t, "none"), logits, targets)
    assert_close(tf_value, exact, "TF itself", atol=0.0)
    assert_close(value, exact, "bce_with_logits of confident correct predictions", atol=0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_is_finite_and_equals_torch_for_logits_of_1000(reduction):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0], [0.0, 0.0, -1000.0], [1000.0, 999.0, -1000.0]])
    target = np.array([1, 2, 2, 0])
    value, grad = run_mini(lambda a, t: losses.cross_entropy(a, t, reduction=reduction), logits, target)
    torch_value, torch_grad = run_torch(lambda a, t: F.cross_entropy(a, t, reduction=reduction), logits, target)
    assert np.isfinite(value).all() and np.isfinite(grad).all()
    assert_close(value, torch_value, f"cross_entropy({reduction}) at +-1000")
    assert_close(grad, torch_grad, f"cross_entropy({reduction}) gradient at +-1000")
    tf_value, tf_grad = run_tf(lambda a, t: tf_sparse_ce(a, t, reduction), logits, target)
    assert_close(value, tf_value, f"cross_entropy({reduction}) at +-1000 vs TF")
    assert_close(grad, tf_grad, f"cross_entropy({reduction}) gradient at +-1000 vs TF")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_on_probabilities_0_and_1_clamps_the_log_at_minus_100_like_torch(reduction):
    # sigmoid(+-1000) is exactly 1.0 / 0.0 in float64: log(0) is clamped to -100 (loss 100), and
    # torch's gradient clamps the denominator p(1 - p) at 1e-12 (so d/dp = +-1e12 where wrong).
    # Looser tolerance for those clamped gradients only: torch's 1e-12 is a float32 constant
    # (9.99999996e-13), which makes its gradient 4e-9 larger, relatively, than (p - t) / 1e-12.
    probs = np.array([1.0, 0.0, 1.0, 0.0, 0.5, 1.0])
    targets = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.3])
    value, grad = run_mini(lambda a, t: losses.binary_cross_entropy(a, t, reduction=reduction), probs, targets)
    torch_value, torch_grad = run_torch(lambda a, t: F.binary_cross_entropy(a, t, reduction=reduction), probs, targets)
    assert np.isfinite(value).all() and np.isfinite(grad).all()
    assert_close(value, torch_value, f"binary_cross_entropy({reduction}) at p in {{0, 1}}")
    assert_close(grad, torch_grad, f"binary_cross_entropy({reduction}) gradient at p in {{0, 1}}", rtol=1e-8)

    # Keras clips p to [1e-7, 1 - 1e-7] instead, so its value differs here; torch's rule in TF ops:
    def torch_rule_in_tf(p, t, reduction):
        log_p = tf.maximum(tf.math.log(p), -100.0)
        log_1mp = tf.maximum(tf.math.log(1 - p), -100.0)
        return TF_REDUCE[reduction](-(t * log_p + (1 - t) * log_1mp))

    tf_value, _ = run_tf(lambda a, t: torch_rule_in_tf(a, t, reduction), probs, targets)
    assert_close(value, tf_value, f"binary_cross_entropy({reduction}) at p in {{0, 1}} vs TF")
    keras_value = keras.losses.BinaryCrossentropy(reduction=None, dtype="float64")(targets[:, None], probs[:, None]).numpy()
    assert keras_value[2] == pytest.approx(-np.log(1e-7), rel=1e-6)  # the documented Keras difference


# ---- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_unknown_reduction_is_a_value_error_naming_the_valid_ones(name):
    data, mini_loss, _, _, kwargs = CASES[name]
    x, target = data(0)
    with pytest.raises(ValueError) as error:
        mini_loss(Tensor(x), target, reduction="average", **kwargs)
    message = str(error.value)
    assert "average" in message
    for valid in REDUCTIONS:
        assert valid in message

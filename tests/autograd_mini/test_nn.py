"""nn: Module's parameter bookkeeping, Linear and MLP against torch.nn / TensorFlow with the same
weights (values and gradients, float64, 1e-10), and the initialisers against torch.nn.init's formulas."""
from __future__ import annotations

import math

import numpy as np
import pytest
from frameworks_for_training import assert_close, run_mini, run_torch, tf, torch

from autograd_mini import Tensor, nn
from autograd_mini.nn import init


# ---- Module bookkeeping ----------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[3, 1], [4, 8, 2], [5, 16, 16, 3], [2, 3, 4, 5, 6]])
def test_mlp_parameters_are_weight_then_bias_per_layer_in_order(sizes):
    model = nn.MLP(sizes)
    params = model.parameters()
    assert len(params) == 2 * (len(sizes) - 1)
    shapes = [p.shape for p in params]
    expected = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        expected += [(n_out, n_in), (n_out,)]
    assert shapes == expected
    assert all(isinstance(p, Tensor) and p.requires_grad and p.dtype == np.float64 for p in params)
    assert len({id(p) for p in params}) == len(params)
    named = list(model.named_parameters())
    assert [p for _, p in named] == params
    assert len({name for name, _ in named}) == len(named), "parameter names are unique"


@pytest.mark.parametrize("activation, torch_activation", [("relu", "ReLU"), ("tanh", "Tanh"), ("sigmoid", "Sigmoid")])
def test_mlp_has_torchs_layer_structure(activation, torch_activation):
    model = nn.MLP([4, 6, 5, 2], activation=activation)
    kinds = [type(model[i]).__name__ for i in range(len(model))]  # indexable, as torch's Sequential
    assert kinds == ["Linear", torch_activation, "Linear", torch_activation, "Linear"], "no activation after the last layer"


def test_sequential_parameter_names_are_torchs():
    """torch names a Sequential's parameters by position: "0.weight", "0.bias", "2.weight", ..."""
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]


def test_linear_parameter_names_and_bias_false():
    layer = nn.Linear(3, 2)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    no_bias = nn.Linear(3, 2, bias=False)
    assert no_bias.bias is None
    assert [name for name, _ in no_bias.named_parameters()] == ["weight"]
    assert len(no_bias.parameters()) == 1


def test_module_zero_grad_sets_every_grad_to_none():
    model = nn.MLP([3, 5, 2])
    model(Tensor(np.random.default_rng(0).normal(size=(4, 3)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_a_custom_module_finds_parameters_in_attributes_and_submodules():
    class Net(nn.Module):
        def __init__(self):
            self.scale = Tensor(np.ones(2), requires_grad=True)
            self.body = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
            self.not_a_parameter = Tensor(np.ones(2))

        def forward(self, x):
            return self.body(x) * self.scale

    net = Net()
    assert len(net.parameters()) == 3
    assert net.parameters()[0] is net.scale
    out = net(Tensor(np.ones((1, 3))))  # __call__ runs forward
    assert out.shape == (1, 2)


# ---- Linear against torch and TF -----------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_and_backward_equal_torch_and_tf(seed, bias):
    rng = np.random.default_rng(seed)
    batch, n_in, n_out = (int(n) for n in rng.integers(1, 7, size=3))
    x = rng.normal(size=(batch, n_in))
    layer = nn.Linear(n_in, n_out, bias=bias)
    weight = layer.weight.data.copy()
    b = layer.bias.data.copy() if bias else None
    value, grad_x = run_mini(lambda t: layer(t), x)

    torch_w = torch.tensor(weight, requires_grad=True)
    torch_b = torch.tensor(b, requires_grad=True) if bias else None
    torch_value, torch_grad_x = run_torch(lambda t: torch.nn.functional.linear(t, torch_w, torch_b), x)
    assert_close(value, torch_value, "Linear forward vs torch")
    assert_close(grad_x, torch_grad_x, "Linear d/dx vs torch")
    assert_close(layer.weight.grad, torch_w.grad.numpy(), "Linear d/dweight vs torch")
    if bias:
        assert_close(layer.bias.grad, torch_b.grad.numpy(), "Linear d/dbias vs torch")

    tf_w = tf.Variable(weight)
    tf_b = tf.Variable(b) if bias else None

    def tf_linear(t):
        out = tf.matmul(t, tf_w, transpose_b=True)  # weight is (out_features, in_features)
        return out + tf_b if bias else out

    with tf.GradientTape(persistent=True) as tape:
        xt = tf.constant(x)
        tape.watch(xt)
        tf_out = tf_linear(xt)
    upstream = tf.constant(np.asarray(np.random.default_rng(12345).normal(size=tf_out.shape)))
    variables = [xt, tf_w] + ([tf_b] if bias else [])
    tf_grads = tape.gradient(tf_out, variables, output_gradients=upstream)
    assert_close(value, tf_out.numpy(), "Linear forward vs tf.matmul")
    assert_close(grad_x, tf_grads[0].numpy(), "Linear d/dx vs TF")
    assert_close(layer.weight.grad, tf_grads[1].numpy(), "Linear d/dweight vs TF")
    if bias:
        assert_close(layer.bias.grad, tf_grads[2].numpy(), "Linear d/dbias vs TF")


@pytest.mark.parametrize("shape", [(3,), (2, 5, 3), (2, 1, 4, 3)])
def test_linear_on_a_vector_or_extra_batch_dimensions_like_torch(shape):
    layer = nn.Linear(3, 2)
    x = np.random.default_rng(3).normal(size=shape)
    value, grad = run_mini(lambda t: layer(t), x)
    w = torch.tensor(layer.weight.data, requires_grad=True)
    b = torch.tensor(layer.bias.data, requires_grad=True)
    torch_value, torch_grad = run_torch(lambda t: torch.nn.functional.linear(t, w, b), x)
    assert_close(value, torch_value, f"Linear on {shape}")
    assert_close(grad, torch_grad, f"Linear d/dx on {shape}")
    assert_close(layer.weight.grad, w.grad.numpy(), f"Linear d/dweight on {shape}")
    assert_close(layer.bias.grad, b.grad.numpy(), f"Linear d/dbias on {shape}")


def test_linear_rejects_the_wrong_number_of_features_naming_the_shapes():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        layer(Tensor(np.zeros((4, 5))))


# ---- MLP against torch.nn.Sequential -----------------------------------------------------------------


def torch_copy_of(model, activation):
    layers = []
    for layer in model.parameters()[::2]:
        n_out, n_in = layer.shape
        layers += [torch.nn.Linear(n_in, n_out), {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[activation]()]
    torch_model = torch.nn.Sequential(*layers[:-1])
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), torch_model.parameters()):
            theirs.copy_(torch.tensor(ours.data))
    return torch_model


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("sizes", [[4, 8, 3], [3, 16, 16, 16, 2]])
def test_mlp_forward_and_parameter_gradients_equal_torch_sequential(activation, sizes):
    rng = np.random.default_rng(len(sizes))
    model = nn.MLP(sizes, activation=activation)
    torch_model = torch_copy_of(model, activation)
    x = rng.normal(size=(7, sizes[0]))
    value, grad_x = run_mini(model, x)
    torch_value, torch_grad_x = run_torch(torch_model, x)
    assert_close(value, torch_value, f"MLP {sizes} {activation} forward")
    assert_close(grad_x, torch_grad_x, f"MLP {sizes} {activation} d/dx")
    for (name, ours), theirs in zip(model.named_parameters(), torch_model.parameters()):
        assert_close(ours.grad, theirs.grad.numpy(), f"MLP {sizes} {activation} d/d{name}")


def test_unknown_activation_is_a_value_error_naming_the_choices():
    with pytest.raises(ValueError, match="relu"):
        nn.MLP([2, 3, 1], activation="swish")


# ---- initialisers: torch.nn.init's formulas, checked statistically -----------------------------------

SHAPES = [(400, 300), (300, 800), (64, 64, 3, 3)]  # the last one: fans include the receptive field


def torch_fans(shape):
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def xavier_scale(shape, gain):
    fan_in, fan_out = torch_fans(shape)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def kaiming_scale(shape, nonlinearity):
    fan_in, _ = torch_fans(shape)
    return torch.nn.init.calculate_gain(nonlinearity) / math.sqrt(fan_in)


# Statistical checks allow 5 standard errors of each estimate for n samples (n >= 36864 here), so a
# correct initialiser fails with negligible probability while a wrong scale (e.g. fan_out for
# fan_in, a missing gain, a std used as a bound) is off by far more.


def check_uniform(values, std, what):
    """U(-a, a) with a = sqrt(3) std: every value inside, the extremes near +-a, the std and mean right."""
    n, bound = values.size, math.sqrt(3.0) * std
    assert np.abs(values).max() <= bound, f"{what}: a value exceeds torch's bound {bound}"
    assert values.max() > 0.995 * bound and values.min() < -0.995 * bound, f"{what}: the range is narrower than torch's"
    assert values.std() == pytest.approx(std, rel=5 * 0.45 / math.sqrt(n)), f"{what}: std"
    assert abs(values.mean()) < 5 * std / math.sqrt(n), f"{what}: mean"


def check_normal(values, std, what):
    n = values.size
    assert values.std() == pytest.approx(std, rel=5 * 0.71 / math.sqrt(n)), f"{what}: std"
    assert abs(values.mean()) < 5 * std / math.sqrt(n), f"{what}: mean"
    # a normal's kurtosis is 3 (a uniform's 1.8); standard error sqrt(24 / n)
    kurtosis = np.mean((values - values.mean()) ** 4) / values.var() ** 2
    assert abs(kurtosis - 3.0) < 5 * math.sqrt(24 / n), f"{what}: not normal-shaped (kurtosis {kurtosis})"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_uniform_matches_torchs_bound(shape, gain):
    t = Tensor(np.zeros(shape), requires_grad=True)
    assert init.xavier_uniform_(t, gain=gain, rng=np.random.default_rng(0)) is t
    check_uniform(t.data, xavier_scale(shape, gain), f"xavier_uniform_{shape}")
    # torch's own sample, same law
    reference = torch.nn.init.xavier_uniform_(torch.empty(shape), gain=gain, generator=torch.Generator().manual_seed(0)).numpy()
    check_uniform(reference, xavier_scale(shape, gain), "torch's xavier_uniform_")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_normal_matches_torchs_std(shape, gain):
    t = Tensor(np.zeros(shape), requires_grad=True)
    assert init.xavier_normal_(t, gain=gain, rng=np.random.default_rng(0)) is t
    check_normal(t.data, xavier_scale(shape, gain), f"xavier_normal_{shape}")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh", "linear"])
def test_kaiming_uniform_matches_torchs_bound(shape, nonlinearity):
    t = Tensor(np.zeros(shape), requires_grad=True)
    assert init.kaiming_uniform_(t, nonlinearity=nonlinearity, rng=np.random.default_rng(0)) is t
    check_uniform(t.data, kaiming_scale(shape, nonlinearity), f"kaiming_uniform_{shape}")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh", "linear"])
def test_kaiming_normal_matches_torchs_std(shape, nonlinearity):
    t = Tensor(np.zeros(shape), requires_grad=True)
    assert init.kaiming_normal_(t, nonlinearity=nonlinearity, rng=np.random.default_rng(0)) is t
    check_normal(t.data, kaiming_scale(shape, nonlinearity), f"kaiming_normal_{shape}")


def test_kaiming_defaults_are_torchs_fan_in_relu():
    """torch: kaiming_uniform_(w) uses a=0, mode="fan_in", leaky_relu gain sqrt(2 / (1 + 0)) = relu's."""
    shape = (500, 400)
    t = init.kaiming_uniform_(Tensor(np.zeros(shape)), rng=np.random.default_rng(1))
    check_uniform(t.data, math.sqrt(2.0) / math.sqrt(400), "kaiming_uniform_ default")
    t = init.kaiming_normal_(Tensor(np.zeros(shape)), rng=np.random.default_rng(1))
    check_normal(t.data, math.sqrt(2.0) / math.sqrt(400), "kaiming_normal_ default")


@pytest.mark.parametrize("initialiser", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
def test_initialisers_are_deterministic_with_a_seeded_rng(initialiser):
    fill = getattr(init, initialiser)
    first = fill(Tensor(np.zeros((20, 30))), rng=np.random.default_rng(42)).data.copy()
    second = fill(Tensor(np.zeros((20, 30))), rng=np.random.default_rng(42)).data.copy()
    other = fill(Tensor(np.zeros((20, 30))), rng=np.random.default_rng(43)).data.copy()
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)
    assert np.isfinite(first).all() and first.std() > 0


def test_initialisers_need_two_dimensions_like_torch():
    with pytest.raises(ValueError):
        init.xavier_uniform_(Tensor(np.zeros(5)))


def test_linear_weight_gradient_keeps_the_weights_memory_layout():
    """x @ W.T's backward builds W's gradient row-major like W itself, so neither the engine's copy
    nor the optimizer's update has to walk memory column by column (a 2x cost on a 784x256 layer)."""
    from autograd_mini import losses

    layer = nn.Linear(784, 256, rng=np.random.default_rng(0))
    x = Tensor(np.random.default_rng(1).standard_normal((128, 784)))
    losses.mse_loss(layer(x), np.zeros((128, 256))).backward()
    assert layer.weight.grad.flags.c_contiguous
    np.testing.assert_allclose(layer.weight.grad, (2 / (128 * 256)) * (layer(x).data.T @ x.data), rtol=1e-10)

"""The ready-made checks accept autograd_mini's reference implementations and stay quiet."""
import numpy as np
import pytest

import grader.checks as gc
from autograd_mini import registry
from grader.checks.optimizers import OPTIMIZERS


@pytest.mark.parametrize("op", sorted(gc.OPS))
def test_reference_backward_passes(op):
    result = gc.check_backward(registry.reference_of(op + ".backward"), op=op)
    assert result.passed, result.message()
    assert result.max_rel_error < 1e-12
    assert [line.split(":")[0] for line in result.lines[1:]] == ["vs torch.autograd", "vs tf.GradientTape"]


@pytest.mark.parametrize("op", ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "exp", "matmul", "sum"])
def test_numpy_forward_passes(op):
    result = gc.check_forward(gc.OPS[op].numpy, op=op)
    assert result.passed, result.message()


@pytest.mark.parametrize("loss", sorted(gc.LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_torch_and_tf_agree_on_losses(loss, reduction):
    check = gc.loss_check(loss, reduction)
    expected = check.expected()
    torch_values, tf_values = expected.values()
    for t, f in zip(torch_values, tf_values):
        np.testing.assert_allclose(t[0], f[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", sorted(gc.LOSSES))
def test_reference_loss_passes_in_tensor_mode(loss):
    result = gc.check_loss(registry.reference_of("loss." + loss), loss, "mean", tensors=True)
    assert result.passed, result.message()
    assert result.lines[1].startswith("vs torch.autograd: matches")


def test_numpy_loss_with_every_reduction():
    def mse(x, y, reduction):
        v = (x - y) ** 2
        return {"mean": np.mean, "sum": np.sum}.get(reduction, lambda a: a)(v)

    for reduction in ("mean", "sum", "none"):
        assert gc.check_loss(mse, "mse_loss", reduction).passed


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_reference_optimizers_pass(name):
    reference = registry.reference_of("optim." + name)
    result = gc.check_optimizer(reference, name)
    assert result.passed, result.message()


def test_sgd_with_momentum_and_nesterov_passes():
    result = gc.check_optimizer(OPTIMIZERS["sgd"].numpy, "sgd", momentum=0.875, nesterov=True)
    assert result.passed, result.message()


def test_compare_generic_api():
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal(s),) for s in [(3,), (2, 4)]]
    result = gc.compare(lambda x: np.tanh(x) ** 2, torch_fn=lambda x: __import__("torch").tanh(__import__("torch").from_numpy(x)) ** 2,
                        tf_fn=lambda x: __import__("tensorflow").tanh(x) ** 2, cases=cases, name="tanh squared")
    assert result.passed and bool(result)
    assert "tanh squared: PASSED" in repr(result)
    assert "passed" in result._repr_html_()
    result.assert_passed()


def test_assert_passed_raises_the_friendly_message():
    def stub(ctx, grad):
        raise NotImplementedError()

    result = gc.check_backward(stub, op="mul")
    with pytest.raises(AssertionError, match="not implemented yet"):
        result.assert_passed()


def test_checks_write_nothing_to_stderr(capfd):
    gc.check_backward(lambda ctx, g: (g, g), op="mul")  # a wrong answer, reported quietly
    gc.check_loss(lambda x, y, reduction: np.log(np.exp(x)).sum(), "cross_entropy")
    gc.check_optimizer(lambda p, g, s, **h: None, "adam")
    captured = capfd.readouterr()
    assert captured.err == ""


def test_import_grader_does_not_import_frameworks():
    import subprocess
    import sys

    code = "import grader, grader.checks, sys; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

"""Checks for the notebooks: run the student's function and the same computation in PyTorch and
TensorFlow (float64, seeded inputs of several shapes), and explain any difference in plain words.

    from grader.checks import check_backward
    check_backward(my_mul_backward, op="mul")            # shows a short report in the notebook
    check_backward(my_mul_backward, op="mul").assert_passed()   # in a hidden test cell

See grader/checks/README.md for the whole API. torch and TensorFlow are imported only when a
check runs.
"""
from .core import Case, Check, Failure, Oracle, compare, make_check
from .diagnose import Mistake
from .graphs import GRAPHS, check_gradient, check_training, gradient_check, training_check
from .losses import LOSSES, check_loss, check_loss_grad, loss_check
from .ops import OPS, backward_check, check_backward, check_forward, forward_check
from .optimizers import OPTIMIZERS, check_optimizer, optimizer_check
from .result import CheckResult

__all__ = [
    "CheckResult", "Case", "Check", "Failure", "Oracle", "Mistake",
    "compare", "make_check",
    "check_forward", "check_backward", "check_loss", "check_loss_grad", "check_optimizer",
    "check_gradient", "check_training",
    "forward_check", "backward_check", "loss_check", "optimizer_check", "gradient_check", "training_check",
    "OPS", "LOSSES", "OPTIMIZERS", "GRAPHS",
]

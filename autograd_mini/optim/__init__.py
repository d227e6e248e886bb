"""Optimizers with PyTorch's names, defaults and update rules, plus learning-rate schedules.

Each update rule is a plain numpy function registered as "optim.<name>" with the signature
``rule(param, grad, state, *, lr, **hyperparameters) -> None`` (updates ``param`` in place), so a
lesson can swap in the student's rule.
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler"]

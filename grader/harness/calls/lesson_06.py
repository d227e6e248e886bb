"""Lesson 06 (training): whole training runs, and training steps on a model and an optimizer."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..case import Case
from ..outcome import Hint

HINTS = {
    "parameter_rebound": "a parameter's .grad was None at a later step: `w = w - lr * w.grad` (and `w -= ...` on a "
                         "Tensor) makes a new tensor computed from w, which is not a leaf, so backward() gives it no "
                         ".grad. Change the parameter itself, in place: w.data -= lr * w.grad (what optimizer.step() "
                         "does), or use optim.SGD",
    "loss_not_a_number": "training_step returned a {type}: return the batch's loss as a number, loss.item()",
    "parameters_unchanged": "after step {step} the parameters had not changed: call optimizer.step() after "
                            "loss.backward(), and optimizer.zero_grad() before the backward, not between backward and "
                            "step",
}


def training_run(fn: Callable, case: Case) -> Any:
    """``fn(*arrays, **params)``: a whole training run; a parameter rebound to a new tensor is named."""
    try:
        return fn(*case.copy_arrays(), **case.params)
    except TypeError as error:
        if "NoneType" in str(error):
            raise Hint("parameter_rebound") from None
        raise


def _mlp_from(weights: list, activation: str):
    """An autograd_mini Sequential of Linear layers holding ``weights`` (weight, bias per layer), ``activation``
    between them."""
    from autograd_mini import Tensor, nn

    layers = []
    for i in range(0, len(weights), 2):
        linear = nn.Linear(weights[i].shape[1], weights[i].shape[0])
        linear.weight = Tensor(weights[i], requires_grad=True)
        linear.bias = Tensor(weights[i + 1], requires_grad=True)
        layers.append(linear)
        if i + 2 < len(weights):
            layers.append({"relu": nn.ReLU, "tanh": nn.Tanh}[activation]())
    return nn.Sequential(*layers)


def training_steps(fn: Callable, case: Case) -> Any:
    """``fn(model, optimizer, x, labels) -> loss`` once per batch, on an MLP and an ``optim.SGD`` built from the case
    (arrays: batches x (K, B, d) and labels (K, B), then weight and bias of every layer). Returns the losses (K,)
    and all parameters, flattened, after every step (K, P)."""
    from autograd_mini import Tensor, optim

    x_batches, label_batches, *weights = case.copy_arrays()
    model = _mlp_from(weights, case.params["activation"])
    optimizer = optim.SGD(model.parameters(), **case.params["sgd"])
    losses, trajectory = [], []
    for x, labels in zip(x_batches, label_batches):
        before = [p.data.copy() for p in model.parameters()]
        loss = fn(model, optimizer, Tensor(x), labels.astype(np.int64))
        if isinstance(loss, bool) or not isinstance(loss, (int, float, np.integer, np.floating)):
            raise Hint("loss_not_a_number", type=type(loss).__name__)
        if all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before)):
            raise Hint("parameters_unchanged", step=len(losses) + 1)
        losses.append(float(loss))
        trajectory.append(np.concatenate([p.data.ravel() for p in model.parameters()]))
    return np.array(losses), np.stack(trajectory)


CALLS: dict[str, Callable[[Callable, Case], Any]] = {"training_run": training_run, "training_steps": training_steps}

"""What every optimizer shares: the parameter list, per-parameter state, step and zero_grad."""
from __future__ import annotations

from ..registry import active
from ..tensor import Tensor, recorded


class Optimizer:
    rule: str  # registry name of the update rule, e.g. "optim.sgd"

    def __init__(self, params, defaults: dict):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"parameter {i} must be a Tensor, got {type(p).__name__}")
        if defaults.get("lr", 0) < 0:
            raise ValueError(f"invalid learning rate {defaults['lr']}")
        # One group, as a list of dicts, so code written for torch (param_groups[0]["lr"]) works.
        self.defaults = defaults
        self.param_groups = [{"params": params, **defaults}]
        self.state: dict[int, dict] = {id(p): {} for p in params}

    @recorded
    def step(self) -> None:
        rule, state = active[self.rule], self.state
        for group in self.param_groups:
            hyper = {name: group[name] for name in self.defaults}  # schedulers add keys of their own
            for p in group["params"]:
                grad = p._grad  # the attributes, not the properties: this loop runs every training step
                if grad is not None:
                    rule(p._data, grad, state[id(p)], **hyper)  # updates p.data in place
                    p._bump_version()  # so a graph that saved p refuses to backward with the new values

    @recorded
    def zero_grad(self) -> None:
        """Forget the gradients (set to None, PyTorch's default), so the next backward starts afresh."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

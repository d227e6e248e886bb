"""``Module``: something with parameters and a forward; ``Sequential``: modules in a row."""
from __future__ import annotations

from typing import Iterator

from ..registry import active, reference
from ..tensor import Tensor, recorded


class Module:
    """Base class: parameters are the attributes that are Tensors requiring grad, found recursively."""

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for name, value in vars(self).items():
            children = value if isinstance(value, (list, tuple)) else [value]
            for i, child in enumerate(children):
                label = f"{prefix}{name}" + (f".{i}" if isinstance(value, (list, tuple)) else "")
                if isinstance(child, Tensor) and child.requires_grad:
                    yield label, child
                elif isinstance(child, Module):
                    yield from child.named_parameters(prefix=label + ".")

    def parameters(self) -> list[Tensor]:
        return [p for _, p in self.named_parameters()]

    @recorded
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None


class Sequential(Module):
    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def forward(self, x):
        return active["nn.sequential.forward"](self.layers, x)

    def named_parameters(self, prefix: str = ""):
        for i, layer in enumerate(self.layers):  # named "0.weight" as in torch, not "layers.0.weight"
            yield from layer.named_parameters(prefix=f"{prefix}{i}.")

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)


@reference("nn.sequential.forward")
def _sequential_forward(layers: list, x):
    """Feed ``x`` through ``layers`` in order: an MLP's forward pass (lesson 01)."""
    ### BEGIN SOLUTION
    for layer in layers:
        x = layer(x)
    return x
    ### END SOLUTION

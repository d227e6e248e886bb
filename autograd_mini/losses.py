"""Loss functions, named and defined like ``torch.nn.functional``.

Each is built from Tensor ops, so its gradient comes from the engine; each is a named
implementation ("loss.<name>") that a lesson can replace with the student's version.
"""
from __future__ import annotations

import numpy as np

from .broadcasting import reduce_to
from .function import op
from .registry import active, reference
from .tensor import Tensor, apply, as_tensor

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: unknown reduction {reduction!r}; use one of {', '.join(map(repr, REDUCTIONS))}")


def _check(name: str, input: Tensor, target, reduction: str) -> Tensor:
    """Validate a loss whose target is shaped like its input; return the target as a Tensor."""
    _check_reduction(name, reduction)
    target = as_tensor(target, input)
    if target.shape != input.shape:
        raise ValueError(f"{name}: input has shape {input.shape} but target has shape {target.shape}; they must match")
    return target


def _class_targets(name: str, input: Tensor, target) -> tuple[Tensor, np.ndarray, bool]:
    """Scores (N, C) and integer class indices (N,), with errors naming the shapes; an unbatched pair, scores
    (C,) and a 0-d target, comes back as a batch of one, and the flag says so."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {target.dtype}")
    unbatched = input.ndim == 1 and target.ndim == 0
    if unbatched:
        input, target = input.reshape(1, -1), target.reshape(1)
    if input.ndim != 2 or target.shape != input.shape[:1]:
        raise ValueError(f"{name}: expected input (N, C) and target (N,), or input (C,) and a 0-d target; "
                         f"got {input.shape} and {target.shape}")
    if target.size and (target.min() < 0 or target.max() >= input.shape[1]):
        raise ValueError(f"{name}: target classes must lie in [0, {input.shape[1] - 1}], got {target.min()}..{target.max()}")
    return input, target, unbatched


def _unbatched(loss: Tensor, unbatched: bool) -> Tensor:
    """An unbatched input's loss is 0-d whatever the reduction, as in PyTorch."""
    return loss.reshape(()) if unbatched and loss.shape != () else loss


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    target = _check("mse_loss", input, target, reduction)
    return active["loss.mse_loss"](input, target, reduction)


@reference("loss.mse_loss")
def _mse_loss(input, target, reduction):
    ### BEGIN SOLUTION
    return _reduce((input - target) ** 2, reduction)
    ### END SOLUTION


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    target = _check("l1_loss", input, target, reduction)
    return active["loss.l1_loss"](input, target, reduction)


@reference("loss.l1_loss")
def _l1_loss(input, target, reduction):
    ### BEGIN SOLUTION
    return _reduce((input - target).abs(), reduction)
    ### END SOLUTION


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    target = _check("huber_loss", input, target, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return active["loss.huber_loss"](input, target, reduction, delta)


@reference("loss.huber_loss")
def _huber_loss(input, target, reduction, delta):
    ### BEGIN SOLUTION
    error = (input - target).abs()
    # Quadratic inside |error| < delta, linear outside; the mask is a constant, so the kink costs nothing.
    small = Tensor((error.data < delta).astype(input.dtype))
    loss = small * (0.5 * error**2) + (1 - small) * (delta * (error - 0.5 * delta))
    return _reduce(loss, reduction)
    ### END SOLUTION


def binary_cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """``input`` holds probabilities in [0, 1]; like PyTorch, each log is clamped at -100."""
    target = _check("binary_cross_entropy", input, target, reduction)
    p = input.data
    if not ((p >= 0) & (p <= 1)).all():  # NaN fails both comparisons
        found = "NaN" if np.isnan(p).any() else f"values from {p.min():g} to {p.max():g}"
        raise ValueError(
            f"binary_cross_entropy: all elements of input should be between 0 and 1 (probabilities), got {found} "
            f"in shape {input.shape}; for scores (logits) use binary_cross_entropy_with_logits"
        )
    return active["loss.binary_cross_entropy"](input, target, reduction)


@op("binary_cross_entropy")
class BinaryCrossEntropy:
    """Elementwise -(t log p + (1 - t) log(1 - p)), with PyTorch's numerics: each log is clamped
    at -100 (so p = 0 or 1 gives a finite loss) and the gradient's denominator p(1 - p) at 1e-12."""

    @staticmethod
    def forward(ctx, p, t):
        ### BEGIN SOLUTION
        with np.errstate(divide="ignore"):
            log_p, log_1mp = np.maximum(np.log(p), -100.0), np.maximum(np.log1p(-p), -100.0)
        ctx.save_for_backward(p, t, log_p, log_1mp)
        return -(t * log_p + (1 - t) * log_1mp)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        p, t, log_p, log_1mp = ctx.saved_tensors
        grad_p = grad * (p - t) / np.maximum(p * (1 - p), 1e-12)
        return reduce_to(grad_p, p.shape), reduce_to(grad * (log_1mp - log_p), t.shape)


@reference("loss.binary_cross_entropy")
def _binary_cross_entropy(input, target, reduction):
    ### BEGIN SOLUTION
    return _reduce(apply("binary_cross_entropy", input, target), reduction)
    ### END SOLUTION


def binary_cross_entropy_with_logits(input: Tensor, target, reduction: str = "mean") -> Tensor:
    target = _check("binary_cross_entropy_with_logits", input, target, reduction)
    return active["loss.binary_cross_entropy_with_logits"](input, target, reduction)


@op("binary_cross_entropy_with_logits")
class BinaryCrossEntropyWithLogits:
    """Elementwise BCE of sigmoid(x) written in x itself, so no probability rounds to 0 or 1:
    loss = max(x, 0) - x t + log(1 + exp(-|x|)) (exp of a non-positive number never overflows),
    d loss / dx = sigmoid(x) - t."""

    @staticmethod
    def forward(ctx, x, t):
        ctx.save_for_backward(x, t)
        ### BEGIN SOLUTION
        return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        ### BEGIN SOLUTION
        e = np.exp(-np.abs(x))
        sigmoid = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return reduce_to(grad * (sigmoid - t), x.shape), reduce_to(-grad * x, t.shape)
        ### END SOLUTION


@reference("loss.binary_cross_entropy_with_logits")
def _binary_cross_entropy_with_logits(input, target, reduction):
    ### BEGIN SOLUTION
    return _reduce(apply("binary_cross_entropy_with_logits", input, target), reduction)
    ### END SOLUTION


def nll_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """``input`` holds log-probabilities (N, C) or (C,); ``target`` integer classes (N,) or 0-d."""
    _check_reduction("nll_loss", reduction)
    input, target, unbatched = _class_targets("nll_loss", input, target)
    return _unbatched(active["loss.nll_loss"](input, target, reduction), unbatched)


@op("nll_loss")
class NLLLoss:
    """Each row's negated log-probability of its target class, then reduced: one op instead of
    indexing, negation and a mean (the rows are distinct, so no gradient needs accumulating)."""

    @staticmethod
    def forward(ctx, log_probs, target, reduction):
        rows = np.arange(len(target))
        ctx.save_for_backward(rows, target)  # saved, as PyTorch saves the target: a second backward needs retain_graph
        ctx.shape, ctx.reduction = log_probs.shape, reduction
        losses = -log_probs[rows, target]
        return losses if reduction == "none" else losses.sum() / (len(target) if reduction == "mean" else 1)

    @staticmethod
    def backward(ctx, grad):
        rows, target = ctx.saved_tensors
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        full[rows, target] = -grad / len(target) if ctx.reduction == "mean" else -grad
        return (full,)


@reference("loss.nll_loss")
def _nll_loss(input, target, reduction):
    ### BEGIN SOLUTION
    return apply("nll_loss", input, target=target, reduction=reduction)
    ### END SOLUTION


def cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """``input`` holds raw scores (logits) (N, C) or (C,); ``target`` integer classes (N,) or 0-d."""
    _check_reduction("cross_entropy", reduction)
    input, target, unbatched = _class_targets("cross_entropy", input, target)
    return _unbatched(active["loss.cross_entropy"](input, target, reduction), unbatched)


@reference("loss.cross_entropy")
def _cross_entropy(input, target, reduction):
    ### BEGIN SOLUTION
    return apply("cross_entropy", input, target=target, reduction=reduction)
    ### END SOLUTION


@op("cross_entropy")
class CrossEntropy:
    """log_softmax and nll_loss fused into one op (as TensorFlow's sparse_softmax_cross_entropy_with_logits):
    its backward needs only the softmax, d loss_i / d logits_i = softmax(logits_i) - one_hot(target_i)."""

    @staticmethod
    def forward(ctx, logits, target, reduction):
        ### BEGIN SOLUTION
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        losses = -log_probs[np.arange(len(target)), target]
        out = losses if reduction == "none" else losses.sum() / (len(target) if reduction == "mean" else 1)
        ### END SOLUTION
        ctx.save_for_backward(np.exp(log_probs), target)
        ctx.reduction = reduction
        return out

    @staticmethod
    def backward(ctx, grad):
        probs, target = ctx.saved_tensors
        ### BEGIN SOLUTION
        grad_logits = probs.copy()
        grad_logits[np.arange(len(target)), target] -= 1.0
        if ctx.reduction == "none":
            return (grad_logits * grad[:, None],)
        return (grad_logits * (grad / len(target) if ctx.reduction == "mean" else grad),)
        ### END SOLUTION

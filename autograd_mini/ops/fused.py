"""Fused ops: several steps of arithmetic in one node, so the graph holds fewer nodes, saves fewer arrays and
allocates fewer temporaries. (The fused log-softmax + NLL is ``cross_entropy``, in ``losses``.)"""
from __future__ import annotations

from ..function import op


@op("fused_linear")
class FusedLinear:
    """``x @ weight.T + bias`` as one node (PyTorch's ``addmm``): it saves x and the weight, not the transposed
    view and the product; its backward is three products, each written straight in its input's layout."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ### BEGIN SOLUTION
        out = x @ weight.T
        out += bias  # in place: the product is a fresh array, no second (N, out) temporary
        ### END SOLUTION
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        ### BEGIN SOLUTION
        rows = grad.reshape(-1, grad.shape[-1])  # every leading axis is a batch axis: (N, out)
        grad_x = grad @ weight if ctx.needs_input_grad[0] else None
        grad_weight = rows.T @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        grad_bias = rows.sum(axis=0) if ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias
        ### END SOLUTION

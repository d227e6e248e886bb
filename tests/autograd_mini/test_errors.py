"""Mistakes a student makes get an error that says what is wrong, naming the shapes involved."""
from __future__ import annotations

import re

import numpy as np
import pytest

from autograd_mini import Tensor

A = Tensor(np.ones((2, 3)), requires_grad=True)


def shapes(*shape_list):
    """A regex matching every shape's repr, in order, anywhere in the message."""
    return ".*".join(re.escape(str(s)) for s in shape_list)


# ---- shape mismatches --------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["__add__", "__sub__", "__mul__", "__truediv__", "__pow__"])
def test_elementwise_shape_mismatch_names_both_shapes(op):
    with pytest.raises(ValueError, match=shapes((2, 3), (4,))):
        getattr(A, op)(Tensor(np.ones(4)))


def test_elementwise_shape_mismatch_names_the_op():
    with pytest.raises(ValueError, match=r"^add\b"):
        A + Tensor(np.ones((3, 2)))


def test_matmul_mismatched_matrix_dimensions():
    with pytest.raises(ValueError, match=re.escape("inner dimensions must match: (2, 3) @ (4, 5)")):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((3,), (4,)), ((2, 3), (2,)), ((5,), (4, 2)), ((2, 2, 3), (2, 4, 1))],
)
def test_matmul_mismatch_with_vectors_and_batches_names_both_shapes(shape_a, shape_b):
    with pytest.raises(ValueError, match="inner dimensions must match: " + shapes(shape_a, shape_b)):
        Tensor(np.ones(shape_a)) @ Tensor(np.ones(shape_b))


def test_matmul_batch_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=shapes((2, 3, 4), (5, 4, 6))):
        Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 6)))


def test_matmul_of_a_scalar_suggests_mul():
    with pytest.raises(ValueError, match=r"at least 1-D.*use \*"):
        Tensor(2.0) @ Tensor(np.ones(3))


# ---- what a Tensor can hold --------------------------------------------------------------------


@pytest.mark.parametrize("data", ["abc", ["a", "b"], object(), [object()], {"a": 1}, 1 + 2j])
def test_non_numeric_data_is_a_type_error(data):
    with pytest.raises(TypeError, match="Tensor data must be"):
        Tensor(data)


def test_ragged_nested_lists_are_rejected(torch):
    with pytest.raises(ValueError):
        torch.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises((TypeError, ValueError), match="Tensor data must be"):
        Tensor([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("data", ["1.5", ["1", "2"]])
def test_numeric_strings_are_rejected_like_torch(torch, data):
    with pytest.raises((TypeError, ValueError)):
        torch.tensor(data)
    with pytest.raises(TypeError, match="Tensor data must be"):
        Tensor(data)


def test_none_is_rejected_not_turned_into_nan(torch):
    with pytest.raises((TypeError, RuntimeError)):
        torch.tensor(None)
    with pytest.raises(TypeError, match="Tensor data must be"):
        Tensor(None)


@pytest.mark.parametrize("data", [np.array(["x", "y"]), np.array([1 + 2j]), np.array([None, 1.0])])
def test_numpy_arrays_of_non_real_dtype_are_rejected(data):
    with pytest.raises(TypeError, match="numeric|numbers"):
        Tensor(data)


@pytest.mark.parametrize("data", [np.arange(3), np.array([True, False])])
def test_integer_and_bool_tensors_may_not_require_grad(data):
    with pytest.raises(TypeError, match=f"Only Tensors of floating point dtype can require gradients.*{data.dtype}"):
        Tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        Tensor(data).requires_grad_()


# ---- shape ops ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [(4,), (4, 2), (-1, 4), (7,)])
def test_reshape_to_incompatible_shape_names_both_shapes(target):
    with pytest.raises(ValueError, match=f"cannot reshape a tensor of shape {re.escape(str((2, 3)))} into shape {re.escape(str(target))}"):
        A.reshape(target)


@pytest.mark.parametrize("axes", [(0,), (0, 0), (0, 1, 2), (1, 2), (0, 3), (0, -3)])
def test_bad_transpose_axes_are_rejected_like_numpy_and_torch(torch, axes):
    with pytest.raises((ValueError, IndexError, RuntimeError)):
        torch.ones(2, 3).permute(*axes)
    with pytest.raises(ValueError, match=f"axes.*not a permutation.*{re.escape(str((2, 3)))}"):
        A.transpose(axes)


OUT_OF_RANGE = [(m, axis, axis) for m in ("sum", "mean", "max", "softmax", "log_softmax") for axis in (2, -3)] + [
    (m, (0, 5), 5) for m in ("sum", "mean", "max")
]


@pytest.mark.parametrize("method, axis, bad", OUT_OF_RANGE)
def test_out_of_range_axis_names_axis_and_dimensions(method, axis, bad):
    with pytest.raises(ValueError, match=f"axis {bad} is out of range for a tensor with 2 dimensions"):
        getattr(A, method)(axis=axis)


def test_index_out_of_range_is_an_index_error():
    with pytest.raises(IndexError):
        A[5]


# ---- backward and item -------------------------------------------------------------------------


def test_backward_of_a_tensor_not_requiring_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor(np.ones(3)) * 2.0).sum().backward()


def test_item_of_a_non_scalar_names_the_shape():
    with pytest.raises(ValueError, match=re.escape("item() needs a tensor with one element, this one has shape (2, 3)")):
        A.item()

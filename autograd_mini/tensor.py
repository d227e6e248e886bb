"""``Tensor``: a numpy array that remembers how it was computed, so gradients can flow back."""
from __future__ import annotations

import numbers
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from .function import Context
from .registry import active

_grad_enabled = True


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block ops record no graph (for evaluation and optimizer updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextmanager
def enable_grad() -> Iterator[None]:
    """Inside this block ops record the graph again, even within ``no_grad`` (as ``torch.enable_grad``)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, True
    try:
        yield
    finally:
        _grad_enabled = previous


# What is told about every op and every backward() while a trace is recorded (autograd_mini.trace), or None.
_recorder = None


@contextmanager
def recording(recorder) -> Iterator[None]:
    """Tell ``recorder`` about every op (``recorder.op(name, ctx, operands, params, out)``), backward call
    (``recorder.backward(root, grad)``) and ``@recorded`` method call made in the block; None records nothing."""
    global _recorder
    previous, _recorder = _recorder, recorder
    try:
        yield
    finally:
        _recorder = previous


def recorded(method):
    """A method a trace replays as a whole (an optimizer's ``step`` and ``zero_grad``)."""
    def call(self, *args, **kwargs):
        if _recorder is not None:
            _recorder.call(getattr(self, method.__name__), args, kwargs)
        return method(self, *args, **kwargs)

    call.__name__, call.__doc__, call.__wrapped__ = method.__name__, method.__doc__, method
    return call


def _to_array(data) -> np.ndarray:
    """numpy arrays keep their dtype. Lists and Python numbers: floats become float64 (the course's default),
    integers int64 and booleans bool, as in PyTorch (class targets and indices are integer tensors)."""
    if isinstance(data, np.ndarray):
        array = data
    else:
        try:
            array = np.asarray(data)
        except ValueError as error:  # ragged nested lists
            raise ValueError(f"Tensor data must be a rectangular array of numbers: {error}") from None
    if array.dtype.kind not in "biuf":
        what = f"an array of dtype {array.dtype}" if isinstance(data, np.ndarray) else repr(data)[:60]
        raise TypeError(f"Tensor data must be numeric, got {what}")
    return array if isinstance(data, np.ndarray) or array.dtype.kind != "f" else array.astype(np.float64)


class Tensor:
    """A node of the computation graph: ``data`` (numpy), and ``grad`` after ``backward()``.

    Like PyTorch, a tensor counts the in-place changes made to its data (``_version``): ``t.data -= x``
    and an optimizer's ``step()`` count, and ``backward()`` refuses to use an array an op saved if it
    has changed since. A view (``W.T``, basic indexing, most reshapes) shares its base's counter.
    Writing into the array directly (``t.data[...] = x``, ``t.numpy() += x``) is not seen, as in
    PyTorch, where ``.data`` is not tracked at all.
    """

    __slots__ = ("_data", "_grad", "requires_grad", "_ctx", "_op", "_parents", "_retains_grad",
                 "_version_counter", "_saved_versions")
    __array_priority__ = 1000  # numpy scalars/arrays on the left defer to Tensor's reflected ops

    def __init__(self, data, requires_grad: bool = False):
        self._data = _to_array(data.data if isinstance(data, Tensor) else data)
        self._version_counter = [0]
        self._grad: np.ndarray | None = None
        self._ctx: Context | None = None
        self._op: str | None = None
        self._parents: tuple[Tensor, ...] = ()
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self._data.dtype.kind != "f":
            raise TypeError(
                f"Only Tensors of floating point dtype can require gradients (as in PyTorch), this one is "
                f"{self._data.dtype} (shape {self.shape}); create it from floats, e.g. "
                "Tensor(x.astype(np.float64), requires_grad=True) or Tensor([1.0, 2.0], requires_grad=True)"
            )
        self.requires_grad = flag
        return self

    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value) -> None:
        if value is self._data:
            # ``t.data -= x``: numpy changed the array in place, then Python assigned it back.
            self._version_counter[0] += 1
        else:  # a new array: what the graph saved is untouched, and views of the old one no longer share it
            self._data = value if type(value) is np.ndarray else _to_array(value)
            self._version_counter = [self._version_counter[0]]

    @property
    def grad(self) -> np.ndarray | None:
        """d root / d self after ``backward()`` (None before): always an array, also for a 0-d tensor."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        self._grad = value if value is None or type(value) is np.ndarray else np.asarray(value)

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's data (or a view sharing it) has seen."""
        return self._version_counter[0]

    def _bump_version(self) -> None:
        """Record an in-place change made to ``data`` (optimizers and initialisers call this)."""
        self._version_counter[0] += 1

    # ---- inspection -------------------------------------------------------------------------
    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    dtype = property(lambda self: self._data.dtype)
    size = property(lambda self: self._data.size)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def parents(self) -> tuple["Tensor", ...]:
        return self._parents

    @property
    def op(self) -> str | None:
        """Name of the op that produced this tensor (None for leaves)."""
        return self._op

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        body = np.array2string(self._data, precision=4, separator=", ", prefix="Tensor(")
        extra = f", grad_fn={self._op}" if self._op else (", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({body}{extra})"

    def item(self) -> float:
        if self._data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self._data.item()

    def numpy(self) -> np.ndarray:
        return self._data

    def detach(self) -> "Tensor":
        """The same data without the graph; like PyTorch's, it shares the version counter."""
        out = Tensor(self._data)
        out._version_counter = self._version_counter
        return out

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        self._retains_grad = True

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Fill ``.grad`` of every leaf this tensor depends on (accumulating, as PyTorch does).

        The graph's saved arrays are freed afterwards, so a second ``backward`` through the same
        graph raises, as in PyTorch; pass ``retain_graph=True`` to keep them.
        """
        from .engine import run_backward

        if not self.requires_grad:
            raise RuntimeError("this tensor does not require grad: no input had requires_grad=True")
        if grad is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar, this tensor has shape {self.shape}; "
                    "pass grad= of that shape (e.g. loss.sum().backward() or t.backward(np.ones(t.shape)))"
                )
            grad = np.ones_like(self._data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self._data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"grad has shape {grad.shape} but the tensor has shape {self.shape}")
        if _recorder is None:
            run_backward(self, grad, retain_graph)
            return
        _recorder.backward(self, grad)
        with recording(None):  # what backward computes (a checkpoint's recomputed segment) is not the step's
            run_backward(self, grad, retain_graph)

    # ---- arithmetic (each op's forward and backward live in autograd_mini/ops) ----------------
    def __add__(self, other): return apply("add", self, other)
    def __radd__(self, other): return apply("add", other, self)
    def __sub__(self, other): return apply("sub", self, other)
    def __rsub__(self, other): return apply("sub", other, self)
    def __mul__(self, other): return apply("mul", self, other)
    def __rmul__(self, other): return apply("mul", other, self)
    def __truediv__(self, other): return apply("div", self, other)
    def __rtruediv__(self, other): return apply("div", other, self)
    def __pow__(self, other): return apply("pow", self, other)
    def __rpow__(self, other): return apply("pow", other, self)
    def __matmul__(self, other): return apply("matmul", self, other)
    def __rmatmul__(self, other): return apply("matmul", other, self)
    def __neg__(self): return apply("neg", self)

    def exp(self): return apply("exp", self)
    def log(self): return apply("log", self)
    def sqrt(self): return apply("sqrt", self)
    def abs(self): return apply("abs", self)
    def tanh(self): return apply("tanh", self)
    def sigmoid(self): return apply("sigmoid", self)
    def relu(self): return apply("relu", self)

    def sum(self, axis=None, keepdims: bool = False): return apply("sum", self, axis=_axis(axis, self.ndim), keepdims=keepdims)
    def mean(self, axis=None, keepdims: bool = False): return apply("mean", self, axis=_axis(axis, self.ndim), keepdims=keepdims)
    def max(self, axis=None, keepdims: bool = False): return apply("max", self, axis=_axis(axis, self.ndim), keepdims=keepdims)

    def softmax(self, axis: int = -1): return apply("softmax", self, axis=_axis(axis, self.ndim))
    def log_softmax(self, axis: int = -1): return apply("log_softmax", self, axis=_axis(axis, self.ndim))

    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            np.empty(self.shape, dtype=np.bool_).reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {self.shape} into shape {shape}") from None
        return apply("reshape", self, shape=shape)

    def transpose(self, *axes):
        """Permute dimensions as ``numpy.transpose`` does; no axes reverses them."""
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        in_range = all(-self.ndim <= a < self.ndim for a in axes)
        if not in_range or sorted(a % self.ndim for a in axes) != list(range(self.ndim)):
            raise ValueError(f"axes {axes} are not a permutation of the {self.ndim} dimensions of shape {self.shape}")
        return apply("transpose", self, axes=tuple(a % self.ndim for a in axes))

    @property
    def T(self): return apply("transpose", self, axes=tuple(range(self.ndim - 1, -1, -1)))

    def __getitem__(self, index):
        return apply("getitem", self, index=_plain_index(index))


def _axis(axis, ndim: int):
    """Normalise an int/tuple axis to non-negative ints, with an error naming the shape.

    A 0-d tensor accepts axis 0 or -1 as PyTorch does, and reduces over its single element: None.
    """
    if axis is None:
        return None
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
    if ndim == 0:
        return None
    normalised = tuple(a % ndim for a in axes)
    return normalised if isinstance(axis, tuple) else normalised[0]


def _plain_index(index):
    """Indices may contain Tensors; the op works on numpy arrays."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


def as_tensor(value, like: Tensor | None = None) -> Tensor:
    """Wrap a non-Tensor operand; Python/numpy scalars take the other operand's float dtype."""
    if isinstance(value, Tensor):
        return value
    if like is not None and like._data.dtype.kind == "f" and isinstance(value, (numbers.Number, np.generic)):
        return Tensor(np.asarray(value, dtype=like._data.dtype))
    return Tensor(value)


# Ops whose result may be a view of their input's memory: it then shares the input's version counter.
_VIEW_OPS = frozenset(("reshape", "transpose", "getitem"))


def apply(name: str, *operands, **params) -> Tensor:
    """Run op ``name``'s forward and, if any input needs a gradient, record the node for backward."""
    for x in operands:
        if not isinstance(x, Tensor):
            first = next((t for t in operands if isinstance(t, Tensor)), None)
            operands = tuple(as_tensor(t, first) for t in operands)
            break
    needs = tuple([t.requires_grad for t in operands])
    ctx = Context(needs)
    try:
        data = active[name + ".forward"](ctx, *[t._data for t in operands], **params)
    except ValueError as error:
        shapes = " and ".join(str(t.shape) for t in operands)
        raise ValueError(f"{name} of shapes {shapes}: {error}") from None
    out = Tensor.__new__(Tensor)
    out._data = data = data if type(data) is np.ndarray else np.asarray(data)
    base = data.base
    if base is not None and name in _VIEW_OPS and (base is operands[0]._data or base is operands[0]._data.base):
        out._version_counter = operands[0]._version_counter
    else:
        out._version_counter = [0]
    out._grad = None
    out._retains_grad = False
    if _grad_enabled and True in needs:
        out.requires_grad = True
        out._ctx, out._op, out._parents = ctx, name, operands
        if ctx.saved_tensors:  # what backward checks before it uses them (engine.input_gradients)
            out._saved_versions = versions(out)
    else:
        out.requires_grad = False
        out._ctx, out._op, out._parents = None, None, ()
    if _recorder is not None:
        _recorder.op(name, ctx, operands, params, out)
    return out


def versions(node: Tensor) -> list[int]:
    """The version of ``node`` and of each of its inputs, in that order."""
    found = [node._version_counter[0]]
    for parent in node._parents:  # a loop, not a comprehension: this runs for every op (Python 3.11)
        found.append(parent._version_counter[0])
    return found


def tensor(data, requires_grad: bool = False) -> Tensor:
    """Same as ``Tensor(data, requires_grad)``, named like ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad)

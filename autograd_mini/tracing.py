"""Trace and replay: record one call of a step (forward, loss, backward, update) once, then replay it without
building a graph again — the idea behind ``tf.function``, on autograd_mini's own ops.

    step = autograd_mini.trace(train_step)   # train_step(x, y) -> loss Tensor; it calls backward() and step()
    loss = step(x, y)                        # first call: runs eagerly and records; later calls: replay

A replay calls the recorded ops' forwards and backwards on the new inputs' arrays, in the recorded order, then
the recorded optimizer calls. It skips what only building a graph needs: creating Tensors and contexts,
sorting the graph, checking shapes, dtypes and versions (the recording run checked them for these shapes).
As with ``tf.function``, what the step computes in Python is frozen at its traced value: a number read with
``.item()`` or ``.data``, a branch on a value, a learning-rate change outside ``optimizer.step()``. The
implementations active in the registry when the trace was recorded are the ones it replays. A call whose
arrays have new shapes or dtypes, or whose other arguments differ, is traced again (``traces`` counts them).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .engine import topological_order
from .registry import active
from .tensor import Tensor, recording


class _Recorder:
    def __init__(self, placeholders: list):
        self.placeholders = placeholders
        self.events: list = []

    def _inputs_in(self, params: dict) -> list:
        """(key, placeholder number) of every parameter that is an input's array (e.g. cross_entropy's target)."""
        return [(key, k) for key, value in params.items() for k, p in enumerate(self.placeholders)
                if isinstance(value, np.ndarray) and value is p._data]

    def op(self, name, ctx, operands, params, out) -> None:
        self.events.append(("op", active[name + ".forward"], ctx, operands, params, self._inputs_in(params), out))

    def backward(self, root, grad) -> None:
        self.events.append(("backward", root, grad))

    def call(self, method, args, kwargs) -> None:
        self.events.append(("call", method, args, kwargs))


def _backward_plan(root) -> tuple:
    """(steps, leaves, size): each non-leaf node's backward, in reverse topological order, with the slots of its
    parents (-1 for a parent needing no gradient), and the slots whose gradient a tensor keeps in ``.grad``."""
    order = topological_order(root)
    slot = {id(node): k for k, node in enumerate(order)}
    steps = []
    for node in reversed(order):
        if node.is_leaf:
            continue
        parents = tuple(slot[id(p)] if p.requires_grad else -1 for p in node.parents)
        steps.append((active[node.op + ".backward"], node._ctx, slot[id(node)], parents, node._retains_grad))
    keeps = [(slot[id(node)], node) for node in order if node.is_leaf or node._retains_grad]
    return steps, keeps, len(order), slot[id(root)]


class _Recording:
    """One traced call: its events, ready to replay on new input arrays."""

    def __init__(self, recorder: _Recorder, result):
        self.placeholders = recorder.placeholders
        self.result = result
        self.program = []
        for event in recorder.events:
            if event[0] == "backward":
                self.program.append(("backward", _backward_plan(event[1]), event[2]))
            else:
                self.program.append(event)

    def replay(self, arrays: list):
        for placeholder, array in zip(self.placeholders, arrays):
            placeholder._data = array
        for event in self.program:
            kind = event[0]
            if kind == "op":
                _, forward, ctx, operands, params, inputs, out = event
                if inputs:
                    params = {**params, **{key: self.placeholders[k]._data for key, k in inputs}}
                data = forward(ctx, *[t._data for t in operands], **params)
                out._data = data if type(data) is np.ndarray else np.asarray(data)
            elif kind == "backward":
                _replay_backward(*event[1], event[2])
            else:
                event[1](*event[2], **event[3])
        return self.result


def _replay_backward(steps, keeps, size, root_slot, seed) -> None:
    grads = [None] * size
    grads[root_slot] = seed
    retained = {}
    for backward, ctx, k, parents, retains in steps:
        grad = grads[k]
        if grad is None:
            continue
        if retains:
            retained[k] = grad
        found = backward(ctx, grad)
        if type(found) is not tuple:
            found = tuple(found) if isinstance(found, list) else (found,)
        if ctx.saved_tensors and not ctx.retain_graph:
            ctx.saved_tensors = None  # freed, as the eager engine frees them
        for parent, g in zip(parents, found):
            if parent >= 0 and g is not None:
                previous = grads[parent]
                grads[parent] = g if previous is None else previous + g
    given = {id(seed)}
    for k, tensor in keeps:
        grad = retained[k] if k in retained else grads[k]
        if grad is None:
            continue
        if type(grad) is not np.ndarray or grad.dtype is not tensor._data.dtype:
            grad = np.asarray(grad, dtype=tensor._data.dtype)
        if id(grad) in given or grad.base is not None:
            grad = grad.copy()  # never two .grad attributes (or the caller's seed) in one array
        given.add(id(grad))
        tensor._grad = grad if tensor._grad is None else tensor._grad + grad


def _signature(args) -> tuple:
    """What decides whether a call can replay a trace: arrays' shapes and dtypes, other arguments' values."""
    key = []
    for a in args:
        data = a._data if isinstance(a, Tensor) else a
        if isinstance(data, np.ndarray):
            key.append(("array", data.shape, data.dtype.str, isinstance(a, Tensor) and a.requires_grad))
        else:
            key.append(("value", a))
    return tuple(key)


class Traced:
    """A step function with its traces: ``traced(*args)`` replays the trace made for the arguments' signature,
    recording one first if there is none. ``traces`` counts the recordings made so far."""

    def __init__(self, function: Callable):
        self.function = function
        self.recordings: dict = {}
        self.traces = 0

    def __call__(self, *args):
        try:
            key = _signature(args)
            recording_ = self.recordings.get(key)
        except TypeError:  # an argument that cannot be hashed: never replayed
            raise TypeError("trace: arguments must be arrays, Tensors or hashable values (numbers, strings, tuples)") from None
        if recording_ is None:
            return self._record(key, args)
        return recording_.replay([a._data if isinstance(a, Tensor) else a for a in args
                                  if isinstance(a, (Tensor, np.ndarray))])

    def _record(self, key, args):
        placeholders, call_args = [], []
        for a in args:
            if isinstance(a, (Tensor, np.ndarray)):
                data = a._data if isinstance(a, Tensor) else a
                placeholder = Tensor(data, requires_grad=isinstance(a, Tensor) and a.requires_grad)
                placeholders.append(placeholder)
                call_args.append(placeholder)
            else:
                call_args.append(a)
        recorder = _Recorder(placeholders)
        with recording(recorder):
            result = self.function(*call_args)
        _check_result(result)
        self.recordings[key] = _Recording(recorder, result)
        self.traces += 1
        return result


def _check_result(result) -> None:
    items = result if isinstance(result, (tuple, list)) else (result,)
    for item in items:
        if item is not None and not isinstance(item, Tensor):
            raise TypeError(
                f"a traced function must return Tensors (or None), got a {type(item).__name__}: a Python value would "
                "be frozen at what the first call computed. Return the loss Tensor and call .item() outside")


def trace(function: Callable) -> Traced:
    """``function`` recorded on its first call for each signature and replayed afterwards (see the module)."""
    return Traced(function)

"""Trace and replay: record one call of a step (forward, loss, backward, update) once, then replay it without
building a graph again — the idea behind ``tf.function``, on autograd_mini's own ops.

    step = autograd_mini.trace(train_step)   # train_step(x, y) -> loss Tensor; it calls backward() and step()
    loss = step(x, y)                        # first call: runs eagerly and records; later calls: replay

A replay calls the recorded ops' forwards and backwards on the new inputs' arrays, in the recorded order, then
the recorded optimizer calls. It skips what only building a graph needs: creating Tensors and contexts,
sorting the graph, checking shapes, dtypes and versions (the recording run checked them for these shapes).
Each recording is compiled into a straight-line Python function, one line per call; print it with
``print(next(iter(step.recordings.values())).source)``.
As with ``tf.function``, what the step computes in Python is frozen at its traced value: a number read with
``.item()`` or ``.data``, a branch on a value, a learning-rate change outside ``optimizer.step()``. The
implementations active in the registry when the trace was recorded are the ones it replays. A call whose
arrays have new shapes or dtypes, or whose other arguments differ, is traced again (``traces`` counts them).
"""
from __future__ import annotations

import itertools
import linecache
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
        self.events.append(("op", name, active[name + ".forward"], ctx, operands, params, self._inputs_in(params), out))

    def backward(self, root, grad) -> None:
        self.events.append(("backward", root, grad))

    def call(self, method, args, kwargs) -> None:
        self.events.append(("call", method, args, kwargs))


class _Source:
    """The Python source of a recording, and the objects its names stand for (one name per object)."""

    def __init__(self):
        self.lines: list[str] = []
        self.namespace = {"ndarray": np.ndarray, "asarray": np.asarray, "_vjp": _vjp, "_add": _add, "_keep": _keep}
        self._names: dict[int, str] = {}

    def constant(self, value) -> str:
        """A literal for a string, integer, bool or None (readable), else a name."""
        return repr(value) if value is None or type(value) in (str, int, bool) else self.name(value, "v")

    def name(self, obj, prefix: str) -> str:
        if id(obj) not in self._names:
            prefix = prefix if prefix.isidentifier() else "v"
            self._names[id(obj)] = name = f"{prefix}{len(self._names)}"
            self.namespace[name] = obj  # which also keeps obj alive, so its id stays its own
        return self._names[id(obj)]


_compiled = itertools.count(1)  # numbers the recordings' sources, each a file name of its own in tracebacks


class _Recording:
    """One traced call compiled into straight-line Python, ``source``: a function of the input arrays that calls the
    recorded ops' forwards, backwards and optimizer methods in order, each with its arguments written out (looping
    over the events and unpacking argument lists cost about as much as the small ops themselves)."""

    def __init__(self, recorder: _Recorder, result):
        self.result = result
        source = _Source()
        inputs = [f"a{k}" for k in range(len(recorder.placeholders))]
        for placeholder, array in zip(recorder.placeholders, inputs):
            source.lines.append(f"{source.name(placeholder, 't')}._data = {array}")
        for event in recorder.events:
            if event[0] == "op":
                _op_source(source, *event[1:], inputs)
            elif event[0] == "backward":
                _backward_source(source, *event[1:])
            else:
                _, method, args, kwargs = event
                arguments = f"*{source.name(args, 'v')}, **{source.name(kwargs, 'v')}" if args or kwargs else ""
                source.lines.append(f"{source.name(method, getattr(method, '__name__', 'call') + '_')}({arguments})")
        filename = f"<autograd_mini.trace {next(_compiled)}>"
        self.source = f"def replay({', '.join(inputs)}):\n" + "".join(f"    {line}\n" for line in source.lines)
        linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)  # for tracebacks
        exec(compile(self.source, filename, "exec"), source.namespace)
        self.run = source.namespace["replay"]

    def replay(self, arrays: list):
        self.run(*arrays)
        return self.result


def _op_source(source: _Source, op, forward, ctx, operands, params, from_inputs, out, inputs) -> None:
    """``out``'s new array from its op's forward (a parameter that was an input array reads the new input)."""
    arguments = [source.name(ctx, "ctx")] + [f"{source.name(t, 't')}._data" for t in operands]
    replaced = dict(from_inputs)
    arguments += [f"{key}={inputs[replaced[key]] if key in replaced else source.constant(value)}"
                  for key, value in params.items()]
    source.lines.append(f"data = {source.name(forward, op + '_forward')}({', '.join(arguments)})")
    source.lines.append(f"{source.name(out, 't')}._data = data if type(data) is ndarray else asarray(data)")
    if out._retains_grad:  # eagerly, a fresh tensor: its .grad starts empty in every step
        source.lines.append(f"{source.name(out, 't')}._grad = None")


def _backward_source(source: _Source, root, seed) -> None:
    """A backward through the recorded graph: each non-leaf node's backward in reverse topological order, its
    gradient in the variable ``g<slot>``, then the gradients kept in ``.grad`` (leaves', and retain_grad's)."""
    order = topological_order(root)
    slot = {id(node): f"g{k}" for k, node in enumerate(order)}
    seed_name = source.name(seed, "seed")
    source.lines.append(f"{slot[id(root)]} = {seed_name}")
    assigned = {id(root)}
    for node in reversed(order):
        if node.is_leaf:
            continue
        backward = source.name(active[node.op + ".backward"], node.op + "_backward")
        ctx = source.name(node._ctx, "ctx")
        source.lines.append(f"found = _vjp({backward}, {ctx}, {slot[id(node)]}, {len(node.parents)})")
        for i, parent in enumerate(node.parents):
            if parent.requires_grad:
                g = slot[id(parent)]
                source.lines.append(f"{g} = _add({g}, found[{i}])" if id(parent) in assigned else f"{g} = found[{i}]")
                assigned.add(id(parent))
    source.lines.append(f"given = {{id({seed_name})}}")
    for node in order:
        if node.is_leaf or node._retains_grad:
            source.lines.append(f"_keep({source.name(node, 't')}, {slot[id(node)]}, given)")
    if len(order) > 1:  # free the gradients before the optimizer runs
        source.lines.append(f"del {', '.join(slot.values())}, found")


def _vjp(backward, ctx, grad, count: int) -> tuple:
    """The gradients an op's backward sends to its ``count`` inputs (all None if no gradient reached the op)."""
    if grad is None:
        return (None,) * count
    found = backward(ctx, grad)
    if ctx.saved_tensors and not ctx.retain_graph:
        ctx.saved_tensors = None  # freed, as the eager engine frees them
    return found if type(found) is tuple else tuple(found) if isinstance(found, list) else (found,)


def _add(total, grad):
    """What reaches a tensor used more than once: the sum of the gradients sent back (None is nothing sent)."""
    return grad if total is None else total if grad is None else total + grad


def _keep(tensor, grad, given: set) -> None:
    """Accumulate ``grad`` into ``tensor.grad`` as the eager engine does, in the tensor's dtype."""
    if grad is None:
        return
    if type(grad) is not np.ndarray or grad.dtype is not tensor._data.dtype:
        grad = np.asarray(grad, dtype=tensor._data.dtype)
    if id(grad) in given or grad.base is not None:
        grad = grad.copy()  # never two .grad attributes (or the caller's seed) in one array
    given.add(id(grad))
    tensor._grad = grad if tensor._grad is None else tensor._grad + grad


def _signature(args) -> tuple[tuple, list]:
    """What decides whether a call can replay a trace (arrays' shapes and dtypes, other arguments' values), and the
    arguments' arrays, in order."""
    key, arrays = [], []
    for a in args:
        data = a._data if isinstance(a, Tensor) else a
        if isinstance(data, np.ndarray):
            key.append((data.shape, data.dtype, isinstance(a, Tensor) and a.requires_grad))
            arrays.append(data)
        else:
            key.append(("value", a))
    return tuple(key), arrays


class Traced:
    """A step function with its traces: ``traced(*args)`` replays the trace made for the arguments' signature,
    recording one first if there is none. ``traces`` counts the recordings made so far."""

    def __init__(self, function: Callable):
        self.function = function
        self.recordings: dict = {}
        self.traces = 0

    def __call__(self, *args):
        key, arrays = _signature(args)
        try:
            recording_ = self.recordings.get(key)
        except TypeError:  # an argument that cannot be hashed: never replayed
            raise TypeError("trace: arguments must be arrays, Tensors or hashable values (numbers, strings, tuples)") from None
        if recording_ is None:
            return self._record(key, args)
        return recording_.replay(arrays)

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

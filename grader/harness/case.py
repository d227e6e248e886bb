"""One set of inputs, and how inputs cross the sandbox boundary (JSON and npz, never pickle)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Case:
    """Positional arrays plus JSON-able parameters; ``tol`` (rtol, atol) and ``inputs`` stay in the grader's process."""

    arrays: tuple
    params: dict = field(default_factory=dict)
    tol: tuple | None = None
    inputs: tuple = ()  # what the oracles differentiate, when the student gets something else (a ctx)

    def copy_arrays(self) -> tuple:
        return tuple(np.array(a, copy=True) for a in self.arrays)

    def describe(self) -> str:
        shapes = ", ".join(str(tuple(np.shape(a))) for a in (self.inputs or self.arrays))
        shown = {k: v for k, v in self.params.items() if k not in ("ctx", "shape_hint", "errstate", "program")}
        extra = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return shapes + (f"; {extra}" if extra else "")


def encode(value):
    """A parameter -> JSON: tuples, slices and arrays are tagged so that they come back as they were."""
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, slice):
        return {"__slice__": [value.start, value.stop, value.step]}
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, np.dtype):
        return {"__dtype__": str(value)}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a case parameter must be plain data, not {type(value).__name__}")


def decode(value):
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        if "__slice__" in value:
            return slice(*value["__slice__"])
        if "__dtype__" in value:
            return np.dtype(value["__dtype__"])
        if "__array__" in value:
            return np.array(value["__array__"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value

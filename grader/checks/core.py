"""The generic check: run a student's function and the same computation in PyTorch and TensorFlow.

A :class:`Check` is split in two halves so that the autograder can run them in different processes:

* :meth:`Check.student_outcomes` calls the student's function on every case and turns what comes back
  into plain float64 numpy arrays (or a :class:`Failure`). It needs numpy only, so it can run in the
  sandbox where torch and TensorFlow cannot be imported.
* :meth:`Check.judge` computes the oracles (torch, TF) on the same cases, compares, and diagnoses.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .diagnose import Mistake, diagnose, explain_failure
from .frameworks import quiet, to_numpy
from .result import CheckResult

Outputs = tuple  # a tuple of float64 numpy arrays


@dataclass
class Case:
    """One set of inputs: positional float64 arrays plus JSON-able keyword parameters."""

    arrays: tuple
    params: dict = field(default_factory=dict)

    def copy_arrays(self) -> tuple:
        return tuple(np.array(a, dtype=np.float64, copy=True) if _is_float(a) else np.array(a, copy=True)
                     for a in self.arrays)

    def describe(self) -> str:
        shapes = ", ".join(str(tuple(np.shape(a))) for a in self.arrays)
        extra = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return shapes + (f"; {extra}" if extra else "")


def _is_float(a) -> bool:
    return np.asarray(a).dtype.kind == "f"


@dataclass
class Failure:
    """A student call that produced no numbers to compare (exception, stub, wrong type...)."""

    kind: str
    message: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message}


def normalize(value: Any) -> Outputs | Failure:
    """What the student returned -> a tuple of float64 arrays, or a Failure saying why not."""
    if value is None:
        return Failure("returned_none", "your function returned None: did you forget the `return` statement?")
    items = value if isinstance(value, (tuple, list)) else (value,)
    arrays = []
    for item in items:
        module = type(item).__module__ or ""
        if module.startswith("torch"):
            return Failure("framework_object", "your function returned a torch.Tensor: return a numpy array "
                           "(compute with numpy; torch is only the reference here)")
        if module.startswith(("tensorflow", "keras")):
            return Failure("framework_object", "your function returned a TensorFlow tensor: return a numpy array "
                           "(compute with numpy; TensorFlow is only the reference here)")
        if module.startswith("autograd_mini"):
            return Failure("wrong_type", f"your function returned an autograd_mini {type(item).__name__}: "
                           "return the numpy array inside it (its .data)")
        if item is None:
            return Failure("returned_none", "one of the values you returned is None: every input needs its gradient")
        if not isinstance(item, (np.ndarray, np.generic, float, int)):
            return Failure("wrong_type", f"your function returned a {type(item).__name__}, not a numpy array")
        try:
            arr = np.array(item, dtype=np.float64, copy=True)
        except Exception:
            return Failure("wrong_type", f"your function returned a {type(item).__name__} that is not numbers")
        arrays.append(arr)
    return tuple(arrays)


def call_student(fn: Callable, call: Callable[[Callable, Case], Any], case: Case) -> Outputs | Failure:
    if not callable(fn):
        return Failure("not_callable", f"expected a function, got {type(fn).__name__}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = call(fn, case)
    except NotImplementedError as error:
        if "is not available while it is graded" in str(error):
            name = str(error).split(" is not available")[0].strip("'\" ")
            return Failure("uses_reference", f"your code calls autograd_mini's own {name}, which is what this "
                           "exercise asks you to write: it is not available while grading")
        return Failure("not_implemented", "not implemented yet: write your code in the cell above "
                       "(replace `raise NotImplementedError()`)")
    except RecursionError:
        return Failure("exception", "RecursionError: the function calls itself without end")
    except MemoryError:
        return Failure("exception", "MemoryError: the function used too much memory")
    except Exception as error:  # the student's bug, reported in words
        return Failure("exception", f"{type(error).__name__}: {error}"[:300] + f" (inputs: {case.describe()})")
    return normalize(raw)


def default_call(fn: Callable, case: Case) -> Any:
    return fn(*case.copy_arrays(), **case.params)


@dataclass
class Oracle:
    label: str  # e.g. "PyTorch (torch.autograd)"
    compute: Callable[[Case], Any]  # returns tensors/arrays; converted with to_numpy
    covers: tuple | None = None  # indices of the student's outputs this oracle computes (None: all)


@dataclass
class Check:
    name: str
    cases: list
    oracles: list
    call: Callable[[Callable, Case], Any] = default_call
    mistakes: Sequence[Mistake] = ()
    rtol: float = 1e-10
    atol: float = 1e-12
    what: str = "result"  # used in messages: "gradient", "loss", "parameters"

    # -- half 1: numpy only -------------------------------------------------------------------
    def student_outcomes(self, student_fn: Callable) -> list:
        return [call_student(student_fn, self.call, case) for case in self.cases]

    # -- half 2: oracles + comparison ---------------------------------------------------------
    def expected(self) -> dict:
        out = {}
        with quiet():
            for oracle in self.oracles:
                out[oracle.label] = [_as_outputs(to_numpy(oracle.compute(case))) for case in self.cases]
        return out

    def judge(self, outcomes: list) -> CheckResult:
        failures = [o for o in outcomes if isinstance(o, Failure)]
        if failures:
            kind, text = explain_failure(failures[0])
            lines = [f"vs {o.label}: not compared" for o in self.oracles]
            return CheckResult(self.name, False, float("inf"), text, lines, kind)
        expected = self.expected()
        lines, passed, worst = [], True, 0.0
        for oracle in self.oracles:
            label, exp = oracle.label, expected[oracle.label]
            picked = outcomes if oracle.covers is None else [tuple(o[i] for i in oracle.covers if i < len(o)) for o in outcomes]
            ok, err = compare_outputs(picked, exp, self.rtol, self.atol)
            passed &= ok
            worst = max(worst, err)
            verdict = "matches" if ok else "differs"
            lines.append(f"vs {label}: {verdict} (largest relative error {err:.1e})")
        shapes = ", ".join(str(tuple(np.shape(c.arrays[0]))) for c in self.cases if c.arrays)
        lines.insert(0, f"compared on {len(self.cases)} seeded float64 cases, input shapes {shapes}")
        if passed:
            return CheckResult(self.name, True, worst, "", lines, None)
        reference = expected[self.oracles[0].label]  # the first oracle covers every output
        kind, text = diagnose(outcomes, reference, self.cases, self.mistakes, self.rtol, self.atol, self.what)
        return CheckResult(self.name, False, worst, text, lines, kind)

    def run(self, student_fn: Callable) -> CheckResult:
        """Both halves in this process: what notebook check cells call."""
        stdout = io.StringIO()
        with contextlib.redirect_stderr(stdout):
            outcomes = self.student_outcomes(student_fn)
        return self.judge(outcomes)


def _as_outputs(value) -> Outputs:
    return value if isinstance(value, tuple) else (value,)


def relative_error(student: np.ndarray, expected: np.ndarray) -> float:
    """max |s - e| / max(|s|, |e|) elementwise (0 where both are 0); inf on shape mismatch or NaN."""
    if student.shape != expected.shape:
        return float("inf")
    if student.size == 0:
        return 0.0
    diff = np.abs(student - expected)
    scale = np.maximum(np.abs(student), np.abs(expected))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.where(scale == 0, 1.0, scale))
    if not np.all(np.isfinite(rel)):
        # inf vs inf of the same sign counts as equal; anything else non-finite is an error
        same = (student == expected) | (np.isnan(student) & np.isnan(expected))
        if np.all(same | np.isfinite(rel)):
            rel = np.where(same, 0.0, rel)
        else:
            return float("inf")
    return float(np.max(rel))


def close(student: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> bool:
    return student.shape == expected.shape and bool(np.allclose(student, expected, rtol=rtol, atol=atol, equal_nan=True))


def compare_outputs(outcomes: list, expected: list, rtol: float, atol: float) -> tuple[bool, float]:
    ok, worst = True, 0.0
    for got, exp in zip(outcomes, expected):
        if len(got) != len(exp):
            return False, float("inf")
        for g, e in zip(got, exp):
            worst = max(worst, relative_error(g, e))
            ok &= close(g, e, rtol, atol)
    return ok, worst


def compare(student_fn: Callable, *, torch_fn: Callable, tf_fn: Callable, cases: Sequence, name: str,
            rtol: float = 1e-10, atol: float = 1e-12, mistakes: Sequence[Mistake] = (),
            what: str = "result") -> CheckResult:
    """Run ``student_fn``, ``torch_fn`` and ``tf_fn`` on every case and compare (float64).

    ``cases`` is a list of tuples of numpy arrays (or :class:`Case` objects); each framework function
    receives the arrays of a case and returns a tensor, an array, or a tuple of them.
    """
    return make_check(torch_fn=torch_fn, tf_fn=tf_fn, cases=cases, name=name, rtol=rtol, atol=atol,
                      mistakes=mistakes, what=what).run(student_fn)


def make_check(*, torch_fn: Callable, tf_fn: Callable, cases: Sequence, name: str, rtol: float = 1e-10,
               atol: float = 1e-12, mistakes: Sequence[Mistake] = (), what: str = "result") -> Check:
    cases = [c if isinstance(c, Case) else Case(tuple(c) if isinstance(c, (tuple, list)) else (c,)) for c in cases]
    oracles = [
        Oracle("PyTorch", lambda case: torch_fn(*case.copy_arrays(), **case.params)),
        Oracle("TensorFlow", lambda case: tf_fn(*case.copy_arrays(), **case.params)),
    ]
    return Check(name, cases, oracles, mistakes=mistakes, rtol=rtol, atol=atol, what=what)

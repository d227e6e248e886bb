"""Judging: compare what a student's function returned with PyTorch and TensorFlow, and say what differs.

A :class:`Check` runs in two halves so that the autograder can split them across processes:

* the student half — ``grader.harness``: call the student's function on every case (``call`` names how)
  and turn what came back into float64 arrays or a Failure. In the autograder it runs in the sandbox;
* the judge half — :meth:`Check.judge`: compute the oracles on the same cases, compare within each
  case's tolerance, and diagnose. It runs in the grader's process (or the notebook's kernel).
"""
from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from grader.harness.calls import CALLS
from grader.harness.case import Case
from grader.harness.outcome import Failure, call_student
from .diagnose import Mistake, diagnose, explain_failure
from .frameworks import quiet, to_numpy
from .result import CheckResult


@dataclass
class Oracle:
    label: str  # e.g. "PyTorch (torch.autograd)"
    compute: Callable[[Case], Any]  # tensors/arrays (or a tuple of them), converted with to_numpy


@dataclass
class Check:
    name: str
    cases: list
    oracles: list
    call: str = "plain"
    mistakes: Sequence[Mistake] = ()
    rtol: float = 1e-10
    atol: float = 1e-12
    what: str = "result"
    transform: Callable | None = None  # (case, outputs) -> outputs | Failure, before comparing
    hints: dict = field(default_factory=dict)

    # -- half 1 (harness): numpy and autograd_mini only ------------------------------------------
    def student_outcomes(self, student_fn: Callable) -> list:
        return [call_student(student_fn, CALLS[self.call], case) for case in self.cases]

    # -- half 2 (judge) ----------------------------------------------------------------------------
    def tolerance(self, case: Case) -> tuple[float, float]:
        return case.tol or (self.rtol, self.atol)

    def expected(self) -> dict:
        with quiet():
            return {o.label: [_as_outputs(to_numpy(o.compute(case))) for case in self.cases] for o in self.oracles}

    def judge(self, outcomes: list) -> CheckResult:
        if self.transform is not None:
            with quiet():  # a transform may compute with the frameworks, whose warnings must not reach stderr
                outcomes = [o if isinstance(o, Failure) else self.transform(case, o)
                            for case, o in zip(self.cases, outcomes)]
        failures = [(k, o) for k, o in enumerate(outcomes) if isinstance(o, Failure)]
        if failures:
            k, failure = _simplest(failures, self.cases)
            kind, text = explain_failure(failure, self.cases[k])
            return CheckResult(self.name, False, None, text, [f"vs {o.label}: not compared" for o in self.oracles], kind)
        expected = self.expected()
        lines, failed, worst = [], set(), 0.0
        for oracle in self.oracles:
            errors = [output_error(got, want, *self.tolerance(case))
                      for got, want, case in zip(outcomes, expected[oracle.label], self.cases)]
            bad = {k for k, (err, ok) in enumerate(errors) if not ok}
            failed |= bad
            err = max(e for e, _ in errors)
            worst = max(worst, err)
            lines.append(f"vs {oracle.label}: {'differs' if bad else 'matches'} (largest relative error {err:.1e})")
        tolerances = sorted({self.tolerance(c)[0] for c in self.cases})
        lines.insert(0, f"compared on {len(self.cases)} seeded cases (tolerance "
                        f"{' / '.join(f'{t:.0e}' for t in tolerances)} relative)")
        if not failed:
            return CheckResult(self.name, True, worst, "", lines, None)
        reference = expected[self.oracles[0].label]
        first = _simplest_index(sorted(failed), self.cases)
        rtol, atol = self.tolerance(self.cases[first])
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # known wrong answers may overflow: quietly
            warnings.simplefilter("ignore")
            kind, text = diagnose(outcomes, reference, self.cases, self.mistakes, rtol, atol, self.what, focus=first)
        return CheckResult(self.name, False, worst, text, lines, kind)

    def run(self, student_fn: Callable, guard: Callable = contextlib.nullcontext) -> CheckResult:
        """Both halves in this process (what notebook cells call); the student's half inside ``guard()``."""
        with contextlib.redirect_stderr(io.StringIO()), guard():
            outcomes = self.student_outcomes(student_fn)
        return self.judge(outcomes)


def _as_outputs(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _complexity(case: Case) -> tuple:
    """Which case to talk about first: 2-D before 1-D and batched, then the smallest."""
    arrays = case.inputs or case.arrays
    ndims = [np.ndim(a) for a in arrays] or [0]
    rank = 0 if all(n == 2 for n in ndims) else 2 if max(ndims) > 2 else 1
    return rank, sum(np.size(a) for a in arrays)


def _simplest_index(indices: list, cases: list) -> int:
    return min(indices, key=lambda k: _complexity(cases[k]))


def _simplest(failures: list, cases: list) -> tuple:
    k = _simplest_index([k for k, _ in failures], cases)
    return k, dict(failures)[k]


def output_error(got: tuple, want: tuple, rtol: float, atol: float) -> tuple[float, bool]:
    """(largest relative error, within tolerance) over the outputs of one case.

    The relative error is |yours - theirs| / max(|theirs|, atol / rtol): below atol/rtol it measures
    absolute error in units of the tolerance, so "passed" and the number shown always agree (the
    verdict is error <= rtol, which is np.allclose's rule up to its sum of the two tolerances).
    """
    if len(got) != len(want):
        return float("inf"), False
    worst = 0.0
    for g, w in zip(got, want):
        if g.shape != w.shape:
            return float("inf"), False
        if g.size == 0:
            continue
        same = (g == w) | (np.isnan(g) & np.isnan(w))
        floor = atol / rtol if rtol else 0.0
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            rel = np.abs(g - w) / np.maximum(np.abs(w), floor)
        rel = np.where(same, 0.0, rel)
        rel = np.where(np.isnan(rel), np.inf, rel)
        worst = max(worst, float(rel.max()))
    return worst, worst <= rtol * (1 + 1e-9)


def compare(student_fn: Callable, *, torch_fn: Callable, tf_fn: Callable, cases: Sequence, name: str,
            rtol: float = 1e-10, atol: float = 1e-12, mistakes: Sequence[Mistake] = (),
            what: str = "result") -> CheckResult:
    """Run ``student_fn``, ``torch_fn`` and ``tf_fn`` on every case and compare (float64).

    ``cases`` is a list of tuples of numpy arrays (or :class:`Case` objects); each framework function
    receives the arrays of a case and returns a tensor, an array, or a tuple of them.
    """
    cases = [c if isinstance(c, Case) else Case(tuple(c) if isinstance(c, (tuple, list)) else (c,)) for c in cases]
    oracles = [Oracle("PyTorch", lambda case: torch_fn(*case.copy_arrays(), **case.params)),
               Oracle("TensorFlow", lambda case: tf_fn(*case.copy_arrays(), **case.params))]
    return Check(name, cases, oracles, "plain", mistakes, rtol, atol, what).run(student_fn)

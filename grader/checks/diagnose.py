"""Turn a mismatch into plain words: which common mistake does the student's result look like?

Every rule compares the student's numbers with the reference numbers (never the student's code),
so the same diagnosis works in the notebook and in the sandboxed autograder.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np


@dataclass
class Mistake:
    """A known wrong answer: if the student's outputs equal ``wrong(case)`` on every case, say ``message``."""

    key: str
    message: str
    wrong: Callable  # Case -> array or tuple of arrays (numpy only)


FAILURE_KINDS = {
    "not_implemented": "not_implemented",
    "exception": "exception",
    "returned_none": "returned_none",
    "framework_object": "framework_object",
    "wrong_type": "wrong_type",
    "not_callable": "missing",
    "missing": "missing",
    "timeout": "timeout",
    "uses_reference": "uses_reference",
    "crashed": "crashed",
    "output_flood": "output_flood",
}


def explain_failure(failure) -> tuple[str, str]:
    return FAILURE_KINDS.get(failure.kind, failure.kind), failure.message


def _close(a, b, rtol, atol) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _all_close(student: list, reference: list, rtol, atol) -> bool:
    return all(len(s) == len(r) and all(_close(a, b, rtol, atol) for a, b in zip(s, r))
               for s, r in zip(student, reference))


def _as_tuple(value):
    return tuple(np.asarray(v, dtype=np.float64) for v in value) if isinstance(value, (tuple, list)) \
        else (np.asarray(value, dtype=np.float64),)


def _nice_factor(c: float) -> Fraction | None:
    if not np.isfinite(c) or c == 0:
        return None
    frac = Fraction(c).limit_denominator(1000)
    if abs(float(frac) - c) <= 1e-8 * abs(c) and (frac.numerator in (1, -1) or frac.denominator == 1):
        return frac
    return None


def _reduce_to(grad: np.ndarray, shape: tuple) -> np.ndarray | None:
    """Sum ``grad`` over broadcast axes so it has ``shape``, or None when that is impossible."""
    if grad.ndim < len(shape):
        return None
    out = grad.sum(axis=tuple(range(grad.ndim - len(shape)))) if grad.ndim > len(shape) else grad
    axes = tuple(i for i, (g, s) in enumerate(zip(out.shape, shape)) if s == 1 and g != 1)
    if axes:
        out = out.sum(axis=axes, keepdims=True)
    return out if out.shape == tuple(shape) else None


def diagnose(student: list, reference: list, cases: list, mistakes, rtol: float, atol: float,
             what: str = "result") -> tuple[str, str]:
    """(mistake key, message) for the first rule that explains the difference."""
    loose_r, loose_a = max(rtol, 1e-7), max(atol, 1e-9)
    n_out = len(reference[0])
    if any(len(s) != len(r) for s, r in zip(student, reference)):
        return "count", (f"you returned {len(student[0])} value(s) but {n_out} are expected"
                         + (" (one gradient per input, in the order of the inputs)" if what == "gradient" else ""))

    for mistake in mistakes:
        try:
            wrong = [_as_tuple(mistake.wrong(case)) for case in cases]
        except Exception:
            continue
        if _all_close(student, wrong, loose_r, loose_a) and not _all_close(wrong, reference, loose_r, loose_a):
            return mistake.key, mistake.message

    for s_case, r_case, case in zip(student, reference, cases):
        for k, (s, r) in enumerate(zip(s_case, r_case)):
            if s.shape == r.shape and not np.all(np.isfinite(s)) and np.all(np.isfinite(r)):
                return "nan", (f"your {what} contains NaN or inf where PyTorch's is finite (inputs {case.describe()}): "
                               "exp() overflowed or log() got 0. Subtract the max before exp "
                               "(the log-sum-exp trick) and take logs of values that cannot be 0.")

    if n_out > 1:
        for i in range(n_out):
            for j in range(n_out):
                if i != j and all(s[i].shape == r[j].shape and _close(s[i], r[j], loose_r, loose_a)
                                  for s, r in zip(student, reference)):
                    return "swapped", (f"your output {i + 1} is the {what} expected for input {j + 1}: the gradients "
                                       "are swapped (return them in the order of the inputs).")

    for s_case, r_case, case in zip(student, reference, cases):
        for k, (s, r) in enumerate(zip(s_case, r_case)):
            if s.shape == r.shape:
                continue
            label = f"output {k + 1}" if n_out > 1 else f"your {what}"
            reduced = _reduce_to(s, r.shape)
            if reduced is not None:
                tail = " It matches after summing." if _close(reduced, r, loose_r, loose_a) else ""
                return "unreduced", (f"{label} has shape {s.shape} but the input had shape {r.shape}: the input was "
                                     "broadcast, so sum the gradient over the broadcast axes (unbroadcast)." + tail)
            if s.ndim == 2 and s.T.shape == r.shape:
                return "transposed", (f"{label} has shape {s.shape}, expected {r.shape}: it looks transposed "
                                      "(check which side of the matmul gets .T).")
            return "shape", f"{label} has shape {s.shape}, expected {r.shape} (inputs {case.describe()})"

    for s_case, r_case in zip(student, reference):
        for k, (s, r) in enumerate(zip(s_case, r_case)):
            if s.ndim == 2 and s.shape[0] == s.shape[1] and s.shape[0] > 1 and _close(s.T, r, loose_r, loose_a) \
                    and not _close(s, r, loose_r, loose_a):
                return "transposed", (f"output {k + 1} is the transpose of the expected {what}: check which side "
                                      "of the product gets .T (for C = A @ B: dA = dC @ B.T, dB = A.T @ dC).")

    factor = _common_factor(student, reference, cases, loose_r, loose_a)
    if factor is not None:
        return factor

    worst_case, worst_index, worst = 0, None, -1.0
    for c, (s_case, r_case) in enumerate(zip(student, reference)):
        for k, (s, r) in enumerate(zip(s_case, r_case)):
            d = np.abs(s - r) / np.maximum(np.maximum(np.abs(s), np.abs(r)), 1e-300)
            d = np.where(np.isnan(d), np.inf, d)
            if d.size and d.max() > worst:
                worst, worst_case = float(d.max()), c
                worst_index = (k, np.unravel_index(int(np.argmax(d)), d.shape))
    k, idx = worst_index
    s, r = student[worst_case][k][idx], reference[worst_case][k][idx]
    where = f"output {k + 1}" if n_out > 1 else f"your {what}"
    return "mismatch", (f"{where} differs from PyTorch's: at index {tuple(int(i) for i in idx)} of case "
                        f"{worst_case + 1} ({cases[worst_case].describe()}) you have {s:.6g}, PyTorch has {r:.6g}.")


def _common_factor(student, reference, cases, rtol, atol):
    """Is the student's result the reference times a constant (2, 1/2, -1, N, 1/N)?"""
    per_case = []
    for s_case, r_case in zip(student, reference):
        s = np.concatenate([a.ravel() for a in s_case])
        r = np.concatenate([a.ravel() for a in r_case])
        denom = float(r @ r)
        if denom == 0:
            return None
        c = float(s @ r) / denom
        if not np.allclose(s, c * r, rtol=rtol, atol=atol):
            return None
        per_case.append(c)
    if not per_case:
        return None
    if all(abs(c - per_case[0]) <= 1e-8 * abs(per_case[0]) for c in per_case):
        frac = _nice_factor(per_case[0])
        if frac is None or frac == 1:
            return None
        if frac == -1:
            return "sign", "your result has the wrong sign everywhere (a - where a + belongs, or the other way round)."
        if frac == 2:
            return "factor", ("your result is exactly 2x too large. The derivative of x**2 is 2x, and MSE's gradient "
                              "carries the 2 unless a 1/2 was put in front: check where a factor 2 comes from.")
        if frac == Fraction(1, 2):
            return "factor", ("your result is exactly 2x too small: did you divide by 2, or forget that the "
                              "derivative of x**2 is 2x?")
        if frac.denominator == 1:
            return "factor", f"your result is exactly {frac.numerator}x too large."
        if frac.numerator == 1:
            return "factor", f"your result is exactly {frac.denominator}x too small."
        if frac.numerator == -1:
            return "sign", f"your result has the wrong sign and is {frac.denominator}x too small."
        return None
    # the factor changes with the case: the number of elements averaged (mean vs sum)
    if all(c >= 2 and abs(c - round(c)) <= 1e-8 * c for c in per_case):
        factors = ", ".join(f"x{round(c)}" for c in per_case)
        return "factor", (f"your result is too large by a factor that changes with the input's shape ({factors}): "
                          "the number of elements averaged. mean divides by that count, sum does not.")
    if all(0 < c <= 0.5 and abs(1 / c - round(1 / c)) <= 1e-8 / c for c in per_case):
        factors = ", ".join(f"/{round(1 / c)}" for c in per_case)
        return "factor", (f"your result is too small by a factor that changes with the input's shape ({factors}): "
                          "the number of elements. Did you divide by it where the reduction is a sum?")
    return None

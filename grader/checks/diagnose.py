"""Turn a mismatch into plain words: which common mistake does the student's result look like?

Every rule compares the student's numbers with the reference numbers (never the student's code),
so the same diagnosis works in the notebook and in the sandboxed autograder.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np

from grader.harness.calls import HINTS


# The keys of the generic rules below, and of the grade step's "not graded" (whole notebook unusable).
GENERIC_KEYS = ("count", "nan", "swapped", "unreduced", "transposed", "shape", "factor", "sign", "mismatch",
                "not_graded")


@dataclass
class Mistake:
    """A known wrong answer: if the student's outputs equal ``wrong(case)`` on every case, say ``message``."""

    key: str
    message: str
    wrong: Callable  # Case -> array or tuple of arrays (numpy only)


def explain_failure(failure, case=None) -> tuple[str, str]:
    """(mistake key, message) for a call that produced nothing to compare, in the grader's own words.

    Only the kind, a hint code (looked up in the harness's HINTS), numbers, and the student's own
    exception type, text and line come from the student's side; every sentence is written here.
    """
    where = f" (line {failure.line} of your cell)" if failure.line else ""
    inputs = f" on inputs {case.describe()}" if case is not None else ""
    kind = failure.kind
    if kind == "hint":
        template = HINTS.get(failure.code)
        if template is None:
            return "exception", "your function failed" + where
        try:
            return failure.code, template.format(**failure.values) + where
        except (KeyError, IndexError, ValueError):
            return failure.code, template.split("{")[0].rstrip(" :(") + where
    messages = {
        "not_implemented": "not implemented yet: write your code in the exercise cell (replace "
                           "`raise NotImplementedError()`)",
        "uses_reference": f"your code calls autograd_mini's own {failure.error_text or 'reference'}, which is "
                          "what this exercise asks you to write: it is not available while grading",
        "exception": f"your function raised {failure.error_type or 'an exception'}: {failure.error_text}{where}"
                     f"{inputs}" if failure.code != "cell" else
                     f"the exercise cell raised {failure.error_type}: {failure.error_text}, so the function was "
                     "not defined",
        "recursion": "RecursionError: your function calls itself too deeply (Python stops at about 1,000 "
                     f"nested calls): use a loop{where}",
        "memory": "MemoryError: your function used too much memory",
        "returned_none": ("one of the values you returned is None: every input needs its gradient"
                          if failure.code == "one_of_several" else
                          "your function returned None: did you forget the `return` statement?"),
        "framework_object": f"your function returned a {failure.error_type} from PyTorch/TensorFlow: return a "
                            "numpy array (compute with numpy; the frameworks are only the reference here)",
        "wrong_type": (f"your function returned an autograd_mini {failure.error_type}: return the numpy array "
                       "inside it (its .data)" if failure.code == "autograd_mini" else
                       f"your function returned a {failure.error_type or 'value'}, not a numpy array"),
        "missing": "the function is not defined: keep the exercise cell and the function's name as given",
        "timeout": ("the exercise cell ran past the time limit" if failure.code == "cell" else
                    "your function ran past the time limit (an infinite loop?)"),
        "crashed": "the grading run stopped before this exercise finished (time or memory limit, or the "
                   "process was killed)",
        "output_flood": "your code printed more than 1 MB while being graded: remove the prints from the "
                        "exercise cell and the function",
    }
    return kind, messages.get(kind, messages["crashed"])


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
    """``grad`` summed over broadcast axes to ``shape`` (autograd_mini's reference unbroadcast), or None when
    ``shape`` does not broadcast to ``grad``'s shape."""
    from autograd_mini.registry import reference_of

    try:
        if np.broadcast_shapes(tuple(shape), grad.shape) != grad.shape:
            return None
    except ValueError:
        return None
    return reference_of("unbroadcast")(grad, tuple(shape))


def diagnose(student: list, reference: list, cases: list, mistakes, rtol: float, atol: float,
             what: str = "result", focus: int = 0) -> tuple[str, str]:
    """(mistake key, message) for the first rule that explains the difference; rules that point at one
    case speak of ``focus`` (the simplest failing case) first."""
    order = [focus] + [k for k in range(len(cases)) if k != focus]
    student, reference, cases = [student[k] for k in order], [reference[k] for k in order], [cases[k] for k in order]
    # mistakes are matched a little more loosely than answers; a case compared without atol stays so
    loose_r, loose_a = max(rtol, 1e-7), max(atol, 1e-9) if atol else 0.0
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
            reduced = _reduce_to(s, r.shape) if what == "gradient" else None
            if reduced is not None:
                tail = " It matches after summing." if _close(reduced, r, loose_r, loose_a) else ""
                return "unreduced", (f"{label} has shape {s.shape} but the input had shape {r.shape}: the input was "
                                     "broadcast, so sum the gradient over the axes broadcasting added in front and "
                                     "over the size-1 axes it stretched (keepdims)." + tail)
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

    # the simplest failing case comes first (``focus``): point at its largest difference
    worst_case, worst_index, worst = 0, None, -1.0
    for c, (s_case, r_case) in enumerate(zip(student, reference)):
        for k, (s, r) in enumerate(zip(s_case, r_case)):
            d = np.abs(s - r) / np.maximum(np.maximum(np.abs(s), np.abs(r)), 1e-300)
            d = np.where(np.isnan(d), np.inf, d)
            if d.size and d.max() > worst:
                worst, worst_case = float(d.max()), c
                worst_index = (k, np.unravel_index(int(np.argmax(d)), d.shape))
        if worst > rtol:
            break
    k, idx = worst_index
    s, r = student[worst_case][k][idx], reference[worst_case][k][idx]
    where = f"output {k + 1}" if n_out > 1 else f"your {what}"
    return "mismatch", (f"{where} differs from PyTorch's on inputs {cases[worst_case].describe()}: at index "
                        f"{tuple(int(i) for i in idx)} you have {s:.6g}, PyTorch has {r:.6g}.")


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
            return "factor", "your result is exactly 2x too large: check where a factor 2 comes from."
        if frac == Fraction(1, 2):
            return "factor", "your result is exactly 2x too small: check where a division by 2 comes from."
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

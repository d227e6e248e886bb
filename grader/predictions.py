"""Predict-first questions, one way for every lesson.

The student's function takes no argument and returns a number — or, for a choice, one of the numbers in
``choices`` — that PyTorch and TensorFlow then measure. A right prediction passes like any check. A known
wrong one gets its own diagnosis (a Mistake: what reasoning leads there). Any other is told only which way
it is off and a hint of how to think about it: never the value, which the notebook does not print either.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.case import Case
from grader.harness.outcome import Failure
from grader.lesson import Exercise


def prediction(exercise_id: str, function: str, truth: Callable[[Case], float], oracles: Sequence[Oracle], *,
               mistakes: Sequence[Mistake] = (), advice: str = "", choices: Sequence[int] | None = None,
               rtol: float = 1e-6, points: int = 1, cases: Callable | None = None, needs: tuple = ()) -> Exercise:
    """The exercise for one predict-first question. ``truth(case)`` is the measured value (computed here, in the
    grader's process, to place a wrong answer); ``oracles`` measure it in PyTorch and TensorFlow."""
    def one_case(rng, hidden):
        return [Case((), {"choices": list(choices)} if choices is not None else {}, tol=(rtol, 0.0))]

    return Exercise(exercise_id, function, points, cases or one_case, "prediction", oracles, mistakes, needs=needs,
                    what="prediction", rtol=rtol, atol=0.0, transform=_placed(truth, mistakes, rtol, advice))


def number_prediction(exercise_id: str, truth: Callable[[], float], oracles: Sequence[Oracle], answers: dict,
                      advice: str) -> Exercise:
    """A question whose student function has the exercise's name and whose measured value ``truth()`` needs no
    case; ``answers``: known wrong answers, {value: what reasoning gives it}."""
    return prediction(exercise_id, exercise_id, lambda case: truth(), oracles,
                      mistakes=known_answers(exercise_id, answers), advice=advice)


def known_answers(exercise_id: str, answers: dict) -> list[Mistake]:
    """Mistakes for wrong answers known by value: {value: what reasoning gives it (not the right value)}."""
    key = re.sub(r"[^a-z0-9]+", "_", exercise_id.lower()).strip("_")
    return [Mistake(f"{key}_{n}", words, lambda case, value=value: np.float64(value))
            for n, (value, words) in enumerate(answers.items(), 1)]


def oracle_number(torch_fn: Callable, tf_fn: Callable, torch_label: str, tf_label: str) -> list[Oracle]:
    """Oracles for a number each framework measures: ``torch_fn(torch)`` and ``tf_fn(tf)``."""
    return [Oracle(torch_label, lambda case: np.float64(torch_fn(fw.torch()))),
            Oracle(tf_label, lambda case: np.float64(tf_fn(fw.tf())))]


def _close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * abs(b) or a == b


def _placed(truth, mistakes, rtol, advice):
    """Grader side, before comparing: pass a right answer on; snap one near a known mistake onto it, so that the
    mistake's words are the diagnosis; tell any other answer only "too large" or "too small"."""
    def transform(case, outputs):
        (answer,) = outputs
        value = float(answer.reshape(-1)[0]) if answer.size == 1 else float("nan")
        right = float(truth(case))
        if _close(value, right, rtol):
            return outputs
        for mistake in mistakes:
            wrong = float(np.asarray(mistake.wrong(case)).reshape(-1)[0])
            if _close(value, wrong, max(rtol, 1e-3)) and not _close(wrong, right, rtol):
                return (np.float64(wrong),)
        tolerance = f"{rtol:.0%}" if rtol >= 1e-2 else f"{rtol:.0e} relative"
        code = "prediction_high" if value > right else "prediction_low"
        if value != value:
            code = "prediction_not_a_number"
        return Failure("hint", code=code, values={"tolerance": tolerance, "advice": advice, "type": "array"})
    return transform

"""Lesson 00 (tour): the warm-up exercise, its checks against PyTorch and TensorFlow, and its diagnoses.

In a notebook (the same calls as every lesson)::

    from grader.lessons import lesson_00
    lesson_00.check("pairwise_sq_distances", pairwise_sq_distances)    # check cell: shows a verdict
    lesson_00.check("pairwise_sq_distances", pairwise_sq_distances, hidden=True).assert_passed()  # graded

``EXERCISES`` lists every graded exercise; ``graded_check`` is the factory the autograder's spec
(grader/lessons/00_tour.toml) names. The warm-up is not a piece of autograd_mini, so it has no
registry entry and nothing is stripped while it is graded.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from grader.checks import frameworks as fw
from grader.checks.core import Case, Check, Oracle
from grader.checks.diagnose import Mistake
from grader.lessons.common import Exercise, Lesson

LESSON = "00_tour"


VISIBLE_SEED, HIDDEN_SEED = 0, 1000  # the notebook's check cell and graded cell; the autograder seeds per student


# ---- pairwise_sq_distances -------------------------------------------------------------------------

VISIBLE_SHAPES = [(4, 3, 2), (1, 5, 3), (6, 6, 1)]  # (n, m, d): a is (n, d), b is (m, d)
HIDDEN_SHAPES = [(7, 2, 3), (3, 8, 4), (5, 5, 5), (1, 1, 2), (2, 9, 1)]


def _distance_cases(seed: int, hidden: bool) -> list[Case]:
    rng = np.random.default_rng(seed)
    shapes = HIDDEN_SHAPES if hidden else VISIBLE_SHAPES
    return [Case((rng.standard_normal((n, d)), rng.standard_normal((m, d)))) for n, m, d in shapes]


def _call_distances(fn: Callable, case: Case) -> Any:
    a, b = case.copy_arrays()
    try:
        return fn(a, b)
    except ValueError as error:
        if "broadcast" not in str(error):
            raise
        raise ValueError(
            f"a {a.shape} and b {b.shape} do not broadcast against each other. Give them the axes of the "
            "result (n, m, d): a[:, None, :] - b[None, :, :]") from None


def _torch_distances(a, b):
    torch = fw.torch()
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    return ((ta[:, None, :] - tb[None, :, :]) ** 2).sum(dim=-1)


def _tf_distances(a, b):
    tf = fw.tf()
    ta, tb = tf.constant(a, dtype=tf.float64), tf.constant(b, dtype=tf.float64)
    return tf.reduce_sum(tf.square(ta[:, None, :] - tb[None, :, :]), axis=-1)


DISTANCE_MISTAKES = [
    Mistake("no_sum", "you returned one squared difference per coordinate, shape (n, m, d): sum them over the "
            "last axis (axis=-1) to get one distance per pair, shape (n, m).",
            lambda case: (case.arrays[0][:, None, :] - case.arrays[1][None, :, :]) ** 2),
    Mistake("swapped", "your result is (m, n), the transpose of what is expected: row i must belong to a[i] "
            "and column j to b[j], so a gets the new axis in the middle: a[:, None, :] - b[None, :, :].",
            lambda case: ((case.arrays[1][:, None, :] - case.arrays[0][None, :, :]) ** 2).sum(-1)),
    Mistake("sqrt", "you returned the distance itself; the exercise asks for the *squared* distance "
            "(leave out the square root).",
            lambda case: np.sqrt(((case.arrays[0][:, None, :] - case.arrays[1][None, :, :]) ** 2).sum(-1))),
    Mistake("no_square", "you summed the differences without squaring them: square first, then sum.",
            lambda case: (case.arrays[0][:, None, :] - case.arrays[1][None, :, :]).sum(-1)),
]


def _distances_check(cases: list) -> Check:
    return Check(
        name="pairwise_sq_distances",
        cases=cases,
        oracles=[Oracle("PyTorch", lambda case: _torch_distances(*case.arrays)),
                 Oracle("TensorFlow", lambda case: _tf_distances(*case.arrays))],
        call=_call_distances,
        mistakes=DISTANCE_MISTAKES,
    )


EXERCISES: dict[str, Exercise] = {
    "pairwise_sq_distances": Exercise("pairwise_sq_distances", 1, _distance_cases, _distances_check),
}


# ---- what the notebook calls ---------------------------------------------------------------------

_lesson = Lesson("00", EXERCISES, VISIBLE_SEED, HIDDEN_SEED)
make_check, graded_check, check, grade = _lesson.make_check, _lesson.graded_check, _lesson.check, _lesson.grade

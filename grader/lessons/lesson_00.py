"""Lesson 00 (tour): the warm-up, squared distances between the rows of two matrices.

It is not a piece of autograd_mini, so its id is lesson-local and nothing is stripped while it is graded.
"""
from __future__ import annotations

import numpy as np

from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.case import Case
from grader.lesson import Exercise, Lesson


def distance_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    shapes = ([(7, 2, 3), (3, 8, 4), (5, 5, 5), (1, 1, 2), (2, 9, 1)] if hidden
              else [(4, 3, 2), (1, 5, 3), (6, 6, 1)])  # (n, m, d): a is (n, d), b is (m, d)
    cases = [Case((rng.standard_normal((n, d)), rng.standard_normal((m, d)))) for n, m, d in shapes]
    if hidden:  # a transposed view, as x.T gives
        cases.append(Case((rng.standard_normal((3, 6)).T, rng.standard_normal((4, 3)))))
    return cases


def torch_distances(a, b):
    torch = fw.torch()
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    return ((ta[:, None, :] - tb[None, :, :]) ** 2).sum(dim=-1)


def tf_distances(a, b):
    tf = fw.tf()
    ta, tb = tf.constant(a, dtype=tf.float64), tf.constant(b, dtype=tf.float64)
    return tf.reduce_sum(tf.square(ta[:, None, :] - tb[None, :, :]), axis=-1)


def differences(case: Case) -> np.ndarray:
    a, b = case.arrays
    return a[:, None, :] - b[None, :, :]


MISTAKES = [
    Mistake("no_sum", "you returned one squared difference per coordinate, shape (n, m, d): sum them over the "
            "last axis (axis=-1) to get one distance per pair, shape (n, m).", lambda c: differences(c) ** 2),
    Mistake("swapped", "your result is (m, n), the transpose of what is expected: row i must belong to a[i] "
            "and column j to b[j], so a gets the new axis in the middle: a[:, None, :] - b[None, :, :].",
            lambda c: fw.to_numpy(torch_distances(c.arrays[1], c.arrays[0]))),
    Mistake("sqrt", "you returned the distance itself; the exercise asks for the *squared* distance "
            "(leave out the square root).", lambda c: np.sqrt(fw.to_numpy(torch_distances(*c.arrays)))),
    Mistake("no_square", "you summed the differences without squaring them: square first, then sum.",
            lambda c: differences(c).sum(axis=-1)),
]

LESSON = Lesson("00_tour", setup="import numpy as np\n", exercises=[
    Exercise("pairwise_sq_distances", function="pairwise_sq_distances", points=1, cases=distance_cases,
             call="distances", mistakes=MISTAKES,
             oracles=[Oracle("PyTorch", lambda c: torch_distances(*c.arrays)),
                      Oracle("TensorFlow", lambda c: tf_distances(*c.arrays))]),
])
check, grade = LESSON.check, LESSON.grade

"""The one shape of a lesson: a table of exercises, declared once, from which everything else follows.

    LESSON = Lesson("03_tensor_backprop", setup="import numpy as np ...", exercises=[
        Exercise("mul.backward", function="mul_backward", points=2, cases=mul_cases, call="op_backward",
                 oracles=backward_oracles("mul"), mistakes=MUL_MISTAKES, needs=("unbroadcast",)),
        ...
    ])

* ``id`` is the autograd_mini registry name the exercise implements (or a lesson-local name when it is
  not a piece of the library); the notebook calls ``lesson.check(id, fn)`` and ``lesson.grade(id, fn)``.
* ``function`` is what the student writes; its solution cell's nbgrader grade_id is ``cell`` (default:
  the function's name) and its graded test cell is ``test_<function>`` — `grader release` checks both.
* ``cases(rng, hidden)`` draws the inputs (in the grader's process); ``call`` names how the student's
  function is called on one case (grader/harness/calls/, a module per lesson — the only code that runs beside the
  student's); ``oracles`` compute the same thing in PyTorch and TensorFlow; ``mistakes`` are known wrong
  answers, computed in the grader's process, each with its diagnosis.
* While the autograder grades an exercise, its sandbox's autograd_mini lacks the reference of *every*
  exercise of the course and of every ``also_strip`` name (what could stand in for an answer), except the
  ``needs`` this exercise's harness stands on.
Seeds are derived, never typed: from the lesson, exercise and purpose here, and in the autograder from
the course secret, the student, the lesson and the submission's content.
"""
from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from grader.checks.core import Check, Oracle
from grader.checks.diagnose import Mistake
from grader.checks.result import CheckResult


@dataclass(frozen=True)
class Exercise:
    id: str
    function: str
    points: int
    cases: Callable[[np.random.Generator, bool], list]
    call: str
    oracles: Sequence[Oracle]
    mistakes: Sequence[Mistake] = ()
    cell: str = ""
    needs: tuple = ()
    also_strip: tuple = ()
    what: str = "result"
    rtol: float = 1e-10
    atol: float = 1e-12
    transform: Callable | None = None  # (case, outputs) -> outputs | Failure, in the grader's process

    @property
    def solution_cell(self) -> str:
        return self.cell or self.function

    @property
    def test_cell(self) -> str:
        return "test_" + self.function

    def make_check(self, cases: list) -> Check:
        return Check(self.id, cases, list(self.oracles), self.call, list(self.mistakes), self.rtol, self.atol,
                     self.what, self.transform)


def refusing(names) -> contextlib.AbstractContextManager:
    """Registry entries in ``names`` raise, as the stripped library's do, for the duration of the block."""
    from autograd_mini.registry import names as registered, use

    def stub(name):
        error = type("StrippedReference", (NotImplementedError,), {"reference_name": name})

        def removed(*args, **kwargs):
            raise error(f"{name} is removed while it is checked")
        return removed

    return use({name: stub(name) for name in names if name in registered()})


def derived_seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass
class Lesson:
    name: str
    exercises: list
    setup: str = "import numpy as np\n"  # what the solution cells import (the notebook's setup, minus torch/TF)
    by_id: dict = field(init=False, repr=False)
    digest: str = field(default="", init=False)  # set by grader.spec when a course loads it

    def __post_init__(self):
        self.by_id = {e.id: e for e in self.exercises}
        for label, values in (("id", [e.id for e in self.exercises]),
                              ("function", [e.function for e in self.exercises])):
            if len(set(values)) != len(values):
                raise ValueError(f"lesson {self.name}: exercise {label}s must be unique, got {values}")

    @property
    def max_points(self) -> int:
        return sum(e.points for e in self.exercises)

    def exercise(self, exercise_id: str) -> Exercise:
        if exercise_id not in self.by_id:
            raise KeyError(f"lesson {self.name} has no exercise {exercise_id!r}; it has {', '.join(self.by_id)}")
        return self.by_id[exercise_id]

    def cases(self, exercise_id: str, seed: int, hidden: bool = True) -> list:
        return self.exercise(exercise_id).cases(np.random.default_rng(seed), hidden)

    def make_check(self, exercise_id: str, hidden: bool = False, seed: int | None = None) -> Check:
        """The check on the visible cases (a check cell), the hidden ones (a test cell), or ``seed``'s."""
        if seed is None:
            seed = derived_seed(self.name, exercise_id, "hidden" if hidden else "visible")
        return self.exercise(exercise_id).make_check(self.cases(exercise_id, seed, hidden))

    def check(self, exercise_id: str, fn: Callable) -> CheckResult:
        """A check cell: compare ``fn`` with PyTorch and TensorFlow on the visible cases; shows a verdict."""
        return self._run(exercise_id, fn, hidden=False)

    def grade(self, exercise_id: str, fn: Callable) -> None:
        """A graded test cell: the hidden cases; raises AssertionError carrying the diagnosis."""
        self._run(exercise_id, fn, hidden=True).assert_passed()
        print(f"{exercise_id}: all hidden tests passed")

    def _run(self, exercise_id: str, fn: Callable, hidden: bool) -> CheckResult:
        """In the notebook, as in the sandbox, the exercise's own reference (and its stand-ins) is not there
        to be called through the registry while the student's function runs."""
        exercise = self.exercise(exercise_id)
        return self.make_check(exercise_id, hidden).run(fn, guard=lambda: refusing((exercise.id, *exercise.also_strip)))

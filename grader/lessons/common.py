"""What lessons 00 and 01 share: an exercise is a case generator and a check builder, and a lesson
answers the four calls its notebook and the autograder make."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from grader.checks.core import Check
from grader.checks.result import CheckResult


@dataclass(frozen=True)
class Exercise:
    function: str  # the function the student writes in the notebook
    points: int
    cases: Callable[[int, bool], list]  # (seed, hidden) -> cases; hidden sets are larger
    build: Callable[[list], Check]  # cases -> the Check


class Lesson:
    def __init__(self, name: str, exercises: dict[str, Exercise], visible_seed: int, hidden_seed: int):
        self.name, self.exercises = name, exercises
        self.visible_seed, self.hidden_seed = visible_seed, hidden_seed  # the autograder seeds per student

    def exercise(self, name: str) -> Exercise:
        if name not in self.exercises:
            raise KeyError(f"lesson {self.name} has no exercise {name!r}; it has {', '.join(self.exercises)}")
        return self.exercises[name]

    def make_check(self, name: str, hidden: bool = False) -> Check:
        """The notebook's check: visible cases, or (``hidden``) the graded cell's larger set."""
        exercise = self.exercise(name)
        return exercise.build(exercise.cases(self.hidden_seed if hidden else self.visible_seed, hidden))

    def graded_check(self, seed: int = 0, cases: list | None = None, exercise: str = "") -> Check:
        """The factory the lesson's .toml names: the hidden case set drawn from ``seed``."""
        spec = self.exercise(exercise)
        return spec.build(cases if cases is not None else spec.cases(seed, True))

    def check(self, name: str, fn: Callable, hidden: bool = False) -> CheckResult:
        """Compare ``fn`` with PyTorch and TensorFlow: the visible cases, or the graded (hidden) ones."""
        return self.make_check(name, hidden).run(fn)

    def grade(self, name: str, fn: Callable) -> None:
        """The hidden test: raises AssertionError carrying the diagnosis if anything differs."""
        self.check(name, fn, hidden=True).assert_passed()
        print(f"{name}: all hidden tests passed")

"""Judging a student's function against PyTorch and TensorFlow (float64, seeded cases), in plain words.

    from grader.checks.core import compare
    compare(my_fn, torch_fn=..., tf_fn=..., cases=[...], name="my_fn")   # a verdict for a notebook cell

Lessons declare their exercises with grader.lesson (Lesson, Exercise); see grader/checks/README.md.
torch and TensorFlow are imported only when an oracle runs.
"""
from .core import Check, Oracle, compare
from .diagnose import Mistake
from .result import CheckResult

__all__ = ["Check", "Oracle", "Mistake", "CheckResult", "compare"]

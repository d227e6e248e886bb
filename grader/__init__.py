"""Grading side of the course: checks used inside notebooks, the sandboxed autograder, the CLI.

``import grader`` is cheap: torch and TensorFlow are imported only when a check compares against them.
"""
from importlib.metadata import version

__version__ = version("backprop-from-scratch")  # the course's version: pyproject.toml, CHANGELOG.md

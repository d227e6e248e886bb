"""Grading side of the course: checks used inside notebooks, the sandboxed autograder, the CLI.

``import grader`` is cheap: torch and TensorFlow are imported only when a check compares against them.
"""
__version__ = "0.1.0"

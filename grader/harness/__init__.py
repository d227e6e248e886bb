"""The only part of the grader that runs next to student code (in the sandbox, and in the notebook).

It calls a student's function on inputs that arrive as data and turns what comes back into plain
arrays. It holds no correct implementation of any exercise and imports nothing from the rest of
``grader``: the sandbox gets a copy of this package alone (as the top-level package ``harness``).
Judging — the oracles, the diagnoses, the points — happens in the grader's process (grader.checks).
"""

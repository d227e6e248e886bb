"""What a check reports: pass/fail, the largest relative error, a diagnosis, one line per framework."""
from __future__ import annotations

import html

import numpy as np
from dataclasses import dataclass, field


@dataclass
class CheckResult:
    """Outcome of comparing a student's function with PyTorch and TensorFlow.

    ``mistake`` is a short key (``"factor"``, ``"sign"``, ``"not_implemented"`` ...) used to count
    diagnosed mistakes in the course report; ``diagnosis`` is the plain-words explanation.
    """

    name: str
    passed: bool
    max_rel_error: float | None  # None: nothing was compared (the call failed)
    diagnosis: str = ""
    lines: list[str] = field(default_factory=list)
    mistake: str | None = None

    def message(self) -> str:
        head = f"{self.name}: " + ("PASSED" if self.passed else "NOT YET")
        if self.max_rel_error is not None and np.isfinite(self.max_rel_error):
            head += f" (largest relative error {self.max_rel_error:.1e})"
        parts = [head]
        if self.diagnosis:
            parts.append("  " + self.diagnosis)
        parts.extend("  " + line for line in self.lines)
        return "\n".join(parts)

    def __repr__(self) -> str:
        return self.message()

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#b35900"
        status = "passed" if self.passed else "not yet"
        rows = "".join(f"<tr><td style='text-align:left'>{html.escape(line)}</td></tr>" for line in self.lines)
        diagnosis = f"<div>{html.escape(self.diagnosis)}</div>" if self.diagnosis else ""
        return (
            f"<div><b>{html.escape(self.name)}</b>: <span style='color:{colour}'><b>{status}</b></span>"
            f"{self._error_text()}{diagnosis}"
            f"<table style='font-family:monospace;font-size:90%'>{rows}</table></div>"
        )

    def _error_text(self) -> str:
        if self.max_rel_error is None or not np.isfinite(self.max_rel_error):
            return ""
        return f" (largest relative error {self.max_rel_error:.1e})"

    def __bool__(self) -> bool:
        return self.passed

    def assert_passed(self) -> None:
        """For hidden test cells: raise AssertionError carrying the friendly message."""
        if not self.passed:
            raise AssertionError(self.message())

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "passed": self.passed,
            "max_rel_error": self.max_rel_error,
            "diagnosis": self.diagnosis,
            "lines": list(self.lines),
            "mistake": self.mistake,
        }

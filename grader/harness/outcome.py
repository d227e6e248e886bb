"""What a student's call produced: a tuple of float64 arrays, or a Failure that says why not.

A Failure carries a *kind* from a fixed list and, for the student's own exception, its type, text and
line. The words a student reads are chosen in the grader's process from the kind (and a hint code
raised by the harness), so nothing the student's code writes can become feedback except its own
exception text, truncated.
"""
from __future__ import annotations

import re
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .case import Case

KINDS = ("not_implemented", "uses_reference", "exception", "hint", "returned_none", "framework_object",
         "wrong_type", "missing", "timeout", "crashed", "output_flood", "recursion", "memory")
ERROR_TEXT_LIMIT = 200


class Hint(Exception):
    """Raised by harness code: ``code`` names a message the grader owns; ``values`` fill it (numbers, shapes)."""

    def __init__(self, code: str, **values):
        super().__init__(code)
        self.code, self.values = code, values


class Stripped(NotImplementedError):
    """What a reference removed for grading raises (autograd_mini's stripped copy defines its own)."""


@dataclass
class Failure:
    kind: str
    error_type: str = ""
    error_text: str = ""
    line: int | None = None
    code: str = ""  # kind "hint": the harness's message code
    values: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "error_type": self.error_type, "error_text": self.error_text,
                "line": self.line, "code": self.code, "values": self.values}

    @classmethod
    def from_dict(cls, data: dict) -> "Failure":
        """Rebuild from untrusted JSON: unknown kinds, odd types and long texts are cut down here."""
        kind = data.get("kind") if data.get("kind") in KINDS else "crashed"
        error_type = str(data.get("error_type", ""))
        line = data.get("line")
        values = data.get("values") if isinstance(data.get("values"), dict) else {}
        return cls(kind, error_type if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]{0,60}", error_type) else "",
                   clean_text(data.get("error_text", "")), line if type(line) is int and 0 < line < 10**6 else None,
                   str(data.get("code", ""))[:40], {str(k)[:20]: _plain(v) for k, v in list(values.items())[:8]})


def clean_text(text) -> str:
    """The student's error text as it may appear in feedback: printable, one line, short."""
    text = re.sub(r"[^\x20-\x7e\u00a0-\uffff]", " ", str(text))
    text = re.sub(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069]", "", text)
    return text[:ERROR_TEXT_LIMIT]


def _plain(value):
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 8 and all(type(v) is int for v in value):
        return list(value)
    return clean_text(value)[:40]


def normalize(value: Any) -> tuple | Failure:
    """What the student returned -> a tuple of float64 arrays, or a Failure saying why not."""
    if value is None:
        return Failure("returned_none")
    items = value if isinstance(value, (tuple, list)) else (value,)
    arrays = []
    for item in items:
        module = type(item).__module__ or ""
        if module.startswith(("torch", "tensorflow", "keras")):
            return Failure("framework_object", error_type=type(item).__name__)
        if module.startswith("autograd_mini"):
            return Failure("wrong_type", error_type=type(item).__name__, code="autograd_mini")
        if item is None:
            return Failure("returned_none", code="one_of_several")
        if not isinstance(item, (np.ndarray, np.generic, float, int)) or isinstance(item, bool):
            return Failure("wrong_type", error_type=type(item).__name__)
        try:
            arr = np.array(item, dtype=np.float64, copy=True)
        except Exception:
            return Failure("wrong_type", error_type=type(item).__name__)
        arrays.append(np.asarray(arr).view(np.ndarray))
    return tuple(arrays)


def _student_line(error: BaseException) -> int | None:
    """The line of the student's cell where the error surfaced (cells compile as '<cell ...>')."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith("<cell")]
    return frames[-1].lineno if frames else None


def call_student(fn: Callable, call: Callable[[Callable, Case], Any], case: Case) -> tuple | Failure:
    if not callable(fn):
        return Failure("missing", error_type=type(fn).__name__)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = call(fn, case)
    except Hint as hint:
        return Failure("hint", code=hint.code, values=hint.values, line=_student_line(hint))
    except NotImplementedError as error:
        name = getattr(error, "reference_name", None)  # set by the stripped library's stub
        if name:
            return Failure("uses_reference", error_text=clean_text(name))
        return Failure("not_implemented", line=_student_line(error))
    except RecursionError as error:
        return Failure("recursion", line=_student_line(error))
    except MemoryError:
        return Failure("memory")
    except Exception as error:  # the student's bug, reported with its own words
        return Failure("exception", error_type=type(error).__name__, error_text=clean_text(error),
                       line=_student_line(error))
    return normalize(raw)

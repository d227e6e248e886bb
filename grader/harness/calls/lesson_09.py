"""Lesson 09 (capstone): which statements are wrong, answered as a set of their indices."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..case import Case
from ..outcome import Hint

HINTS = {
    "statements_not_indices": "return the indices of the wrong statements as a set or list of integers (e.g. {0, 3}), "
                              "not a {type}",
    "statement_out_of_range": "there is no statement {index}: the statements are numbered 0 to {last}",
    # found by the grader when it compares the answer with what PyTorch and TensorFlow show
    "statements_misjudged": "{count} of the {total} statements are judged wrongly. Each statement has an experiment in "
                            "the notebook's FAQ section: run it and read what it printed",
}


def statement_indices(fn: Callable, case: Case) -> Any:
    """``fn()`` returns the indices of the statements it finds wrong; returns a 0/1 vector over the
    ``case.params["statements"]`` statements (1 = called wrong)."""
    answer = fn()
    if isinstance(answer, (str, bytes, dict)) or not hasattr(answer, "__iter__"):
        raise Hint("statements_not_indices", type=type(answer).__name__)
    count = case.params["statements"]
    chosen = np.zeros(count)
    for index in answer:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise Hint("statements_not_indices", type=f"collection holding a {type(index).__name__}")
        if not 0 <= index < count:
            raise Hint("statement_out_of_range", index=int(index), last=count - 1)
        chosen[index] = 1.0
    return chosen


CALLS: dict[str, Callable[[Callable, Case], Any]] = {"statement_indices": statement_indices}

"""A submission as nbgrader's pages may show it: nothing in it can run in the instructor's browser.

nbgrader's formgrader renders ``autograded/`` (and its feedback is built from there) with nbconvert, which
passes HTML and JavaScript outputs, raw HTML in markdown and ``javascript:`` links through unchanged;
a ``<script>`` there runs with the instructor's Jupyter session. :func:`inert_notebook` keeps what an
instructor grades by — the cells' source — and drops everything else:

* code cells: source kept (nbconvert highlights it as escaped text), outputs and execution counts cleared;
* markdown and raw cells: their text shown as a fenced code block (escaped, no HTML, links or math),
  attachments dropped;
* metadata: only well-formed nbgrader cell metadata (a grade_id of letters, digits, ``_ - .``; booleans;
  finite points) and a fixed Python kernelspec; cell ids only when they are plain.
"""
from __future__ import annotations

import json
import math
import re

_SAFE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_FLAGS = ("grade", "solution", "locked", "task")
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
              "language_info": {"name": "python"}}


def _text(source) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _fenced(text: str) -> str:
    """``text`` as a markdown code block (a fence longer than any run of backticks in it)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _nbgrader(meta) -> dict | None:
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    if not isinstance(nbgrader, dict) or not isinstance(nbgrader.get("grade_id"), str) \
            or not _SAFE_ID.fullmatch(nbgrader["grade_id"]):
        return None
    clean = {"grade_id": nbgrader["grade_id"]}
    clean.update({flag: nbgrader[flag] for flag in _FLAGS if isinstance(nbgrader.get(flag), bool)})
    points = nbgrader.get("points")
    if isinstance(points, (int, float)) and not isinstance(points, bool) and math.isfinite(points):
        clean["points"] = points
    if isinstance(nbgrader.get("schema_version"), int):
        clean["schema_version"] = nbgrader["schema_version"]
    return clean


def _cell(cell: dict, index: int, seen: set) -> dict:
    kind = cell.get("cell_type")
    nbgrader = _nbgrader(cell.get("metadata"))
    cell_id = cell.get("id")
    if not isinstance(cell_id, str) or not _SAFE_ID.fullmatch(cell_id) or cell_id in seen:
        cell_id = f"cell-{index}"
    seen.add(cell_id)
    out = {"id": cell_id, "metadata": {"nbgrader": nbgrader} if nbgrader else {}}
    if kind == "code":
        return {**out, "cell_type": "code", "execution_count": None, "outputs": [], "source": _text(cell.get("source"))}
    return {**out, "cell_type": "markdown", "source": _fenced(_text(cell.get("source")))}


def inert_notebook(data: bytes) -> bytes:
    """The notebook in ``data`` with no active content (a note instead, if it is not a notebook)."""
    try:
        notebook = json.loads(data.decode("utf-8"))
        cells = notebook["cells"]
        if not isinstance(cells, list):
            raise TypeError("cells is not a list")
    except Exception:
        cells = [{"cell_type": "markdown", "source": "This submission is not a Jupyter notebook."}]
    seen: set = set()
    clean = [_cell(c, i, seen) for i, c in enumerate(cells) if isinstance(c, dict)]
    return json.dumps({"cells": clean, "metadata": KERNELSPEC, "nbformat": 4, "nbformat_minor": 5},
                      indent=1, ensure_ascii=True).encode()

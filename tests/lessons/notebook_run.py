"""Running a lesson notebook headless, in its own folder as JupyterLab would, for the lesson tests.

A notebook is run once per test session (``executed``): the contract every lesson meets is tested in
test_every_lesson.py, and a lesson's own tests look at the same executed cells for what is theirs alone.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]


def run_notebook(path: Path, allow_errors: bool) -> tuple[nbformat.NotebookNode, float]:
    """Execute every cell; return the executed notebook and the seconds it took."""
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb, time.perf_counter() - start


@functools.cache
def executed(lesson: str, folder: str = "solutions") -> tuple[nbformat.NotebookNode, float]:
    """``folder/lesson.ipynb`` run to the end (errors kept as outputs), once per session."""
    return run_notebook(REPO / folder / f"{lesson}.ipynb", allow_errors=True)


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def outputs_text(cell) -> str:
    """What a cell showed: its printed text and the plain-text form of what it displayed."""
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)

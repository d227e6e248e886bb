"""Running a lesson notebook headless, in its own folder as JupyterLab would, for the lesson tests."""
from __future__ import annotations

import time
from pathlib import Path

import nbformat


def run_notebook(path: Path, allow_errors: bool) -> tuple[nbformat.NotebookNode, float]:
    """Execute every cell; return the executed notebook and the seconds it took."""
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb, time.perf_counter() - start


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})

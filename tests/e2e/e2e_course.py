"""The course files the browser tests serve: released lessons, and "completed" copies of them.

A completed copy is the released notebook with each solution cell's text taken from solutions/ (the
fenced answer included), i.e. what a student who solved everything would have. Nothing is written to
the repo: everything goes into a temp dir.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# E2E_NOTEBOOKS: test another set of released notebooks, e.g. generated from solutions/ into a temp dir
NOTEBOOKS = Path(os.environ.get("E2E_NOTEBOOKS", REPO / "notebooks"))
SOLUTIONS = REPO / "solutions"


def released_lessons() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def nbgrader_meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def completed(released: dict, source: dict) -> dict:
    """The released notebook with every solution cell replaced by the source's cell of the same grade_id."""
    answers = {nbgrader_meta(c).get("grade_id"): c for c in source["cells"] if nbgrader_meta(c).get("solution")}
    done = copy.deepcopy(released)
    for c in done["cells"]:
        meta = nbgrader_meta(c)
        if meta.get("solution") and meta.get("grade_id") in answers:
            c["source"] = answers[meta["grade_id"]]["source"]
    return done


def solution_source(lesson: str, grade_id: str) -> str:
    source = json.loads((SOLUTIONS / f"{lesson}.ipynb").read_text())
    for c in source["cells"]:
        if nbgrader_meta(c).get("grade_id") == grade_id:
            text = c["source"]
            return text if isinstance(text, str) else "".join(text)
    raise KeyError(f"{lesson}: no cell {grade_id!r} in solutions/")


def stage_student_dir(root: Path) -> Path:
    """root/notebooks/<lesson>.ipynb (as released), root/done/<lesson>.ipynb (completed), nbgrader_config.py.

    Mirrors `make lab`: JupyterLab runs in the repo root, where nbgrader_config.py sits.
    """
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    (root / "done").mkdir(exist_ok=True)
    if (REPO / "nbgrader_config.py").exists():
        shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    for lesson in released_lessons():
        released_path = NOTEBOOKS / f"{lesson}.ipynb"
        shutil.copy(released_path, root / "notebooks" / released_path.name)
        source_path = SOLUTIONS / f"{lesson}.ipynb"
        if source_path.exists():
            done = completed(json.loads(released_path.read_text()), json.loads(source_path.read_text()))
            (root / "done" / released_path.name).write_text(json.dumps(done, indent=1))
    return root

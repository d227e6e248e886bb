"""Notebooks are kept in git without outputs: diffs stay readable and no stale results mislead a student."""
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "solutions").glob("*.ipynb")) + sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_lessons():
    assert len(NOTEBOOKS) >= 8, "solutions/ and notebooks/ each hold lessons 00-03"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_outputs_or_execution_counts(path):
    cells = json.loads(path.read_text())["cells"]
    dirty = [i for i, c in enumerate(cells) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.relative_to(REPO)}: cells {dirty} keep outputs; clear them before committing"

"""Reading what the sandbox wrote, in the grader's process: untrusted files, validated before use."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from grader.harness.outcome import Failure


def load_outcomes(directory: Path, ex_id: str, n_cases: int, max_bytes: int = 64 << 20) -> list | Failure:
    """The student's outcomes: float64 arrays only, the right count, a sane size; failures rebuilt from
    known kinds only (Failure.from_dict), so a submission cannot put words of its own into feedback."""
    directory = Path(directory)
    npz, meta_path = directory / f"{ex_id}.npz", directory / f"{ex_id}.json"
    if directory.is_symlink() or npz.is_symlink() or meta_path.is_symlink():  # written by untrusted code
        return Failure("crashed")
    if not (npz.is_file() and meta_path.is_file()):
        return Failure("crashed")
    if npz.stat().st_size > max_bytes or meta_path.stat().st_size > 1 << 20:
        return Failure("wrong_type", error_type="oversized_result")
    try:
        with zipfile.ZipFile(npz) as archive:  # refuse decompression bombs before numpy expands anything
            if len(archive.infolist()) > 10_000 or sum(i.file_size for i in archive.infolist()) > max_bytes:
                return Failure("wrong_type", error_type="oversized_result")
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, list) or not all(isinstance(e, dict) for e in meta):
            raise ValueError("malformed")
        outcomes = []
        with np.load(npz, allow_pickle=False) as data:
            for i, entry in enumerate(meta):
                if "failure" in entry:
                    failure = entry["failure"]
                    outcomes.append(Failure.from_dict(failure if isinstance(failure, dict) else {}))
                else:
                    outcomes.append(tuple(np.asarray(data[f"{i}/{j}"], dtype=np.float64)
                                          for j in range(int(entry["n"]))))
    except Exception:
        return Failure("crashed")
    if len(outcomes) != n_cases:
        return Failure("crashed")
    return outcomes

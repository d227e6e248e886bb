"""What crosses the sandbox boundary: JSON and npz of plain float/int arrays, never pickle."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from grader.checks.core import Case, Failure


def encode_param(value):
    if isinstance(value, tuple):
        return {"__tuple__": [encode_param(v) for v in value]}
    if isinstance(value, slice):
        return {"__slice__": [value.start, value.stop, value.step]}
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, list):
        return [encode_param(v) for v in value]
    if isinstance(value, dict):
        return {k: encode_param(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_param(value):
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(decode_param(v) for v in value["__tuple__"])
        if "__slice__" in value:
            return slice(*value["__slice__"])
        if "__array__" in value:
            return np.array(value["__array__"], dtype=value["dtype"])
        return {k: decode_param(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_param(v) for v in value]
    return value


def save_cases(path_npz: Path, path_json: Path, cases_by_exercise: dict) -> None:
    arrays, meta = {}, {}
    for ex_id, cases in cases_by_exercise.items():
        meta[ex_id] = []
        for i, case in enumerate(cases):
            for j, a in enumerate(case.arrays):
                arrays[f"{ex_id}/{i}/{j}"] = np.asarray(a)
            meta[ex_id].append({"n": len(case.arrays), "params": encode_param(case.params)})
    np.savez(path_npz, **arrays)
    path_json.write_text(json.dumps(meta))


def load_cases(path_npz: Path, path_json: Path) -> dict:
    meta = json.loads(Path(path_json).read_text())
    with np.load(path_npz, allow_pickle=False) as data:
        return {ex_id: [Case(tuple(data[f"{ex_id}/{i}/{j}"] for j in range(m["n"])), decode_param(m["params"]))
                        for i, m in enumerate(entries)] for ex_id, entries in meta.items()}


def save_outcomes(directory: Path, ex_id: str, outcomes: list) -> None:
    arrays, meta = {}, []
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, Failure):
            meta.append({"failure": outcome.to_dict()})
        else:
            meta.append({"n": len(outcome)})
            for j, a in enumerate(outcome):
                arrays[f"{i}/{j}"] = np.asarray(a, dtype=np.float64)
    np.savez(Path(directory) / f"{ex_id}.npz", **arrays)
    (Path(directory) / f"{ex_id}.json").write_text(json.dumps(meta))


def load_outcomes(directory: Path, ex_id: str, n_cases: int, max_bytes: int = 64 << 20) -> list | Failure:
    """The student's outcomes, validated: float64 arrays only, the right count, a sane size."""
    directory = Path(directory)
    npz, meta_path = directory / f"{ex_id}.npz", directory / f"{ex_id}.json"
    if directory.is_symlink() or npz.is_symlink() or meta_path.is_symlink():  # written by untrusted code
        return Failure("crashed", "the results of this exercise were tampered with")
    if not (npz.is_file() and meta_path.is_file()):
        return Failure("crashed", "the grading run stopped before this exercise finished (time or memory limit, "
                       "or the process was killed)")
    if npz.stat().st_size > max_bytes or meta_path.stat().st_size > 1 << 20:
        return Failure("wrong_type", "the result is far too large")
    try:
        with zipfile.ZipFile(npz) as archive:  # refuse decompression bombs before numpy expands anything
            if len(archive.infolist()) > 10_000 or sum(i.file_size for i in archive.infolist()) > max_bytes:
                return Failure("wrong_type", "the result is far too large")
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, list) or not all(isinstance(e, dict) for e in meta):
            raise ValueError("malformed")
        outcomes = []
        with np.load(npz, allow_pickle=False) as data:
            for i, entry in enumerate(meta):
                if "failure" in entry:
                    f = entry["failure"]
                    outcomes.append(Failure(str(f["kind"])[:40], str(f["message"])[:500]))
                else:
                    arrays = tuple(np.asarray(data[f"{i}/{j}"], dtype=np.float64) for j in range(int(entry["n"])))
                    outcomes.append(arrays)
    except Exception as error:
        return Failure("crashed", f"the results of this exercise could not be read ({type(error).__name__})")
    if len(outcomes) != n_cases:
        return Failure("crashed", "the results of this exercise are incomplete")
    return outcomes

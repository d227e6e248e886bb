"""Cases in, outcomes out: npz of plain arrays plus JSON, never pickle. Read on both sides of the sandbox."""
from __future__ import annotations

import json
import os

import numpy as np

from .case import Case, decode, encode
from .outcome import Failure


def save_cases(work: str, cases_by_exercise: dict) -> None:
    arrays, meta = {}, {}
    for ex_id, cases in cases_by_exercise.items():
        meta[ex_id] = []
        for i, case in enumerate(cases):
            for j, a in enumerate(case.arrays):
                arrays[f"{ex_id}/{i}/{j}"] = np.asarray(a)
            meta[ex_id].append({"n": len(case.arrays), "params": encode(case.params)})
    np.savez(os.path.join(work, "cases.npz"), **arrays)
    with open(os.path.join(work, "cases.json"), "w") as f:
        json.dump(meta, f)


def load_cases(work: str, ex_id: str) -> list:
    with open(os.path.join(work, "cases.json")) as f:
        entries = json.load(f)[ex_id]
    with np.load(os.path.join(work, "cases.npz"), allow_pickle=False) as data:
        return [Case(tuple(data[f"{ex_id}/{i}/{j}"] for j in range(m["n"])), decode(m["params"]))
                for i, m in enumerate(entries)]


def save_outcomes(directory: str, ex_id: str, outcomes: list) -> None:
    arrays, meta = {}, []
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, Failure):
            meta.append({"failure": outcome.to_dict()})
        else:
            meta.append({"n": len(outcome)})
            for j, a in enumerate(outcome):
                arrays[f"{i}/{j}"] = np.asarray(a, dtype=np.float64)
    np.savez(os.path.join(directory, f"{ex_id}.npz"), **arrays)
    with open(os.path.join(directory, f"{ex_id}.json"), "w") as f:
        json.dump(meta, f)

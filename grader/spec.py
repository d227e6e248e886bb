"""How a lesson declares its graded exercises: ``<specs>/<lesson>.toml`` (see grader/README.md).

    [[exercise]]
    id = "relu"              # shown in reports and feedback
    cells = ["relu_impl"]    # nbgrader grade_ids of the student's cells to take from the submission
    function = "relu"        # the name those cells define
    points = 2
    check = "forward"        # forward | backward | loss | loss_grad | optimizer | gradient | training | custom
    op = "relu"              # plus what the check needs: op / loss, reduction / optimizer, hyper / graph
"""
from __future__ import annotations

import hashlib
import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__

CHECK_KINDS = ("forward", "backward", "loss", "loss_grad", "optimizer", "gradient", "training", "custom")


@dataclass
class Exercise:
    id: str
    cells: list[str]
    function: str
    points: float
    check: str
    params: dict = field(default_factory=dict)  # op, loss, reduction, optimizer, hyper, graph, factory
    strip: list[str] | None = None

    def make_check(self, seed: int = 0, cases=None):
        """The grader.checks Check object for this exercise (no torch/TF import happens here)."""
        from grader import checks

        p = self.params
        if self.check == "forward":
            return checks.forward_check(p["op"], seed, cases=cases)
        if self.check == "backward":
            return checks.backward_check(p["op"], seed, cases=cases)
        if self.check in ("loss", "loss_grad"):
            return checks.loss_check(p["loss"], p.get("reduction", "mean"), grad=self.check == "loss_grad",
                                     tensors=bool(p.get("tensors", False)), seed=seed, cases=cases)
        if self.check == "optimizer":
            return checks.optimizer_check(p["optimizer"], p.get("hyper"), seed=seed, cases=cases)
        if self.check == "gradient":
            return checks.gradient_check(p.get("graph", "fork"), seed=seed, cases=cases)
        if self.check == "training":
            return checks.training_check(seed=seed, cases=cases)
        module, _, attr = p["factory"].partition(":")
        return getattr(importlib.import_module(module), attr)(seed=seed, cases=cases, **p.get("args", {}))

    def stripped_names(self) -> list[str]:
        """Registry names whose reference bodies are removed while this exercise is graded."""
        if self.strip is not None:
            return list(self.strip)
        p = self.params
        return {
            "forward": [f"{p.get('op')}.forward"],
            "backward": [f"{p.get('op')}.backward"],
            "loss": [f"loss.{p.get('loss')}"],
            "loss_grad": [f"loss.{p.get('loss')}"],
            "optimizer": [f"optim.{p.get('optimizer')}"],
        }.get(self.check, [])


@dataclass
class LessonSpec:
    lesson: str
    exercises: list[Exercise]
    setup: str = ""  # trusted code run before the student's cells (imports)
    digest: str = ""  # changes when the spec or the grader changes: triggers regrading

    @property
    def max_points(self) -> float:
        return sum(e.points for e in self.exercises)

    def stripped_names(self) -> list[str]:
        return sorted({name for e in self.exercises for name in e.stripped_names()})


def load_spec(specs_dir: Path, lesson: str) -> LessonSpec | None:
    path = Path(specs_dir) / f"{lesson}.toml"
    if not path.exists():
        return None
    text = path.read_text()
    data = tomllib.loads(text)
    exercises = []
    for raw in data.get("exercise", []):
        raw = dict(raw)
        kind = raw.pop("check")
        if kind not in CHECK_KINDS:
            raise ValueError(f"{path}: exercise {raw.get('id')!r}: check must be one of {CHECK_KINDS}, got {kind!r}")
        cells = raw.pop("cells", None) or [raw.get("id")]
        exercises.append(Exercise(id=raw.pop("id"), cells=list(cells), function=raw.pop("function"),
                                  points=float(raw.pop("points", 1)), check=kind, strip=raw.pop("strip", None),
                                  params=raw))
    ids = [e.id for e in exercises]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: exercise ids must be unique, got {ids}")
    digest = hashlib.sha256((text + __version__).encode()).hexdigest()[:16]
    return LessonSpec(lesson, exercises, data.get("setup", ""), digest)

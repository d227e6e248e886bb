"""Interactive widgets the lessons display (ipywidgets + matplotlib, no front-end extension needed).

Each widget's logic lives in its own module; a notebook only creates and displays it:

* ``ActivationExplorer`` (``activation_explorer``, lesson 01): an activation and its derivative;
* ``GradientFlow`` (``gradient_flow``, lesson 03): per-layer activation and gradient norms through an MLP;
* ``LossExplorer`` (``loss_explorer``, lesson 04): binary cross-entropy and its gradient, naive vs stable;
* ``OptimizerRace`` (``optimizer_race``, lesson 05): optimizers racing on 2-D surfaces, PyTorch's iterates on top;
* ``EfficiencyBars`` (``efficiency_bars``, lesson 08): the tape's size over forward and backward, checkpointed or not;
* ``OverlaidCurves`` (``overlaid_curves``, lesson 09): one run's loss curves in three libraries, and their distances;
* ``ComputationGraph`` (``computation_graph``, lesson 02, imported from its module): a live scalar graph.

Names are imported lazily, so importing one widget never imports (or breaks on) another.
"""
from __future__ import annotations

import importlib

_MODULE_OF = {"ActivationExplorer": "activation_explorer", "GradientFlow": "gradient_flow",
              "LossExplorer": "loss_explorer", "OptimizerRace": "optimizer_race", "EfficiencyBars": "efficiency_bars"}
_MODULE_OF["GradientPathologies"] = "gradient_pathologies"  # lesson 07: per-layer statistics while training
_MODULE_OF["OverlaidCurves"] = "overlaid_curves"  # lesson 09: one run's loss curves in three libraries

__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

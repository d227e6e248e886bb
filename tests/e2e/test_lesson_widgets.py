"""The widgets of lessons 04-09 in a real JupyterLab: each renders, states what it drew, and — where it has a
slider — redraws for the value the slider is dragged to. Every assertion waits for the settled state.

Each widget is built, as its lesson builds it, in a temporary notebook of its own (never in notebooks/).
"""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

import e2e_lab as lab
from e2e_widgets import drag_slider, wait_widget_settled

pytestmark = pytest.mark.e2e

WIDGETS = {
    "04_loss_explorer": "from autograd_mini.widgets import LossExplorer\nLossExplorer()",
    "05_optimizer_race": ("from autograd_mini.widgets import OptimizerRace\n"
                          "OptimizerRace('rosenbrock', optimizers=('GD', 'momentum', 'Adam'), steps=60).widget()"),
    "06_descent_contours": (
        "import numpy as np\n"
        "from autograd_mini.widgets.training_monitor import DescentContours\n"
        "def train(X, y, weight, bias, lr, steps):  # plain numpy gradient descent on the MSE\n"
        "    curve = []\n"
        "    for _ in range(steps):\n"
        "        error = X @ weight.T + bias - y\n"
        "        curve.append(float((error ** 2).mean()))\n"
        "        weight = weight - lr * 2 * (error * X).mean(axis=0, keepdims=True).T\n"
        "        bias = bias - lr * 2 * error.mean(axis=0)\n"
        "    return np.array(curve), weight, bias\n"
        "x = np.linspace(-1, 1, 20); y = 2 * x + 0.5\n"
        "DescentContours(x, y, train=train, lr=0.3, steps=10, bound=1.5).widget()"),
    "07_gradient_pathologies": ("from autograd_mini.widgets import GradientPathologies\n"
                                "GradientPathologies(depth=4, activation='relu', init='normal(0, 1)', clip=1.0)"),
    "08_efficiency_bars": "from autograd_mini.widgets import EfficiencyBars\nEfficiencyBars(depth=8)",
    "09_overlaid_curves": ("import numpy as np\nfrom autograd_mini.widgets import OverlaidCurves\n"
                           "steps = np.arange(40)\n"
                           "OverlaidCurves({'yours': np.exp(-steps / 9), 'PyTorch': np.exp(-steps / 9) + 1e-16},"
                           " steps_shown=20).widget()"),
}


def notebook(source: str) -> dict:
    return {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                       "source": source}],
            "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                        "name": "python3"}, "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.parametrize("name", list(WIDGETS))
def test_lesson_widget_renders_and_redraws_for_its_slider(name, student_lab, new_page, shot):
    folder = student_lab.root / "widgets"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.ipynb").write_text(json.dumps(notebook(WIDGETS[name])))
    page, log = new_page(student_lab, notebook=f"widgets/{name}.ipynb")
    lab.wait_for_lab(page)
    lab.notebook_panel(page).locator(".jp-Cell").first.wait_for()
    lab.wait_kernel_ready(student_lab, f"{name}.ipynb")
    lab.assert_only_session(student_lab, f"{name}.ipynb")
    lab.wait_kernel_idle(page)
    lab.run_all(page, code_cells=1)
    view = lab.cell(page, 0).locator(".jp-OutputArea")
    expect(view.locator("[data-settings]")).to_have_count(1, timeout=120_000)
    expect(view.locator("img, svg").first).to_be_visible(timeout=60_000)
    before = wait_widget_settled(page, view, f"the {name} widget")
    shot(page, f"60_{name}_before")
    sliders = view.locator(".widget-slider")
    if sliders.count():
        drag_slider(page, sliders.first, 0.8)
        after = wait_widget_settled(page, view, f"the {name} widget after its slider moved")
        shot(page, f"61_{name}_after")
        assert after.settings != before.settings, f"{name} still drew with {before.settings} after the drag"
    errors = [o for o in lab.outputs_text(lab.cell(page, 0)).splitlines() if "Traceback" in o or "Error" in o]
    assert not errors and not log.errors, (errors, log.errors)

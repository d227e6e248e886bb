"""The capstone's loader: the student's functions come out of their notebooks the way the autograder takes them.

Every library piece of the solution notebooks is loaded and plugs in; a stub, a failing cell, a function that fails
on its first call and a missing notebook are reported and left to the reference; only the exercise cells count.
"""
from __future__ import annotations

import shutil

import nbformat
import numpy as np
import pytest

import autograd_mini
from autograd_mini import Tensor
from autograd_mini.registry import names
from grader.config import REPO
from grader.spec import all_lessons
from grader.student_code import load_student_library

LESSONS = all_lessons(REPO / "grader" / "lessons")


@pytest.fixture(scope="module")
def from_solutions():
    return load_student_library(REPO / "solutions")


def test_every_library_piece_of_the_solution_notebooks_is_loaded(from_solutions):
    expected = {e.id for name, lesson in LESSONS.items() if name != "09_capstone"
                and (REPO / "solutions" / f"{name}.ipynb").exists() for e in lesson.exercises if e.id in names()}
    assert set(from_solutions.functions) == expected and len(expected) > 40
    assert all(fn.__code__.co_filename.startswith("<cell") for fn in from_solutions.functions.values())
    assert {p.status for p in from_solutions.parts if p.lesson != "09_capstone"} == {"yours"}
    total = from_solutions.table().splitlines()[-1]
    assert total.startswith("all of autograd_mini") and total.split()[3] == str(len(expected)), total


def test_the_loaded_functions_plug_in_and_compute_what_the_reference_does(from_solutions):
    model = autograd_mini.nn.MLP([5, 4, 3], rng=np.random.default_rng(0))
    x, labels = Tensor(np.random.default_rng(1).standard_normal((6, 5))), np.array([0, 1, 2, 0, 1, 2])

    def gradients():
        model.zero_grad()
        autograd_mini.losses.cross_entropy(model(x), labels).backward()
        return [p.grad.copy() for p in model.parameters()]

    with autograd_mini.use(from_solutions.functions):
        assert autograd_mini.registry.active["mul.backward"] is from_solutions.functions["mul.backward"]
        theirs = gradients()
    for mine, reference in zip(theirs, gradients()):
        np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=1e-15)


def edited(tmp_path, lesson, changes: dict):
    """A copy of ``lesson``'s solution notebook whose cells with the given grade_ids have new sources."""
    nb = nbformat.read(REPO / "solutions" / f"{lesson}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in changes:
            cell.source = changes[grade_id]
    nbformat.write(nb, tmp_path / f"{lesson}.ipynb")


def test_stubs_errors_and_missing_notebooks_are_reported_and_left_to_the_reference(tmp_path, capsys):
    edited(tmp_path, "01_forward_pass", {
        "relu_forward": "def relu_forward(ctx, a):\n    raise NotImplementedError()\n",
        "sigmoid_forward": "print('hello from the cell')\nimport not_a_module\n",
        "tanh_forward": "def tanh_forward(ctx, a):\n    return a.undefined_attribute\n",
    })
    library = load_student_library(tmp_path)
    status = {p.name: (p.status, p.detail) for p in library.parts}
    assert status["relu.forward"] == ("stub", "")
    assert status["sigmoid.forward"][0] == "error" and "ModuleNotFoundError" in status["sigmoid.forward"][1]
    assert status["tanh.forward"][0] == "error" and "exception AttributeError" == status["tanh.forward"][1]
    assert status["softmax.forward"] == ("yours", "")
    assert status["unbroadcast"] == ("no notebook", "03_tensor_backprop.ipynb")
    assert set(library.functions) == {"linear", "softmax.forward", "nn.sequential.forward"}
    assert "relu.forward (stub)" in library.table()
    assert capsys.readouterr() == ("", "")  # the student's prints stay out of the capstone's output


def test_only_the_exercise_cells_are_taken_as_the_autograder_takes_them(tmp_path):
    edited(tmp_path, "01_forward_pass", {})
    nb = nbformat.read(tmp_path / "01_forward_pass.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("def relu_forward(ctx, a):\n    return 0 * a\n"))  # not an exercise cell
    nbformat.write(nb, tmp_path / "01_forward_pass.ipynb")
    relu = load_student_library(tmp_path).functions["relu.forward"]
    np.testing.assert_array_equal(relu(autograd_mini.function.Context((False,)), np.array([-1.0, 2.0])), [0.0, 2.0])


def test_a_file_that_is_not_a_notebook_is_reported(tmp_path):
    shutil.copy(REPO / "README.md", tmp_path / "05_optimizers.ipynb")
    library = load_student_library(tmp_path)
    assert {p.status for p in library.parts if p.lesson == "05_optimizers"} == {"error"}
    assert "not a Jupyter notebook" in next(p.detail for p in library.parts if p.lesson == "05_optimizers")

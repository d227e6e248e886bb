"""Lesson 01 (forward pass): the notebooks run, grade to full marks / 0, and typical mistakes are diagnosed.

The mistake tests call the lesson's graded check (hidden cases) on deliberately wrong implementations
and assert on the diagnosis a student would read.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograd_mini.function import Context
from grader.lessons import lesson_01

from notebook_run import nbgrader_meta, run_notebook

REPO = Path(__file__).resolve().parents[2]
LESSON = "01_forward_pass"
SOURCE = REPO / "solutions" / f"{LESSON}.ipynb"
RELEASED = REPO / "notebooks" / f"{LESSON}.ipynb"
SPEC = REPO / "grader" / "lessons" / f"{LESSON}.toml"


def _solution_functions(path: Path = SOURCE) -> dict:
    """Run the solution cells of the notebook (not the whole notebook) and return what they define."""
    namespace = {"np": np, "Context": Context}
    for cell in nbformat.read(str(path), as_version=4).cells:
        if cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
            exec(compile(cell.source, f"<{nbgrader_meta(cell)['grade_id']}>", "exec"), namespace)
    return namespace


# ---- the notebooks ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def executed_solution():
    return run_notebook(SOURCE, allow_errors=True)


@pytest.mark.slow
def test_solution_notebook_runs_headless_in_under_a_minute_without_errors_or_stderr(executed_solution):
    nb, seconds = executed_solution
    assert seconds < 60, f"{SOURCE.name} took {seconds:.1f} s"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            assert out.output_type != "error", f"cell {nbgrader_meta(cell).get('grade_id')}: {out.ename}: {out.evalue}"
            assert not (out.output_type == "stream" and out.name == "stderr"), \
                f"cell {nbgrader_meta(cell).get('grade_id')} wrote to stderr: {out.text[:200]}"


@pytest.mark.slow
def test_every_check_cell_of_the_solution_reports_passed_against_both_frameworks(executed_solution):
    nb, _ = executed_solution
    checks = [c for c in nb.cells if nbgrader_meta(c).get("grade_id", "").startswith("check_")]
    assert len(checks) == 6
    for cell in checks:
        text = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        assert "PASSED" in text and "vs PyTorch" in text and "vs TensorFlow" in text, text


@pytest.mark.slow
def test_released_notebook_runs_and_fails_only_at_the_exercise_stubs():
    nb, seconds = run_notebook(RELEASED, allow_errors=True)
    assert seconds < 60
    errors = [(c, o) for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors, "the released notebook should fail at its stubs"
    for cell, out in errors:
        stub = out.ename == "NotImplementedError" or (out.ename == "AssertionError" and "not implemented" in out.evalue)
        assert stub, f"cell {nbgrader_meta(cell).get('grade_id')}: {out.ename}: {out.evalue[:200]}"
    graded_failures = {nbgrader_meta(c).get("grade_id") for c, _ in errors if nbgrader_meta(c).get("grade")}
    assert graded_failures == {f"test_{e['id']}" for e in tomllib.loads(SPEC.read_text())["exercise"]}


def test_released_notebook_has_stubs_and_no_answers_or_hidden_tests():
    text = RELEASED.read_text()
    assert "### BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "np.maximum(a, 0)" not in text and "np.exp(-np.abs(a))" not in text
    assert text.count("raise NotImplementedError()") == 6


@pytest.mark.slow
def test_release_is_up_to_date_and_autogrades_solution_full_and_release_zero():
    from grader.config import Course
    from grader.pipeline.release import release

    (report,) = release(Course(), [LESSON], check_only=True, log=lambda *_: None)
    assert report.problems == []
    assert not report.drift


@pytest.mark.slow
def test_autograder_diagnoses_mistakes_in_a_submission_and_keeps_the_other_points(tmp_path):
    from grader.pipeline.grade import grade_file
    from grader.spec import load_spec

    nb = nbformat.read(str(SOURCE), as_version=4)
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid == "softmax_forward":
            cell.source = ("def softmax_forward(ctx, a, axis=-1):\n    e = np.exp(a)\n"
                           "    return e / e.sum(axis=axis, keepdims=True)\n")
        if gid == "linear":
            cell.source = "def linear(x, weight, bias):\n    return x @ weight + (0 if bias is None else bias)\n"
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, str(path))
    grade = grade_file("student", LESSON, path, load_spec(SPEC.parent, LESSON), seed=7)
    by_id = {e.exercise: e for e in grade.exercises}
    assert by_id["softmax_forward"].points == 0
    assert "exp overflowed" in by_id["softmax_forward"].result["diagnosis"]
    assert by_id["linear"].points == 0
    assert "x @ weight.T" in by_id["linear"].result["diagnosis"]
    assert grade.score == grade.max_score - 4 == 6


# ---- the spec and the notebook agree ----------------------------------------------------------------

def test_spec_points_cells_and_registry_names_match_the_notebook():
    spec = tomllib.loads(SPEC.read_text())["exercise"]
    cells = {nbgrader_meta(c).get("grade_id"): c for c in nbformat.read(str(SOURCE), as_version=4).cells}
    for exercise in spec:
        (cell_id,) = exercise["cells"]
        assert nbgrader_meta(cells[cell_id])["solution"]
        assert f"def {exercise['function']}(" in cells[cell_id].source
        assert cells[cell_id].metadata["course"]["registry"] == exercise["args"]["exercise"] == exercise["strip"][0]
        assert nbgrader_meta(cells[f"test_{exercise['id']}"])["points"] == exercise["points"]
        assert lesson_01.EXERCISES[exercise["args"]["exercise"]].points == exercise["points"]
        assert lesson_01.EXERCISES[exercise["args"]["exercise"]].function == exercise["function"]


def test_graded_check_draws_new_inputs_from_the_seed():
    one, two = lesson_01.graded_check(seed=1, exercise="linear"), lesson_01.graded_check(seed=2, exercise="linear")
    assert not np.array_equal(one.cases[0].arrays[0], two.cases[0].arrays[0])
    assert len(one.cases) > len(lesson_01.make_check("linear").cases)


@pytest.mark.parametrize("name", list(lesson_01.EXERCISES))
def test_the_notebooks_solutions_pass_the_hidden_checks(name):
    fn = _solution_functions()[lesson_01.EXERCISES[name].function]
    result = lesson_01.check(name, fn, hidden=True)
    assert result.passed, result.message()


# ---- typical mistakes and their diagnoses -----------------------------------------------------------

def naive_softmax(ctx, a, axis=-1):
    e = np.exp(a)
    return e / e.sum(axis=axis, keepdims=True)


def global_max_softmax(ctx, a, axis=-1):
    e = np.exp(a - a.max())
    return e / e.sum(axis=axis, keepdims=True)


def softmax_without_keepdims(ctx, a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis)


def softmax_last_axis_only(ctx, a, axis=-1):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def naive_sigmoid(ctx, a):
    return 1 / (1 + np.exp(-a))


def sigmoid_with_where(ctx, a):
    return np.where(a >= 0, 1 / (1 + np.exp(-a)), np.exp(a) / (1 + np.exp(a)))


def sigmoid_wrong_sign(ctx, a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, e / (1 + e), 1 / (1 + e))


def tanh_from_exp(ctx, a):
    return (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))


def tanh_from_sigmoid_without_the_2(ctx, a):
    return 2 / (1 + np.exp(-np.clip(a, -700, 700))) - 1


def leaky_relu(ctx, a):
    return np.where(a > 0, a, 0.01 * a)


def relu_reduction(ctx, a):
    return np.max(a, 0)


def relu_mask(ctx, a):
    return (a > 0).astype(float)


def linear_without_transpose(x, weight, bias):
    out = x @ weight
    return out if bias is None else out + bias


def linear_without_bias(x, weight, bias):
    return x @ weight.T


def linear_bias_as_column(x, weight, bias):
    out = x @ weight.T
    return out if bias is None else out + bias[:, None]


def linear_ignoring_none(x, weight, bias):
    return x @ weight.T + bias


def sequential_stale_input(layers, x):
    out = x
    for layer in layers:
        out = layer(x)
    return out


def sequential_returns_in_loop(layers, x):
    for layer in layers:
        return layer(x)


MISTAKES = [
    ("softmax.forward", naive_softmax, ["exp overflowed", "subtract each slice's max"]),
    ("softmax.forward", global_max_softmax, ["0/0", "not the max of the whole array"]),
    ("softmax.forward", softmax_without_keepdims, ["keepdims=True"]),
    ("softmax.forward", softmax_last_axis_only, ["normalise along the `axis` argument"]),
    ("sigmoid.forward", naive_sigmoid, ["exp overflowed", "np.exp(-np.abs(a))"]),
    ("sigmoid.forward", sigmoid_with_where, ["np.where computes both of its branches"]),
    ("sigmoid.forward", sigmoid_wrong_sign, ["sigma(-a)"]),
    ("tanh.forward", tanh_from_exp, ["exp overflowed", "np.tanh"]),
    ("tanh.forward", tanh_from_sigmoid_without_the_2, ["tanh(a) = 2*sigmoid(2a) - 1"]),
    ("relu.forward", leaky_relu, ["*leaky* ReLU"]),
    ("relu.forward", relu_reduction, ["np.max(a, 0) is a *reduction*", "np.maximum(a, 0)"]),
    ("relu.forward", relu_mask, ["ReLU's *derivative*"]),
    ("linear", linear_without_transpose, ["(out_features, in_features)", "x @ weight.T"]),
    ("linear", linear_without_bias, ["you left out the bias"]),
    ("linear", linear_bias_as_column, ["does not broadcast", "no [:, None]"]),
    ("linear", linear_ignoring_none, ["bias=None"]),
    ("nn.sequential.forward", sequential_stale_input, ["previous layer's output"]),
    ("nn.sequential.forward", sequential_returns_in_loop, ["only the first layer ran"]),
]


@pytest.mark.parametrize("name, wrong, phrases", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_a_typical_mistake_fails_the_hidden_test_with_its_diagnosis(name, wrong, phrases):
    result = lesson_01.check(name, wrong, hidden=True)
    assert not result.passed
    for phrase in phrases:
        assert phrase in result.diagnosis, result.diagnosis
    with pytest.raises(AssertionError, match="NOT YET"):
        result.assert_passed()


def test_relu_with_greater_or_equal_is_still_correct():
    # a * (a >= 0) and max(a, 0) agree everywhere, including at 0: the forward has no kink problem.
    assert lesson_01.check("relu.forward", lambda ctx, a: a * (a >= 0), hidden=True).passed


def test_the_stub_is_reported_as_not_implemented():
    def stub(ctx, a):
        raise NotImplementedError()

    result = lesson_01.check("sigmoid.forward", stub)
    assert result.mistake == "not_implemented"
    assert "not implemented yet" in result.diagnosis

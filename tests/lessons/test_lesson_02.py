"""Lesson 02 (chain rule): the declaration matches its notebook, the solutions pass, every diagnosis is reached.

For every Mistake the lesson declares and every hint its checks give (the order's, h ignored, float32's
step, the deep chain), a deliberately wrong implementation fails the hidden test with that diagnosis.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograd_mini.numerical import default_step
from autograd_mini.value import graph_order, local_derivatives, topological_order
from grader.harness.protocol import load_cases, save_cases
from grader.lessons import lesson_02

from notebook_run import nbgrader_meta

REPO = Path(__file__).resolve().parents[2]
LESSON = lesson_02.LESSON
SOURCE = REPO / "solutions" / f"{LESSON.name}.ipynb"


def cells() -> dict:
    return {nbgrader_meta(c).get("grade_id"): c for c in nbformat.read(str(SOURCE), as_version=4).cells}


def solutions() -> dict:
    """Exercise id -> the function the solution notebook defines for it."""
    by_id, found = cells(), {}
    for exercise in LESSON.exercises:
        namespace = {}
        exec(LESSON.setup + by_id[exercise.solution_cell].source, namespace)
        found[exercise.id] = namespace[exercise.function]
    return found


SOLUTIONS = solutions()


def test_declaration_matches_the_notebooks_cells():
    by_id = cells()
    assert LESSON.max_points == 12
    for e in LESSON.exercises:
        assert nbgrader_meta(by_id[e.solution_cell])["solution"], e.id
        assert nbgrader_meta(by_id[e.test_cell])["points"] == e.points, e.id
        check_cell = by_id["check_" + (e.cell or e.function)].source
        assert f'lesson_02.check("{e.id}", {e.function})' in check_cell, e.id
        hidden = by_id[e.test_cell].source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert hidden.strip() == f'lesson_02.grade("{e.id}", {e.function})', e.id


@pytest.mark.parametrize("exercise_id", list(LESSON.by_id))
def test_the_notebooks_solution_passes_visible_hidden_and_another_seeds_cases(exercise_id):
    fn = SOLUTIONS[exercise_id]
    for check in (LESSON.make_check(exercise_id), LESSON.make_check(exercise_id, hidden=True),
                  LESSON.make_check(exercise_id, hidden=True, seed=12345)):
        result = check.run(fn)
        assert result.passed and "PASSED" in result.message(), result.message()
        labels = [line for line in result.lines if line.startswith("vs ")]
        assert len(labels) == 2 and "PyTorch" in labels[0] and "TensorFlow" in labels[1]
        assert all("matches" in line for line in labels)


def test_cases_cross_the_sandbox_as_data_and_the_grader_judges_what_comes_back(tmp_path):
    """As the autograder does: the student half runs on the cases read back from disk, the judge on its own."""
    checks = {e.id: LESSON.make_check(e.id, hidden=True, seed=7) for e in LESSON.exercises}
    save_cases(str(tmp_path), {exercise_id: check.cases for exercise_id, check in checks.items()})
    for e in LESSON.exercises:
        outcomes = e.make_check(load_cases(str(tmp_path), e.id)).student_outcomes(SOLUTIONS[e.id])
        result = checks[e.id].judge(outcomes)
        assert result.passed, result.message()


def test_a_stub_is_reported_as_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for e in LESSON.exercises:
        assert LESSON.check(e.id, stub).mistake == "not_implemented", e.id


@pytest.mark.parametrize("relative_error, passes", [(1e-11, True), (1e-9, False)])
def test_the_verdict_and_the_error_it_shows_agree(relative_error, passes):
    fn = SOLUTIONS["value.tanh.local"]
    result = LESSON.make_check("value.tanh.local", hidden=True).run(lambda a, out: fn(a, out) * (1 + relative_error))
    assert result.passed is passes and (result.max_rel_error <= 1e-10) is passes, result.message()


# ---- wrong implementations ----------------------------------------------------------------------------

def estimate(step=None, formula="central", restore=True):
    """A numerical_gradient; ``step(x, h)`` picks the step it really uses (by default the one given)."""
    def numerical_gradient(f, x, h=None):
        h = default_step(x.dtype) if h is None else h
        h = h if step is None else step(x, h)
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            original = x[i]
            at = f(x)
            x[i] = original + h
            up = f(x)
            x[i] = original - h
            down = f(x)
            if restore:
                x[i] = original
            grad[i] = {"forward": (up - at) / h, "backward": (at - down) / h, "over_h": (up - down) / h,
                       "central": (up - down) / (2 * h)}[formula]
        return grad
    return numerical_gradient


def topo_recursive(root):
    order, seen = [], set()

    def visit(node):
        if node not in seen:
            seen.add(node)
            for parent in node.parents:
                visit(parent)
            order.append(node)
    visit(root)
    return order


def topo_without_visited(root):
    order, stack = [], [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((parent, False) for parent in node.parents)
    return order


def topo_preorder(root):
    order, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            order.append(node)
            stack.extend(node.parents)
    return order


def backward(kind):
    def wrong(root):
        if kind != "no_seed":
            root.grad = 1.0
        order = graph_order(root)
        for node in (order if kind == "not_reversed" else reversed(order)):
            for parent, local in zip(node.parents, local_derivatives(node)):
                if kind == "assign":
                    parent.grad = local * node.grad
                elif kind == "subtract":
                    parent.grad -= local * node.grad
                elif kind == "no_chain":
                    parent.grad += local
                else:
                    parent.grad += local * node.grad
    return wrong


def backward_recursive(root):
    root.grad = 1.0

    def push(node):
        for parent, local in zip(node.parents, local_derivatives(node)):
            parent.grad += local * node.grad
            push(parent)
    push(root)


MISTAKES = [
    # (exercise id, wrong implementation, diagnosis key, words the diagnosis contains)
    ("numerical.gradient", estimate(formula="forward"), "forward_difference", "central difference"),
    ("numerical.gradient", estimate(formula="backward"), "backward_difference", "central difference"),
    ("numerical.gradient", estimate(formula="over_h"), "over_h", "divide by 2 * h"),
    ("numerical.gradient", estimate(step=lambda x, h: 1e-5), "ignores_h", "use the h numerical_gradient is given"),
    ("numerical.gradient", estimate(step=lambda x, h: default_step(x.dtype)), "ignores_h", "does not change"),
    ("numerical.gradient", estimate(step=lambda x, h: 1e-6 if h == default_step(x.dtype) else h), "float32_step",
     "too small for float32"),
    ("numerical.gradient", estimate(restore=False), "changed_input", "put its original value back"),
    ("value.add.local", lambda a, b, out: (1.0, -1.0), "sign", "rule for a - b"),
    ("value.add.local", lambda a, b, out: (b, a), "mul_rule", "rule for a * b"),
    ("value.add.local", lambda a, b, out: (a, b), "values", "does not depend on the values"),
    ("value.mul.local", lambda a, b, out: (a, b), "swapped", "swapped"),
    ("value.mul.local", lambda a, b, out: (1.0, 1.0), "add_rule", "rule for a + b"),
    ("value.pow.local", lambda a, n, out: n * a**n, "forgot_minus_one", "n * a**(n - 1)"),
    ("value.pow.local", lambda a, n, out: a ** (n - 1), "forgot_factor", "exponent down as a factor"),
    ("value.exp.local", lambda a, out: a * np.exp(a - 1), "power_rule", "power rule does not apply"),
    ("value.exp.local", lambda a, out: a, "input", "exp(a) itself"),
    ("value.exp.local", lambda a, out: a * out, "times_a", "exp(a) itself"),
    ("value.tanh.local", lambda a, out: 1 - a**2, "input_squared", "1 - out**2"),
    ("value.tanh.local", lambda a, out: 1 - out, "no_square", "missing a square"),
    ("value.tanh.local", lambda a, out: out * (1 - out), "sigmoid_rule", "sigmoid's derivative"),
    ("value.relu.local", lambda a, out: 1.0 if a >= 0 else 0.0, "kink", "a > 0, not a >= 0"),
    ("value.relu.local", lambda a, out: out, "output", "relu(a) itself"),
    ("value.relu.local", lambda a, out: 0.0 if a > 0 else 1.0, "flipped", "other way round"),
    ("value.topological_order", topo_recursive, "deep_chain", "a chain of 40,000 ops (chain=20000"),
    ("value.topological_order", topo_without_visited, "order_duplicate", "Keep a `visited` set"),
    ("value.topological_order", topo_preorder, "order_parent_after", "after all of its parents"),
    ("value.topological_order", lambda root: topological_order(root)[:-1], "order_missing", "(the root among them)"),
    ("value.topological_order", lambda root: topological_order(root)[1:], "order_missing", "misses 1 of the"),
    ("value.backward", backward("assign"), "assign", "forks"),
    ("value.backward", backward("no_seed"), "no_seed", "root.grad = 1.0"),
    ("value.backward", backward("not_reversed"), "not_reversed", "*reversed* topological order"),
    ("value.backward", backward("subtract"), "subtract", "parent.grad -="),
    ("value.backward", backward("no_chain"), "no_chain", "multiplies it by the gradient"),
    ("value.backward", backward_recursive, "deep_chain", "a chain of 40,000 ops"),
]


@pytest.mark.parametrize("exercise_id, wrong, key, words", MISTAKES,
                         ids=[f"{m[0]}-{m[2]}-{i}" for i, m in enumerate(MISTAKES)])
def test_a_typical_mistake_fails_the_hidden_test_with_its_diagnosis(exercise_id, wrong, key, words):
    result = LESSON.make_check(exercise_id, hidden=True).run(wrong)
    assert not result.passed and "NOT YET" in result.message()
    assert result.mistake == key, result.message()
    assert words in result.diagnosis, result.diagnosis
    with pytest.raises(AssertionError, match=re.escape(words)):
        result.assert_passed()  # what lesson_02.grade does with the same hidden check


def test_grade_is_the_hidden_check_raising_its_diagnosis(capsys):
    lesson_02.grade("value.mul.local", SOLUTIONS["value.mul.local"])
    assert capsys.readouterr().out == "value.mul.local: all hidden tests passed\n"
    with pytest.raises(AssertionError, match="(?s)NOT YET.*yours are swapped"):
        lesson_02.grade("value.mul.local", lambda a, b, out: (a, b))


def test_every_declared_mistake_and_order_hint_has_a_wrong_implementation_above():
    declared = {(e.id, m.key) for e in LESSON.exercises for m in e.mistakes}
    declared |= {("value.topological_order", code) for code in ("order_duplicate", "order_missing",
                                                                 "order_parent_after")}
    assert declared <= {(m[0], m[2]) for m in MISTAKES}


def test_no_mistake_is_the_right_answer():
    """A Mistake the correct answer also satisfies would be a misleading diagnosis."""
    for e in LESSON.exercises:
        check = LESSON.make_check(e.id, hidden=True)
        right = [e.transform(c, o) if e.transform else o
                 for c, o in zip(check.cases, check.student_outcomes(SOLUTIONS[e.id]))]
        for mistake in e.mistakes:
            assert not all(np.allclose(np.ravel(mistake.wrong(c)), np.concatenate([a.ravel() for a in r]))
                           for c, r in zip(check.cases, right)), f"{e.id}: {mistake.key}"


def test_the_chain_the_check_cell_runs_is_the_one_its_message_names():
    result = LESSON.check("value.topological_order", topo_recursive)
    assert result.mistake == "deep_chain" and "a chain of 10,000 ops (chain=5000:" in result.diagnosis
    chains = [c.params["chain"] for c in LESSON.make_check("value.backward").cases if "chain" in c.params]
    assert chains == [5000]

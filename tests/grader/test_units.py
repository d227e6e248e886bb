"""Fast tests of the pipeline's small parts: stripping, collecting, lesson declarations, the sandbox protocol."""
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.harness.case import Case
from grader.harness.outcome import Failure
from grader.harness.protocol import load_cases, save_cases, save_outcomes
from grader.pipeline.collect import collect, identify
from grader.sandbox.protocol import load_outcomes
from grader.sandbox.strip import make_stripped_copy, strip_source
from grader.spec import load_lesson, removed_in_sandbox

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
LESSONS = ["fx01_basics", "fx02_optim", "01_forward_pass"]

SOURCE = '''
@op("mul")
class Mul:
    @staticmethod
    def forward(ctx, a, b):
        ### BEGIN SOLUTION
        return a * b
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ### BEGIN SOLUTION
        return grad * b, grad * a
        ### END SOLUTION


@reference("unbroadcast")
def unbroadcast(grad, shape):
    ### BEGIN SOLUTION
    return grad
    ### END SOLUTION
'''


def test_strip_removes_only_the_named_bodies():
    text, stripped = strip_source(SOURCE, {"mul.backward", "unbroadcast"})
    assert stripped == {"mul.backward", "unbroadcast"}
    assert "return a * b" in text
    assert "grad * b" not in text and "return grad\n" not in text
    assert '        raise type("StrippedReference", (NotImplementedError,), {"reference_name": \'mul.backward\'})' in text
    compile(text, "stripped", "exec")


def test_strip_refuses_a_fence_without_its_end():
    with pytest.raises(ValueError, match="line 6 has no ### END SOLUTION after it.*'mul.forward'"):
        strip_source(SOURCE.replace("        return a * b\n        ### END SOLUTION\n", "        return a * b\n", 1),
                     {"mul.forward"})


def test_stripped_autograd_mini_raises_for_the_graded_name_only(tmp_path):
    import importlib.util
    import subprocess
    import sys

    package = Path(importlib.util.find_spec("autograd_mini").submodule_search_locations[0])
    assert "mul.backward" in make_stripped_copy(package, tmp_path, {"mul.backward"})
    code = ("import autograd_mini as am, numpy as np\n"
            "x = am.Tensor(np.ones(3), requires_grad=True)\n"
            "(x + x).sum().backward(); print(x.grad.tolist())\n"
            "try:\n    (x * x).sum().backward()\nexcept NotImplementedError as e:\n    print('stripped:', e.reference_name)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}).stdout
    assert out.splitlines() == ["[2.0, 2.0, 2.0]", "stripped: mul.backward"]


@pytest.mark.parametrize("name,expected", [
    ("alice_fx01_basics.ipynb", ("alice", "fx01_basics")),
    ("Jane Doe_12345_assignsubmission_file_fx01_basics.ipynb", ("Jane-Doe", "fx01_basics")),
    ("bob_late_01_forward_pass.ipynb", ("bob", "01_forward_pass")),
    ("fx01_basics.ipynb", None),
    ("carol_notes.txt", None),
])
def test_identify_student_and_lesson(name, expected):
    assert identify(name, LESSONS) == expected


def test_collect_from_zip_folder_and_exchange(tmp_path):
    nb = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/alice_fx01_basics.ipynb", nb)
        zf.writestr("../../evil_fx02_optim.ipynb", nb)
        zf.writestr("notes.txt", "x")
    exchange = tmp_path / "exchange" / "inbound"
    for stamp, text in [("2026-01-01 10:00:00", "old"), ("2026-01-02 10:00:00", nb)]:
        (exchange / f"dave+fx02_optim+{stamp}").mkdir(parents=True)
        (exchange / f"dave+fx02_optim+{stamp}" / "fx02_optim.ipynb").write_text(text)
    submitted = tmp_path / "submitted"
    got = collect(archive, submitted, LESSONS, log=lambda *a: None)
    got += collect(exchange, submitted, LESSONS, log=lambda *a: None)
    # a file inside a folder belongs to the folder's student, whatever its name says
    assert sorted((c.student, c.lesson) for c in got) == [("a", "fx01_basics"), ("dave", "fx02_optim"),
                                                          ("evil", "fx02_optim")]
    assert (submitted / "dave" / "fx02_optim.ipynb").read_text() == nb
    assert sorted(p.relative_to(submitted).as_posix() for p in submitted.rglob("*.ipynb")) == [
        "a/fx01_basics.ipynb", "dave/fx02_optim.ipynb", "evil/fx02_optim.ipynb"]


def test_fixture_lessons_load():
    lesson = load_lesson(FIXTURE / "lessons", "fx01_basics")
    assert [(e.id, e.solution_cell, e.test_cell, e.points) for e in lesson.exercises] == [
        ("relu.forward", "relu_impl", "test_relu", 1), ("mul.backward", "mul_impl", "test_mul_backward", 2),
        ("loss.mse_loss", "mse_impl", "test_mse", 2)]
    assert lesson.max_points == 5 and lesson.digest
    assert load_lesson(FIXTURE / "lessons", "no_such_lesson") is None


def test_every_graded_reference_of_the_course_is_removed_but_what_the_exercise_stands_on():
    lesson = load_lesson(FIXTURE / "lessons", "fx01_basics")
    mul = removed_in_sandbox(FIXTURE / "lessons", lesson.exercise("mul.backward"))
    assert mul == ["loss.mse_loss", "mul.backward", "optim.sgd", "relu.forward"]  # unbroadcast: it stands on it
    relu = removed_in_sandbox(FIXTURE / "lessons", lesson.exercise("relu.forward"))
    assert "optim.sgd" in relu and "relu.forward" in relu  # fx02's exercise too: another lesson's answer


def test_lesson_rejects_two_exercises_with_one_function():
    from grader.lesson import Exercise, Lesson

    exercise = Exercise("a", "f", 1, lambda rng, hidden: [], "plain", [])
    with pytest.raises(ValueError, match="functions must be unique"):
        Lesson("x", [exercise, Exercise("b", "f", 1, lambda rng, hidden: [], "plain", [])])


def test_protocol_round_trip(tmp_path):
    cases = {"ex": [Case((np.arange(3.0), np.array([0, 2, 0])), {"index": np.array([0, 2]), "axes": (1, 0),
                                                                 "s": slice(1, 3)})]}
    save_cases(str(tmp_path), cases)
    back = load_cases(str(tmp_path), "ex")[0]
    assert back.arrays[1].dtype.kind == "i" and back.params["axes"] == (1, 0) and back.params["s"] == slice(1, 3)
    np.testing.assert_array_equal(back.params["index"], [0, 2])
    save_outcomes(str(tmp_path), "ex", [(np.ones(2),), Failure("exception", "ValueError", "boom", 3)])
    outcomes = load_outcomes(tmp_path, "ex", 2)
    assert outcomes[0][0].tolist() == [1.0, 1.0]
    assert (outcomes[1].kind, outcomes[1].error_type, outcomes[1].error_text, outcomes[1].line) == (
        "exception", "ValueError", "boom", 3)


def test_failures_from_the_sandbox_carry_no_words_of_the_students_choosing(tmp_path):
    """Kinds outside the grader's list, forged hint codes and long or escaped texts are cut down."""
    from grader.checks.diagnose import explain_failure

    forged = [{"failure": {"kind": "<script>alert(1)</script>", "error_text": "x"}},
              {"failure": {"kind": "exception", "error_type": "Err<b>", "error_text": "\x1b[31m" + "y" * 900}},
              {"failure": {"kind": "hint", "code": "made_up", "values": {"a": "<img src=x>" * 10}}}]
    (tmp_path / "ex.json").write_text(json.dumps(forged))
    np.savez(tmp_path / "ex.npz")
    outcomes = load_outcomes(tmp_path, "ex", 3)
    assert outcomes[0].kind == "crashed"
    assert outcomes[1].error_type == "" and "\x1b" not in outcomes[1].error_text and len(outcomes[1].error_text) <= 200
    kind, text = explain_failure(outcomes[2])
    assert "<img" not in text and text.startswith("your function failed")


def test_protocol_refuses_pickled_objects(tmp_path):
    np.savez(tmp_path / "ex.npz", **{"0/0": np.array([object()], dtype=object)})
    (tmp_path / "ex.json").write_text(json.dumps([{"n": 1}]))
    outcome = load_outcomes(tmp_path, "ex", 1)
    assert isinstance(outcome, Failure) and outcome.kind == "crashed"


def test_missing_results_mean_the_run_stopped(tmp_path):
    outcome = load_outcomes(tmp_path, "ex", 3)
    assert isinstance(outcome, Failure) and outcome.kind == "crashed"


def test_cli_help_lists_every_verb(capsys):
    from grader.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for verb in ("release", "collect", "autograde", "feedback", "report", "check"):
        assert verb in out


def test_protocol_refuses_symlinked_results(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps([{"failure": {"kind": "exception", "error_text": "the hidden test source"}}]))
    out = tmp_path / "out"
    out.mkdir()
    np.savez(out / "ex.npz")
    (out / "ex.json").symlink_to(secret)
    outcome = load_outcomes(out, "ex", 1)
    assert isinstance(outcome, Failure) and "hidden test" not in outcome.error_text


def test_protocol_refuses_decompression_bombs(tmp_path):
    np.savez_compressed(tmp_path / "ex.npz", **{"0/0": np.zeros(3_000_000)})
    (tmp_path / "ex.json").write_text(json.dumps([{"n": 1}]))
    outcome = load_outcomes(tmp_path, "ex", 1, max_bytes=1 << 20)
    assert isinstance(outcome, Failure) and outcome.error_type == "oversized_result"


def test_hidden_inputs_change_with_every_different_submission():
    """A leaked hidden input is worth nothing next time: the seed depends on the submission's content."""
    from grader.pipeline.grade import seed_for

    lesson = load_lesson(FIXTURE / "lessons", "fx01_basics")
    first = seed_for(b"secret", "alice", "fx01_basics", "sha-of-submission-1", "mul.backward")
    again = seed_for(b"secret", "alice", "fx01_basics", "sha-of-submission-1", "mul.backward")
    second = seed_for(b"secret", "alice", "fx01_basics", "sha-of-submission-2", "mul.backward")
    other_course = seed_for(b"other", "alice", "fx01_basics", "sha-of-submission-1", "mul.backward")
    assert first == again and len({first, second, other_course}) == 3
    a, b = (lesson.cases("mul.backward", seed) for seed in (first, second))
    assert not any(np.array_equal(x, y) for ca, cb in zip(a, b) for x, y in zip(ca.arrays, cb.arrays))


def test_the_course_has_one_version_shown_by_grader_and_named_in_the_changelog(capsys):
    import tomllib

    from grader import __version__
    from grader.cli import main

    declared = tomllib.loads((FIXTURE.parents[2] / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == declared, "reinstall (make setup) after changing the version"
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"Backprop from Scratch {declared}"
    assert f"## {declared} " in (FIXTURE.parents[2] / "CHANGELOG.md").read_text()


def test_an_instructor_verb_without_the_instructor_pipeline_says_so(monkeypatch, capsys):
    """In the student edition grader.pipeline holds only what `grader check` needs."""
    import sys

    from grader.cli import main

    monkeypatch.setitem(sys.modules, "grader.pipeline.report", None)
    assert main(["report"]) == 2
    assert "instructor's command" in capsys.readouterr().out

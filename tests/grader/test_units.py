"""Fast tests of the pipeline's small parts: stripping, collecting, specs, the sandbox protocol."""
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.checks.core import Case, Failure
from grader.pipeline.collect import collect, identify
from grader.sandbox.protocol import load_cases, load_outcomes, save_cases, save_outcomes
from grader.sandbox.strip import make_stripped_copy, strip_source
from grader.spec import load_spec

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
    assert "        raise NotImplementedError('mul.backward' ' is not available while it is graded')" in text
    compile(text, "stripped", "exec")


def test_stripped_autograd_mini_raises_for_the_graded_name_only(tmp_path):
    import importlib.util
    import subprocess
    import sys

    package = Path(importlib.util.find_spec("autograd_mini").submodule_search_locations[0])
    assert "mul.backward" in make_stripped_copy(package, tmp_path, {"mul.backward"})
    code = ("import autograd_mini as am, numpy as np\n"
            "x = am.Tensor(np.ones(3), requires_grad=True)\n"
            "(x + x).sum().backward(); print(x.grad.tolist())\n"
            "try:\n    (x * x).sum().backward()\nexcept NotImplementedError as e:\n    print('stripped:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}).stdout
    assert out.splitlines() == ["[2.0, 2.0, 2.0]", "stripped: mul.backward is not available while it is graded"]


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
    assert sorted((c.student, c.lesson) for c in got) == [("alice", "fx01_basics"), ("dave", "fx02_optim"),
                                                          ("evil", "fx02_optim")]
    assert (submitted / "dave" / "fx02_optim.ipynb").read_text() == nb
    assert sorted(p.relative_to(submitted).as_posix() for p in submitted.rglob("*.ipynb")) == [
        "alice/fx01_basics.ipynb", "dave/fx02_optim.ipynb", "evil/fx02_optim.ipynb"]


def test_fixture_specs_load():
    spec = load_spec(FIXTURE / "specs", "fx01_basics")
    assert [(e.id, e.check, e.points) for e in spec.exercises] == [
        ("relu", "forward", 1.0), ("mul_backward", "backward", 2.0), ("mse", "loss", 2.0)]
    assert spec.max_points == 5
    assert spec.stripped_names() == ["loss.mse_loss", "mul.backward", "relu.forward"]
    assert load_spec(FIXTURE / "specs", "no_such_lesson") is None


def test_spec_rejects_unknown_check(tmp_path):
    (tmp_path / "bad.toml").write_text('[[exercise]]\nid="x"\nfunction="f"\ncheck="vibes"\n')
    with pytest.raises(ValueError, match="check must be one of"):
        load_spec(tmp_path, "bad")


def test_protocol_round_trip(tmp_path):
    cases = {"ex": [Case((np.arange(3.0), np.array([0, 2, 0])), {"index": np.array([0, 2]), "axes": (1, 0),
                                                                 "s": slice(1, 3)})]}
    save_cases(tmp_path / "c.npz", tmp_path / "c.json", cases)
    back = load_cases(tmp_path / "c.npz", tmp_path / "c.json")["ex"][0]
    assert back.arrays[1].dtype.kind == "i" and back.params["axes"] == (1, 0) and back.params["s"] == slice(1, 3)
    np.testing.assert_array_equal(back.params["index"], [0, 2])
    save_outcomes(tmp_path, "ex", [(np.ones(2),), Failure("exception", "boom")])
    outcomes = load_outcomes(tmp_path, "ex", 2)
    assert outcomes[0][0].tolist() == [1.0, 1.0] and outcomes[1].message == "boom"


def test_protocol_refuses_pickled_objects(tmp_path):
    np.savez(tmp_path / "ex.npz", **{"0/0": np.array([object()], dtype=object)})
    (tmp_path / "ex.json").write_text(json.dumps([{"n": 1}]))
    outcome = load_outcomes(tmp_path, "ex", 1)
    assert isinstance(outcome, Failure) and outcome.kind == "crashed"


def test_missing_results_mean_the_run_stopped(tmp_path):
    outcome = load_outcomes(tmp_path, "ex", 3)
    assert isinstance(outcome, Failure) and "stopped" in outcome.message


def test_cli_help_lists_every_verb(capsys):
    from grader.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for verb in ("release", "collect", "autograde", "feedback", "report", "check"):
        assert verb in out


def test_protocol_refuses_symlinked_results(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps([{"failure": {"kind": "x", "message": "the hidden test source"}}]))
    out = tmp_path / "out"
    out.mkdir()
    np.savez(out / "ex.npz")
    (out / "ex.json").symlink_to(secret)
    outcome = load_outcomes(out, "ex", 1)
    assert isinstance(outcome, Failure) and "hidden test" not in outcome.message


def test_protocol_refuses_decompression_bombs(tmp_path):
    np.savez_compressed(tmp_path / "ex.npz", **{"0/0": np.zeros(3_000_000)})
    (tmp_path / "ex.json").write_text(json.dumps([{"n": 1}]))
    outcome = load_outcomes(tmp_path, "ex", 1, max_bytes=1 << 20)
    assert isinstance(outcome, Failure) and "too large" in outcome.message

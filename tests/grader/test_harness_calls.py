"""grader/harness/calls/: one module per lesson, combined into CALLS and HINTS, importable as the sandbox's ``harness``."""
import json
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from grader.harness.calls import CALLS, HINTS, combined
from grader.spec import HARNESS_DIR


def test_a_key_two_lessons_define_differently_is_an_error_naming_both():
    first = SimpleNamespace(__name__="calls.lesson_01", HINTS={"overflow": "exp overflowed"})
    second = SimpleNamespace(__name__="calls.lesson_04", HINTS={"overflow": "log overflowed"})
    with pytest.raises(ValueError, match=r"HINTS\['overflow'\].*calls\.lesson_01 and calls\.lesson_04"):
        combined("HINTS", [first, second])


def test_the_same_value_under_one_key_in_two_modules_is_kept_once():
    first = SimpleNamespace(__name__="a", CALLS={"plain": print})
    second = SimpleNamespace(__name__="b", CALLS={"plain": print, "other": len})
    assert combined("CALLS", [first, second]) == {"plain": print, "other": len}


SANDBOX_IMPORT = r'''
import importlib.abc, json, sys


class Blocker(importlib.abc.MetaPathFinder):  # as in the sandbox: the grader package is not there
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "grader":
            raise ImportError(name)


sys.meta_path.insert(0, Blocker())
from harness.calls import CALLS, HINTS
print(json.dumps({"calls": sorted(CALLS), "hints": HINTS}))
'''


def test_the_sandbox_copy_imports_without_the_grader_and_holds_the_same_tables(tmp_path):
    shutil.copytree(HARNESS_DIR, tmp_path / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-c", SANDBOX_IMPORT], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found == {"calls": sorted(CALLS), "hints": HINTS}

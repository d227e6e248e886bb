"""Submissions for the fixture lesson fx01_basics (relu 1 pt, mul_backward 2 pt, mse 2 pt), each with
the score it must get. They are built from the solution notebook by editing cells by grade_id."""
from __future__ import annotations

import copy
import json
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "course"
SOURCE = FIXTURE / "source"

WRONG_RELU = "def relu(a):\n    return a\n"
WRONG_MUL = "def mul_backward(ctx, grad):\n    a, b = ctx.saved_tensors\n    return grad * a, grad * b\n"


def load(lesson="fx01_basics") -> dict:
    return json.loads((SOURCE / f"{lesson}.ipynb").read_text())


def released(release_dir: Path, lesson="fx01_basics") -> dict:
    return json.loads((Path(release_dir) / f"{lesson}.ipynb").read_text())


def _cell(nb, grade_id):
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def edit(nb: dict, grade_id: str, source: str) -> dict:
    nb = copy.deepcopy(nb)
    _cell(nb, grade_id)["source"] = source
    return nb


def prepend(nb: dict, grade_id: str, code: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = _cell(nb, grade_id)
    src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = code + "\n" + src
    return nb


def is_test(cell) -> bool:
    meta = cell["metadata"].get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def submissions(release_dir: Path, course_dir: Path, source_dir: Path = SOURCE) -> dict:
    """{file name: (notebook dict or raw bytes, expected score)}."""
    sol = load()
    gradebook = Path(course_dir) / "gradebook.db"
    out: dict = {}
    out["alice_fx01_basics.ipynb"] = (sol, 5)
    out["alice_fx02_optim.ipynb"] = (load("fx02_optim"), 3)
    out["bob_4711_assignsubmission_file_fx01_basics.ipynb"] = (released(release_dir), 0)

    nb = edit(sol, "relu_impl", WRONG_RELU)
    for cell in nb["cells"]:
        if is_test(cell):
            cell["source"] = "assert True  # all tests pass, promise\n"
    out["edited-test_fx01_basics.ipynb"] = (nb, 4)

    nb = edit(sol, "mul_impl", WRONG_MUL)
    nb["cells"] = [c for c in nb["cells"] if not is_test(c)]
    out["deleted-tests_fx01_basics.ipynb"] = (nb, 3)

    nb = copy.deepcopy(sol)
    idx = next(i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == "relu_impl")
    dup = copy.deepcopy(nb["cells"][idx])
    dup["source"] = WRONG_RELU
    dup["id"] = "relu-dup"
    nb["cells"].insert(idx + 1, dup)
    out["duplicated-cell_fx01_basics.ipynb"] = (nb, 4)

    nb = copy.deepcopy(sol)
    cell = _cell(nb, "mul_impl")
    cell["cell_type"] = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)
    out["cell-type_fx01_basics.ipynb"] = (nb, 3)

    out["patch-numpy_fx01_basics.ipynb"] = (edit(sol, "relu_impl", "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                                                 "np.testing.assert_allclose = lambda *a, **k: None\n"
                                                 "np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n" + WRONG_RELU), 4)
    out["patch-checks_fx01_basics.ipynb"] = (edit(sol, "relu_impl", (
        "import grader.checks as gc\nimport grader.checks.core as core\n"
        "gc.CheckResult.passed = property(lambda self: True)\n"
        "core.compare_outputs = lambda *a, **k: (True, 0.0)\n"
        "gc.check_forward = lambda *a, **k: True\n" + WRONG_RELU)), 4)
    out["patch-torch_fx01_basics.ipynb"] = (edit(sol, "relu_impl", (
        "try:\n    import torch\n    torch.allclose = lambda *a, **k: True\n    torch.relu = lambda a: a\n"
        "except ImportError:\n    pass\n" + WRONG_RELU)), 4)

    out["always-equal_fx01_basics.ipynb"] = (edit(sol, "relu_impl", (
        "class Anything:\n    def __eq__(self, other):\n        return True\n    __array_priority__ = 1000\n"
        "def relu(a):\n    return Anything()\n")), 4)
    out["torch-autograd_fx01_basics.ipynb"] = (edit(sol, "mul_impl", (
        "def mul_backward(ctx, grad):\n    import torch\n    a, b = (torch.tensor(x, requires_grad=True) for x in ctx.saved_tensors)\n"
        "    (a * b).backward(torch.tensor(grad))\n    return a.grad.numpy(), b.grad.numpy()\n")), 3)
    out["tf-autograd_fx01_basics.ipynb"] = (edit(sol, "mse_impl", (
        "def mse(input, target, reduction='mean'):\n    import tensorflow as tf\n"
        "    return tf.reduce_sum((tf.constant(input) - target) ** 2).numpy()\n")), 3)
    out["uses-reference_fx01_basics.ipynb"] = (edit(sol, "mul_impl", (
        "from autograd_mini import registry\nmul_backward = registry.reference_of('mul.backward')\n")), 3)

    # the checks' own helpers (a trusted sort, local rules) are out of reach of student code
    out["imports-grader_fx01_basics.ipynb"] = (prepend(sol, "mul_impl", "import grader.checks.core\n"), 3)

    out["loop-cell_fx01_basics.ipynb"] = (prepend(sol, "relu_impl", "while True:\n    pass\n"), 4)
    out["loop-call_fx01_basics.ipynb"] = (edit(sol, "mse_impl", "def mse(input, target, reduction='mean'):\n"
                                               "    while True:\n        pass\n"), 3)
    # each exercise runs in a process of its own: an unstoppable loop costs its own exercise only
    out["loop-unstoppable_fx01_basics.ipynb"] = (prepend(sol, "relu_impl", (
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n")), 4)
    out["memory_fx01_basics.ipynb"] = (prepend(sol, "mul_impl", "big = np.ones(20 * 2**30 // 8)\n"), 3)
    out["flood_fx01_basics.ipynb"] = (prepend(sol, "relu_impl", (
        "import os\nfor _ in range(100):\n    print('x' * 1_000_000)\n"
        "try:\n    os.write(1, b'y' * 1_000_000)\nexcept OSError:\n    pass\n")), 4)
    out["disk-filler_fx01_basics.ipynb"] = (prepend(sol, "relu_impl", (
        "import os\nchunk = b'z' * (16 << 20)\nfor i in range(64):\n    with open(f'fill{i}', 'wb') as f:\n"
        "        f.write(chunk)\n")), 4)
    out["syntax_fx01_basics.ipynb"] = (edit(sol, "mse_impl", "def mse(input, target, reduction='mean')\n    return 0\n"), 3)
    empty = copy.deepcopy(sol)
    empty["cells"] = []
    out["empty_fx01_basics.ipynb"] = (empty, 0)
    out["not-a-notebook_fx01_basics.ipynb"] = (b"%PDF-1.4 this is not a notebook\x00\xff", 0)
    out["other-lesson_fx01_basics.ipynb"] = (load("fx02_optim"), 0)
    out["gradebook-writer_fx01_basics.ipynb"] = (prepend(sol, "relu_impl", (
        "import sqlite3, os, glob\n"
        f"targets = [{str(gradebook)!r}] + glob.glob({str(Path(course_dir) / 'submitted' / '*' / '*.ipynb')!r})\n"
        "for path in targets:\n"
        "    try:\n        open(path, 'w').write('owned')\n    except OSError:\n        pass\n"
        "try:\n"
        f"    db = sqlite3.connect({str(gradebook)!r})\n"
        "    db.execute(\"UPDATE submissions SET score = 100\")\n    db.commit()\n"
        "except Exception:\n    pass\n")), 5)
    out["reads-solutions_fx01_basics.ipynb"] = (edit(sol, "relu_impl", (
        "import json, glob\nfound = None\n"
        f"for path in glob.glob({str(Path(source_dir) / '*.ipynb')!r}) + glob.glob('/work/main/solutions/*.ipynb'):\n"
        "    try:\n        found = json.load(open(path))\n    except OSError:\n        pass\n"
        "if found:\n"
        "    code = [''.join(c['source']) for c in found['cells'] if c['metadata'].get('nbgrader', {}).get('grade_id') == 'relu_impl']\n"
        "    exec(code[0])\n"
        "else:\n" + "".join("    " + line + "\n" for line in WRONG_RELU.splitlines()))), 4)
    return out

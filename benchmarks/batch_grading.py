"""Time `grader collect` + `grader autograde` on a batch of lesson-03 submissions.

    python -m benchmarks.batch_grading [--submissions 60] [--workers 2] [--dask] [--repo PATH]

The batch mixes full solutions, untouched releases and solutions with one exercise broken, as a class
hands them in. ``--repo`` grades with another checkout's grader (e.g. an older commit in a git worktree,
run with PYTHONPATH pointing at it), so two versions are timed on the same machine in the same way.
``--dask`` grades on a Dask LocalCluster of ``--workers`` worker processes (`grader autograde --scheduler`).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

LESSON = "03_tensor_backprop"
BROKEN = "def mean_backward(ctx, grad):\n    return (np.ones(ctx.shape),)\n"


def submissions(repo: Path, count: int) -> dict:
    solution = json.loads((repo / "solutions" / f"{LESSON}.ipynb").read_text())
    release = json.loads((repo / "notebooks" / f"{LESSON}.ipynb").read_text())
    broken = json.loads(json.dumps(solution))
    for cell in broken["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "mean_backward":
            cell["source"] = BROKEN
    kinds = [solution, release, broken]
    return {f"student{i:03d}_{LESSON}.ipynb": kinds[i % 3] for i in range(count)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="on a Dask LocalCluster of --workers processes")
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "batch.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for name, nb in submissions(args.repo, args.submissions).items():
                zf.writestr(name, json.dumps(nb))
        course = ["--course-dir", str(Path(tmp) / "course"), "--source", str(args.repo / "solutions"),
                  "--release", str(args.repo / "notebooks"), "--specs", str(args.repo / "grader" / "lessons")]
        grader = [sys.executable, "-m", "grader", *course]
        subprocess.run(grader + ["collect", str(archive)], check=True, capture_output=True, cwd=args.repo)
        where = ["--workers", str(args.workers)]
        with contextlib.ExitStack() as stack:
            if args.dask:
                from distributed import LocalCluster

                cluster = stack.enter_context(LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                                           dashboard_address=None))
                where = ["--scheduler", cluster.scheduler_address]
            start = time.perf_counter()
            done = subprocess.run(grader + ["autograde", *where], capture_output=True, text=True, cwd=args.repo)
            seconds = time.perf_counter() - start
    print(done.stdout.strip().splitlines()[-2:] if done.stdout.strip() else done.stderr[-500:])
    print(f"{args.submissions} submissions of {LESSON}, {args.workers} {'Dask ' if args.dask else ''}worker(s): "
          f"{seconds:.1f} s "
          f"({seconds / args.submissions:.2f} s per submission, PyTorch/TensorFlow start-up included)")


if __name__ == "__main__":
    main()

"""Parent side: prepare a job directory, run the runner in the sandbox, wait with a wall-clock limit."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grader

GRADER_PKG = Path(grader.__file__).resolve().parent
BASE_UID = 64000  # one unprivileged uid per parallel slot, so jobs cannot read each other's files


@dataclass
class Limits:
    memory_mb: int = 1536
    cell_timeout: float = 10.0
    call_timeout: float = 20.0
    notebook_timeout: float = 60.0


def isolation_available() -> bool:
    return os.geteuid() == 0 and shutil.which("unshare") is not None and sys.platform == "linux"


def _read_only_paths() -> list[str]:
    paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sysconfig.get_paths()["purelib"],
                                           sysconfig.get_paths()["platlib"])}
    paths |= {"/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", "/etc/localtime", str(GRADER_PKG)}
    real_python = os.path.realpath(sys.executable)
    paths.add(os.path.dirname(os.path.dirname(real_python)))
    # purelib last so the framework packages inside it can be hidden after it is bound
    ordered = sorted(p for p in paths if "site-packages" not in p) + sorted(p for p in paths if "site-packages" in p)
    return ordered


WORK_MB = 128  # the job's writable space (a tmpfs when running as root), so student code cannot fill the disk


def new_job_dir() -> Path:
    """A fresh job directory with an empty ``work/`` (size-limited tmpfs when isolation is available)."""
    base = Path(tempfile.gettempdir()) / "grader-jobs"
    base.mkdir(mode=0o711, exist_ok=True)
    job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=base))
    work = job_dir / "work"
    work.mkdir()
    if isolation_available():
        from grader.sandbox.enter import MS_NODEV, MS_NOSUID, _mount

        try:
            _mount("tmpfs", str(work), "tmpfs", MS_NOSUID | MS_NODEV, f"size={WORK_MB}m,mode=755")
        except OSError:
            pass  # no quota then; the per-file size limit still applies
    return job_dir


def remove_job_dir(job_dir: Path) -> None:
    import ctypes

    work = job_dir / "work"
    if os.path.ismount(work):
        ctypes.CDLL(None, use_errno=True).umount2(str(work).encode(), 2)  # MNT_DETACH
    shutil.rmtree(job_dir, ignore_errors=True)


def run(job_dir: Path, limits: Limits, slot: int = 0) -> dict:
    """Run the runner for ``job_dir`` (already holding work/job.json, cases) and wait."""
    work = job_dir / "work"
    (work / "out").mkdir(exist_ok=True)
    isolated = isolation_available()
    uid = BASE_UID + slot
    cpu = int(limits.notebook_timeout) + 5
    if isolated:
        os.chmod(job_dir, 0o711)
        for path in [work, work / "out"]:
            os.chown(path, uid, 65534)
            os.chmod(path, 0o700)
        command = ["unshare", "--mount", "--pid", "--kill-child", "--propagation", "private",
                   sys.executable, "-s", "-m", "grader.sandbox.enter", str(job_dir), str(uid),
                   str(limits.memory_mb), str(cpu), *_read_only_paths()]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(GRADER_PKG.parent)}
        preexec = None
    else:  # not root: still a separate process with limits and the import blocker, but no chroot
        command = [sys.executable, "-s", "-E", str(GRADER_PKG / "sandbox" / "runner.py"), str(work)]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MPLBACKEND": "Agg"}

        def preexec():
            from grader.sandbox.enter import limit
            limit(limits.memory_mb, cpu)
    with open(job_dir / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, preexec_fn=preexec, start_new_session=True)
        try:
            code = proc.wait(timeout=limits.notebook_timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            code = proc.wait()
            timed_out = True
    stderr = (job_dir / "stderr.txt").read_bytes()[:2000].decode(errors="replace")
    return {"returncode": code, "timed_out": timed_out, "isolated": isolated, "stderr": stderr}

"""Parent side: prepare a job directory, run a program in a sandbox, wait with a wall-clock limit.

As root, each run is forked by this thread's zygote (zygote.py: a fork server with numpy imported, so a run
costs tens of milliseconds instead of two interpreters and an import); without root, the program runs in a
plain subprocess with per-process limits.

One memory budget per sandbox: with a cgroup v2 memory controller the grader can use, every job gets its
own cgroup (memory.max = ``memory_mb`` for all its processes together, pids.max = ``processes``), removed
after the job; without one, a job may run only ``processes`` processes at once (RLIMIT_NPROC of the slot's
uid) and each gets ``memory_mb / processes`` of address space, so together they stay within the budget.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import grader
from grader.sandbox.enter import MS_NODEV, MS_NOSUID, SANDBOX_ENV, _mount, limit

GRADER_PKG = Path(grader.__file__).resolve().parent
BASE_UID = 64000  # one unprivileged uid per parallel slot, so jobs cannot read each other's files


@dataclass
class Limits:
    memory_mb: int = 1536  # for all the processes of one submission together
    cell_timeout: float = 10.0
    call_timeout: float = 20.0
    notebook_timeout: float = 60.0
    processes: int = 2  # at once, threads included: the runner and one child (one exercise at a time)


def isolation_available() -> bool:
    return sys.platform == "linux" and os.geteuid() == 0


def _read_only_paths() -> list[str]:
    paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sysconfig.get_paths()["purelib"],
                                           sysconfig.get_paths()["platlib"])}
    paths |= {"/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", "/etc/localtime"}
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


CONTROLLERS = {"memory", "pids"}
_budget_lock = threading.Lock()
_budget: tuple[Path | None, str] | None = None


def _cgroup_parent() -> Path:
    """Where job cgroups go: the grader's own cgroup v2, with memory and pids enabled for its children.

    A cgroup with processes in it cannot pass controllers on (except the root); when the grader is alone in
    its cgroup (``systemd-run --scope -p Delegate=yes grader ...``, a container), it moves into a leaf first."""
    mounts = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    mount = next((f for f in mounts if f[f.index("-") + 1] == "cgroup2"), None)
    if mount is None:
        raise OSError(errno.ENOENT, "no cgroup v2 file system is mounted")
    own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
    base = Path(mount[4] + "/" + os.path.relpath(own, mount[3]))
    available = set((base / "cgroup.controllers").read_text().split())
    if not CONTROLLERS <= available:
        v1 = [f[4] for f in mounts if f[f.index("-") + 1] == "cgroup" and CONTROLLERS & set(f[-1].split(","))]
        raise OSError(errno.ENOTSUP, f"{base} offers no {' and '.join(sorted(CONTROLLERS - available))} controller"
                      + (f" (mounted as cgroup v1 here: {', '.join(v1)})" if v1 else ""))
    if not CONTROLLERS <= set((base / "cgroup.subtree_control").read_text().split()):
        try:
            (base / "cgroup.subtree_control").write_text("+memory +pids")
        except OSError as error:
            if error.errno != errno.EBUSY or (base / "cgroup.procs").read_text().split() != [str(os.getpid())]:
                raise OSError(error.errno, f"cannot enable memory and pids in {base}: other processes share "
                              "the grader's cgroup") from error
            (base / "grader").mkdir(exist_ok=True)
            (base / "grader" / "cgroup.procs").write_text(str(os.getpid()))
            (base / "cgroup.subtree_control").write_text("+memory +pids")
    return base


def memory_budget() -> tuple[Path | None, str]:
    """(the cgroup v2 parent of job cgroups, "") or (None, why there is none); decided once per process."""
    global _budget
    with _budget_lock:
        if _budget is None:
            try:
                _budget = (_cgroup_parent(), "")
            except (OSError, StopIteration, ValueError, IndexError) as error:
                _budget = (None, getattr(error, "strerror", None) or str(error) or type(error).__name__)
        return _budget


def isolation_summary(limits: Limits) -> str:
    """One line for the log: how submissions are isolated and how their memory is bounded."""
    if not isolation_available():
        return ("sandbox: none (not root): a separate process with per-process limits "
                f"({limits.memory_mb} MB address space) and the import blocker")
    parent, why_not = memory_budget()
    walls = "sandbox: mount, pid, network and IPC namespaces, chroot, a uid of its own"
    if parent is not None:
        return (f"{walls}; memory: one cgroup v2 per submission, {limits.memory_mb} MB for all its processes "
                f"(at most {limits.processes})")
    return (f"{walls}; memory: {limits.processes} processes x {limits.memory_mb // limits.processes} MB per "
            f"submission, no cgroup ({why_not})")


def _new_cgroup(parent: Path, uid: int, limits: Limits) -> Path:
    group = parent / f"grader-job-{uid}"
    if group.exists():  # left by a grader that was killed; this uid is ours now
        _remove_cgroup(group)
    group.mkdir()
    (group / "memory.max").write_text(str(limits.memory_mb << 20))
    if (group / "memory.swap.max").exists():
        (group / "memory.swap.max").write_text("0")
    (group / "pids.max").write_text(str(limits.processes))
    return group


def _remove_cgroup(group: Path) -> float | None:
    """Kill what is left in the job's cgroup, remove it; the peak memory of the job in MB (if known)."""
    peak = group / "memory.peak"
    peak_mb = int(peak.read_text()) / (1 << 20) if peak.exists() else None
    deadline = time.monotonic() + 10
    while True:
        try:
            group.rmdir()
            return peak_mb
        except OSError as error:  # EBUSY while a process of the job is still exiting
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
        if (group / "cgroup.kill").exists():
            (group / "cgroup.kill").write_text("1")
        time.sleep(0.01)


UID_LOCKS = Path("/run/lock" if os.path.isdir("/run/lock") else tempfile.gettempdir()) / "grader-sandbox-uids"


@contextlib.contextmanager
def _sandbox_uid(slot: int):
    """A uid no other sandbox on this machine is using — the slot's own when it is free: the process limit
    counts per uid, so a job must not share it with a job of another grader (or test run) on the machine."""
    UID_LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
    for n in [slot, *range(1000)]:
        lock = os.open(UID_LOCKS / str(BASE_UID + n), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            continue
        try:
            yield BASE_UID + n
        finally:
            os.close(lock)
        return
    raise RuntimeError("all 1000 sandbox uids are in use")


def run(job_dir: Path, limits: Limits, program: Path, slot: int = 0, read_only: tuple = ()) -> dict:
    """Run ``program`` (such as the harness runner, for ``job_dir`` holding work/job.json and cases) and wait.
    ``program`` gets work/ as its argument; it must lie in work/ or in ``read_only``: the host folders the
    run may read (bound read-only at the same place), such as its stripped library and the harness — the
    grader package is not in the sandbox. As root the job runs as uid 64000 + ``slot``, or another free
    sandbox uid when a job of another grader on this machine holds that one."""
    if not isolation_available():
        return _run(job_dir, limits, program, None, read_only)
    with _sandbox_uid(slot) as uid:
        return _run(job_dir, limits, program, uid, read_only)


class ZygoteLost(RuntimeError):
    pass


class _Zygote:
    """This thread's fork server (zygote.py): started on first use, replaced if it dies."""

    def __init__(self):
        # the sandbox's environment from the start: numpy sizes its thread pools when the zygote imports it
        self.proc = subprocess.Popen([sys.executable, "-s", "-E", "-m", "grader.sandbox.zygote"],
                                     cwd=GRADER_PKG.parent, env=SANDBOX_ENV, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, start_new_session=True)

    def run(self, request: dict) -> dict:
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
            # the zygote enforces the timeout itself; this margin only guards against a zygote that hangs
            ready = select.select([self.proc.stdout], [], [], request["timeout"] + 60)[0]
            line = self.proc.stdout.readline() if ready else b""
        except OSError:
            line = b""
        if not line:
            self.proc.kill()
            self.proc.wait()
            raise ZygoteLost(f"the sandbox launcher (pid {self.proc.pid}) stopped answering")
        return json.loads(line)


_local = threading.local()


def _launch(request: dict) -> dict:
    """Run a sandbox through this thread's zygote; a zygote that died (killed, out of memory) is replaced
    and the job run once more, so a launcher's death never costs a student their grade."""
    for attempt in (1, 2):
        zygote = getattr(_local, "zygote", None)
        if zygote is None or zygote.proc.poll() is not None:
            zygote = _local.zygote = _Zygote()
        try:
            return zygote.run(request)
        except ZygoteLost:
            _local.zygote = None
            _kill_every_process_of(request["uid"])  # its sandbox dies with it, but not at once
            if attempt == 2:
                raise


def processes_of(uid: int) -> list[int]:
    """The pids of every process (zombies included) that runs as ``uid`` on this machine."""
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(status.split("\nUid:")[1].split()[0]) == uid:
            pids.append(int(entry))
    return pids


def _kill_every_process_of(uid: int, wait: float = 10.0) -> None:
    deadline = time.monotonic() + wait
    while (pids := processes_of(uid)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def _run(job_dir: Path, limits: Limits, program: Path, uid: int | None, read_only: tuple = ()) -> dict:
    work = job_dir / "work"
    (work / "out").mkdir(exist_ok=True)
    isolated = uid is not None
    cpu = int(limits.notebook_timeout) + 5
    timed_out = False
    peak_mb = None
    if isolated:
        os.chmod(job_dir, 0o711)
        for path in [work, work / "out"]:
            os.chown(path, uid, 65534)
            os.chmod(path, 0o700)
        parent, _ = memory_budget()
        group = _new_cgroup(parent, uid, limits) if parent is not None else None
        try:
            reply = _launch({
                "job_dir": str(job_dir), "program": str(program), "stderr": str(job_dir / "stderr.txt"),
                "read_only": [*_read_only_paths(), *map(str, read_only)], "uid": uid, "cgroup": group and str(group),
                "memory_mb": limits.memory_mb if group else limits.memory_mb // limits.processes,
                "processes": limits.processes, "cpu_seconds": cpu, "timeout": limits.notebook_timeout})
            code, timed_out = reply["returncode"], reply["timed_out"]
        finally:
            if group is not None:
                peak_mb = _remove_cgroup(group)
    else:  # not root: still a separate process with limits and the import blocker, but no chroot
        def preexec():
            limit(limits.memory_mb, cpu)
        with open(job_dir / "stderr.txt", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-s", "-E", str(program), str(work)], cwd=work,
                                    env={**SANDBOX_ENV, "HOME": str(work)},
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    preexec_fn=preexec, start_new_session=True)
            try:
                code = proc.wait(timeout=limits.notebook_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                code = proc.wait()
                timed_out = True
    stderr = (job_dir / "stderr.txt").read_bytes()[:2000].decode(errors="replace")
    return {"returncode": code, "timed_out": timed_out, "isolated": isolated, "stderr": stderr,
            "memory_peak_mb": peak_mb, "uid": uid}

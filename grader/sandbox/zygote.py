"""A fork server for sandboxes: started once per grading thread, with numpy already imported.

Starting a sandbox from scratch costs two Python interpreters and numpy's import, about 0.17 s, and a
submission needs one sandbox per group of exercises that lack the same references (three for lesson 03).
The zygote pays the interpreter and numpy once. For each job it forks; the fork (S) joins the job's cgroup,
unshares its mount, network, IPC and pid namespaces and forks the new pid namespace's init (I), which puts
up the walls (enter.py), becomes the sandbox's uid and runs the job's program in place of an exec.

What keeps it safe: the zygote is root but never reads a submission, so nothing of another job is in the
memory a sandbox inherits; the sandbox closes every descriptor but its stdin (/dev/null), stdout
(/dev/null) and stderr (the job's stderr.txt), so the request pipe is out of its reach; I dies with S and S
with the zygote (PR_SET_PDEATHSIG). Nothing of a job outlives its reply: normally S reports I's exit code
once I is gone — and with the init, the kernel has taken every process of its pid namespace — and the
zygote replies without waiting for S to tear the namespaces down (it reaps S before the next job); on the
wall-clock limit the zygote kills S, I follows, and the zygote, a child subreaper, kills and reaps whatever
is left before it replies.

Protocol (launch.py is the other end): one JSON request per line on stdin — what enter.enter takes, plus
``program``, ``stderr`` (a file) and ``timeout`` (seconds) — and one JSON reply per line on stdout:
``{"returncode": int, "timed_out": bool}``.
"""
from __future__ import annotations

import ctypes
import json
import os
import runpy
import select
import signal
import sys
import traceback

from grader.sandbox.enter import enter, join_cgroup

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x08000000, 0x20000000, 0x40000000
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
SETUP_FAILED = 125  # the sandbox could not be set up (its traceback is in the job's stderr)
_libc = ctypes.CDLL(None, use_errno=True)
BASE_PATH = sys.path[1:]  # the interpreter's own path: without the grader's folder (sys.path[0] under -m)


def _die_with_parent(parent: int | None = None, alive_fd: int | None = None) -> None:
    """Get SIGKILL when the parent dies; exit now if it died already: ``parent`` is its pid, or ``alive_fd`` the
    read end of a pipe whose only writer is the parent (in a pid namespace's init, whose parent is outside
    the namespace: there getppid says 0)."""
    gone = _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0
    if alive_fd is None:
        gone = gone or os.getppid() != parent
    else:
        gone = gone or bool(select.select([alive_fd], [], [], 0)[0])  # readable: end of file, the writer is gone
        os.close(alive_fd)
    if gone:
        os._exit(SETUP_FAILED)


def _run_program(request: dict) -> None:
    """In I, the pid namespace's init: enter the sandbox and run the program as ``python PROGRAM WORK`` would."""
    work = enter(request)
    program = request["program"]
    for name in [m for m in sys.modules if m == "grader" or m.startswith("grader.")]:
        del sys.modules[name]  # the sandbox has no grader package: not even the zygote's own modules
    sys.path[:] = [os.path.dirname(program), *BASE_PATH]
    sys.argv[:] = [program, work]
    try:
        runpy.run_path(program, run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)


def _sandbox(request: dict, stderr_fd: int, report_fd: int, zygote: int) -> None:
    """In S (forked from the zygote): only the job's stderr stays open, then namespaces, then I; I's exit code
    goes to ``report_fd`` (the zygote's pipe, closed before I starts). Never returns."""
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(stderr_fd, 2)
    report = os.dup2(report_fd, 3)
    os.closerange(4, os.sysconf("SC_OPEN_MAX"))
    _die_with_parent(parent=zygote)
    if request.get("cgroup"):
        join_cgroup(request["cgroup"])
    if _libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare: {os.strerror(error)}")
    alive, parent_alive = os.pipe()
    init = os.fork()
    if init == 0:
        try:
            os.close(parent_alive)
            os.close(report)
            _die_with_parent(alive_fd=alive)
            _run_program(request)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(SETUP_FAILED)
    os.close(alive)
    _, status = os.waitpid(init, 0)  # when I is gone, so is every process of its namespace
    code = os.waitstatus_to_exitcode(status)
    os.write(report, str(code).encode())  # before our exit, which waits for the namespaces to be torn down
    os._exit(code if code >= 0 else 128 - code)  # killed by signal N: 128 + N, as a shell says it


def serve(request: dict) -> dict:
    """Run one job in a fresh sandbox and wait for it, at most ``timeout`` seconds."""
    _reap_finished()
    stderr_fd = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    report_r, report_w = os.pipe()
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(report_r)
            _sandbox(request, stderr_fd, report_w, zygote)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(SETUP_FAILED)
    os.close(stderr_fd)
    os.close(report_w)
    try:
        timed_out = not select.select([report_r], [], [], request["timeout"])[0]
        reported = b"" if timed_out else os.read(report_r, 16)
    finally:
        os.close(report_r)
    if reported:  # S tears its namespaces down on exit (tens of ms): it is reaped before the next job
        return {"returncode": int(reported), "timed_out": False}
    if timed_out:
        os.kill(pid, signal.SIGKILL)  # I follows (PDEATHSIG), and with it every process of its namespace
    _, status = os.waitpid(pid, 0)  # S failed before I ended, or was killed
    _reap_orphans()
    return {"returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out}


def _reap_finished() -> None:
    """Reap the sandboxes (S) that reported and have exited since; do not wait for the others."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _reap_orphans() -> None:
    """Kill and reap every process reparented to us (I, after its S was killed): once this returns, the kernel
    has taken I's whole pid namespace, and nothing of the job counts against its uid any more."""
    children = f"/proc/self/task/{os.getpid()}/children"
    while True:
        with open(children) as listing:
            pids = [int(p) for p in listing.read().split()]
        if not pids:
            return
        for orphan in pids:
            try:
                os.kill(orphan, signal.SIGKILL)
                os.waitpid(orphan, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def main() -> None:
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # and its stdin reaches EOF when the grader exits anyway
    import numpy  # noqa: F401  (the runner's costly import, paid once and inherited by every sandbox)

    for line in iter(sys.stdin.buffer.readline, b""):
        reply = serve(json.loads(line))
        os.write(1, (json.dumps(reply) + "\n").encode())


if __name__ == "__main__":
    main()

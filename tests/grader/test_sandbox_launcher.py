"""The sandbox launcher (grader/sandbox/zygote.py): a root fork server must hand the student's code nothing
of its own — no descriptor (its request pipe would let a submission ask for a sandbox of its choosing),
no grader module — and a launcher that dies must cost no grade."""
import threading
import time

import pytest

from grader.sandbox import launch
from test_sandbox_isolation import run_probe

pytestmark = pytest.mark.skipif(not launch.isolation_available(),
                                reason="needs root on Linux: the launcher forks root sandboxes")


def test_the_sandbox_holds_no_descriptor_of_its_launcher():
    _, report = run_probe('''
        import json, os
        open_fds = []
        for fd in range(3, 1024):
            try:
                os.fstat(fd)
                open_fds.append(fd)
            except OSError:
                pass
        null = os.stat("/dev/null").st_rdev
        json.dump({"open": open_fds, "stdin_is_null": os.fstat(0).st_rdev == null,
                   "stdout_is_null": os.fstat(1).st_rdev == null}, open("report.json", "w"))
    ''')
    assert report == {"open": [], "stdin_is_null": True, "stdout_is_null": True}


def test_the_sandbox_holds_no_module_of_the_grader():
    _, report = run_probe('''
        import json, sys
        try:
            import grader
            importable = True
        except ImportError:
            importable = False
        json.dump({"loaded": sorted(m for m in sys.modules if m.split(".")[0] == "grader"),
                   "importable": importable, "uid": __import__("os").getuid()}, open("report.json", "w"))
    ''')
    assert report["loaded"] == [] and report["importable"] is False
    assert report["uid"] >= launch.BASE_UID


def test_a_launcher_that_dies_during_a_job_is_replaced_and_the_job_run_again():
    run_probe("pass")  # this thread's launcher is running now
    zygote = launch._local.zygote
    started = []

    def kill_the_launcher_once_the_job_runs():
        while not started and time.monotonic() < deadline:
            time.sleep(0.01)
            started.extend(p for p in zygote_children(zygote.proc.pid))
        zygote.proc.kill()

    deadline = time.monotonic() + 30
    killer = threading.Thread(target=kill_the_launcher_once_the_job_runs)
    killer.start()
    info, report = run_probe('''
        import json, time
        time.sleep(2)
        json.dump({"finished": True}, open("report.json", "w"))
    ''')
    killer.join()
    assert started, "the job never started under the first launcher"
    assert report == {"finished": True}, info["stderr"]
    assert launch._local.zygote is not zygote and zygote.proc.poll() is not None
    assert launch.processes_of(info["uid"]) == []


def zygote_children(pid: int) -> list:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(p) for p in listing.read().split()]
    except FileNotFoundError:
        return []

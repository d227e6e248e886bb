"""The sandbox's walls (issue 9, holes 1 and 7): no network to the host, its own SysV IPC, one memory
budget for all the processes of a submission, and a wall-clock kill that takes every process.

Probes are plain Python scripts run through ``launch.run(..., program=...)``, so they do not depend on the
runner; the scores come from ``grade_file`` on the fixture lesson fx01_basics (relu 1, mul 2, mse 2 points).
"""
import contextlib
import ctypes
import io
import json
import os
import socketserver
import textwrap
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

import adversarial
from grader.sandbox import launch

pytestmark = pytest.mark.skipif(not launch.isolation_available(),
                                reason="needs root on Linux: the sandbox's namespaces, chroot, "
                                       "cgroup and uids can only be set up as root")

SLOT = 37  # a worker slot (uid 64037) other tests do not ask for
LIMITS = launch.Limits(memory_mb=1536, cell_timeout=5, call_timeout=10, notebook_timeout=60)
NO_IMPLEMENTATION = {
    "relu_impl": "def relu(a):\n    raise NotImplementedError()\n",
    "mul_impl": "def mul_backward(ctx, grad):\n    raise NotImplementedError()\n",
    "mse_impl": "def mse(input, target, reduction='mean'):\n    raise NotImplementedError()\n",
}


def notebook(**cells) -> dict:
    """The fixture lesson with no implementation, except the given cells (grade_id=source)."""
    nb = adversarial.load()
    for grade_id, source in {**NO_IMPLEMENTATION, **cells}.items():
        nb = adversarial.edit(nb, grade_id, source)
    return nb


def score(nb: dict, tmp_path: Path, name: str, limits: launch.Limits = LIMITS) -> float:
    from grader.pipeline.grade import grade_file  # the probes below need only the launcher
    from grader.spec import load_lesson

    lessons = adversarial.FIXTURE / "lessons"
    path = tmp_path / f"{name}.ipynb"
    path.write_text(json.dumps(nb))
    return grade_file(name, load_lesson(lessons, "fx01_basics"), path, b"isolation", limits, lessons).score


def run_probe(code: str, limits: launch.Limits = LIMITS) -> tuple[dict, dict]:
    """Run ``code`` as the sandbox's program; returns (launch's info, the report.json it wrote or {})."""
    job = launch.new_job_dir()
    try:
        program = job / "work" / "probe.py"
        program.write_text(textwrap.dedent(code))
        info = launch.run(job, limits, program, SLOT)
        assert info["isolated"], info
        report = job / "work" / "report.json"
        return info, (json.loads(report.read_text()) if report.exists() else {})
    finally:
        launch.remove_job_dir(job)


# --- hole 1: the network -------------------------------------------------------------------------------

NETWORK_RELU = '''
import io, socket
import numpy as np

def relu(a):
    """Ask the host for the answer: the attack of issue 9, hole 1."""
    with socket.socket({family}, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect({address!r})
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(a))
        sock.sendall(buffer.getvalue())
        sock.shutdown(socket.SHUT_WR)
        answer = b"".join(iter(lambda: sock.recv(1 << 16), b""))
    return np.load(io.BytesIO(answer))
'''


class _Oracle(socketserver.StreamRequestHandler):
    def handle(self):
        self.server.connections.append(self.client_address)
        buffer = io.BytesIO()
        np.save(buffer, np.maximum(np.load(io.BytesIO(self.rfile.read())), 0))
        self.wfile.write(buffer.getvalue())


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True


class _Abstract(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


@contextlib.contextmanager
def oracle(channel: str):
    """A host server that computes ReLU: on 127.0.0.1, or on an abstract unix socket."""
    if channel == "tcp":
        server = _TCP(("127.0.0.1", 0), _Oracle)
        attack = NETWORK_RELU.format(family="socket.AF_INET", address=server.server_address)
    else:
        server = _Abstract("\0backprop-oracle-" + uuid.uuid4().hex, _Oracle)
        attack = NETWORK_RELU.format(family="socket.AF_UNIX", address=server.server_address)
    server.connections = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, attack
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def no_implementation_score(tmp_path_factory):
    return score(notebook(), tmp_path_factory.mktemp("none"), "none")


@pytest.mark.parametrize("channel", ["tcp", "abstract unix socket"])
def test_student_code_cannot_ask_a_server_on_the_host(channel, tmp_path, no_implementation_score):
    with oracle(channel) as (server, attack):
        namespace: dict = {}
        exec(attack, namespace)  # outside the sandbox the attack works: the oracle answers
        assert namespace["relu"](np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]
        server.connections.clear()
        attacked = score(notebook(relu_impl=attack), tmp_path, "asks-the-host")
        assert server.connections == [], "the sandbox reached the host's server"
    assert attacked == no_implementation_score == 0


def test_the_sandbox_has_no_network_interface_up():
    _, report = run_probe('''
        import json, socket
        errors = {}
        for name, family, address in [("tcp", socket.AF_INET, ("127.0.0.1", 9)),
                                      ("dns", socket.AF_INET, ("1.1.1.1", 53)),
                                      ("abstract", socket.AF_UNIX, "\\0anything")]:
            try:
                with socket.socket(family, socket.SOCK_STREAM) as sock:
                    sock.settimeout(2)
                    sock.connect(address)
                errors[name] = None
            except OSError as error:
                errors[name] = type(error).__name__
        try:
            interfaces = [name for _, name in socket.if_nameindex()]
        except OSError:
            interfaces = []
        json.dump({"errors": errors, "interfaces": interfaces}, open("report.json", "w"))
    ''')
    assert set(report["interfaces"]) <= {"lo"}, report
    assert None not in report["errors"].values(), report


# --- hole 7: one memory budget, own IPC ------------------------------------------------------------------

FOUR_GIGABYTES = '''
import os, time
MB = 1 << 20
children = []
for i in range(4):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        code = 1
        try:
            held = [b"\\1" * (64 * MB) for _ in range(16)]  # 1 GB, every page touched
            time.sleep(1)
            code = 0
        finally:
            os._exit(code)
    children.append(pid)
got = sum(os.waitpid(pid, 0)[1] == 0 for pid in children)
if got < 4:
    raise MemoryError(f"only {got} of 4 children got their 1 GB")
'''


def test_four_children_cannot_take_more_than_the_budget_together():
    """Each child reports what it holds; all are counted at one moment, once none is still allocating."""
    info, report = run_probe('''
        import json, os, time
        MB = 1 << 20
        children, fork_errors = [], []
        for i in range(4):
            try:
                pid = os.fork()
            except OSError as error:
                fork_errors.append(type(error).__name__)
                continue
            if pid == 0:
                try:
                    held = []
                    try:
                        while len(held) < 32:
                            held.append(b"\\1" * (32 * MB))  # every page touched
                            with open(f"held-{i}", "w") as f:
                                f.write(str(len(held) * 32))
                    except MemoryError:
                        pass
                    open(f"done-{i}", "w").close()
                    for _ in range(1000):
                        if os.path.exists("release"):
                            break
                        time.sleep(0.02)
                finally:
                    os._exit(0)
            children.append((i, pid))
        alive = {i: pid for i, pid in children}
        while any(not os.path.exists(f"done-{i}") for i in alive):
            for i, pid in list(alive.items()):
                if not os.path.exists(f"done-{i}") and os.waitpid(pid, os.WNOHANG)[0]:
                    del alive[i]  # killed while allocating (out of memory): holds nothing now
            time.sleep(0.02)
        together = {}
        for i, pid in alive.items():
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                together[i] = int(open(f"held-{i}").read()) if os.path.exists(f"held-{i}") else 0
        open("release", "w").close()
        for i, pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        json.dump({"forked": len(children), "fork_errors": fork_errors, "held_together_mb": together},
                  open("report.json", "w"))
    ''')
    assert report, info["stderr"]
    assert report["forked"] >= 1, f"the sandbox must allow one child process (the runner forks one): {report}"
    assert sum(report["held_together_mb"].values()) <= LIMITS.memory_mb, report
    if info.get("memory_peak_mb") is not None:
        assert info["memory_peak_mb"] <= LIMITS.memory_mb, info


def test_a_submission_over_the_budget_loses_that_exercise_and_the_next_one_is_graded(tmp_path):
    solution = adversarial.load()
    greedy = adversarial.prepend(solution, "mul_impl", FOUR_GIGABYTES)
    slow_cells = launch.Limits(memory_mb=1536, cell_timeout=60, notebook_timeout=120)  # never the reason it fails
    assert score(greedy, tmp_path, "four-gigabytes", slow_cells) == 3  # mul_backward (2 points) lost, relu and mse kept
    assert score(solution, tmp_path, "next") == 5


LIBC_SHM = '''
import ctypes, errno, json
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_CREAT = 0o1000

def segment(key, size=0, flags=0):
    """shmget: the segment's id, or the errno name when there is none."""
    ident = libc.shmget(key, size, flags)
    return ident if ident >= 0 else errno.errorcode[ctypes.get_errno()]
'''


@contextlib.contextmanager
def host_segment(key: int):
    """A SysV shared memory segment owned by the host (removed afterwards)."""
    libc = ctypes.CDLL(None, use_errno=True)
    ident = libc.shmget(key, 1 << 16, 0o1000 | 0o666)
    assert ident >= 0, os.strerror(ctypes.get_errno())
    try:
        yield
    finally:
        libc.shmctl(ident, 0, None)  # IPC_RMID


def host_keys() -> set:
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {int(line.split()[0]) for line in lines}


def test_shared_memory_dies_with_its_job():
    key, host_key = (int.from_bytes(os.urandom(3), "big") + 1 for _ in range(2))
    try:
        _, made = run_probe(LIBC_SHM + f'''
ident = segment({key}, 64 << 20, IPC_CREAT | 0o666)
if isinstance(ident, int):
    address = libc.shmat(ident, None, 0)
    ctypes.memset(address, 7, 64 << 20)  # 64 MB the next job must not find
    libc.shmdt(ctypes.c_void_p(address))
json.dump({{"made": ident}}, open("report.json", "w"))
''')
        assert isinstance(made["made"], int), f"the job could not make a segment: {made}"
        assert key not in host_keys(), "a segment made in the sandbox is visible on the host after the job"
        with host_segment(host_key):
            _, seen = run_probe(LIBC_SHM + f'''
json.dump({{"previous_job": segment({key}), "host": segment({host_key})}}, open("report.json", "w"))
''')
        assert seen == {"previous_job": "ENOENT", "host": "ENOENT"}, seen
    finally:  # without the IPC namespace the segment would outlive the job: do not leak it here
        libc = ctypes.CDLL(None, use_errno=True)
        leftover = libc.shmget(key, 0, 0)
        if leftover >= 0:
            libc.shmctl(leftover, 0, None)


def test_the_wall_clock_kill_takes_every_process():
    """A child that leaves the process group and ignores signals still dies with the job."""
    info, _ = run_probe('''
        import os, signal, time
        if os.fork() == 0:
            os.setsid()
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        while True:
            time.sleep(1)
    ''', limits=launch.Limits(notebook_timeout=3))
    assert info["timed_out"]
    assert launch.processes_of(info["uid"]) == []


def test_a_job_never_shares_its_uid_with_a_running_job_of_another_grader():
    """Processes are counted per uid: were two graders' jobs on one uid, one of them could not fork."""
    with launch._sandbox_uid(SLOT) as taken:  # as if another grader's job held slot 37 right now
        info, report = run_probe('''
            import json, os
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            json.dump({"forked": True}, open("report.json", "w"))
        ''')
    assert info["uid"] != taken and info["uid"] >= launch.BASE_UID
    assert report == {"forked": True}, info["stderr"]

"""A real JupyterHub on 127.0.0.1 for the browser tests: deploy/jupyterhub_config.py, system users, an exchange.

Everything lives in one folder under /tmp that other users can traverse (pytest's tmp_path is private to
root), removed afterwards together with the users. Needs root (useradd, and JupyterHub starting each
student's server as that student) and configurable-http-proxy on PATH (``make hub``).

The students' Python: the course's virtualenv lives under root's home, which other users cannot enter, so
their servers run Debian's /usr/bin/python3 (same minor version) in a small venv that reads the course's
site-packages, Jupyter data and config. A class's image has the course installed normally instead
(docs/deployment.md).
"""
from __future__ import annotations

import contextlib

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from e2e_server import free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
VENV = Path(sys.prefix)
SYSTEM_PYTHON = Path("/usr/bin/python3")
HUB_START_TIMEOUT = 60  # s


class HubSetupError(RuntimeError):
    """The machine lacks what the hub test needs (root, Debian's python3, configurable-http-proxy)."""


def make_root() -> Path:
    """A fresh folder under /tmp, mode 755: the hub's state, the exchange and the students' homes."""
    root = Path(tempfile.mkdtemp(prefix="bfs-hub-", dir="/tmp"))
    root.chmod(0o755)
    return root


def course_paths() -> list[Path]:
    """What the students' servers read from the course: its packages, Jupyter's data, the repository."""
    return [Path(sysconfig.get_paths()["purelib"]), VENV / "share" / "jupyter", REPO]


@contextlib.contextmanager
def reachable(paths: list[Path]):
    """Let other users *enter* (o+x, not list) every folder on the way to ``paths`` for the block's duration: a
    clone in a private folder (mktemp -d is 700, root's home too) is otherwise out of the students' reach."""
    opened = {}
    for path in paths:
        for folder in [*reversed(path.resolve().parents), path.resolve()]:
            mode = folder.stat().st_mode
            if not mode & 0o001 and folder not in opened:
                opened[folder] = mode
                folder.chmod((mode | 0o001) & 0o7777)
    try:
        yield
    finally:
        for folder, mode in opened.items():
            folder.chmod(mode & 0o7777)


def student_python(root: Path) -> Path:
    """A venv of Debian's python3 that uses the course's packages (reachable: see ``reachable``); returns its
    jupyterhub-singleuser."""
    if not SYSTEM_PYTHON.exists():
        raise HubSetupError(f"{SYSTEM_PYTHON} is missing: the students' servers need Debian's python3 (`make hub`)")
    site_packages = course_paths()[0]
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.split()
    if tuple(map(int, version)) != sys.version_info[:2]:
        raise HubSetupError(f"{SYSTEM_PYTHON} is Python {'.'.join(version)}, the course's venv "
                            f"{sys.version_info[0]}.{sys.version_info[1]}: its compiled packages would not load")
    env = root / "student-python"
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", env], check=True)
    purelib = Path(subprocess.run([env / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # addsitedir (not a plain path) also runs the course's own .pth files: the editable install of the repo
    (purelib / "course.pth").write_text(f"import site; site.addsitedir({str(site_packages)!r})\n")
    # Jupyter's data (JupyterLab, nbgrader's extension) and config (server extensions) are the course's ...
    (env / "share").symlink_to(VENV / "share")
    config = env / "etc" / "jupyter"
    config.mkdir(parents=True)
    for entry in (VENV / "etc" / "jupyter").iterdir():
        (config / entry.name).symlink_to(entry)
    # ... plus nbgrader's config for students, as a class's image installs it
    shutil.copy(DEPLOY / "nbgrader_config.py", config / "nbgrader_config.py")
    singleuser = env / "bin" / "jupyterhub-singleuser"
    singleuser.write_text(f"#!{env / 'bin' / 'python'}\nfrom jupyterhub.singleuser import main\nmain()\n")
    singleuser.chmod(0o755)
    for path in [env, *env.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or path == singleuser else 0o644)
    return singleuser


# ------------------------------------------------------------------------------------------ users ----
def add_user(root: Path) -> str:
    """A new system user (home under ``root``) named bfs<random>: unused, and easy to recognise."""
    if os.geteuid() != 0:
        raise HubSetupError("the hub test runs as root: it creates users and the hub starts servers as them")
    name = f"bfs{secrets.token_hex(4)}"
    home = root / "home" / name
    home.parent.mkdir(mode=0o755, exist_ok=True)
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh",
                    "--comment", "Backprop from Scratch hub test", name], check=True, capture_output=True)
    return name


def remove_user(name: str) -> None:
    """End what still runs as the user (the test started all of it), then delete the user and their home."""
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    found = subprocess.run(["pgrep", "-u", str(uid)], capture_output=True, text=True).stdout.split()
    for pid in found:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["userdel", "--remove", name], capture_output=True)


# -------------------------------------------------------------------------------------------- hub ----
@dataclass(eq=False)
class Hub:
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM: JupyterHub stops the students' servers and its proxy, then exits."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


SITE_CONFIG = """\
# The hub test's site: a shared password instead of PAM, only the test's users, 127.0.0.1 and free ports.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.Authenticator.allowed_users = {users!r}
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.Spawner.port = 0  # a random free port for each student's server
"""


def start_hub(root: Path, exchange: Path, users: list[str], password: str, singleuser: Path) -> Hub:
    """JupyterHub with deploy/jupyterhub_config.py and a site config for this test; returns once it answers."""
    if shutil.which("configurable-http-proxy") is None:
        raise HubSetupError("configurable-http-proxy is not on PATH: JupyterHub's proxy (`make hub`, from npm)")
    state = root / "hub"
    state.mkdir(mode=0o700)
    port = free_port()
    site = state / "site_config.py"
    site.write_text(SITE_CONFIG.format(password=password, users=set(users), port=port, hub_port=free_port(),
                                       api_port=free_port()))
    env = {**os.environ, "NBGRADER_EXCHANGE_ROOT": str(exchange), "BFS_HUB_STATE": str(state),
           "BFS_HUB_SITE_CONFIG": str(site), "BFS_SINGLEUSER": str(singleuser)}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    log_path = state / "jupyterhub.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(VENV / "bin" / "jupyterhub"), "-f", str(DEPLOY / "jupyterhub_config.py")],
                                   cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    hub = Hub(port=port, process=process, log_path=log_path)
    deadline = time.time() + HUB_START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with {process.returncode}:\n{hub.log()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{hub.base}/hub/api", timeout=2) as response:
                if response.status == 200:
                    return hub
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.time() > deadline:
            hub.stop()
            raise RuntimeError(f"jupyterhub did not answer within {HUB_START_TIMEOUT}s:\n{hub.log()[-4000:]}")
        time.sleep(0.25)


def make_exchange(root: Path) -> Path:
    """The exchange root: world-writable, as nbgrader wants it (it creates the course's folders itself)."""
    exchange = root / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    return exchange

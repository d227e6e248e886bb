"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, and JupyterLab servers.

* ``browser`` — one headless Chromium for the session (``/usr/bin/chromium``, or ``$E2E_CHROMIUM``).
  If it is missing or does not start, every e2e test FAILS (never skips): install it with ``make browser``.
* ``start_lab(root)`` — starts ``jupyter lab`` on 127.0.0.1, a free port and a random token, serving
  ``root`` (a temp dir holding copies of what a test needs, never the repo itself), with its own
  Jupyter config/data/runtime/settings dirs so the developer's ~/.jupyter cannot change the result.
* ``new_page(server)`` — a fresh browser context + page logged in to that server, with a
  console/pageerror log the tests can assert on.
* ``shot(page, name)`` — a screenshot into ``artifacts/e2e/<name>.png`` (git-ignored), for a person
  to look at what a student sees.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from e2e_server import JUPYTER, LabServer, free_port, lab_env

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", REPO / "artifacts" / "e2e"))
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1400, "height": 1000}

# Seconds. The first kernel start imports torch and TensorFlow (~10 s on 2 cores).
SERVER_START_TIMEOUT = 60


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# ---------------------------------------------------------------- browser ----
@pytest.fixture(scope="session")
def artifacts() -> Path:
    """artifacts/e2e/, emptied at the start of a run: its screenshots are always those of the last run."""
    if ARTIFACTS.is_dir():
        for pattern in ("*.png", "timings_*.json"):
            for old in ARTIFACTS.glob(pattern):
                old.unlink()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium. Missing or broken: the test fails loudly (a skipped e2e suite hides bugs)."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if not path:
        pytest.fail(f"Chromium not found at {CHROMIUM!r}: the browser tests need Debian's chromium "
                    "(`make browser`, i.e. `apt-get install chromium`), or set E2E_CHROMIUM=/path/to/chromium.",
                    pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - requirements.txt pins playwright
        pytest.fail(f"playwright is not installed in this environment: {error}", pytrace=False)
    pw = sync_playwright().start()
    try:
        # launch() gives Chromium a fresh temporary user-data-dir of its own (deleted on close); every test
        # opens its pages in a fresh context of it.
        instance = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
    except Exception as error:
        pw.stop()
        pytest.fail(f"Chromium at {path} did not start under Playwright: {error}", pytrace=False)
    try:
        yield instance
    finally:
        instance.close()
        pw.stop()


# ---------------------------------------------------------------- servers ----
@pytest.fixture(scope="session")
def start_lab(tmp_path_factory):
    """Factory: ``start_lab(root, extra_args=[])`` -> LabServer; every server is stopped at session end."""
    servers: list[LabServer] = []

    def start(root: Path, extra_args: list[str] | None = None, env: dict | None = None) -> LabServer:
        home = tmp_path_factory.mktemp("jupyter-home")
        port, token = free_port(), secrets.token_hex(24)
        log_path = home / "server.log"
        cmd = [str(JUPYTER), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=False",
               "--LabApp.news_url=", "--LabServerApp.open_browser=False",
               "--LanguageServerManager.autodetect=False",
               *(extra_args or [])]
        log = open(log_path, "wb")
        process = subprocess.Popen(cmd, cwd=root, env={**lab_env(home), **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        server = LabServer(root=root, port=port, token=token, process=process, log_path=log_path, home=home)
        servers.append(server)
        deadline = time.time() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {process.returncode}:\n{server.log()[-4000:]}", pytrace=False)
            try:
                server.api("api/status", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.time() > deadline:
                    pytest.fail(f"jupyter lab did not answer within {SERVER_START_TIMEOUT}s:\n{server.log()[-4000:]}",
                                pytrace=False)
                time.sleep(0.25)
        return server

    yield start
    for server in servers:
        server.stop()


# ---------------------------------------------------------------- pages ----
@dataclass
class PageLog:
    console: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def problems(self) -> list[str]:
        return [str(e) for e in self.errors] + [m for m in self.console if m.startswith("error:")]


@pytest.fixture
def new_page(browser, request, artifacts):
    """Factory: ``new_page(server)`` -> (page, PageLog) with JupyterLab already loaded at /lab;
    ``new_page(server, notebook="dir/x.ipynb")`` opens that notebook, in a fresh workspace too."""
    contexts = []

    servers = []

    def make(server: LabServer, notebook: str | None = None, wait_for: str | None = "#jp-main-dock-panel"):
        servers.append(server)
        # Always a workspace of its own: nothing an earlier test opened is restored. The default workspace would
        # reopen every notebook earlier tests opened, each starting a kernel (seven at once by the last test).
        workspace = f"lab/workspaces/e2e-{secrets.token_hex(4)}"
        path = f"{workspace}/tree/{notebook}" if notebook is not None else workspace
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        log = PageLog()
        page.on("console", lambda m: log.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: log.errors.append(e))
        page.goto(server.url(path), wait_until="domcontentloaded", timeout=60_000)
        if wait_for:
            page.wait_for_selector(wait_for, timeout=60_000)
        return page, log

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for n, context in enumerate(contexts):
        try:
            if failed:  # what the page looked like when the test failed
                for m, page in enumerate(context.pages):
                    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in request.node.name)
                    page.screenshot(path=str(artifacts / f"FAILED-{safe}-{n}{m}.png"))
            context.close()
        except Exception:
            pass
    for server in set(servers):  # free the kernels this test started (torch + TF each): the server lives on
        try:
            for session in server.api("api/sessions"):
                server.api(f"api/sessions/{session['id']}", method="DELETE")
        except Exception:
            pass


@pytest.fixture(scope="session")
def shot(artifacts):
    """``shot(page_or_locator, name)``: save artifacts/e2e/<name>.png and return its path."""
    def take(target, name: str) -> Path:
        path = artifacts / f"{name}.png"
        target.screenshot(path=str(path))
        return path
    return take


@pytest.fixture(scope="session")
def student_lab(start_lab, tmp_path_factory):
    """One JupyterLab for every student test: notebooks/ (as released), done/ (all answered), nbgrader_config.py."""
    from e2e_course import stage_student_dir

    return start_lab(stage_student_dir(tmp_path_factory.mktemp("student")))

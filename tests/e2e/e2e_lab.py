"""Small helpers that drive JupyterLab 4 the way a person does: file browser, menus, cells, widgets.

Selectors are JupyterLab's and ipywidgets' public CSS classes (and Lumino's ``data-command`` on menu
items); every wait is a Playwright wait with a timeout, never a bare sleep.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

KERNEL_START = 90_000      # ms: first kernel start + torch/TF import on 2 cores
RUN_ALL = 300_000          # ms: a whole lesson, top to bottom, on a loaded 2-core machine


def wait_for_lab(page: Page) -> None:
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.wait_for_selector(".jp-DirListing-content", timeout=60_000)
    # the launcher or the restored layout is up: the app finished starting
    page.wait_for_selector(".lm-MenuBar-item", timeout=60_000)


def open_from_file_browser(page: Page, name: str, server=None) -> Locator:
    """Double-click ``name`` in the left file browser; returns the notebook panel once its kernel is idle.

    With ``server`` (a LabServer) also waits until the server reports the notebook's kernel started and
    connected: the page's indicator says "idle" while the kernel is still starting.
    """
    item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text=re.compile(
        rf"^{re.escape(name)}$")))
    expect(item).to_have_count(1, timeout=30_000)
    item.dblclick()
    panel = notebook_panel(page)
    expect(page.locator(".lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel", has_text=name).first).to_be_visible()
    panel.locator(".jp-Cell").first.wait_for(timeout=30_000)
    if server is not None:
        wait_kernel_ready(server, name)
    wait_kernel_idle(page, timeout=KERNEL_START)
    return panel


def wait_kernel_ready(server, name: str, timeout: float = KERNEL_START / 1000) -> None:
    deadline = time.time() + timeout
    state = None
    while time.time() < deadline:
        for session in server.api("api/sessions"):
            if Path(session.get("path", "")).name == name and session.get("kernel"):
                kernel = session["kernel"]
                state = kernel.get("execution_state")
                if state == "idle" and kernel.get("connections", 0) >= 1:
                    return
        time.sleep(0.25)
    raise AssertionError(f"the kernel of {name} is not ready after {timeout:.0f}s (state {state!r})")


def assert_only_session(server, name: str) -> None:
    """Only ``name`` has a kernel: the page restored no earlier test's notebooks (each would start a kernel)."""
    paths = sorted(session.get("path", "") for session in server.api("api/sessions"))
    assert [Path(p).name for p in paths] == [name], f"kernels running for {paths}, expected only {name}"


def notebook_panel(page: Page) -> Locator:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").last


def kernel_status(page: Page) -> str | None:
    indicator = notebook_panel(page).locator(".jp-Notebook-ExecutionIndicator")
    return indicator.get_attribute("data-status") if indicator.count() else None


def wait_kernel_idle(page: Page, timeout: float = KERNEL_START) -> None:
    expect(notebook_panel(page).locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=timeout)


def menu(page: Page, top: str, item: str) -> None:
    """Open the top menu ``top`` (e.g. "Run") and click its item labelled ``item`` (e.g. "Run All Cells")."""
    bar = page.get_by_role("menuitem", name=top, exact=True)
    expect(bar).to_have_count(1)
    bar.click()
    entry = page.get_by_role("menu").get_by_role("menuitem", name=re.compile(rf"^{re.escape(item)}( |$)"))
    expect(entry).to_be_visible()
    entry.click()


def cell(page: Page, index: int) -> Locator:
    """The ``index``-th cell of the notebook (same numbering as the .ipynb's cells)."""
    return notebook_panel(page).locator(".jp-Cell").nth(index)


def run_all(page: Page, code_cells: int | None = None, timeout: float = RUN_ALL) -> float:
    """Run > Run All Cells; wait until the run is over. Returns the seconds taken.

    With ``code_cells``, waits until that many code cells have an execution count (the whole notebook
    ran); without, until no cell is queued or running any more (a run stops at the first exception).
    """
    start = time.time()
    panel = notebook_panel(page)
    before = code_cell_states(page)
    menu(page, "Run", "Run All Cells")
    # the run has started once any prompt changed ("[*]" while queued/running, then "[n]")
    while code_cell_states(page) == before:
        if time.time() - start > 15:
            raise AssertionError("Run All Cells started nothing within 15 s")
        page.wait_for_timeout(100)
    if code_cells is not None:
        expect(executed_prompts(page)).to_have_count(code_cells, timeout=timeout)
    expect(panel.locator(".jp-CodeCell .jp-InputPrompt", has_text="[*]")).to_have_count(0, timeout=timeout)
    wait_kernel_idle(page, timeout=timeout)
    return time.time() - start


def executed_prompts(page: Page) -> Locator:
    return notebook_panel(page).locator(".jp-CodeCell .jp-InputPrompt", has_text=re.compile(r"\[\d+\]"))


def code_cell_states(page: Page) -> list[str]:
    """The prompt of every code cell, in order ("[3]:", "[ ]:", ...)."""
    return [(t or "").strip() for t in notebook_panel(page).locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()]


def outputs_text(target: Locator) -> str:
    return target.locator(".jp-OutputArea").inner_text()


def set_source(page: Page, index: int, source: str) -> None:
    """Replace the text of a cell the way a student does: click into it, select all, type (paste) the code."""
    editor = cell(page, index).locator(".jp-InputArea-editor .cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    # insert_text is one input event, like a paste: CodeMirror does not auto-indent or auto-close brackets
    page.keyboard.insert_text(source)
    expect(editor).to_contain_text(source.strip().splitlines()[-1].strip())


def run_cell(page: Page, index: int, timeout: float = 60_000) -> Locator:
    """Select the cell, run it with Ctrl+Enter, wait for a fresh execution count; returns the cell."""
    target = cell(page, index)
    target.scroll_into_view_if_needed()
    prompt = target.locator(".jp-InputPrompt")
    before = prompt.text_content()
    target.locator(".jp-InputArea-editor").click()
    page.keyboard.press("ControlOrMeta+Enter")
    expect(prompt).not_to_have_text(before, timeout=timeout)
    expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout)
    return target


def notebook_cells(path: Path) -> list[dict]:
    return json.loads(Path(path).read_text())["cells"]


def cell_index(path: Path, grade_id: str) -> int:
    for i, c in enumerate(notebook_cells(path)):
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(f"no cell with grade_id {grade_id!r} in {path}")


def code_cell_count(path: Path) -> int:
    return sum(c["cell_type"] == "code" for c in notebook_cells(path))


def save(page: Page) -> None:
    """Ctrl+S in the notebook; waits until the tab is no longer marked dirty."""
    notebook_panel(page).locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("ControlOrMeta+s")
    expect(page.locator(".lm-TabBar-tab.lm-mod-current.jp-mod-dirty")).to_have_count(0, timeout=30_000)


def cell_seconds(path: Path) -> list[tuple[int, float, str]]:
    """(cell index, seconds, first line) of every code cell the saved notebook has timing metadata for."""
    from datetime import datetime

    out = []
    for i, c in enumerate(notebook_cells(path)):
        timing = c.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if c["cell_type"] == "code" and start and end:
            seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            text = c["source"] if isinstance(c["source"], str) else "".join(c["source"])
            out.append((i, seconds, text.strip().splitlines()[0][:80] if text.strip() else ""))
    return out


def center(target: Locator) -> Locator:
    """Scroll ``target`` to the middle of the notebook, so a page screenshot shows it and its context."""
    target.evaluate("e => e.scrollIntoView({block: 'center'})")
    return target

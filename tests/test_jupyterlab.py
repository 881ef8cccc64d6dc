"""Analysts in JupyterLab: a real server, a real browser, every notebook run from the UI.

A ``jupyter lab`` server is started from this Python (the project's venv) on a free port with a
token, headless, over a temporary folder holding copies of the notebooks, with temporary Jupyter
config, data, runtime, settings and workspace folders so that nothing of the user's leaks in.
Its only kernel spec, ``python3``, is this venv's ipykernel. The copies' ``parameters`` cells
point at the small sample and at temporary artifact and history folders, as an analyst would edit
them. Debian's Chromium, driven by Playwright (no browser is downloaded), then opens each notebook
from JupyterLab's file browser in order, runs it with Run > Run All Cells, waits for the kernel
to be idle with every cell executed, saves it and closes it (shutting its kernel down).

Checked: every code cell executed, no error output, every figure drawn in the page; in 06 the
what-if widget changes the plan total; in 09 the portfolio filter lists other clients when a
tier is chosen, the client lookup shows a card for a typed id and a clear message for an unknown
one, and the explorers' tables align numbers right and text left.

Without Chromium or Playwright these tests skip (``make test-system`` installs them); with
``CLIENTSTRATEGY_SYSTEM_TESTS=required`` (CI) they fail instead.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from clientstrategy import paths
from clientstrategy.boardpack import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted(p.name for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
STARTUP_SECONDS = 120
NOTEBOOK_SECONDS = 900  # one notebook's Run All on the small sample (01 takes the longest)
WIDGET_SECONDS = 60
#: JupyterLab settings of the test's own settings folder: no news or update checks over the network,
#: every cell attached to the page (no windowing), kernels shut down with their notebook.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                       "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none", "kernelShutdown": True},
}


@dataclass
class Lab:
    """A running JupyterLab server."""

    base: str
    token: str
    root: Path
    artifacts: Path
    env: dict
    log: Path

    def api(self, path: str):
        with urllib.request.urlopen(f"{self.base}{path}{'&' if '?' in path else '?'}token={self.token}",
                                    timeout=10) as r:
            return json.loads(r.read())

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state of the kernel of ``notebook``'s session, from the server."""
        for s in self.api("/api/sessions"):
            if s.get("path") == notebook and s.get("kernel"):
                return s["kernel"].get("execution_state")
        return None


@dataclass
class Ran:
    """What one notebook did in JupyterLab."""

    name: str
    saved: nbformat.NotebookNode | None = None
    dom: dict = field(default_factory=dict)
    seconds: float = 0.0
    checks: dict = field(default_factory=dict)  # results of the widget interactions
    failure: str | None = None


def _until(predicate, timeout: float, what: str, every: float = 0.25):
    """Poll ``predicate`` until it returns a true value (returned) or ``timeout`` passes (fail)."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _point_parameters(nb_path: Path, values: dict) -> None:
    """Set ``name: str = "..."`` lines of the parameters cell to ``values`` (as an analyst edits them)."""
    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            lines = []
            for line in cell.source.splitlines():
                m = re.match(r"^(\w+)(\s*:\s*str\s*=\s*)(\"[^\"]*\"|'[^']*')(.*)$", line)
                if m and m.group(1) in values:
                    line = f"{m.group(1)}{m.group(2)}{json.dumps(str(values[m.group(1)]))}{m.group(4)}"
                lines.append(line)
            cell.source = "\n".join(lines)
    nbformat.write(nb, str(nb_path))


@pytest.fixture(scope="module")
def lab(system_requirement, small_sample, tmp_path_factory):
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        system_requirement(f"the JupyterLab tests need the playwright package ({exc}); "
                           "`pip install -r requirements.txt` installs it")
    if not CHROMIUM.exists():
        system_requirement(f"the JupyterLab tests need Chromium at {CHROMIUM}; {INSTALL_HINT}")
    top = tmp_path_factory.mktemp("jupyterlab")
    root, artifacts, history = top / "root", top / "artifacts", top / "history"
    for d in (root, artifacts, history):
        d.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(paths.NOTEBOOKS / name, root / name)
        _point_parameters(root / name, {"data_dir": small_sample, "artifacts_dir": artifacts, "history_dir": history})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON", "CLIENTSTRATEGY_BATCH"))}
    env.pop("MPLBACKEND", None)  # the kernel's own (inline) backend, as in an analyst's JupyterLab
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "IPYTHONDIR": "ipython"}
    for var, sub in dirs.items():
        (top / "home" / sub).mkdir(parents=True)
        env[var] = str(top / "home" / sub)
    env["JUPYTER_PATH"] = env["JUPYTER_DATA_DIR"]
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # the one kernel spec: this venv's ipykernel (the notebooks ask for "python3")
    spec = top / "home" / "data" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (workbook venv)", "language": "python", "metadata": {"debugger": True}}))
    for rel, values in LAB_SETTINGS.items():
        f = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))
    port, token = _free_port(), os.urandom(16).hex()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
           "--LabApp.extension_manager=readonly", "--KernelSpecManager.ensure_native_kernel=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI runs as root
    log = top / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Lab(base=f"http://127.0.0.1:{port}", token=token, root=root, artifacts=artifacts, env=env, log=log)

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return server.api("/api/status")
        except OSError:
            return None

    try:
        _until(up, STARTUP_SECONDS, "jupyter lab to answer")
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(WIDGET_SECONDS * 1000)
        pg.console_errors = []
        pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
        pg.goto(f"{lab.base}/lab?reset&token={lab.token}")
        pg.wait_for_selector(".jp-DirListing-content", timeout=STARTUP_SECONDS * 1000)
        try:
            yield pg
        finally:
            context.close()
            browser.close()


# -- driving JupyterLab ------------------------------------------------------------------------------
_CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden)"

_STATE = """sel => {
  const panel = document.querySelector(sel);
  if (!panel) return null;
  const ind = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim());
  return {status: ind ? ind.dataset.status : null, prompts,
          running: prompts.filter(p => p.includes('*')).length,
          numbered: prompts.filter(p => /^\\[\\d+\\]:?$/.test(p)).length};
}"""

_DOM = """sel => {
  const panel = document.querySelector(sel);
  const imgs = [...panel.querySelectorAll('.jp-OutputArea-output img')];
  return {images: imgs.map(i => ({complete: i.complete, width: i.naturalWidth, shown: i.getBoundingClientRect().width})),
          widget_errors: [...panel.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText)
                         .filter(t => /Error displaying widget|Failed to (load|create) (model|view)/.test(t)),
          widgets: panel.querySelectorAll('.jupyter-widgets').length,
          text: panel.innerText.length};
}"""


def _menu(page, menu: str, item: str) -> None:
    """Click ``menu`` in JupyterLab's menu bar, then its ``item``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    label = re.compile(f"^{re.escape(item)}(\u2026|\\.\\.\\.)?$")  # "Close and Shut Down Notebook…"
    page.locator(".lm-Menu:visible .lm-Menu-itemLabel", has_text=label).first.click()


def _open(page, lab: Lab, name: str) -> None:
    """Open ``name`` by double-clicking it in the file browser; wait for its kernel to be idle."""
    page.locator(".jp-DirListing-item .jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$")).dblclick()
    page.wait_for_selector(f"{_CURRENT} .jp-Notebook .jp-Cell")
    page.locator(".lm-TabBar-tab.jp-mod-current", has_text=name).wait_for()
    _wait_idle(page, lab, name, STARTUP_SECONDS, "its kernel to start")


def _wait_idle(page, lab: Lab, name: str, timeout: float, what: str) -> dict:
    """The page shows the kernel idle with no cell running, and the server says the kernel is idle."""
    def idle():
        st = page.evaluate(_STATE, _CURRENT)
        return st if st and st["status"] == "idle" and st["running"] == 0 and lab.kernel_state(name) == "idle" else None

    return _until(idle, timeout, f"{name}: {what}")


def _run_all(page, lab: Lab, name: str) -> dict:
    """Run > Run All Cells, then wait until every cell has run and the kernel is idle again."""
    cells = page.evaluate(_STATE, _CURRENT)["prompts"]
    _menu(page, "Run", "Run All Cells")
    # the cells are queued at once ([*]); then each gets its number, or the run stops at an error

    def started():
        st = page.evaluate(_STATE, _CURRENT)
        return st["running"] or st["numbered"] == len(cells)

    _until(started, WIDGET_SECONDS, f"{name}: Run All Cells to start")
    return _wait_idle(page, lab, name, NOTEBOOK_SECONDS, "Run All Cells to finish")


def _save_and_read(page, lab: Lab, name: str) -> nbformat.NotebookNode:
    _menu(page, "File", "Save Notebook")
    _until(lambda: page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() == 0, WIDGET_SECONDS,
           f"{name} to be saved")
    return nbformat.read(str(lab.root / name), as_version=4)


def _close(page, name: str) -> None:
    """Close the notebook and shut its kernel down (two cores are shared)."""
    _menu(page, "File", "Close and Shut Down Notebook")
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()
    page.locator(".lm-TabBar-tab", has_text=name).wait_for(state="detached")


def _widget_html(page, text: str):
    """The live ``HTML`` widget of the current notebook that holds ``text``."""
    return page.locator(f"{_CURRENT} .widget-html-content").filter(has_text=text).last


# -- interactions --------------------------------------------------------------------------------------
_PLAN = re.compile(r"plan\D{0,40}?(\d[\d,.]*\s*(?:bn|m|k)?)", re.IGNORECASE)


def _what_if(page) -> dict:
    """06: move the what-if sliders one by one until the plan total changes; report before and after."""
    out = _widget_html(page, "Bottom-up plan")
    before = out.inner_text()
    m0 = _PLAN.search(before)
    result = {"before": m0.group(1) if m0 else None, "after": None, "slider": None}
    sliders = page.locator(f"{_CURRENT} .widget-slider").filter(has=page.locator(".widget-readout"))
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        label = slider.locator("label").inner_text().strip()
        if "target" in label.lower():  # the target moves the gap, not the plan
            continue
        readout = slider.locator(".widget-readout")
        old = float(readout.inner_text())
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(f"{min(old + 0.2, 0.95) if old < 0.75 else old - 0.3:.2f}")
        page.keyboard.press("Enter")
        try:
            page.wait_for_function("([el, t]) => el.innerText !== t", arg=[out.element_handle(), before],
                                   timeout=WIDGET_SECONDS * 1000)
        except Exception as exc:  # noqa: BLE001 (this slider moved nothing visible: try the next)
            result.setdefault("unmoved", []).append(f"{label}: {type(exc).__name__}")
            continue
        m1 = _PLAN.search(out.inner_text())
        if m1 and result["before"] and m1.group(1) != result["before"]:
            result.update(after=m1.group(1), slider=label)
            break
        before = out.inner_text()
    return result


_ROWS = """el => [...el.querySelectorAll('table')].slice(-1).flatMap(t => [...t.querySelectorAll('tbody tr')]
  .map(r => [...r.cells].map(c => ({text: c.innerText.trim(), align: getComputedStyle(c).textAlign}))))"""
_HEAD = """el => { const t = [...el.querySelectorAll('table')].slice(-1)[0];
  return t ? [...t.querySelectorAll('thead th')].map(c => ({text: c.innerText.trim(), align: getComputedStyle(c).textAlign})) : []; }"""


def _portfolio(page) -> dict:
    """09: choose the first real tier in the filter; the listed clients and their count must change."""
    box = page.locator(f"{_CURRENT} .widget-vbox").filter(has=page.locator(".widget-dropdown")).first
    view = box.locator(".widget-html-content").last

    def count(text):
        return int(re.search(r"([\d,]+)\s+clients?\b", text).group(1).replace(",", ""))

    before_text, before_rows = view.inner_text(), view.evaluate(_ROWS)
    head = view.evaluate(_HEAD)
    select = box.locator(".widget-dropdown").filter(has_text="Tier").locator("select")
    tier = next(o for o in select.locator("option").all_inner_texts() if o != "All")
    select.select_option(label=tier)
    page.wait_for_function("([el, t]) => el.innerText !== t", arg=[view.element_handle(), before_text])
    after_text, after_rows = view.inner_text(), view.evaluate(_ROWS)
    tier_col = next(i for i, h in enumerate(head) if h["text"] == "Tier")
    return {"tier": tier, "count_before": count(before_text), "count_after": count(after_text),
            "ids_before": [r[0]["text"] for r in before_rows], "ids_after": [r[0]["text"] for r in after_rows],
            "tiers_after": sorted({r[tier_col]["text"] for r in after_rows}), "head": head, "rows": after_rows}


def _lookup(page, client_id: str) -> dict:
    """09: type ids into the client lookup and press Enter: a known one, then an unknown one."""
    box = page.locator(f"{_CURRENT} .widget-vbox").filter(has=page.locator("input[list]")).first
    card = box.locator(".widget-html-content").last
    field_ = box.locator("input[list]")  # a Combobox: a text box with a list of ids
    out = {}
    for key, typed in (("known", client_id), ("unknown", "NO-SUCH-CLIENT")):
        before = card.inner_text()
        field_.fill(typed)
        field_.press("Enter")
        page.wait_for_function("([el, t]) => el.innerText !== t", arg=[card.element_handle(), before])
        out[key] = card.inner_text()
        if key == "known":
            card.locator("img").first.wait_for()
            out["images"] = card.evaluate("el => [...el.querySelectorAll('img')].map(i => i.naturalWidth)")
    return out


@pytest.fixture(scope="module")
def ran(lab, page) -> dict:
    """Every notebook opened, run with Run All Cells, checked, saved and closed, in order."""
    results = {}
    for name in NOTEBOOKS:
        r = Ran(name=name)
        results[name[:-6]] = r
        t0 = time.monotonic()
        try:
            _open(page, lab, name)
            _run_all(page, lab, name)
            r.seconds = round(time.monotonic() - t0, 1)
            r.dom = page.evaluate(_DOM, _CURRENT)
            if name.startswith("06_"):
                r.checks["what_if"] = _what_if(page)
            if name.startswith("09_"):
                r.checks["portfolio"] = _portfolio(page)
                r.checks["lookup"] = _lookup(page, r.checks["portfolio"]["ids_after"][0])
            if r.checks:  # for a person to look at: the explorers after the test drove them
                page.screenshot(path=str(lab.root / f"{name[:-6]}.png"), full_page=True)
            r.saved = _save_and_read(page, lab, name)
            _close(page, name)
        except Exception as exc:  # noqa: BLE001 (kept per notebook: each test says which one failed and why)
            r.failure = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):  # the page itself may be gone
                page.screenshot(path=str(lab.root / f"{name[:-6]}-failure.png"), full_page=True)
            r.saved = r.saved or nbformat.read(str(lab.root / name), as_version=4)
            break  # later notebooks need this one's artifacts
    print("\nJupyterLab run seconds: " + ", ".join(f"{k} {v.seconds}" for k, v in results.items()))
    return results


# -- the tests -----------------------------------------------------------------------------------------
def test_kernel_is_the_venvs_ipykernel(lab, ran):
    specs = lab.api("/api/kernelspecs")["kernelspecs"]
    assert specs["python3"]["spec"]["argv"][0] == sys.executable
    assert ran, "no notebook ran"


@pytest.mark.parametrize("name", [n[:-6] for n in NOTEBOOKS])
def test_notebook_runs_all_cells_cleanly_in_jupyterlab(ran, name, lab):
    r = ran.get(name)
    assert r is not None, f"{name} was not reached: an earlier notebook failed"
    assert r.failure is None, f"{name}: {r.failure} (server log: {lab.log}; screenshot in {lab.root})"
    code = [c for c in r.saved.cells if c.cell_type == "code"]
    assert [i for i, c in enumerate(code) if c.get("execution_count") is None] == [], "cells not executed"
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for c in code for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    assert r.dom["widget_errors"] == [], "a widget failed to display"
    saved_images = sum(1 for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert all(i["complete"] and i["width"] > 0 and i["shown"] > 0 for i in r.dom["images"]), "a figure did not draw"
    assert len(r.dom["images"]) >= saved_images, "figures saved in the notebook are missing from the page"
    if name.startswith(("01", "06")):
        assert saved_images > 0, "this notebook draws figures"
    if name.startswith(("06", "09")):
        assert r.dom["widgets"] > 0, "the live explorers are shown in JupyterLab, not their static form"


def test_what_if_widget_changes_the_plan_total(ran):
    r = ran["06_strategy"]
    assert r.failure is None, r.failure
    w = r.checks["what_if"]
    assert w["before"] is not None, "the what-if output names no plan total"
    assert w["after"] is not None and w["after"] != w["before"], f"no slider changed the plan total: {w}"


def test_portfolio_filter_lists_the_chosen_tier(ran):
    r = ran["09_explorers"]
    assert r.failure is None, r.failure
    p = r.checks["portfolio"]
    assert 0 < p["count_after"] < p["count_before"]
    assert p["ids_after"] and p["ids_after"] != p["ids_before"], "the listed clients did not change"
    assert p["tiers_after"] == [p["tier"]], "clients of other tiers are still listed"


def test_client_lookup_shows_a_card_or_says_the_id_is_unknown(ran):
    r = ran["09_explorers"]
    assert r.failure is None, r.failure
    lk, cid = r.checks["lookup"], r.checks["portfolio"]["ids_after"][0]
    assert f"({cid})" in lk["known"] and "Revenue, last 12 months" in lk["known"]
    assert lk["images"] and all(w > 0 for w in lk["images"]), "the client's revenue figure did not draw"
    assert "No client with id NO-SUCH-CLIENT" in lk["unknown"] and f"({cid})" not in lk["unknown"]


def test_explorer_tables_align_numbers_right_and_text_left(ran):
    r = ran["09_explorers"]
    assert r.failure is None, r.failure
    p = r.checks["portfolio"]
    heads = [h["text"] for h in p["head"]]
    assert "Revenue, last 12 months" in heads and not any("_" in h for h in heads), heads
    rev, tier = heads.index("Revenue, last 12 months"), heads.index("Tier")
    assert {row[rev]["align"] for row in p["rows"]} == {"right"} and p["head"][rev]["align"] == "right"
    assert {row[tier]["align"] for row in p["rows"]} <= {"left", "start"}
    assert all(re.fullmatch(r"[\d.,]+(k|m|bn)?", row[rev]["text"]) for row in p["rows"]), "money as the reports write it"

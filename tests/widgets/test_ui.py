"""Real-browser tests (marker ``ui``): Debian's Chromium driven by Playwright.

1. The NeuronExplorer served as a Panel app: move a slider in the page and read back from the
   browser's Bokeh document that the membrane trace changed.
2. JupyterLab: open a notebook that shows the NeuronExplorer, run it, and read the rendered
   plot's data back from the page.

Screenshots go to ``$NEURALTIDE_ARTIFACTS`` (default ``/tmp/neuraltide-artifacts``); the
explorer's screenshot also refreshes ``notebooks/images/neuron_explorer.png`` for the README.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("NEURALTIDE_ARTIFACTS", "/tmp/neuraltide-artifacts"))

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's /usr/bin/chromium "
                       "(apt-get install chromium; .ci/run installs it)"),
]

# Every Bokeh data source in the page, as {column: values}
SOURCES_JS = """() => { const out = [];
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (!m.data) continue;
    const d = m.data instanceof Map ? m.data : new Map(Object.entries(m.data));
    const o = {}; for (const [k, v] of d) o[k] = Array.from(v); out.push(o); }
  return out; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def membrane(page) -> list[float]:
    """The membrane trace the browser holds (the source with a 'membrane [mV]' column)."""
    sources = [s for s in page.evaluate(SOURCES_JS) if "membrane [mV]" in s]
    assert sources, "no membrane trace in the page's Bokeh document"
    return max(sources, key=lambda s: len(s["membrane [mV]"]))["membrane [mV]"]


@pytest.fixture()
def chromium():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def test_neuron_explorer_app_in_a_browser(chromium) -> None:
    import panel as pn
    from neuraltide.widgets.cli import app

    port = free_port()
    server = pn.serve({"neuron": lambda: app("neuron")}, port=port, address="127.0.0.1",
                      show=False, threaded=True, start=True,
                      websocket_origin=[f"127.0.0.1:{port}"])
    try:
        url = f"http://127.0.0.1:{port}/neuron"
        wait_http(url, 30)
        page = chromium.new_page(viewport={"width": 1400, "height": 560})
        failed, errors = [], []
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=30000)
        page.wait_for_function(f"() => ({SOURCES_JS})().some(s => 'membrane [mV]' in s "
                               "&& s['membrane [mV]'].length > 100)", timeout=30000)
        before = membrane(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "neuron_explorer_before.png"))
        # the first slider is the input amplitude: 20 steps of 0.03 nA to the right
        handle = page.locator(".noUi-handle").first
        handle.focus()
        for _ in range(20):
            handle.press("ArrowRight")
        page.wait_for_function(
            f"() => {{ const s = ({SOURCES_JS})().find(s => 'membrane [mV]' in s); "
            f"return s && s['membrane [mV]'][600] !== {before[600]}; }}", timeout=20000)
        after = membrane(page)
        assert len(after) == len(before) == 2000
        assert after != before
        # more drive: the trace reaches the threshold (-50 mV, then reset) more often
        crossings = [sum(1 for a, b in itertools.pairwise(v) if b < a - 5)
                     for v in (before, after)]
        assert crossings[1] > crossings[0] > 0
        assert not failed, f"requests failed (resources must be served locally): {failed}"
        assert not [e for e in errors if "es-module-shims" not in e], errors
        page.screenshot(path=str(ARTIFACTS / "neuron_explorer.png"))
        shutil.copy(ARTIFACTS / "neuron_explorer.png",
                    REPO / "notebooks" / "images" / "neuron_explorer.png")
    finally:
        server.stop()


def test_neuron_explorer_in_jupyterlab(chromium, tmp_path) -> None:
    root = tmp_path / "nb"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import panel as pn\npn.extension(inline=True)"),
        nbformat.v4.new_code_cell("from neuraltide.widgets import NeuronExplorer\n"
                                  "explorer = NeuronExplorer()\nexplorer.panel"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})
    nbformat.write(nb, root / "explorer.ipynb")
    settings = tmp_path / "settings"
    for ext, content in (("notebook-extension/tracker", {"autoStartDefaultKernel": True}),
                         ("apputils-extension/notification",
                          {"fetchNews": "false", "checkForUpdates": False})):
        path = settings / "@jupyterlab" / f"{ext}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": tempfile.mkdtemp(), "PANEL_INLINE": "1"}
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}", "--ServerApp.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/status", 60)
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb")
        page.wait_for_function(
            """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
              const k = w && w.sessionContext && w.sessionContext.session
                        && w.sessionContext.session.kernel;
              return k && k.connectionStatus === 'connected' && k.status === 'idle'; }""",
            timeout=60000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            page.wait_for_function(
                f"() => window.Bokeh && ({SOURCES_JS})().some(s => 'membrane [mV]' in s "
                "&& s['membrane [mV]'].length > 100)", timeout=60000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "jupyterlab_failure.png"))
            raise
        trace = membrane(page)
        assert len(trace) == 2000 and min(trace) < -60 and max(trace) > -52
        assert page.locator(".jp-OutputArea .noUi-handle").count() >= 7  # the sliders
        page.screenshot(path=str(ARTIFACTS / "jupyterlab_neuron_explorer.png"))
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=20)


def test_network_explorer_runs_and_stops_in_a_browser(chromium) -> None:
    import panel as pn
    from neuraltide.widgets.cli import app

    port = free_port()
    server = pn.serve({"network": lambda: app("network")}, port=port, address="127.0.0.1",
                      show=False, threaded=True, start=True,
                      websocket_origin=[f"127.0.0.1:{port}"])
    # samples of the population-rate curves: they grow by one per 2 ms bin while it runs
    count = ("() => { const s = (" + SOURCES_JS + ")().filter(s => 'rate [Hz]' in s); "
             "return s.length ? s[0]['rate [Hz]'].length : -1; }")
    try:
        url = f"http://127.0.0.1:{port}/network"
        wait_http(url, 30)
        page = chromium.new_page(viewport={"width": 1400, "height": 620})
        page.goto(url)
        page.wait_for_function(f"() => window.Bokeh && ({count})() === 0", timeout=30000)
        page.get_by_role("button", name="Start").click()
        page.wait_for_function(f"() => ({count})() >= 30", timeout=30000)  # 3 chunks arrived
        page.get_by_role("button", name="Stop").click()
        # the server confirms; a chunk under way when Stop arrived may still be drawn
        status = page.get_by_text(re.compile(r"t = \d+ ms, stopped"))
        status.wait_for(timeout=20000)
        page.wait_for_timeout(1000)
        stopped_text, stopped = status.inner_text(), page.evaluate(count)
        page.wait_for_timeout(2000)
        assert status.inner_text() == stopped_text  # simulated time stands still
        assert page.evaluate(count) == stopped  # and no new data reaches the page
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "network_explorer.png"))
    finally:
        server.stop()

"""End-to-end tests in a real browser (marker ``ui``): Debian's Chromium driven by Playwright.

1. The NeuronExplorer served as a Panel app: the membrane trace the page holds is the model's;
   moving the ``tau_mem`` slider in the page makes the server re-simulate, and the page's trace
   becomes the one for the new value (fewer spikes: a slower membrane).
2. JupyterLab: a notebook showing the NeuronExplorer and an ipywidgets slider is run; the
   explorer's plot renders offline with the model's trace, and the slider's kernel-side
   observer answers.

Screenshots go to ``$NEURALTIDE_ARTIFACTS`` (default ``/tmp/neuraltide-artifacts``); the
explorer's refreshes ``notebooks/images/neuron_explorer.png`` (the README's) when it passes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"  # the conftest fixtures launch it
TRACE = "membrane [mV]"  # column of the trace's data source (NeuronExplorer's Curve vdims)

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"needs Debian's {CHROMIUM} (apt-get install chromium)"),
]

# {column: values} of every Bokeh data source in the page (Bokeh 3 holds data as a Map)
SOURCES_JS = """() => { const out = [];
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) for (const m of doc.all_models) {
    if (!m.data) continue;
    const d = m.data instanceof Map ? m.data : new Map(Object.entries(m.data));
    const o = {}; for (const [k, v] of d) o[k] = Array.from(v); out.push(o); }
  return out; }"""
# the membrane trace: the longest source with a 'membrane' column (null while none is drawn)
TRACE_JS = f"""() => {{ let best = null;
  for (const s of ({SOURCES_JS})()) for (const k in s)
    if (k.includes('membrane') && (!best || s[k].length > best.length)) best = s[k];
  return best; }}"""
# a page trace equal to `expected` (float64 data travels exactly; allow rounding anyway)
SAME_TRACE_JS = f"""(expected) => {{ const v = ({TRACE_JS})();
  return !!v && v.length === expected.length
         && v.every((x, i) => Math.abs(x - expected[i]) < 1e-6); }}"""
# [x_range.start, x_range.end, first time, last time] of the figure drawing the trace
X_RANGE_JS = """() => { for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (!m.renderers || !m.x_range) continue;
    for (const r of m.renderers) { const ds = r.data_source; if (!ds || !ds.data) continue;
      const d = ds.data instanceof Map ? ds.data : new Map(Object.entries(ds.data));
      const keys = Array.from(d.keys());
      if (!keys.some(k => k.includes('membrane'))) continue;
      const t = Array.from(d.get(keys.find(k => k.includes('time'))));
      return [m.x_range.start, m.x_range.end, Math.min(...t), Math.max(...t)]; } }
  return null; }"""
SLIDER_JS = """(title) => { for (const doc of Bokeh.documents) for (const m of doc.all_models)
  if (m.type === 'Slider' && String(m.title).startsWith(title)) return m.value; return null; }"""
# kernel of the notebook JupyterLab shows, connected and idle (needs expose_app_in_browser)
KERNEL_READY_JS = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle'; }"""
# the one request allowed to fail: Panel asks a CDN for es-module-shims even when inline
HARMLESS = "es-module-shims"


@pytest.fixture(scope="module")
def chromium(chromium_launch_args):
    """One headless Chromium for the module, closed (with Playwright) before the next module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(**chromium_launch_args)
        yield browser
        browser.close()


def wait_http(url: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > end:
                raise TimeoutError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.1)


def reference(tau_mem: float | None = None):
    """What the explorer computes in this process (default controls; ``tau_mem`` if given)."""
    from neuraltide.widgets import NeuronExplorer

    ex = NeuronExplorer()
    if tau_mem is not None:
        n = ex.simulations
        ex.params.sliders["tau_mem"].value = tau_mem  # no event loop here: runs at once
        assert ex.simulations == n + 1
    return ex.result["v"].copy(), int(ex.result["spikes"][:, 0].sum())


def resets(v) -> int:
    """Threshold crossings of a LIF trace: the drops to v_reset."""
    return int((np.diff(np.asarray(v)) < -5).sum())


def watch(page) -> dict[str, list[str]]:
    """Record requests to other hosts, failed requests and console errors of ``page``."""
    seen: dict[str, list[str]] = {"remote": [], "failed": [], "errors": []}

    def request(r) -> None:
        if urlparse(r.url).hostname not in ("127.0.0.1", "localhost", None, ""):
            seen["remote"].append(r.url)

    page.on("request", request)
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url} ({r.failure})"))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    return seen


def assert_whole_trace_shown(page) -> None:
    """The trace's time axis spans the whole trace (a shared, linked axis set by another plot
    must not clip it)."""
    start, end, t0, t1 = page.evaluate(X_RANGE_JS)
    assert start <= t0 and end >= t1, (
        f"the membrane plot shows t = {start:.1f}..{end:.1f} ms of a trace over "
        f"{t0:.1f}..{t1:.1f} ms")


def assert_offline(seen: dict[str, list[str]]) -> None:
    for kind, items in seen.items():
        unexpected = [x for x in items if HARMLESS not in x]
        assert not unexpected, f"{kind} (everything must be served locally): {unexpected}"


def test_neuron_explorer_in_a_browser(chromium, free_port, artifacts_dir) -> None:
    import panel as pn
    from neuraltide.widgets.cli import app

    port = free_port
    v_default, spikes_default = reference()
    server = pn.serve({"neuron": lambda: app("neuron")}, port=port, address="127.0.0.1",
                      show=False, threaded=True, websocket_origin=[f"127.0.0.1:{port}"])
    context = None
    try:
        # a static file: polling the app itself would open (and simulate) a session per poll
        wait_http(f"http://127.0.0.1:{port}/static/js/bokeh.min.js", 30)
        context = chromium.new_context(viewport={"width": 1400, "height": 600})
        page = context.new_page()
        seen = watch(page)
        page.goto(f"http://127.0.0.1:{port}/neuron")
        page.wait_for_function(f"() => ({TRACE_JS})() !== null", timeout=30000)
        page.wait_for_function(SAME_TRACE_JS, arg=v_default.tolist(), timeout=10000)
        assert_whole_trace_shown(page)
        tau0 = page.evaluate(SLIDER_JS, "tau_mem")
        assert tau0 == 10.0, f"tau_mem slider starts at {tau0}"
        page.screenshot(path=str(artifacts_dir / "neuron_explorer_before.png"))

        # the tau_mem slider's handle (Playwright's CSS pierces Panel's shadow roots):
        # 30 key presses of one 0.1 ms step each
        handle = page.locator(".bk-Slider", has_text="tau_mem").locator(".noUi-handle")
        assert handle.count() == 1
        handle.focus()
        for _ in range(30):
            handle.press("ArrowRight")
        page.wait_for_function(f"(title) => ({SLIDER_JS})(title) > 12.95", arg="tau_mem",
                               timeout=10000)
        tau = page.evaluate(SLIDER_JS, "tau_mem")
        assert tau == pytest.approx(13.0)
        v_after, spikes_after = reference(tau)
        # the server re-simulated (debounced) and sent the new trace to the page
        page.wait_for_function(SAME_TRACE_JS, arg=v_after.tolist(), timeout=20000)
        page_trace = np.asarray(page.evaluate(TRACE_JS))
        np.testing.assert_allclose(page_trace, v_after, atol=1e-6)
        assert not np.allclose(page_trace, v_default)
        # a slower membrane reaches the threshold less often; the status line says so too
        assert 0 < resets(page_trace) < resets(v_default), (resets(page_trace),
                                                           resets(v_default))
        assert spikes_after < spikes_default
        page.get_by_text(re.compile(rf"^{spikes_after} spikes in trial 1")).wait_for(
            timeout=10000)
        # updated in place: one trace source, not one per move
        sources = [s for s in page.evaluate(SOURCES_JS) if TRACE in s]
        assert len(sources) == 1, [list(s) for s in sources]
        assert_offline(seen)
        page.screenshot(path=str(artifacts_dir / "neuron_explorer_after.png"))
        assert_whole_trace_shown(page)

        shutil.copy(artifacts_dir / "neuron_explorer_after.png",
                    REPO / "notebooks" / "images" / "neuron_explorer.png")
    finally:
        if context is not None:
            context.close()
        server.stop()


NOTEBOOK_CELLS = [
    "import panel as pn\n"
    "pn.extension(inline=True)\n"
    "from neuraltide.widgets import NeuronExplorer\n"
    "ex = NeuronExplorer()\n"
    "ex.panel",
    "import ipywidgets as widgets\n"
    "slider = widgets.IntSlider(value=5, min=0, max=20, description='n')\n"
    "label = widgets.Label('observer saw 5')\n"
    "slider.observe(lambda change: setattr(label, 'value', f\"observer saw {change['new']}\"),\n"
    "               names='value')\n"
    "widgets.VBox([slider, label])",
]


def start_lab(tmp_path: Path, port: int, log: Path) -> subprocess.Popen:
    """``jupyter lab`` as ENVIRONMENT.md §4b says: the kernel starts without asking, no news
    toast, inline BokehJS, the app object exposed for the wait-for-kernel JS."""
    import nbformat

    root = tmp_path / "nb"
    root.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    nbformat.write(nb, root / "browser.ipynb")
    settings = tmp_path / "settings" / "@jupyterlab"
    for name, content in (("notebook-extension/tracker", {"autoStartDefaultKernel": True}),
                          ("apputils-extension/notification",
                           {"fetchNews": "false", "checkForUpdates": False})):
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))
    for d in ("workspaces", "runtime"):
        (tmp_path / d).mkdir()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings.parent),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "PANEL_INLINE": "1"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={port}", "--ServerApp.token=",
             "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
             f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.expose_app_in_browser=True"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def test_notebook_widget_in_jupyterlab(chromium, free_port, artifacts_dir, tmp_path) -> None:
    port = free_port
    log = artifacts_dir / "jupyterlab.log"
    lab = start_lab(tmp_path, port, log)
    context = None
    try:
        v_default, _ = reference()
        wait_http(f"http://127.0.0.1:{port}/api/status", 30)
        context = chromium.new_context(viewport={"width": 1700, "height": 1000})
        page = context.new_page()
        seen = watch(page)
        page.goto(f"http://127.0.0.1:{port}/lab/tree/browser.ipynb")
        page.wait_for_function(KERNEL_READY_JS, timeout=30000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            # BokehJS inline, the explorer's plot drawn with the model's trace
            page.wait_for_function(SAME_TRACE_JS, arg=v_default.tolist(), timeout=30000)
            output = page.locator(".jp-OutputArea-output")
            output.locator(".bk-Row").first.wait_for(timeout=10000)
            output.locator(".bk-Canvas canvas").first.wait_for(timeout=10000)
            assert_whole_trace_shown(page)
            assert output.locator(".noUi-handle").count() >= 8  # 7 explorer + 1 ipywidget
            # the ipywidget: 3 steps right; its kernel-side observer updates the Label
            handle = output.locator(".widget-slider .noUi-handle")
            handle.wait_for(timeout=10000)
            handle.focus()
            for _ in range(3):
                handle.press("ArrowRight")
            page.get_by_text("observer saw 8", exact=True).wait_for(timeout=10000)
        except Exception:
            page.screenshot(path=str(artifacts_dir / "jupyterlab_failure.png"))
            raise
        assert_offline({**seen, "remote": []})  # JupyterLab itself may try its own hosts
        page.screenshot(path=str(artifacts_dir / "jupyterlab_neuron_explorer.png"))
    finally:
        if context is not None:
            context.close()
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=5)

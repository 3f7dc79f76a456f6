"""Real-browser test of a live explorer (marker ``ui``): the NetworkExplorer served as a Panel
app in Debian's Chromium; Start streams the network into the page, Stop holds it still. (The
neuron explorer in an app and in JupyterLab: ``test_browser.py``.)

Screenshots go to ``$NEURALTIDE_ARTIFACTS`` (default ``/tmp/neuraltide-artifacts``).
"""

from __future__ import annotations

import os
import re
import socket
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
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


def open_port() -> int:
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


@pytest.fixture()
def chromium():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def test_network_explorer_runs_and_stops_in_a_browser(chromium) -> None:
    import panel as pn
    from neuraltide.widgets.cli import app

    port = open_port()
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

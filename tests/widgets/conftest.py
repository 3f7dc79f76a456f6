"""Fixtures of the real-browser tests (``test_browser.py``, marker ``ui``): a free port, the
launch arguments of Debian's Chromium, and the directory screenshots go to."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# proven on this machine (no GPU, no sandbox as root, nothing phoning home)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture()
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_launch_args() -> dict:
    """Keyword arguments of Playwright's ``chromium.launch`` (never ``playwright install``)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's {CHROMIUM} (apt-get install chromium)")
    return {"executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots go: ``$NEURALTIDE_ARTIFACTS``, default ``/tmp/neuraltide-artifacts``."""
    path = Path(os.environ.get("NEURALTIDE_ARTIFACTS", "/tmp/neuraltide-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path

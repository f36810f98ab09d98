"""End-to-end fixtures: the real server (uvicorn, real port, real SQLite file) and real Chromium.

Chromium is Debian's package where there is one (POPPASS_CHROMIUM overrides the path);
elsewhere Playwright's own download (`playwright install chromium`) is the fallback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from events.db import open_database
from events.demo import Demo, ensure_demo
from tests.live import free_port, leaked_secrets, start_server, stop, wait_until_up  # noqa: F401 (bench imports them from here)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
# The machine has no network but the loopback: stop Chromium from trying to phone home.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def chromium_executable() -> str | None:
    """Debian's Chromium if present; None means Playwright's own browser."""
    override = os.environ.get("POPPASS_CHROMIUM")
    if override:
        return override
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


@dataclass
class LiveServer:
    url: str
    db_path: Path
    demo: Demo
    process: subprocess.Popen

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return response.read()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("server")
    db_path = directory / "e2e.db"
    db = open_database(db_path)
    demo = ensure_demo(db, now=int(time.time()))
    db.close()
    port = free_port()
    log = directory / "server.log"
    # The access log on, as an operator runs it: once every test has used the server, it must
    # show no capability, token or code that the run made (server/access_log.py).
    process = start_server(db_path, port, log, log_level="info")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield LiveServer(url, db_path, demo, process)
    finally:
        stop(process)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert '"GET /healthz HTTP/1.1" ' in text, f"no access log in {log}"  # 200, or 503 on a low disk
    leaks = leaked_secrets(text, db_path)
    assert not leaks, f"the server's log ({log}) shows credentials: {leaks[:5]}"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    instance = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
    yield instance
    instance.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    instance = browser.new_context(locale="en-US")
    yield instance
    instance.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()

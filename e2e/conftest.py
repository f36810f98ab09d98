"""End-to-end fixtures: the real server (uvicorn, real port, real SQLite file) and real Chromium
(e2e/browser.py says which). Only fixtures: what they are built from is in e2e/*.py and tests/support/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from e2e.browser import CHROMIUM_ARGS, chromium_executable

# The station's and the layout checks' fixtures, defined beside the drivers they build, offered
# here to every e2e test (a test module imports only helpers, never a fixture).
from e2e.layout import layout_browser, layout_world, shelf  # noqa: F401
from e2e.station import camera, new_station, tablet_browser  # noqa: F401
from events.db import open_database
from events.demo import ensure_demo
from tests.support.live import LiveServer, free_port, leaked_secrets, start_server, stop, wait_until_up


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


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

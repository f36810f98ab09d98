"""Driving the clerk's station in e2e tests: a tablet is a browser context of a Chromium whose
fake camera plays a Y4M file (e2e/camera.py); fixtures here enroll tablets through the UI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from e2e.browser import CHROMIUM_ARGS, chromium_executable
from e2e.camera import camera_args, y4m
from events import devices
from events.db import open_database


@dataclass
class Station:
    """One tablet: a browser context (its own IndexedDB, service worker and cache) and a page."""

    context: BrowserContext
    page: Page
    errors: list[str]

    def go(self, url: str) -> None:
        self.page.goto(url)
        self.wait_ready()

    def wait_ready(self) -> None:
        """Until the screen's module has attached its listeners (a form sent before would be lost)."""
        self.page.locator("body[data-station-ready=true]").wait_for(state="attached")

    def offline(self, value: bool = True) -> None:
        self.context.set_offline(value)

    def badge(self):
        return self.page.locator("#sync-badge")

    def verdict(self):
        return self.page.locator("#verdict")

    def type_code(self, text: str, rotating_code: str = "") -> None:
        self.wait_ready()
        self.page.get_by_label("Code under the QR, or the whole code").fill(text)
        self.page.get_by_label("6-digit code on the phone, if there is one").fill(rotating_code)
        self.page.get_by_role("button", name="Check this code").click()

    def register(self, base_url: str, name: str, phone: str) -> None:
        """Register a walk-in (who agrees) on the Register screen."""
        self.go(base_url + "/station/register")
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_label("Phone").fill(phone)
        self.page.get_by_label("They agree").check()
        self.page.get_by_role("button", name="Register").click()

    def next(self) -> None:
        """Back to scanning: taps Next if the verdict is still up (it also goes by itself after a
        few seconds, so the check and the tap are one step in the page, never a race)."""
        self.page.evaluate(
            """() => {
              const verdict = document.getElementById('verdict');
              if (verdict && !verdict.hidden) document.getElementById('verdict-next').click();
            }"""
        )
        expect(self.verdict()).to_be_hidden()

    def wait_for_conflicts(self, token_id: str, kinds: list[str], timeout_ms: float = 10_000) -> None:
        """Until the tablet's ledger holds exactly these open conflicts about a voucher (a sync
        brings them)."""
        wait_in_page(
            self.page,
            """async ([id, kinds]) => {
              const { openOutbox } = await import('/static/js/outbox.js');
              const { Ledger } = await import('/static/js/ledger.js');
              const held = (await Ledger.open(await openOutbox())).conflictsAbout(id).map((c) => c.kind);
              return JSON.stringify(held) === JSON.stringify(kinds);
            }""",
            [token_id, kinds],
            timeout_ms=timeout_ms,
        )

    def conflicts_about(self, token_id: str) -> list[str]:
        """The kinds of the open conflicts this tablet holds about a voucher."""
        return self.page.evaluate(
            """async (id) => {
              const { openOutbox } = await import('/static/js/outbox.js');
              const { Ledger } = await import('/static/js/ledger.js');
              return (await Ledger.open(await openOutbox())).conflictsAbout(id).map((c) => c.kind);
            }""",
            token_id,
        )

    def outbox(self) -> list[dict]:
        return self.page.evaluate("async () => (await (await import('/static/js/outbox.js')).openOutbox()).pending()")


def wait_in_page(page: Page, predicate: str, arg=None, *, timeout_ms: float = 10_000) -> None:
    """Until the async JS function `predicate(arg)` holds in the page: what a tablet keeps in
    IndexedDB, which has no change event. (Playwright's wait_for_function takes a promise for a
    truthy answer, so it cannot wait on IndexedDB.) The page asks again after each pull page the
    station applies ("poppass:pulled"), and at least every 250 ms for what arrives otherwise."""
    held = page.evaluate(
        f"""async ([arg, timeoutMs]) => {{
          const predicate = {predicate};
          const until = performance.now() + timeoutMs;
          while (!(await predicate(arg))) {{
            if (performance.now() > until) return false;
            await new Promise((wake) => {{
              const done = () => {{ document.removeEventListener("poppass:pulled", done); clearTimeout(timer); wake(); }};
              const timer = setTimeout(done, 250);
              document.addEventListener("poppass:pulled", done);
            }});
          }}
          return true;
        }}""",
        [arg, timeout_ms],
    )
    assert held, f"not so in the page within {timeout_ms / 1000:g} s: {predicate.strip()[:120]}"


def using_db(path: Path, body):
    """`body(db)` on its own connection to a running server's file: WAL allows both."""
    db = open_database(path)
    try:
        return body(db)
    finally:
        db.close()


def with_db(live_server, body):
    return using_db(live_server.db_path, body)


def enroll_by_scanning(page: Page, base_url: str, code: str, clerk: str) -> None:
    """Enroll through the station's own camera, which is showing the enrollment QR of `code`."""
    page.goto(base_url + "/station")
    page.get_by_role("button", name="Scan the code's QR instead").click()
    expect(page.get_by_label("Enrollment code")).to_have_value(code, timeout=10_000)
    page.get_by_label("Your name").fill(clerk)
    page.get_by_role("button", name="Enroll this tablet").click()
    expect(page).to_have_url(base_url + "/station/scan")


def enrollment_code(live_server, name: str) -> str:
    return with_db(
        live_server,
        lambda db: devices.create_enrollment_code(db, live_server.demo.event.id, name=name, now=int(time.time())),
    )


@pytest.fixture
def camera(tmp_path: Path) -> Path:
    return y4m(None, tmp_path / "camera.y4m")


@pytest.fixture
def tablet_browser(playwright: Playwright, camera: Path) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=chromium_executable(), args=[*CHROMIUM_ARGS, *camera_args(camera)]
    )
    yield browser
    browser.close()


@pytest.fixture
def new_station(tablet_browser: Browser, live_server) -> Iterator:
    stations: list[Station] = []

    def make(name: str, clerk: str, *, base_url: str | None = None, code: str | None = None) -> Station:
        context = tablet_browser.new_context(locale="en-US", permissions=["camera"])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        station = Station(context, page, errors)
        stations.append(station)
        url = base_url or live_server.url
        page.goto(url + "/station")
        page.get_by_label("Enrollment code").fill(code or enrollment_code(live_server, name))
        page.get_by_label("Your name").fill(clerk)
        page.get_by_role("button", name="Enroll this tablet").click()
        expect(page).to_have_url(url + "/station/scan")
        expect(station.badge()).to_contain_text("Online · 0 waiting · last sync")
        # The station must be cached before the network goes.
        page.locator("html[data-station-precached=true]").wait_for(state="attached")
        return station

    yield make
    for station in stations:
        assert station.errors == [], station.errors
        station.context.close()

"""The clerk's station with the network off, in real Chromium against the real server.

Two tablets are two browser contexts of one Chromium whose fake camera plays a Y4M file; the test
paints the QR a tablet shows into that file, so the other tablet reads it through its camera.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from e2e.camera import camera_args, y4m
from e2e.conftest import CHROMIUM_ARGS, chromium_executable
from events import conflicts, devices, registry, rotating, tokens
from events.db import open_database
from events.keys import SERVER_KEY_ID


@dataclass
class Station:
    """One tablet: a browser context (its own IndexedDB, service worker and cache) and a page."""

    context: BrowserContext
    page: Page
    errors: list[str]

    def go(self, url: str) -> None:
        self.page.goto(url)

    def offline(self, value: bool = True) -> None:
        self.context.set_offline(value)

    def badge(self):
        return self.page.locator("#sync-badge")

    def verdict(self):
        return self.page.locator("#verdict")

    def type_code(self, text: str, rotating_code: str = "") -> None:
        self.page.get_by_label("Code under the QR, or the whole code").fill(text)
        self.page.get_by_label("6-digit code on the phone, if there is one").fill(rotating_code)
        self.page.get_by_role("button", name="Check this code").click()

    def next(self) -> None:
        self.page.get_by_role("button", name="Next").click()
        expect(self.verdict()).to_be_hidden()

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
        return self.page.evaluate(
            "async () => (await (await import('/static/js/outbox.js')).openOutbox()).pending()"
        )


def eventually(probe, timeout: float = 10.0):
    """`probe()` once it is truthy (or its last value after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not (value := probe()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def with_db(live_server, body):
    db = open_database(live_server.db_path)  # the server holds its own connection: WAL allows both
    try:
        return body(db)
    finally:
        db.close()


def enrollment_code(live_server, name: str) -> str:
    return with_db(live_server, lambda db: devices.create_enrollment_code(
        db, live_server.demo.event.id, name=name, now=int(time.time())))


@pytest.fixture
def camera(tmp_path: Path) -> Path:
    return y4m(None, tmp_path / "camera.y4m")


@pytest.fixture
def tablet_browser(playwright: Playwright, camera: Path) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_executable(), args=[*CHROMIUM_ARGS, *camera_args(camera)])
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
        # The shell must be cached before the network goes: the worker is active once it is.
        page.evaluate("async () => { await navigator.serviceWorker.ready; }")
        return station

    yield make
    for station in stations:
        assert station.errors == []
        station.context.close()


def test_two_offline_tablets_redeem_one_single_use_voucher_and_the_merge_flags_it(new_station, live_server, camera) -> None:
    a = new_station("Tablet A", "Mei")
    b = new_station("Tablet B", "Bo")  # enrolled after A: its trust bundle already lists A's key
    a.offline()
    b.offline()

    # Tablet A, offline: a walk-in, then a single-use voucher for them.
    a.go(live_server.url + "/station/register")
    a.page.get_by_label("Name").fill("Li <b>Wei</b>")
    a.page.get_by_label("Phone").fill("138 0013 8000")
    a.page.get_by_label("They agree").check()
    a.page.get_by_role("button", name="Register").click()
    expect(a.page.locator("#registered")).to_contain_text("Registered: Li <b>Wei</b>")
    expect(a.page.locator("#pass-qr svg")).to_be_visible()
    attendee = a.page.locator("#pass-qr").get_attribute("data-token")
    attendee_id = tokens.decode(attendee).token.id
    a.page.get_by_role("link", name="Give them a voucher").click()
    expect(a.page.locator("#issue-attendee-chosen")).to_have_text("To: Li <b>Wei</b>")
    a.page.get_by_label(re.compile("Free coffee")).check()
    a.page.get_by_role("button", name="Issue", exact=True).click()
    expect(a.page.locator("#claim-qr svg")).to_be_visible()
    voucher = a.page.locator("#claim-qr").get_attribute("data-token")
    token = tokens.decode(voucher).token
    assert token.max_uses == 1 and token.key_id != SERVER_KEY_ID  # single use, signed by A's own key
    expect(a.badge()).to_contain_text("Offline · 3 waiting")  # register, check-in, issue

    # The claim QR goes on the fake camera; B, still offline, reads it and accepts it.
    y4m(tokens.to_url(voucher, live_server.url.split("//")[1]), camera)
    b.go(live_server.url + "/station/scan")
    expect(b.verdict()).to_be_visible(timeout=10_000)
    expect(b.verdict()).to_have_attribute("data-color", "green")
    expect(b.page.locator("#verdict-title")).to_have_text("Accepted")
    expect(b.page.locator("#verdict-uses")).to_have_text("Uses left: 0 of 1")
    b.next()

    # A redeems it too: its own camera sees the same QR.
    a.go(live_server.url + "/station/scan")
    expect(a.verdict()).to_have_attribute("data-color", "green", timeout=10_000)
    expect(a.page.locator("#verdict-name")).to_have_text("Li <b>Wei</b>")  # as text, never as markup
    a.next()
    assert a.page.locator("#verdict-name b").count() == 0

    # Back online: both push; the server keeps both uses and flags the second.
    a.offline(False)
    b.offline(False)
    expect(a.badge()).to_contain_text("Online · 0 waiting", timeout=15_000)
    expect(b.badge()).to_contain_text("Online · 0 waiting", timeout=15_000)

    def merged(db):
        redeems = [dict(r) for r in db.query("select op_id, device_id, data from ops where subject = ? and kind = 'redeem'", [token.id])]
        found = [c for c in conflicts.list_conflicts(db, live_server.demo.event.id) if c.subject == token.id]
        return redeems, found

    redeems, found = with_db(live_server, merged)
    assert len(redeems) == 2 and {json.loads(r["data"])["outcome"] for r in redeems} == {"accepted"}
    assert len({r["device_id"] for r in redeems}) == 2
    [conflict] = found
    assert conflict.kind == "over_redemption" and conflict.status == "open"
    assert set(conflict.roles) == {r["op_id"] for r in redeems}
    assert sorted(conflict.roles.values()) == ["over", "within"]
    assert with_db(live_server, lambda db: db["attendees"].get(attendee_id)["name"]) == "Li <b>Wei</b>"

    # Each tablet's next sync brings the conflict about the voucher it touched.
    for station in (a, b):
        station.go(live_server.url + "/station/checkin")  # a page load syncs
        assert eventually(lambda: station.conflicts_about(token.id)) == ["over_redemption"]

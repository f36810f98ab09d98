"""The station page in real Chromium: enroll through the UI, then the tablet syncs; a revoked
tablet wipes itself."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, Page, expect

from e2e.station import enroll_by_scanning
from events import devices
from events.db import open_database


def enrollment_code(live_server, name: str) -> str:
    db = open_database(live_server.db_path)  # the server holds its own connection: WAL allows both
    try:
        return devices.create_enrollment_code(db, live_server.demo.event.id, name=name, now=int(time.time()))
    finally:
        db.close()


def enroll(page: Page, live_server, code: str, clerk: str = "Mei") -> None:
    page.goto(live_server.url + "/station")
    page.get_by_label("Enrollment code").fill(code)
    page.get_by_label("Your name").fill(clerk)
    page.get_by_role("button", name="Enroll this tablet").click()


def test_enroll_through_the_page_then_sync(page: Page, live_server) -> None:
    enroll(page, live_server, enrollment_code(live_server, "Front desk").lower())  # typed in lower case
    expect(page).to_have_url(live_server.url + "/station/scan")  # straight to work
    expect(page.locator("#sync-badge")).to_contain_text("Online · 0 waiting · last sync")
    expect(page.locator("#bar-clerk")).to_have_text("Mei")
    page.get_by_role("link", name="Clerk on shift: Mei").click()
    expect(page.get_by_role("heading", name="PopPass demo pop-up")).to_be_visible()
    expect(page.locator("#ready")).to_contain_text("Front desk")
    expect(page.locator("#ready")).to_contain_text("Mei")
    expect(page.locator("#sync-badge")).to_contain_text("Online · 0 waiting · last sync")
    page.reload()  # the identity lives in IndexedDB
    expect(page.locator("#ready")).to_contain_text("Front desk")
    page.get_by_label("Clerk on shift").fill("Bo")
    page.get_by_role("button", name="Change clerk").click()
    expect(page.locator("#ready-clerk")).to_have_text("Bo")


def test_a_wrong_or_spent_code_says_so(page: Page, live_server) -> None:
    enroll(page, live_server, "AAAA-BBBB-CCCC")
    expect(page.get_by_role("alert")).to_have_text("That code is not valid. Check it and try again.")
    code = enrollment_code(live_server, "Door")
    enroll(page, live_server, code)
    expect(page).to_have_url(live_server.url + "/station/scan")
    other = page.context.browser.new_context()
    try:
        again = other.new_page()
        enroll(again, live_server, code)
        expect(again.get_by_role("alert")).to_contain_text("already used")
    finally:
        other.close()


def test_the_station_speaks_chinese(browser: Browser, live_server) -> None:
    context = browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"})
    try:
        page = context.new_page()
        page.goto(live_server.url + "/station")
        expect(page.get_by_role("heading", name="设置这台平板")).to_be_visible()
        expect(page.locator("#sync-badge")).to_have_text("未登记")
    finally:
        context.close()


def test_a_revoked_tablet_wipes_itself(page: Page, live_server) -> None:
    enroll(page, live_server, enrollment_code(live_server, "Lost tablet"))
    expect(page).to_have_url(live_server.url + "/station/scan")
    expect(page.locator("#sync-badge")).to_contain_text("Online")
    device_id = page.evaluate(
        """async () => (await (await import('/static/js/outbox.js')).openOutbox()).device().then((d) => d.device_id)"""
    )
    db = open_database(live_server.db_path)
    try:
        devices.revoke_device(db, device_id, now=int(time.time()))
    finally:
        db.close()
    page.reload()
    expect(page.get_by_role("heading", name="This tablet was revoked")).to_be_visible()
    assert page.evaluate("async () => (await (await import('/static/js/outbox.js')).openOutbox()).device()") is None
    assert page.evaluate("localStorage.getItem('poppass.clerk')") is None
    # Any station screen opened afterwards (say, a reload that raced the wipe) says why it is empty.
    page.goto(live_server.url + "/station/scan")
    expect(page).to_have_url(live_server.url + "/station")
    expect(page.get_by_role("heading", name="This tablet was revoked")).to_be_visible()


def test_the_enrollment_qr_fills_in_the_code(playwright, live_server, tmp_path) -> None:
    from e2e.browser import CHROMIUM_ARGS, chromium_executable
    from e2e.camera import camera_args, y4m

    linked = enrollment_code(live_server, "Linked")
    scanned = enrollment_code(live_server, "Scanned")
    camera = y4m(f"{live_server.url}/station?code={scanned}", tmp_path / "enrollment.y4m")
    browser = playwright.chromium.launch(
        executable_path=chromium_executable(), args=[*CHROMIUM_ARGS, *camera_args(camera)]
    )
    try:
        # A camera app opened the QR's link: the code is already there.
        page = browser.new_context(locale="en-US", permissions=["camera"]).new_page()
        page.goto(f"{live_server.url}/station?code={linked}")
        expect(page.get_by_label("Enrollment code")).to_have_value(linked)
        # The station's own camera reads it.
        other = browser.new_context(locale="en-US", permissions=["camera"]).new_page()
        enroll_by_scanning(other, live_server.url, scanned, "Mei")
    finally:
        browser.close()

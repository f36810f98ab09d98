"""Enrolling a tablet from the console's QR code, then revoking it, in real Chromium."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from e2e.camera import y4m
from e2e.console import new_organizer, sign_in
from e2e.station import enroll_by_scanning


def test_enroll_a_tablet_from_the_console_qr_then_revoke_it(tablet_browser, camera, live_server) -> None:
    console = tablet_browser.new_context(locale="en-US").new_page()
    sign_in(console, live_server, new_organizer(live_server))
    console.goto(f"{live_server.url}/organizer/events/{live_server.demo.event.id}/tablets")
    console.get_by_label("Tablet name").fill("Door 2")
    console.get_by_role("button", name="Make an enrollment code").click()
    code = console.locator("#enrollment-code").text_content()

    # The tablet's camera sees the QR on the organizer's screen.
    (read,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(console.locator("#enrollment-qr").screenshot())))
    assert read.text == f"{live_server.url}/station?code={code}"
    y4m(read.text, camera)
    tablet = tablet_browser.new_context(locale="en-US", permissions=["camera"]).new_page()
    enroll_by_scanning(tablet, live_server.url, code, "Lan")
    expect(tablet.locator("#sync-badge")).to_contain_text("Online")

    # No reload: the console's list refreshes itself.
    row = console.locator("#devices tr", has_text="Door 2")
    expect(row).to_have_attribute("data-state", "online", timeout=15_000)
    expect(console.locator("#enrollment-code")).to_have_text(code)  # the code shown above stays
    expect(console.locator("#enrollment-url")).to_have_text(f"{live_server.url}/station")
    expect(row.locator("td").nth(1)).to_have_text("Lan")  # the clerk on shift, before any op
    # Revoking asks first; keeping it changes nothing.
    row.get_by_role("link", name="Revoke").click()
    expect(console.get_by_role("heading", name="Revoke “Door 2”?")).to_be_visible()
    console.get_by_role("link", name="Keep it").click()
    expect(console.locator("#devices tr", has_text="Door 2")).to_have_attribute("data-state", "online")
    console.locator("#devices tr", has_text="Door 2").get_by_role("link", name="Revoke").click()
    console.get_by_role("button", name="Revoke the tablet").click()
    expect(console.locator("#devices tr", has_text="Door 2")).to_have_attribute("data-state", "revoked")

    # The tablet's next contact: it is told to wipe itself, and does.
    tablet.reload()
    expect(tablet.get_by_role("heading", name="This tablet was revoked")).to_be_visible()
    assert tablet.evaluate("async () => (await (await import('/static/js/outbox.js')).openOutbox()).device()") is None

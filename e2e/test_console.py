"""The organizer's sign-in in real Chromium: password, then the authenticator app's enrollment
QR (read here with ZXing, as the app would) and a code computed from it with pyotp."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import pyotp
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from e2e.console import PASSWORD, new_organizer


def test_an_organizer_enrolls_an_authenticator_and_signs_in(page: Page, live_server) -> None:
    email = new_organizer(live_server)
    page.goto(live_server.url + "/organizer")
    expect(page).to_have_url(live_server.url + "/organizer/login?next=/organizer")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()

    # The authenticator app reads the QR: an otpauth:// address with the secret.
    (read,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(page.locator(".enroll-qr").screenshot())))
    uri = urlparse(read.text)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp") and parse_qs(uri.query)["issuer"] == ["PopPass"]
    secret = parse_qs(uri.query)["secret"][0]
    assert page.locator("#totp-secret").text_content() == secret

    page.get_by_label("6-digit code from your authenticator app").fill(
        "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    page.get_by_label("6-digit code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()  # e2e/test_recovery_codes.py
    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page).to_have_url(live_server.url + "/organizer")
    expect(page.get_by_role("heading", name="Console")).to_be_visible()
    expect(page.get_by_role("heading", name="PopPass demo pop-up")).to_be_visible()

    # A new event, typed in its own time zone; then a change saved through htmx (no reload).
    page.get_by_role("link", name="New event").click()
    page.get_by_label("Event name", exact=True).fill("Winter <i>pop-up</i>")
    page.get_by_label("Venue", exact=True).fill("Store 3F")
    page.get_by_label("Time zone", exact=True).fill("Asia/Shanghai")
    page.get_by_label("Starts (in the event's time zone)").fill("2027-01-10T10:00")
    page.get_by_label("Ends (in the event's time zone)").fill("2027-01-10T18:00")
    page.get_by_role("button", name="Create the event").click()
    expect(page.get_by_role("heading", name="Winter <i>pop-up</i>")).to_be_visible()
    dashboard = page.url
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("link", name="Edit the event").click()
    expect(page).to_have_url(dashboard + "/edit")
    page.get_by_label("Venue", exact=True).fill("Store 4F")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page).to_have_url(dashboard)  # back on the dashboard, its address in the bar
    assert page.evaluate("window.__sameDocument") is True  # swapped in place by htmx
    expect(page.locator(".history")).to_contain_text("Venue changed by Mei")

    # A welcome campaign: the public page offers it at sign-up.
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Title (English)").fill("Free <b>tote</b> bag")
    page.get_by_label("Value (as shown, e.g. ¥50) (English)").fill("a tote bag")
    page.get_by_label("Title (简体中文)").fill("免费<b>帆布袋</b>")
    page.get_by_label("Vouchers in all (empty: no limit)").fill("100")
    page.get_by_label("Given at online sign-up (welcome voucher)").check()
    page.get_by_role("button", name="Create the campaign").click()
    expect(page.get_by_role("heading", name="Free <b>tote</b> bag")).to_be_visible()
    expect(page.get_by_text("0 vouchers issued so far")).to_be_visible()
    page.get_by_role("link", name="Winter <i>pop-up</i>").click()
    page.get_by_role("link", name="Public page").click()
    expect(page.locator(".campaigns")).to_contain_text("Free <b>tote</b> bag")
    page.go_back()
    page.go_back()
    page.get_by_role("link", name="Console").click()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(live_server.url + "/organizer/login")
    page.goto(live_server.url + "/organizer")
    expect(page).to_have_url(live_server.url + "/organizer/login?next=/organizer")

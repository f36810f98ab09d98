"""Recovery codes in real Chromium: shown once when the authenticator app is enrolled, then one
of them signs in instead of the app's code (a lost phone), and the Account page counts what is left."""

from __future__ import annotations

import re

import pyotp
from playwright.sync_api import Page, expect

from e2e.console import PASSWORD, new_organizer
from events import organizers


def password_step(page: Page, live_server, email: str) -> None:
    page.goto(live_server.url + "/organizer/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()


def test_recovery_codes_are_shown_once_and_one_signs_in_instead_of_the_app(page: Page, live_server) -> None:
    email = new_organizer(live_server)
    password_step(page, live_server, email)
    secret = page.locator("#totp-secret").text_content()
    page.get_by_label("6-digit code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-code-list li").all_text_contents()
    assert len(set(codes)) == organizers.RECOVERY_CODES
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", code) for code in codes)
    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page.get_by_role("heading", name="Console")).to_be_visible()

    # Never shown again: the Account page only counts them.
    page.goto(live_server.url + "/organizer/account/")
    expect(page.locator("#recovery-codes-left")).to_contain_text("You have 10 unused recovery codes")
    assert not any(code in page.content() for code in codes)

    # The phone is lost: sign in again with a code off the printout, typed in capitals.
    page.locator("#sign-out-everywhere button").click()
    password_step(page, live_server, email)
    page.get_by_text("Lost your phone? Use a recovery code").click()
    page.get_by_label("Recovery code", exact=True).fill("aaaa-bbbb-cccc-dddd")
    page.get_by_role("button", name="Sign in with a recovery code").click()
    expect(page.get_by_role("alert")).to_contain_text("That recovery code is not right")
    page.get_by_label("Recovery code", exact=True).fill(codes[0].upper())
    page.get_by_role("button", name="Sign in with a recovery code").click()
    expect(page.get_by_role("heading", name="Console")).to_be_visible()
    page.goto(live_server.url + "/organizer/account/")
    expect(page.locator("#recovery-codes-left")).to_contain_text("You have 9 unused recovery codes")
    expect(page.locator("#account-activity")).to_contain_text("Recovery code used")

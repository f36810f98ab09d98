"""Driving the organizer's console in e2e tests: an organizer made in the server's database,
signed in through the pages with codes computed by pyotp, as an authenticator app would."""

from __future__ import annotations

import time

import pyotp
from playwright.sync_api import Page, expect

from e2e.station import with_db
from events import organizers

PASSWORD = "correct horse battery"


def new_organizer(live_server, name: str = "Mei") -> str:
    email = f"{name.lower()}{time.time_ns()}@example.com"
    with_db(live_server, lambda db: organizers.create_organizer(db, email=email, name=name, password=PASSWORD,
                                                                now=int(time.time())))
    return email


def sign_in(page: Page, live_server, email: str) -> str:
    """Sign in from the login page; returns the TOTP secret the enrollment page showed."""
    page.goto(live_server.url + "/organizer/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    secret = page.locator("#totp-secret").text_content()
    page.get_by_label("6-digit code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Console")).to_be_visible()
    return secret

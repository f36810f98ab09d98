"""Driving the organizer's console in e2e tests: an organizer made in the server's database,
signed in through the pages with codes computed by pyotp, as an authenticator app would."""

from __future__ import annotations

import time

import pyotp
from playwright.sync_api import Page, expect

from e2e.station import with_db
from events import organizations, organizers

PASSWORD = "correct horse battery"
ORGANIZATION = "E2E organization"


def new_organizer(live_server, name: str = "Mei", role: str = organizations.OWNER) -> str:
    """A new account in the test server's one organization, which first takes every event made
    so far behind the console's back (registry.create_event in a test's setup)."""
    email = f"{name.lower()}{time.time_ns()}@example.com"

    def make(db) -> None:
        now = int(time.time())
        account = organizers.create_organizer(db, email=email, name=name, password=PASSWORD, now=now)
        home = organizations.find_organization(db, ORGANIZATION) or organizations.create_organization(
            db, name=ORGANIZATION, now=now
        )
        organizations.add_member(db, home.id, account.id, role, now=now)
        organizations.adopt_unheld_events(db, home.id)

    with_db(live_server, make)
    return email


def hold_new_events(db, email: str) -> None:
    """Events made behind the console's back after the organizer: theirs, as the console would make them."""
    organizations.adopt_unheld_events(
        db, organizations.membership(db, organizations.find_account(db, email)).organization.id
    )


def sign_in(page: Page, live_server, email: str) -> str:
    """Sign in from the login page; returns the TOTP secret the enrollment page showed."""
    page.goto(live_server.url + "/organizer/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    secret = page.locator("#totp-secret").text_content()
    page.get_by_label("6-digit code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    # Enrolling the app makes the recovery codes, shown this once before the console.
    expect(page.locator("#recovery-code-list li")).to_have_count(organizers.RECOVERY_CODES)
    page.locator("#recovery-codes-shown a").click()
    expect(page.get_by_role("heading", name="Console")).to_be_visible()
    return secret

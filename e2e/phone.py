"""Driving an attendee's phone in e2e tests: a browser context shaped like a phone, signed up
through the event's public page, landing in its wallet."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, Page, expect

STEP_MS = 15_000
# A mid-range Android phone held upright.
PHONE = dict(
    viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US"
)


def sign_up(context: BrowserContext, live_server, name: str, phone: str) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/events/{live_server.demo.event.id}")
    expect(page.get_by_role("heading", name="Sign up", exact=True)).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Phone", exact=True).fill(phone)
    page.get_by_label("I agree").check()
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/wallet/[A-Za-z0-9_-]{32}$"))
    page.locator("body[data-wallet-ready=true][data-wallet-cached=true]").wait_for(state="attached")
    page.errors = errors  # type: ignore[attr-defined]
    return page


def rotating_voucher(page: Page):
    return page.locator(".wallet-item[data-rotating=true]").first

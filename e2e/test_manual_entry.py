"""The fallback for a phone the camera cannot read, in real Chromium against the real server: the
wallet shows a rotating voucher's short code and its current digits, they change with the QR,
and a tablet that did not issue the voucher redeems it offline from those two codes typed by a
clerk, refusing a wrong code, a replayed one and a short code it does not hold, with reasons."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from e2e.phone import PHONE, STEP_MS, rotating_voucher, sign_up
from e2e.station import with_db
from events import campaigns, devices, registry, rotating, tokens


def codes_in_window(key: bytes, token_id: bytes) -> set[str]:
    now = time.time()
    secret = rotating.voucher_secret(key, token_id)
    return {rotating.code_at(secret, now + d * rotating.STEP_SECONDS) for d in (-2, -1, 0, 1, 2)}


def wrong_code(key: bytes, token_id: bytes) -> str:
    window = codes_in_window(key, token_id)
    return next(c for c in ("000000", "111111", "222222") if c not in window)


def test_a_welcome_voucher_is_redeemed_offline_from_the_codes_the_phone_shows(
    new_station, live_server, tablet_browser
) -> None:
    phone = tablet_browser.new_context(**PHONE)
    phone.clock.install(time=time.time())  # runs on time; the test moves it forward at the end
    page = sign_up(phone, live_server, "Lin Qiao", "137 1414 0001")  # the server issues the welcome voucher
    voucher = rotating_voucher(page)
    token_id = voucher.get_attribute("data-id")
    short = voucher.locator(".short-code")
    digits = voucher.locator(".rotating-digits")
    expect(short).to_have_text(f"{token_id[:4]} {token_id[4:8]}")
    figure = voucher.locator(".wallet-qr")
    code = figure.get_attribute("data-code")
    expect(digits).to_have_text(f"{code[:3]} {code[3:]}")
    expect(digits).to_have_attribute("aria-label", " ".join(code))
    assert voucher.locator("[aria-live=polite], [aria-live=assertive]").count() == 0  # nothing re-announced every 15 s
    # Large: read across a counter (at least 24 CSS px), and inside a 360 px screen.
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('.rotating-digits')).fontSize)") >= 24
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    # A tablet enrolled after the sign-up: it never issued this voucher, it only pulled it.
    desk = new_station("Desk", "Mei")
    desk.offline()
    expect(desk.badge()).to_contain_text("Offline")
    key = with_db(live_server, lambda db: registry.rotation_key(db, live_server.demo.event.id))
    raw_id = tokens.decode(voucher.get_attribute("data-token")).token.token_id

    desk.type_code(short.inner_text().lower(), wrong_code(key, raw_id))  # a misheard code
    expect(desk.verdict()).to_have_attribute("data-color", "red")
    expect(desk.verdict()).to_have_attribute("data-reason", "bad_code")
    expect(desk.page.locator("#verdict-detail")).to_have_text(
        "The rotating code does not match: ask for the live screen, not a screenshot."
    )
    desk.next()

    # What the clerk hears, typed as heard: "ABCD EFGH", "123 456".
    desk.type_code(short.inner_text(), digits.inner_text())
    expect(desk.verdict()).to_have_attribute("data-color", "green")
    expect(desk.page.locator("#verdict-title")).to_have_text("Accepted")
    expect(desk.page.locator("#verdict-name")).to_have_text("Lin Qiao")  # the pulled attendee
    expect(desk.page.locator("#verdict-uses")).to_have_text("Uses left: 0 of 1")
    desk.next()
    desk.type_code(short.inner_text(), digits.inner_text())  # the same codes again
    expect(desk.verdict()).to_have_attribute("data-color", "amber")
    expect(desk.verdict()).to_have_attribute("data-reason", "used_up")
    # The full-screen verdict's one word for amber, then what happened (station-verdict.js).
    expect(desk.page.locator("#verdict-title")).to_have_text("Check")
    expect(desk.page.locator("#verdict-what")).to_have_text("Already used")
    desk.next()
    [redeem] = [op for op in desk.outbox() if op["kind"] == "redeem" and op["data"]["outcome"] == "accepted"]
    assert redeem["subject"] == token_id and redeem["data"]["token"] == voucher.get_attribute("data-token")
    assert abs(redeem["data"]["code_step"] - int(time.time()) // rotating.STEP_SECONDS) <= 1

    # The digits change with the QR; the short code does not.
    step = int(figure.get_attribute("data-step"))
    page.clock.fast_forward(STEP_MS)
    expect(figure).to_have_attribute("data-step", str(step + 1))
    new_code = figure.get_attribute("data-code")
    expect(digits).to_have_text(f"{new_code[:3]} {new_code[3:]}")
    expect(short).to_have_text(f"{token_id[:4]} {token_id[4:8]}")
    assert page.errors == []  # type: ignore[attr-defined]
    phone.close()


def test_a_multi_use_voucher_from_another_tablet_refuses_a_replayed_code_and_an_unknown_short_code(
    new_station, live_server
) -> None:
    def setup(db) -> tuple[str, str, bytes]:  # an event of its own: the demo's campaigns stay as other tests expect
        now = int(time.time())
        event = registry.create_event(
            db, name="Stamp fair", venue="Hall", starts_at=now - 60, ends_at=now + 8 * 3600, now=now
        )
        campaigns.create_campaign(db, event.id, title="Stamp card", max_uses=5, rotating=True, now=now)
        return (
            devices.create_enrollment_code(db, event.id, name="Issuer", now=now),
            devices.create_enrollment_code(db, event.id, name="Counter", now=now),
            registry.rotation_key(db, event.id),
        )

    issuer_code, counter_code, key = with_db(live_server, setup)
    issuer = new_station("Issuer", "Yu", code=issuer_code)
    issuer.register(live_server.url, "Sun Li", "139 8888 3333")
    issuer.page.get_by_role("link", name="Give them a voucher").click()
    issuer.page.get_by_role("radio", name=re.compile("Stamp card")).check()
    issuer.page.get_by_role("button", name="Issue", exact=True).click()
    expect(issuer.page.locator("#claim-qr svg")).to_be_visible()
    text = issuer.page.locator("#claim-qr").get_attribute("data-token")
    expect(issuer.badge()).to_contain_text("0 waiting", timeout=20_000)  # pushed

    counter = new_station("Counter", "Bo", code=counter_code)  # pulls the issuer's ops at enrollment
    counter.offline()
    token = tokens.decode(text).token
    short = token.id[:8]
    code = rotating.code_at(rotating.voucher_secret(key, token.token_id), time.time())
    counter.type_code(f"{short[:4]}-{short[4:]}", code)
    expect(counter.verdict()).to_have_attribute("data-color", "green")
    expect(counter.page.locator("#verdict-uses")).to_have_text("Uses left: 4 of 5")
    counter.next()
    counter.type_code(short, code)  # a screenshot's code, shown again
    expect(counter.verdict()).to_have_attribute("data-color", "red")
    expect(counter.verdict()).to_have_attribute("data-reason", "code_replayed")
    expect(counter.page.locator("#verdict-detail")).to_have_text(
        "This rotating code was already used: ask for the live screen."
    )
    counter.next()

    unknown = "ZZZZ ZZZZ" if not token.id.startswith("ZZZZZZZZ") else "YYYY YYYY"
    counter.type_code(unknown, code)
    expect(counter.verdict()).to_have_attribute("data-color", "red")
    expect(counter.verdict()).to_have_attribute("data-reason", "unknown_short_code")
    expect(counter.page.locator("#verdict-detail")).to_have_text(
        "Not found on this tablet: sync it, or type the whole code."
    )
    counter.next()
    counter.type_code(short, "12 345")  # five digits
    expect(counter.verdict()).to_have_attribute("data-reason", "malformed_code")
    counter.next()
    accepted = [op for op in counter.outbox() if op["kind"] == "redeem" and op["data"]["outcome"] == "accepted"]
    assert [op["subject"] for op in accepted] == [token.id]


def test_the_voucher_page_of_a_rotating_voucher_sends_its_holder_to_the_wallet(live_server, tablet_browser) -> None:
    phone = tablet_browser.new_context(**PHONE)
    page = sign_up(phone, live_server, "Wu Fang", "137 1414 0002")
    wallet_url = page.url
    voucher = rotating_voucher(page)
    token_id, text = voucher.get_attribute("data-id"), voucher.get_attribute("data-token")
    page.goto(live_server.url + tokens.url_path(text))  # the phone's camera read a printed link
    expect(page).to_have_url(f"{wallet_url}#item-{token_id}")
    expect(rotating_voucher(page).locator(".rotating-digits")).to_have_text(re.compile(r"^\d{3} \d{3}$"))

    stranger = tablet_browser.new_context(**PHONE)  # no wallet in this browser
    other = stranger.new_page()
    other.goto(live_server.url + tokens.url_path(text))
    expect(other.locator("#rotating-notice")).to_have_text(
        "This voucher shows a new code every 15 seconds, in your wallet: the counter does not accept this page."
    )
    expect(other.locator("figure.qr")).to_have_count(0)
    expect(other.locator("#open-wallet-hint")).to_be_visible()
    phone.close()
    stranger.close()

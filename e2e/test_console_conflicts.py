"""A conflict from its cause to its resolution, in real Chromium against the real server: two
tablets offline redeem one single-use voucher; back online both see the conflict; the organizer
reads both ops and decides; at their next sync the tablets no longer show it as open."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from e2e.console import new_organizer, sign_in
from e2e.station import with_db
from events import campaigns, tokens


def single_use_voucher(live_server) -> str:
    def make(db):
        event_id = live_server.demo.event.id
        campaign = campaigns.create_campaign(
            db, event_id, title=f"Tote bag {time.time_ns()}", max_uses=1, rotating=False, now=int(time.time())
        )
        return campaigns.issue_voucher(db, event_id, campaign.number, now=int(time.time())).text

    return with_db(live_server, make)


def test_a_double_redemption_reaches_both_tablets_and_the_organizer_and_is_resolved(
    new_station, live_server, page: Page
) -> None:
    a = new_station("Front desk", "Ann")
    b = new_station("Exit door", "<script>alert(1)</script>")
    voucher = single_use_voucher(live_server)
    token_id = tokens.decode(voucher).token.id

    a.offline()
    b.offline()
    for station in (a, b):
        station.go(live_server.url + "/station/scan")
        station.type_code(voucher)
        expect(station.verdict()).to_have_attribute("data-color", "green")  # each alone sees no use
        station.next()
    a.offline(False)
    b.offline(False)

    # Back online, each tablet's sync brings the conflict about the voucher it redeemed.
    for station in (a, b):
        station.go(live_server.url + "/station/conflicts")
        row = station.page.locator(f'#conflicts li[data-voucher="{token_id}"]')
        expect(row).to_have_attribute("data-status", "open", timeout=15_000)
        expect(row.locator(".conflict-kind")).to_have_text("Used more times than allowed")
        expect(row.locator(".conflict-uses")).to_contain_text("Redeemed here at")
        expect(station.page.locator("#nav-conflicts-count")).to_be_visible()
    # Scanned again, the verdict says so.
    a.go(live_server.url + "/station/scan")
    a.type_code(voucher)
    expect(a.page.locator("#verdict-conflicts")).to_have_text(
        "Open conflict: Used more times than allowed. The organizer will decide."
    )
    a.next()

    # The organizer sees both ops, with the tablets, the clerks (as text) and what they saw.
    sign_in(page, live_server, new_organizer(live_server))
    page.goto(f"{live_server.url}/organizer/events/{live_server.demo.event.id}/conflicts")
    card = page.locator("article.conflict", has=page.get_by_text(token_id))
    expect(card.locator("tr.conflict-op")).to_have_count(2)
    devices = sorted(card.locator("td.device").all_text_contents())
    assert devices == ["Exit door", "Front desk"]
    assert sorted(card.locator("td.clerk").all_text_contents()) == ["<script>alert(1)</script>", "Ann"]
    expect(card.locator("td.shown").first).to_contain_text("saw green")

    card.get_by_role("link").first.click()
    page.get_by_label("Honour: the use or voucher stands").check()
    page.get_by_label("Note (why, for whoever reads this later)").fill("Both got a bag; stock allowed.")
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("status")).to_have_text("Decision recorded.")
    assert page.evaluate("window.__sameDocument") is True  # swapped in place by htmx
    expect(page.locator(".resolution")).to_contain_text("decided by Mei")
    expect(page.locator(".resolution .note")).to_have_text("Both got a bag; stock allowed.")

    # At their next sync the tablets see it resolved, no longer open.
    for station in (a, b):
        station.go(live_server.url + "/station/conflicts")
        row = station.page.locator(f'#conflicts li[data-voucher="{token_id}"]')
        expect(row).to_have_attribute("data-status", "resolved", timeout=15_000)
        expect(row.locator(".conflict-status")).to_have_text("Resolved by the organizer")
        expect(station.page.locator("#nav-conflicts-count")).to_be_hidden()
        assert station.conflicts_about(token_id) == []

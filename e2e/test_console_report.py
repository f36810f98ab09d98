"""The post-event report in real Chromium: its numbers, its chart, its print view, a CSV download."""

from __future__ import annotations

import csv
import io
import time

from playwright.sync_api import Page, expect

from e2e.console import new_organizer, sign_in
from e2e.station import with_db
from events import campaigns, registry, signup
from tests.support.tablet import enroll, push

MIN = 60_000


def small_event(db) -> str:
    """Two online sign-ups with a welcome voucher each, one tablet, one walk-in:
    3 unique attendees; Ann and Cai checked in (2); holders Ann, Bea → 1 of 2 came in (50.0%);
    vouchers 2, Ann's redeemed → 50.0%. Quarter hours: [1 arrival, 1 redemption], [1 arrival]."""
    now = int(time.time())
    event = registry.create_event(
        db,
        name="Report <i>night</i>",
        venue="Store 2F",
        starts_at=now - 7200,
        ends_at=now + 6 * 3600,
        timezone="Asia/Shanghai",
        now=now - 7200,
    )
    campaigns.create_campaign(db, event.id, title="Tote <b>bag</b>", welcome=True, now=now - 7200)
    base = (now // 900 * 900 - 45 * 60) * 1000  # a quarter hour, 45 to 60 minutes ago
    ann = signup.sign_up(
        db, event.id, signup.Applicant("Ann <script>x</script>", "13800138001", "", True), now_ms=base - 30 * MIN
    )
    signup.sign_up(db, event.id, signup.Applicant("=Bea", "13800138002", "", True), now_ms=base - 29 * MIN)
    (ann_voucher,) = [
        row["text"]
        for row in db.query("select text from tokens where type = 'voucher' and attendee_id = ?", [ann.attendee_id])
    ]
    door = enroll(db, event.id, "Door", now=now - 3600)
    door.checkin(ann.attendee_id, now_ms=base + 2 * MIN)
    door.redeem(ann_voucher, now_ms=base + 5 * MIN)
    cai = door.register("蔡 Cai", now_ms=base + 20 * MIN)["subject"]
    door.checkin(cai, now_ms=base + 21 * MIN)
    push(db, door, base + 25 * MIN)
    return event.id


def test_the_report_prints_and_exports(page: Page, live_server) -> None:
    event_id = with_db(live_server, small_event)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, live_server, new_organizer(live_server))
    page.goto(f"{live_server.url}/organizer/events/{event_id}/report")

    expect(page.get_by_role("heading", name="Report: Report <i>night</i>")).to_be_visible()
    expect(page.locator("#unique-attendees .number")).to_have_text("3")
    expect(page.locator("#checked-in .number")).to_have_text("2")
    expect(page.locator("#holders-came-in .number")).to_have_text("50.0%")
    expect(page.locator("#vouchers-redeemed .number")).to_have_text("50.0%")
    expect(page.locator("#campaign-1 th")).to_have_text("Tote <b>bag</b>")

    # The chart is drawn over the event's eight hours: an accessible SVG, a pair of bars per
    # 10 minutes across the report's width, the two arrivals the tallest.
    chart = page.get_by_role("img", name="Arrivals and redemptions over the event's hours")
    expect(chart).to_be_visible()
    arrivals = page.locator("#report-chart rect.chart-bar.arrivals")
    assert 40 <= arrivals.count() <= 50  # 10-minute bins: eight hours in at most 48 bars
    assert sorted(float(bar.get_attribute("height")) for bar in arrivals.all())[-2:] == [256.0, 256.0]
    assert page.locator("#report-chart rect.chart-bar.redemptions[data-value='1']").bounding_box()["height"] > 10
    # A laptop's width: the page uses it, the six cards make two full rows of three, the chart is wide.
    page.set_viewport_size({"width": 1440, "height": 900})
    cards = [card.bounding_box() for card in page.locator("#headline .figure").all()]
    rows = sorted({round(card["y"]) for card in cards})
    assert len(cards) == 6 and len(rows) == 2 and all(sum(1 for c in cards if round(c["y"]) == y) == 3 for y in rows)
    assert page.locator("#report-chart svg").bounding_box()["width"] > 1100
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    expect(page.get_by_role("button", name="Print")).to_be_visible()  # print.js ran

    # On paper: no top bar, no language switcher, no links; the numbers and the chart stay.
    page.emulate_media(media="print")
    for hidden in ("header.bar", "form.language", ".report-nav", "#exports", "#print-report"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("a:visible")).to_have_count(0)
    expect(page.locator("#headline")).to_be_visible()
    expect(chart).to_be_visible()
    page.emulate_media(media="screen")

    with page.expect_download() as download:
        page.locator("#export-attendees").click()
    assert download.value.suggested_filename == f"poppass-{event_id}-attendees.csv"
    data = download.value.path().read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    people = {row["name"]: row for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))}
    assert set(people) == {"Ann <script>x</script>", "'=Bea", "蔡 Cai"}
    assert people["蔡 Cai"]["source"] == "tablet" and people["'=Bea"]["checked_in_at"] == ""
    assert people["Ann <script>x</script>"]["checked_in_at"].endswith("+08:00")
    assert errors == []

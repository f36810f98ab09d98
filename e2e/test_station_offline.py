"""The clerk's station with the network off, in real Chromium against the real server.

Two tablets are two browser contexts of one Chromium whose fake camera plays a Y4M file; the test
paints the QR a tablet shows into that file, so the other tablet reads it through its camera.
"""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from e2e.camera import y4m
from e2e.station import with_db
from events import conflicts, tokens
from events.keys import SERVER_KEY_ID


def test_two_offline_tablets_redeem_one_single_use_voucher_and_the_merge_flags_it(
    new_station, live_server, camera
) -> None:
    a = new_station("Tablet A", "Mei")
    b = new_station("Tablet B", "Bo")  # enrolled after A: its trust bundle already lists A's key
    a.offline()
    b.offline()

    # Tablet A, offline: a walk-in, then a single-use voucher for them.
    a.register(live_server.url, "Li <b>Wei</b>", "138 0013 8000")
    expect(a.page.locator("#registered")).to_contain_text("Registered: Li <b>Wei</b>")
    expect(a.page.locator("#pass-qr svg")).to_be_visible()
    attendee = a.page.locator("#pass-qr").get_attribute("data-token")
    attendee_id = tokens.decode(attendee).token.id
    a.page.get_by_role("link", name="Give them a voucher").click()
    expect(a.page.locator("#issue-attendee-chosen")).to_have_text("To: Li <b>Wei</b>")
    a.page.get_by_label(re.compile("Free coffee")).check()
    a.page.get_by_role("button", name="Issue", exact=True).click()
    expect(a.page.locator("#claim-qr svg")).to_be_visible()
    voucher = a.page.locator("#claim-qr").get_attribute("data-token")
    token = tokens.decode(voucher).token
    assert token.max_uses == 1 and token.key_id != SERVER_KEY_ID  # single use, signed by A's own key
    expect(a.badge()).to_contain_text("Offline · 3 waiting")  # register, check-in, issue

    # The claim QR goes on the fake camera; B, still offline, reads it and accepts it.
    y4m(tokens.to_url(voucher, live_server.url.split("//")[1]), camera)
    b.go(live_server.url + "/station/scan")
    expect(b.verdict()).to_be_visible(timeout=10_000)
    expect(b.verdict()).to_have_attribute("data-color", "green")
    expect(b.page.locator("#verdict-title")).to_have_text("Accepted")
    expect(b.page.locator("#verdict-uses")).to_have_text("Uses left: 0 of 1")
    b.next()

    # A redeems it too: its own camera sees the same QR.
    a.go(live_server.url + "/station/scan")
    expect(a.verdict()).to_have_attribute("data-color", "green", timeout=10_000)
    expect(a.page.locator("#verdict-name")).to_have_text("Li <b>Wei</b>")  # as text, never as markup
    a.next()
    assert a.page.locator("#verdict-name b").count() == 0

    # Back online: both push; the server keeps both uses and flags the second.
    a.offline(False)
    b.offline(False)
    expect(a.badge()).to_contain_text("Online · 0 waiting", timeout=15_000)
    expect(b.badge()).to_contain_text("Online · 0 waiting", timeout=15_000)

    def merged(db):
        redeems = [
            dict(r)
            for r in db.query(
                "select op_id, device_id, data from ops where subject = ? and kind = 'redeem'", [token.id]
            )
        ]
        found = [c for c in conflicts.list_conflicts(db, live_server.demo.event.id) if c.subject == token.id]
        return redeems, found

    redeems, found = with_db(live_server, merged)
    assert len(redeems) == 2 and {json.loads(r["data"])["outcome"] for r in redeems} == {"accepted"}
    assert len({r["device_id"] for r in redeems}) == 2
    [conflict] = found
    assert conflict.kind == "over_redemption" and conflict.status == "open"
    assert set(conflict.roles) == {r["op_id"] for r in redeems}
    assert sorted(conflict.roles.values()) == ["over", "within"]
    assert with_db(live_server, lambda db: db["attendees"].get(attendee_id)["name"]) == "Li <b>Wei</b>"

    # Each tablet's next sync brings the conflict about the voucher it touched.
    for station in (a, b):
        station.go(live_server.url + "/station/checkin")  # a page load syncs
        station.wait_for_conflicts(token.id, ["over_redemption"])

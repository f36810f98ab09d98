"""The hand-computed events the projections, the report and the wall are counted against."""

from __future__ import annotations

from events import campaigns, registry, signup
from tests.support.clock import NOW
from tests.support.tablet import enroll, push

MS = NOW * 1000  # 2026-01-01 10:00 UTC, 18:00 in Shanghai, on a quarter hour
MIN = 60_000


def two_tablets(db, event):
    """tests/test_projections.py's event: two tablets. Five registrations, two of them the same
    person (same phone); four check-ins of three attendees; three vouchers, one redeemed twice
    (over), one undone."""
    a, b = enroll(db, event.id, "Ann", now=NOW), enroll(db, event.id, "Bo", now=NOW)
    li = a.register("Li Wei", now_ms=MS, phone="+86 138 0000 1111")["subject"]
    b.register("Wei Li", now_ms=MS + 1 * MIN, phone="+86 13800001111")  # the same person as Li Wei
    zhang = a.register("Zhang San", now_ms=MS + 2 * MIN, email="zs@example.cn")["subject"]
    wang = b.register("Wang Wu", now_ms=MS + 3 * MIN)["subject"]
    a.register("No Show", now_ms=MS + 4 * MIN)
    a.checkin(li, now_ms=MS + 5 * MIN)  # bucket 0
    b.checkin(li, now_ms=MS + 20 * MIN)  # repeat: not an arrival, not a conflict
    b.checkin(zhang, now_ms=MS + 16 * MIN)  # bucket 1
    a.checkin(wang, now_ms=MS + 31 * MIN)  # bucket 2
    v1, _ = a.issue_voucher(now_ms=MS + 6 * MIN, attendee_id=li)
    v2, _ = a.issue_voucher(now_ms=MS + 7 * MIN, attendee_id=zhang)
    a.issue_voucher(now_ms=MS + 8 * MIN, attendee_id=wang)
    a.redeem(v1, now_ms=MS + 10 * MIN)  # bucket 0
    b.redeem(v1, now_ms=MS + 17 * MIN)  # bucket 1, over the single use
    undo = b.redeem(v2, now_ms=MS + 18 * MIN)
    b.void(v2, now_ms=MS + 19 * MIN, redeem_op_id=undo["op_id"])
    push(db, a, MS + 40 * MIN)
    push(db, b, MS + 41 * MIN, sent_offset_ms=-200_000)  # b's clock is 200 s slow
    return a, b


def shanghai(db) -> registry.Event:
    """tests/test_report.py's event, in Shanghai's time zone."""
    return registry.create_event(
        db,
        name="Spring <i>pop-up</i>",
        venue="Store 1F",
        starts_at=NOW - 3600,
        ends_at=NOW + 8 * 3600,
        timezone="Asia/Shanghai",
        now=NOW - 86400,
    )


def report_day(db, shanghai):
    """tests/test_report.py's event, and the report's working, person by person (a person =
    attendee records sharing a phone or email):

    online (web device), each given a campaign-1 "Tote" welcome voucher at sign-up:
      Li Wei   phone +86 138 0000 1111   T1      person P
      Chen     email, HTML in the name   T2      person C
      Zhao Liu phone                      T3      person Z (never comes)
    tablet A (clerk Ann) and tablet B (clerk Bo):
      B registers "Wei Li" with Li Wei's phone  → the same person P (a possible_duplicate conflict)
      A registers 王小明 (W), no contact; B registers "=SUM(A1)" (S), never checked in

      +2  A  checks in Li Wei            P arrives       bucket 18:00
      +3  A  issues coffee V4 to Li Wei  (campaign 2)
      +5  A  redeems T1                  accepted        bucket 18:00
      +16 A  checks in Chen              C arrives       bucket 18:15
      +18 B  redeems T2, +19 B undoes it (void naming the redemption): not a redemption
      +20 B  checks in "Wei Li"          P again: not an arrival
      +21 B  redeems V4                  accepted        bucket 18:15
      +35 B  checks in 王小明             W arrives       bucket 18:30
      +36 B  issues coffee V5 to 王小明
      +38 A  redeems V5                  refused (shown red)
      +40 A  checks in 王小明 again       repeat
      +46 B  redeems V5, Ann at tablet B accepted        bucket 18:45

    registrations 6; people P C Z W S = 5; signed up P C Z = 3, walk-ins W S = 2;
    came in P C W = 3 (signed up 2, walk-ins 1).
    Tote: vouchers T1 T2 T3 = 3, holders P C Z = 3, came in P C = 2 → 66.7%; redeemed T1 = 1/3 → 33.3%.
    Coffee: V4 V5 = 2, holders P W = 2, came in 2 → 100.0%; redeemed 2/2 → 100.0%.
    All: 5 vouchers, holders P C Z W = 4, came in 3 → 75.0%; redeemed T1 V4 V5 = 3/5 → 60.0%.
    Tablet A: check-ins 3 (Li Wei, Chen, 王小明 again), issued 1 (V4), accepted 1 (T1), refused 1 (V5).
    Tablet B: check-ins 2, issued 1 (V5), accepted 2 (V4, V5; T2 was undone), refused 0.
    Web device: issued 3 (the welcome vouchers). Clerk Ann: A's plus V5 at +46 → accepted 2.
    Clerk Bo: check-ins 2, issued 1, accepted 1 (V4), refused 0.
    """
    event = shanghai
    campaigns.create_campaign(db, event.id, title="Tote <b>bag</b>", welcome=True, now=NOW - 86400)
    campaigns.create_campaign(db, event.id, title="Coffee", now=NOW - 86400)
    li = signup.sign_up(
        db, event.id, signup.Applicant("Li Wei", "+86 138 0000 1111", "", True), now_ms=MS - 30 * MIN
    ).attendee_id
    chen = signup.sign_up(
        db, event.id, signup.Applicant("<b>Chen</b>", "", "chen@example.com", True), now_ms=MS - 29 * MIN
    ).attendee_id
    signup.sign_up(db, event.id, signup.Applicant("Zhao Liu", "13900002222", "", True), now_ms=MS - 28 * MIN)
    welcome = {
        row["attendee_id"]: row["text"]
        for row in db.query("select attendee_id, text from tokens where type = 'voucher'")
    }
    a, b = enroll(db, event.id, "Ann", now=NOW - 3600), enroll(db, event.id, "Bo", now=NOW - 3600)
    # Each tablet's ops in the order they happened (its HLC only goes forward).
    a.checkin(li, now_ms=MS + 2 * MIN)
    v4, _ = a.issue_voucher(now_ms=MS + 3 * MIN, campaign=2, attendee_id=li)
    a.redeem(welcome[li], now_ms=MS + 5 * MIN)
    a.checkin(chen, now_ms=MS + 16 * MIN)
    undone = b.redeem(welcome[chen], now_ms=MS + 18 * MIN)
    b.void(welcome[chen], now_ms=MS + 19 * MIN, redeem_op_id=undone["op_id"])
    wei = b.register("Wei Li", now_ms=MS + 19 * MIN + 30_000, phone="+8613800001111")["subject"]
    b.checkin(wei, now_ms=MS + 20 * MIN)
    b.redeem(v4, now_ms=MS + 21 * MIN)
    wang = a.register("王小明", now_ms=MS + 34 * MIN)["subject"]
    b.checkin(wang, now_ms=MS + 35 * MIN)
    v5, _ = b.issue_voucher(now_ms=MS + 36 * MIN, campaign=2, attendee_id=wang)
    a.redeem(v5, now_ms=MS + 38 * MIN, outcome="refused")
    a.checkin(wang, now_ms=MS + 40 * MIN)
    b.register("=SUM(A1)", now_ms=MS + 44 * MIN, email="sum@example.com")
    b.clerk = "Ann"
    b.redeem(v5, now_ms=MS + 46 * MIN)
    push(db, a, MS + 50 * MIN)
    push(db, b, MS + 50 * MIN)
    return {"li": li, "chen": chen, "wei": wei, "wang": wang, "a": a, "b": b}

"""Conflicts as stored: opened, resolved by a person, reopened by new ops, cleared — never deleted."""

from __future__ import annotations

import pytest

from events import campaigns, conflicts
from tests.support.clock import NOW
from tests.support.tablet import enroll, push, redeem_twice

MS = NOW * 1000


@pytest.fixture
def over(db, event):
    """A single-use voucher redeemed by two tablets: one over_redemption conflict."""
    a, b = enroll(db, event.id, "Ann", now=NOW), enroll(db, event.id, "Bo", now=NOW)
    text = redeem_twice(db, event.id, a, b, now=NOW)
    [conflict] = conflicts.list_conflicts(db, event.id)
    return a, b, text, conflict


def test_resolving_records_who_when_what_and_why_and_keeps_the_ops(db, event, over) -> None:
    _, _, _, conflict = over
    ops_before = db["ops"].count
    conflicts.resolve(
        db,
        conflict.id,
        decided_by="Mei (organizer)",
        decision="honour",
        note="Both got a bag; stock allowed.",
        now_ms=MS + 60_000,
    )
    resolved = conflicts.get_conflict(db, conflict.id)
    assert resolved.status == "resolved" and resolved.roles == conflict.roles
    assert resolved.change_seq > conflict.change_seq
    assert conflicts.resolutions(db, conflict.id) == [
        conflicts.Resolution(conflict.id, "Mei (organizer)", MS + 60_000, "honour", "Both got a bag; stock allowed.")
    ]
    assert db["ops"].count == ops_before


@pytest.mark.parametrize("decision, who", [("approve", "Mei"), ("honour", "  ")])
def test_a_resolution_needs_a_known_decision_and_a_person(db, event, over, decision, who) -> None:
    with pytest.raises(ValueError):
        conflicts.resolve(db, over[3].id, decided_by=who, decision=decision, note="", now_ms=MS)
    assert conflicts.get_conflict(db, over[3].id).status == "open"


def test_new_ops_reopen_a_resolved_conflict_and_the_same_ops_do_not(db, event, over) -> None:
    a, b, text, conflict = over
    conflicts.resolve(db, conflict.id, decided_by="Mei", decision="honour", note="", now_ms=MS)
    conflicts.recompute_vouchers(db, event.id, [conflict.subject], now_ms=MS)  # nothing new
    assert conflicts.get_conflict(db, conflict.id).status == "resolved"
    a.redeem(text, now_ms=MS + 7000)
    push(db, a, MS + 8000)
    reopened = conflicts.get_conflict(db, conflict.id)
    assert reopened.status == "open" and len(reopened.roles) == 3
    assert len(conflicts.resolutions(db, conflict.id)) == 1  # the earlier decision is kept


def test_an_undo_clears_the_conflict_and_a_cleared_one_has_nothing_to_decide(db, event, over) -> None:
    _, b, text, conflict = over
    over_op = next(op_id for op_id, role in conflict.roles.items() if role == "over")
    b.void(text, now_ms=MS + 9000, redeem_op_id=over_op, reason="scanned twice by mistake")
    push(db, b, MS + 10_000)
    cleared = conflicts.get_conflict(db, conflict.id)
    assert cleared.status == "cleared" and db["conflicts"].count == 1
    with pytest.raises(ValueError):
        conflicts.resolve(db, conflict.id, decided_by="Mei", decision="dismiss", note="", now_ms=MS)


def test_unknown_conflict(db) -> None:
    with pytest.raises(LookupError):
        conflicts.get_conflict(db, 999)


def test_tablets_offline_giving_more_than_a_campaigns_cap_open_one_conflict(db, event) -> None:
    from events import campaigns, conflicts
    from tests.support.tablet import enroll, push

    campaign = campaigns.create_campaign(db, event.id, title="Tote bag", cap=3, rotating=False, now=NOW)
    a, b = enroll(db, event.id, "A", now=NOW), enroll(db, event.id, "B", now=NOW)
    for tablet, start in ((a, 0), (b, 500)):
        for i in range(2):
            tablet.issue_voucher(now_ms=NOW * 1000 + start + i, campaign=campaign.number)
    push(db, b, NOW * 1000 + 2000)  # arrival order does not decide who is over
    push(db, a, NOW * 1000 + 3000)
    (over,) = [c for c in conflicts.list_conflicts(db, event.id) if c.kind == "over_cap"]
    assert over.subject == f"campaign:{campaign.number}" and over.status == "open"
    assert sorted(over.roles.values()) == ["over", "within", "within", "within"]
    latest = max(db.query("select op_id, hlc_ms from ops where kind = 'issue'"), key=lambda r: r["hlc_ms"])
    assert over.roles[latest["op_id"]] == "over"  # the last one given, by HLC
    campaigns.update_campaign(db, event.id, campaign.number, cap=4, now=NOW + 60)
    assert conflicts.get_conflict(db, over.id).status == "cleared"


# --- what the console shows ----------------------------------------------------------------


def test_conflict_ops_say_who_where_when_and_what_the_clerk_saw(db, event) -> None:
    a, b = enroll(db, event.id, "Front desk", now=NOW), enroll(db, event.id, "Exit", now=NOW)
    campaign = campaigns.create_campaign(db, event.id, title="Tote bag", max_uses=1, rotating=False, now=NOW)
    text = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW).text
    a.redeem(text, now_ms=MS + 1000)
    b.redeem(text, now_ms=MS + 2000, seen=0)["corrected_time_ms"] = None  # B had never synced its clock
    push(db, a, MS + 5000)
    push(db, b, MS + 6000)
    [conflict] = conflicts.list_conflicts(db, event.id)
    first, second = conflicts.conflict_ops(db, conflict.id)
    assert (first.role, first.kind, first.device_name, first.clerk, first.at_ms, first.corrected) == (
        "within",
        "redeem",
        "Front desk",
        "Front desk",
        MS + 1000,
        True,
    )
    assert first.shown == {"verdict": "green"}  # stored without its defaults (prior_uses_seen 0)
    assert (first.outcome, first.decided_by) == ("accepted", "device")
    assert (second.role, second.device_name, second.corrected, second.at_ms) == (
        "over",
        "Exit",
        False,
        MS + 2000,
    )  # its HLC
    assert conflicts.describe(db, conflict) == conflicts.ConflictSubject(
        "voucher", token_id=conflict.subject, campaign_number=campaign.number, campaign_title="Tote bag"
    )
    assert conflicts.counts(db, event.id) == {"open": 1, "resolved": 0, "cleared": 0}


@pytest.mark.parametrize(
    "decision, note, field, reason",
    [
        ("", "", "decision", "decision_missing"),
        ("  ", "", "decision", "decision_missing"),
        ("merge", "", "decision", "decision_not_for_kind"),
        ("honour", "x" * 2001, "note", "note_too_long"),
    ],
)
def test_a_refused_resolution_names_its_field(db, event, over, decision, note, field, reason) -> None:
    with pytest.raises(conflicts.ResolutionRefused) as refused:
        conflicts.resolve(db, over[3].id, decided_by="Mei", decision=decision, note=note, now_ms=MS)
    assert (refused.value.field, refused.value.reason) == (field, reason)
    assert conflicts.resolutions(db, over[3].id) == []


def test_decisions_depend_on_the_kind(db, event) -> None:
    assert conflicts.decisions_for("over_redemption") == ("honour", "reverse", "dismiss")
    assert conflicts.decisions_for("over_cap") == ("honour", "reverse", "dismiss")
    assert conflicts.decisions_for("possible_duplicate") == ("merge", "dismiss")
    a, b = enroll(db, event.id, "A", now=NOW), enroll(db, event.id, "B", now=NOW)
    a.register("Li Wei", phone="13800138000", now_ms=MS)
    b.register("<b>Wei</b>", phone="138-0013-8000", now_ms=MS + 1)
    push(db, a, MS + 10)
    push(db, b, MS + 20)
    [duplicate] = conflicts.list_conflicts(db, event.id)
    subject = conflicts.describe(db, duplicate)
    assert (subject.about, subject.contact, sorted(name for _, name in subject.attendees)) == (
        "contact",
        "13800138000",
        ["<b>Wei</b>", "Li Wei"],
    )
    assert [op.name for op in conflicts.conflict_ops(db, duplicate.id)] == ["Li Wei", "<b>Wei</b>"]
    with pytest.raises(conflicts.ResolutionRefused):
        conflicts.resolve(db, duplicate.id, decided_by="Mei", decision="honour", note="", now_ms=MS)
    conflicts.resolve(db, duplicate.id, decided_by="Mei", decision="merge", note="same person", now_ms=MS)
    assert conflicts.get_conflict(db, duplicate.id).status == "resolved"

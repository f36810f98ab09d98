"""Counters, funnel, 15-minute buckets and device states against a hand-computed fixture."""

from __future__ import annotations

import pytest

from events import campaigns, projections
from tests.support import scenarios
from tests.support.clock import NOW
from tests.support.scenarios import MIN, MS
from tests.support.tablet import enroll, push


@pytest.fixture
def scenario(db, event):
    return scenarios.two_tablets(db, event)


def test_counters(db, event, scenario) -> None:
    # Every registration came from a tablet: walk-ins, no one signed up before coming.
    assert projections.counters(db, event.id) == projections.Counters(
        signed_up=0,
        checked_in=3,
        unique_attendees=4,
        unique_checked_in=3,
        vouchers_issued=3,
        vouchers_redeemed=1,
        redemptions=2,
        open_conflicts=2,
    )


def test_server_issued_vouchers_count_as_issued(db, event, scenario) -> None:
    campaign = campaigns.create_campaign(db, event.id, title="Coffee", now=NOW)
    campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)
    assert projections.counters(db, event.id).vouchers_issued == 4


def test_funnel(db, event, scenario) -> None:
    # People at every step: Li Wei's two records are one person.
    assert projections.funnel(db, event.id) == [
        ("registered", 4),
        ("checked_in", 3),
        ("voucher_issued", 3),
        ("redeemed", 1),
    ]


def test_arrivals_and_redemptions_per_quarter_hour(db, event, scenario) -> None:
    start = (NOW // 900) * 900
    assert [(b.start - start, b.arrivals, b.redemptions) for b in projections.per_quarter_hour(db, event.id)] == [
        (0, 1, 1),
        (900, 1, 1),
        (1800, 1, 0),
    ]


def test_device_states(db, event, scenario) -> None:
    a, b = scenario
    states = {s.name: s for s in projections.device_states(db, event.id, now=NOW + 41 * 60 + 30)}
    assert states["Ann"].online and not states["Ann"].clock_warning and states["Ann"].clock_offset_ms == 0
    assert states["Bo"].clock_offset_ms == 200_000 and states["Bo"].clock_warning
    later = {s.name: s for s in projections.device_states(db, event.id, now=NOW + 3600)}
    assert not later["Ann"].online


def test_empty_event(db, event) -> None:
    assert projections.counters(db, event.id) == projections.Counters(0, 0, 0, 0, 0, 0, 0, 0)
    assert projections.per_quarter_hour(db, event.id) == []


def test_first_check_ins_kept_between_readings_follow_later_ops(db, event, scenario) -> None:
    """A later batch with an earlier check-in (a tablet that was offline) changes the official one."""
    a, b = scenario
    before = projections.Reading(db, event.id).first_checkins
    (wang,) = [s for s, row in before.items() if row["hlc_ms"] >= MS + 31 * MIN]
    late = enroll(db, event.id, "Late", now=NOW)
    late.checkin(wang, now_ms=MS + 29 * MIN)  # earlier than a's check-in at 31 min
    push(db, late, MS + 50 * MIN)
    after = projections.Reading(db, event.id).first_checkins
    assert after[wang]["device_id"] == late.device_id and before[wang]["device_id"] == a.device_id
    assert after.keys() == before.keys()

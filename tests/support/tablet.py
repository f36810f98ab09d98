"""The simulated tablet for tests: `events/tablet.py` (the demo and the benchmarks drive the same
one), plus the scenarios several test modules share."""

from __future__ import annotations

from events.tablet import Tablet, enroll, new_id, push

__all__ = ["Tablet", "enroll", "new_id", "push", "redeem_twice"]


def redeem_twice(db, event_id: str, first: Tablet, second: Tablet, *, now: int, title: str = "Tote bag") -> str:
    """A single-use voucher of a new campaign, redeemed offline by both tablets a second apart
    and pushed: one over_redemption conflict. Returns the voucher's text."""
    from events import campaigns

    campaign = campaigns.create_campaign(db, event_id, title=title, max_uses=1, rotating=False, now=now)
    text = campaigns.issue_voucher(db, event_id, campaign.number, now=now).text
    first.redeem(text, now_ms=now * 1000 + 1000)
    second.redeem(text, now_ms=now * 1000 + 2000)
    push(db, first, now * 1000 + 5000)
    push(db, second, now * 1000 + 6000)
    return text

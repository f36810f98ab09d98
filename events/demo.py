"""The demo event `poppass demo` serves: a pop-up running now, two campaigns, sample tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from events import campaigns, registry, settings
from events.campaigns import IssuedToken
from events.registry import Event

DEMO_SETTING = "demo_event_id"
HOUR = 3600


@dataclass(frozen=True)
class Demo:
    event: Event
    samples: list[tuple[str, IssuedToken]]


def ensure_demo(db: Database, *, now: int, timezone: str = "UTC") -> Demo:
    """Create the demo event once; later runs reuse it and issue fresh sample tokens."""
    event_id = settings.get(db, DEMO_SETTING)
    if event_id is None:
        event = registry.create_event(
            db,
            name="PopPass demo pop-up",
            venue="Demo Store, 1F",
            starts_at=now - HOUR,
            ends_at=now + 8 * HOUR,
            timezone=timezone,
            now=now,
        )
        campaigns.create_campaign(
            db,
            event.id,
            title="¥50 off your first purchase",
            terms="One per person, on purchases over ¥200.",
            max_uses=1,
            valid_minutes=4 * 60,
            rotating=True,
            welcome=True,
            now=now,
        )
        campaigns.create_campaign(
            db,
            event.id,
            title="Free coffee",
            terms="At the bar, while stocks last.",
            max_uses=1,
            valid_from=event.starts_at,
            valid_until=event.ends_at,
            rotating=False,
            now=now,
        )
        settings.put(db, DEMO_SETTING, event.id)
        event_id = event.id
    event = registry.get_event(db, event_id)
    samples = [("pass", campaigns.issue_pass(db, event.id, now=now))]
    for campaign in campaigns.list_campaigns(db, event.id):
        samples.append((campaign.title, campaigns.issue_voucher(db, event.id, campaign.number, now=now)))
    return Demo(event, samples)

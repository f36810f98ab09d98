"""What the wall and the report show, computed from the log: counters, the funnel, arrivals and
redemptions over the event's hours, and each tablet's sync state. The figures themselves are
defined once, in events/figures.py; this module shapes them for the wall.

Everything here is a function of the stored ops (and the attendees/tokens projections kept
beside them), so it reads the same whatever order the ops arrived in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from sqlite_utils import Database

from events import figures, registry
from events.keys import SERVER_KEY_ID
from events.trust import ClockPolicy

BUCKET_S = 15 * 60
ONLINE_WITHIN_S = 120

# Kept under their old names for the modules that read them here.
_EFFECTIVE_REDEMPTIONS = figures.EFFECTIVE_REDEMPTIONS
acted_at_ms = figures.acted_at_ms


@dataclass(frozen=True)
class Counters:
    """The wall's big numbers, each one of events/figures.py's (docs/figures.md)."""

    signed_up: int  # Figures.signed_up: people registered before coming, not walk-ins
    checked_in: int  # Figures.people_in
    unique_attendees: int  # Figures.people: registered people, after de-duplication
    unique_checked_in: int  # Figures.people_in
    vouchers_issued: int
    vouchers_redeemed: int
    redemptions: int
    open_conflicts: int


@dataclass(frozen=True)
class Bucket:
    start: int  # Unix seconds, a multiple of 15 minutes
    arrivals: int
    redemptions: int
    size: int = BUCKET_S  # seconds, as events.figures.Bin has it (the chart reads both)


@dataclass(frozen=True)
class DeviceState:
    id: str
    name: str
    online: bool
    revoked: bool
    last_sync_at: int | None
    pending: int
    clock_offset_ms: int | None
    clock_warning: bool
    clerk: str | None = None  # who is on shift: as the tablet last said, else the clerk of its latest op


class Reading:
    """What the counters, the funnel and the chart share, read once per snapshot: who is who
    (events.figures.People, itself kept between readings) and the effective redemptions."""

    def __init__(self, db: Database, event_id: str) -> None:
        self.db, self.event_id = db, event_id

    @cached_property
    def people(self) -> figures.People:
        return figures.people(self.db, self.event_id)

    @cached_property
    def groups(self) -> dict[str, str]:
        return self.people.groups()

    @property
    def first_checkins(self) -> dict[str, dict]:
        """Attendee -> their official check-in (the earliest by HLC, then HLC counter, ties by
        device). Callers must not change the dict."""
        return self.people.first

    @cached_property
    def redemptions(self) -> list[dict]:
        return list(self.db.query(_EFFECTIVE_REDEMPTIONS, {"event": self.event_id}))

    @cached_property
    def figures(self) -> figures.Figures:
        return figures.figures(self.db, self.event_id, who=self.people, redemptions=self.redemptions)


def counters(db: Database, event_id: str, reading: Reading | None = None) -> Counters:
    found = (reading or Reading(db, event_id)).figures
    return Counters(
        signed_up=found.signed_up,
        checked_in=found.people_in,
        unique_attendees=found.people,
        unique_checked_in=found.people_in,
        vouchers_issued=found.vouchers_issued,
        vouchers_redeemed=found.vouchers_redeemed,
        redemptions=found.redemptions,
        open_conflicts=found.open_conflicts,
    )


def funnel(db: Database, event_id: str, reading: Reading | None = None) -> list[tuple[str, int]]:
    """People at each step: registered (signed up or walked in) → came in → holding a voucher →
    redeemed one. Every step counts people, as Figures does."""
    found = (reading or Reading(db, event_id)).figures
    return [
        ("registered", found.people),
        ("checked_in", found.people_in),
        ("voucher_issued", found.voucher_holders),
        ("redeemed", found.redeemers),
    ]


def arrivals(db: Database, event_id: str, reading: Reading | None = None) -> dict[str, dict]:
    """Each person's arrival (person -> their check-in row): the earliest official check-in of
    any of their attendee records, so a duplicate checked in again is not a second arrival."""
    return (reading or Reading(db, event_id)).people.arrival


def per_quarter_hour(db: Database, event_id: str, reading: Reading | None = None) -> list[Bucket]:
    """Arrivals (people's first check-ins) and redemptions per 15 minutes, empty buckets
    included, from the first to the last (the report's busiest quarter hour)."""
    reading = reading or Reading(db, event_id)
    arrived: Counter[int] = Counter()
    for minute, n in reading.people.arrivals_by_minute.items():  # kept per minute: no pass over everyone
        if n:
            arrived[minute * 60 // BUCKET_S] += n
    redemptions = Counter(acted_at_ms(row) // 1000 // BUCKET_S for row in reading.redemptions)
    buckets = arrived.keys() | redemptions.keys()
    if not buckets:
        return []
    return [Bucket(b * BUCKET_S, arrived[b], redemptions[b]) for b in range(min(buckets), max(buckets) + 1)]


def chart(db: Database, event: registry.Event, reading: Reading | None = None) -> list[figures.Bin]:
    """Arrivals and redemptions over the event's hours, in bins sized to the span (events.figures.bins)."""
    reading = reading or Reading(db, event.id)
    return figures.bins(
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        timezone=event.timezone,
        arrivals_ms=reading.people.arrivals_by_minute,
        redemptions_ms=[acted_at_ms(row) for row in reading.redemptions],
    )


def device_states(db: Database, event_id: str, *, now: int) -> list[DeviceState]:
    warn_ms = ClockPolicy().skew_warn_s * 1000
    return [
        DeviceState(
            id=row["id"],
            name=row["name"],
            online=row["revoked_at"] is None
            and row["last_sync_at"] is not None
            and now - row["last_sync_at"] <= ONLINE_WITHIN_S,
            revoked=row["revoked_at"] is not None,
            last_sync_at=row["last_sync_at"],
            pending=row["pending"],
            clock_offset_ms=row["clock_offset_ms"],
            clock_warning=row["clock_offset_ms"] is not None and abs(row["clock_offset_ms"]) > warn_ms,
            clerk=row["on_shift"],
        )
        # Who is on shift: as the tablet last said at a pull, else the clerk of its latest op.
        for row in db.query(
            "select d.*, coalesce(nullif(d.clerk, ''), "
            "(select clerk from ops where device_id = d.id order by device_seq desc limit 1)) as on_shift "
            "from devices d where d.event_id = ? and d.key_id != ? order by d.enrolled_at, d.id",
            [event_id, SERVER_KEY_ID],
        )
    ]


def person_groups(db: Database, event_id: str) -> dict[str, str]:
    """Attendee id -> one id standing for the person (records sharing a phone or email)."""
    return figures.people(db, event_id).groups()


def checked_in(db: Database, event_id: str) -> list[str]:
    """Attendees with a check-in, in the order of their first one."""
    rows = figures.people(db, event_id).first.values()
    return [row["subject"] for row in sorted(rows, key=lambda row: (row["hlc_ms"], row["subject"]))]

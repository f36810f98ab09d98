"""What the wall and the report show, computed from the log: counters, the funnel, arrivals and
redemptions per 15 minutes, and each tablet's sync state.

Everything here is a function of the stored ops (and the attendees/tokens projections kept
beside them), so it reads the same whatever order the ops arrived in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from weakref import WeakKeyDictionary

from sqlite_utils import Database

from events.keys import SERVER_KEY_ID
from events.trust import ClockPolicy

BUCKET_S = 15 * 60
ONLINE_WITHIN_S = 120

# Redemptions that count: accepted, and not undone by a void naming them.
_EFFECTIVE_REDEMPTIONS = """
    select o.op_id, o.subject, o.hlc_ms, o.corrected_time_ms from ops o
    where o.event_id = :event and o.kind = 'redeem' and json_extract(o.data, '$.outcome') = 'accepted'
      and o.op_id not in (
        select json_extract(v.data, '$.redeem_op_id') from ops v
        where v.event_id = :event and v.kind = 'void' and json_extract(v.data, '$.redeem_op_id') is not null)
"""


@dataclass(frozen=True)
class Counters:
    signed_up: int
    checked_in: int
    unique_attendees: int  # after de-duplication by phone or email
    unique_checked_in: int
    vouchers_issued: int
    vouchers_redeemed: int
    redemptions: int
    open_conflicts: int


@dataclass(frozen=True)
class Bucket:
    start: int  # Unix seconds, a multiple of 15 minutes
    arrivals: int
    redemptions: int


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


# Phone/email keys a person looked at and found to be different people ("dismiss" on the
# possible_duplicate conflict), as long as that is still the latest word on it.
_DISMISSED_KEYS = """
    select c.subject from conflicts c
    where c.event_id = ? and c.kind = 'possible_duplicate' and c.status = 'resolved'
      and (select r.decision from conflict_resolutions r where r.conflict_id = c.id order by r.id desc limit 1) = 'dismiss'
"""


def _groups(db: Database, event_id: str) -> dict[str, str]:
    """Attendee id -> a representative of everyone sharing a phone or email with them, unless an
    organizer dismissed that duplicate (then they count as different people)."""
    parent: dict[str, str] = {}
    dismissed = {row[0] for row in db.execute(_DISMISSED_KEYS, [event_id])}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, str] = {}
    for attendee, phone_key, email_key in db.execute("select id, phone_key, email_key from attendees where event_id = ?", [event_id]):
        parent.setdefault(attendee, attendee)
        for key in (f"phone:{phone_key}" if phone_key else "", f"email:{email_key}" if email_key else ""):
            if not key or key in dismissed:
                continue
            if key in owner:
                a, b = find(attendee), find(owner[key])
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[key] = attendee
    return {attendee: find(attendee) for attendee in parent}


def acted_at_ms(row: dict) -> int:
    """When the clerk acted: the corrected time, else the HLC time (a tablet never synced)."""
    return row["corrected_time_ms"] if row["corrected_time_ms"] is not None else row["hlc_ms"]


# Database -> event id -> (the last check-in's log seq, first check-ins up to it).
_FIRST_CHECKINS_SEEN: WeakKeyDictionary[Database, dict[str, tuple[int, dict[str, dict]]]] = WeakKeyDictionary()


class Reading:
    """What the counters, the funnel and the chart share, read once: the wall computes all three
    after every merge, and at 20,000 attendees reading each set three times was most of the time."""

    def __init__(self, db: Database, event_id: str) -> None:
        self.db, self.event_id = db, event_id

    @cached_property
    def groups(self) -> dict[str, str]:
        return _groups(self.db, self.event_id)

    @cached_property
    def first_checkins(self) -> dict[str, dict]:
        """Attendee -> their official check-in: the earliest by HLC, then HLC counter, ties by
        device. Kept between readings and brought up to date with the check-ins logged
        since: the log only grows, and the earliest of a set does not depend on reading order.
        Callers must not change the dict."""
        known = _FIRST_CHECKINS_SEEN.setdefault(self.db, {})
        upto, first = known.get(self.event_id, (0, {}))
        rows = self.db.execute(
            "select seq, subject, corrected_time_ms, hlc_ms, hlc_counter, device_id from ops "
            "where event_id = ? and kind = 'checkin' and seq > ? order by seq",
            [self.event_id, upto],
        ).fetchall()
        if not rows:
            return first
        first = dict(first)  # a reading already handed out keeps what it was given
        for seq, subject, corrected, hlc_ms, counter, device in rows:
            held = first.get(subject)
            if held is None or (hlc_ms, counter, device) < (held["hlc_ms"], held["hlc_counter"], held["device_id"]):
                first[subject] = {"subject": subject, "corrected_time_ms": corrected, "hlc_ms": hlc_ms,
                                  "hlc_counter": counter, "device_id": device}
        known[self.event_id] = (rows[-1][0], first)
        return first

    @cached_property
    def redemptions(self) -> list[dict]:
        return list(self.db.query(_EFFECTIVE_REDEMPTIONS, {"event": self.event_id}))


def counters(db: Database, event_id: str, reading: Reading | None = None) -> Counters:
    reading = reading or Reading(db, event_id)
    groups, checked, redemptions = reading.groups, reading.first_checkins.keys(), reading.redemptions
    issued = db.execute(
        "select count(*) from tokens where event_id = ? and type = 'voucher' "
        "and (key_id = ? or id in (select subject from ops where event_id = ? and kind = 'issue'))",
        [event_id, SERVER_KEY_ID, event_id],
    ).fetchone()[0]
    open_conflicts = db.execute("select count(*) from conflicts where event_id = ? and status = 'open'", [event_id]).fetchone()[0]
    return Counters(
        signed_up=len(groups),
        checked_in=len(checked),
        unique_attendees=len(set(groups.values())),
        unique_checked_in=len({groups.get(a, a) for a in checked}),
        vouchers_issued=issued,
        vouchers_redeemed=len({row["subject"] for row in redemptions}),
        redemptions=len(redemptions),
        open_conflicts=open_conflicts,
    )


def funnel(db: Database, event_id: str, reading: Reading | None = None) -> list[tuple[str, int]]:
    """Attendees at each step: signed up → checked in → holding a voucher → redeemed one."""
    reading = reading or Reading(db, event_id)
    holders: set[str] = set()
    redeemers: set[str] = set()
    redeemed_vouchers = {row["subject"] for row in reading.redemptions}
    for token_id, attendee_id in db.execute(
        "select id, attendee_id from tokens where event_id = ? and type = 'voucher' and attendee_id is not null", [event_id]
    ):
        holders.add(attendee_id)
        if token_id in redeemed_vouchers:
            redeemers.add(attendee_id)
    return [
        ("signed_up", len(reading.groups)),
        ("checked_in", len(reading.first_checkins)),
        ("voucher_issued", len(holders)),
        ("redeemed", len(redeemers)),
    ]


def arrivals(db: Database, event_id: str, groups: dict[str, str] | None = None, reading: Reading | None = None) -> dict[str, dict]:
    """Each person's arrival (person -> their check-in row): the earliest official check-in of
    any of their attendee records, so a duplicate checked in again is not a second arrival."""
    reading = reading or Reading(db, event_id)
    groups = reading.groups if groups is None else groups
    first: dict[str, dict] = {}
    for row in reading.first_checkins.values():
        person = groups.get(row["subject"], row["subject"])
        order = (row["hlc_ms"], row["hlc_counter"], row["device_id"])
        if person not in first or order < (first[person]["hlc_ms"], first[person]["hlc_counter"], first[person]["device_id"]):
            first[person] = row
    return first


def per_quarter_hour(db: Database, event_id: str, reading: Reading | None = None) -> list[Bucket]:
    """Arrivals (people's first check-ins) and redemptions per 15 minutes, empty buckets included."""
    reading = reading or Reading(db, event_id)
    arrived = Counter(acted_at_ms(row) // 1000 // BUCKET_S for row in arrivals(db, event_id, reading=reading).values())
    redemptions = Counter(acted_at_ms(row) // 1000 // BUCKET_S for row in reading.redemptions)
    buckets = arrived.keys() | redemptions.keys()
    if not buckets:
        return []
    return [Bucket(b * BUCKET_S, arrived[b], redemptions[b]) for b in range(min(buckets), max(buckets) + 1)]


def device_states(db: Database, event_id: str, *, now: int) -> list[DeviceState]:
    warn_ms = ClockPolicy().skew_warn_s * 1000
    return [
        DeviceState(
            id=row["id"],
            name=row["name"],
            online=row["revoked_at"] is None and row["last_sync_at"] is not None and now - row["last_sync_at"] <= ONLINE_WITHIN_S,
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
    return _groups(db, event_id)


def checked_in(db: Database, event_id: str) -> list[str]:
    """Attendees with a check-in, in the order of their first one."""
    rows = Reading(db, event_id).first_checkins.values()
    return [row["subject"] for row in sorted(rows, key=lambda row: (row["hlc_ms"], row["subject"]))]

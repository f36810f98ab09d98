"""What the wall and the report show, computed from the log: counters, the funnel, arrivals and
redemptions per 15 minutes, and each tablet's sync state.

Everything here is a function of the stored ops (and the attendees/tokens projections kept
beside them), so it reads the same whatever order the ops arrived in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

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
# Each attendee's official check-in: the earliest by HLC, ties by device.
_FIRST_CHECKINS = """
    select subject, corrected_time_ms, hlc_ms from (
      select subject, corrected_time_ms, hlc_ms,
             row_number() over (partition by subject order by hlc_ms, hlc_counter, device_id) as n
      from ops where event_id = :event and kind = 'checkin')
    where n = 1
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
    clerk: str | None = None  # who was on shift at its latest op


def _groups(db: Database, event_id: str) -> dict[str, str]:
    """Attendee id -> a representative of everyone sharing a phone or email with them."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, str] = {}
    for row in db.query("select id, phone_key, email_key from attendees where event_id = ?", [event_id]):
        parent.setdefault(row["id"], row["id"])
        for key in (f"p:{row['phone_key']}" if row["phone_key"] else "", f"e:{row['email_key']}" if row["email_key"] else ""):
            if not key:
                continue
            if key in owner:
                a, b = find(row["id"]), find(owner[key])
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[key] = row["id"]
    return {attendee: find(attendee) for attendee in parent}


def _acted_at_ms(row: dict) -> int:
    return row["corrected_time_ms"] if row["corrected_time_ms"] is not None else row["hlc_ms"]


def counters(db: Database, event_id: str) -> Counters:
    args = {"event": event_id}
    groups = _groups(db, event_id)
    checked = {row["subject"] for row in db.query(_FIRST_CHECKINS, args)}
    redemptions = list(db.query(_EFFECTIVE_REDEMPTIONS, args))
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


def funnel(db: Database, event_id: str) -> list[tuple[str, int]]:
    """Attendees at each step: signed up → checked in → holding a voucher → redeemed one."""
    args = {"event": event_id}
    signed_up = {row["id"] for row in db.query("select id from attendees where event_id = ?", [event_id])}
    checked = {row["subject"] for row in db.query(_FIRST_CHECKINS, args)}
    holders = {
        row["attendee_id"]
        for row in db.query("select attendee_id from tokens where event_id = ? and type = 'voucher' and attendee_id is not null", [event_id])
    }
    redeemed_vouchers = {row["subject"] for row in db.query(_EFFECTIVE_REDEMPTIONS, args)}
    redeemers = {
        row["attendee_id"]
        for row in db.query("select id, attendee_id from tokens where event_id = ? and attendee_id is not null", [event_id])
        if row["id"] in redeemed_vouchers
    }
    return [
        ("signed_up", len(signed_up)),
        ("checked_in", len(checked)),
        ("voucher_issued", len(holders)),
        ("redeemed", len(redeemers)),
    ]


def per_quarter_hour(db: Database, event_id: str) -> list[Bucket]:
    """Arrivals (official check-ins) and redemptions per 15 minutes, empty buckets included."""
    args = {"event": event_id}
    arrivals = Counter(_acted_at_ms(row) // 1000 // BUCKET_S for row in db.query(_FIRST_CHECKINS, args))
    redemptions = Counter(_acted_at_ms(row) // 1000 // BUCKET_S for row in db.query(_EFFECTIVE_REDEMPTIONS, args))
    buckets = arrivals.keys() | redemptions.keys()
    if not buckets:
        return []
    return [Bucket(b * BUCKET_S, arrivals[b], redemptions[b]) for b in range(min(buckets), max(buckets) + 1)]


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
            clerk=row["clerk"],
        )
        for row in db.query(
            "select d.*, (select clerk from ops where device_id = d.id order by seq desc limit 1) as clerk "
            "from devices d where d.event_id = ? and d.key_id != ? order by d.enrolled_at, d.id",
            [event_id, SERVER_KEY_ID],
        )
    ]

"""Every figure the wall, the report and the console show about an event, each defined once.

docs/figures.md writes each definition out in words; the wall (events/wall.py), the report
(events/report.py) and the console's dashboard all read them from `figures()` here, so two
screens can never count the same word two ways.

A *person* is a group of attendee records sharing a phone or email (unless an organizer
dismissed that duplicate). Who is who and who came is kept between readings in `People` and
brought up to date from the log's tail: the log only grows, so the wall's snapshot after a
check-in reads the few new ops, not the whole event (at 50,000 attendees, reading everyone
again was most of the check-in → wall latency).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from events.devices import WEB_DEVICE_PREFIX
from events.keys import SERVER_KEY_ID

MINUTE_MS = 60_000
# A chart's bins, in minutes: the smallest that draws the whole span in at most MAX_BINS bars.
BIN_MINUTES = (5, 10, 15, 30, 60, 120, 180, 360)
MAX_BINS = 48
# A span longer than this (a multi-day event, a tablet whose clock was a week off) is drawn
# as its last day: a chart of a week of 6-hour bars answers nothing.
MAX_SPAN_S = 24 * 3600

# Redemptions that count: accepted, and not undone by a void naming them.
EFFECTIVE_REDEMPTIONS = """
    select o.op_id, o.subject, o.hlc_ms, o.corrected_time_ms from ops o
    where o.event_id = :event and o.kind = 'redeem' and json_extract(o.data, '$.outcome') = 'accepted'
      and o.op_id not in (
        select json_extract(v.data, '$.redeem_op_id') from ops v
        where v.event_id = :event and v.kind = 'void' and json_extract(v.data, '$.redeem_op_id') is not null)
"""

# The vouchers the event gave out: pre-issued by the server, or carried by an issue op.
ISSUED_VOUCHERS = """
    select id, campaign, attendee_id, issued_at, valid_from, valid_until, max_uses, key_id, issuer_device, refusal
    from tokens where event_id = :event and type = 'voucher'
      and (key_id = :server or id in (select subject from ops where event_id = :event and kind = 'issue'))
    order by issued_at, id
"""

# Phone/email keys a person looked at and found to be different people ("dismiss" on the
# possible_duplicate conflict), as long as that is still the latest word on it.
_DISMISSED_KEYS = """
    select c.subject from conflicts c
    where c.event_id = ? and c.kind = 'possible_duplicate' and c.status = 'resolved'
      and (select r.decision from conflict_resolutions r where r.conflict_id = c.id order by r.id desc limit 1) = 'dismiss'
"""


def acted_at_ms(row: dict) -> int:
    """When the clerk acted: the corrected time, else the HLC time (a tablet never synced)."""
    return row["corrected_time_ms"] if row["corrected_time_ms"] is not None else row["hlc_ms"]


@dataclass(frozen=True)
class Share:
    part: int
    whole: int

    @property
    def percent(self) -> float | None:
        """None when there is nothing to share (no holders, no vouchers): not 0%."""
        return None if not self.whole else 100 * self.part / self.whole


@dataclass(frozen=True)
class Figures:
    """One event's figures. Each is defined in docs/figures.md under the same name."""

    registrations: int  # attendee records, duplicates included
    people: int  # registered people, after de-duplication by phone or email
    signed_up: int  # people registered before coming: online sign-up or the organizer's import
    walk_ins: int  # people registered only at a tablet's counter
    people_in: int  # people with at least one check-in
    signed_up_in: int  # signed-up people who came in
    walk_ins_in: int  # walk-ins who came in (registered at the door, nearly all of them)
    vouchers_issued: int
    vouchers_redeemed: int  # vouchers with an accepted redemption that was not undone
    redemptions: int  # accepted redemptions not undone (a voucher of 3 uses can count 3)
    voucher_holders: int  # people holding at least one voucher
    holders_in: int  # voucher holders who came in
    redeemers: int  # people who redeemed at least one voucher
    open_conflicts: int

    @property
    def came_in(self) -> Share:
        """Conversion to the door: voucher holders who came in."""
        return Share(self.holders_in, self.voucher_holders)

    @property
    def redeemed(self) -> Share:
        """Conversion to the counter: vouchers issued that were redeemed."""
        return Share(self.vouchers_redeemed, self.vouchers_issued)

    @property
    def turnout(self) -> Share:
        """People who signed up and came."""
        return Share(self.signed_up_in, self.signed_up)


@dataclass(frozen=True)
class Bin:
    """One bar pair of a chart: arrivals (people's first check-ins) and redemptions."""

    start: int  # Unix seconds
    size: int  # seconds
    arrivals: int
    redemptions: int


class People:
    """Who is who (attendee records → people) and when each person arrived, for one event.

    Kept between readings (`people()`), and brought up to date from the register and check-in
    ops logged since. Rebuilt from scratch only when something earlier changes: a duplicate
    dismissed or taken back, or an attendee record rewritten by an earlier registration that
    arrived late. Callers must not change what it hands out."""

    def __init__(self, db: Database, event_id: str) -> None:
        self.db, self.event_id, self.web = db, event_id, WEB_DEVICE_PREFIX + event_id
        self.dismissed = frozenset(row[0] for row in db.execute(_DISMISSED_KEYS, [event_id]))
        self.parent: dict[str, str] = {}
        self.owner: dict[str, str] = {}  # phone/email key → the first record that had it
        self.registered: set[str] = set()  # attendee records (a check-in may name one not yet heard of)
        self.online_roots: set[str] = set()  # people with a record registered by the web device
        self.arrival: dict[str, dict] = {}  # person → their first check-in row
        self.first: dict[str, dict] = {}  # attendee record → its official (first) check-in row
        self.flags: Counter[tuple[bool, bool, bool]] = Counter()  # (registered, online, arrived) → people
        self.registered_roots: set[str] = set()
        self.arrivals_by_minute: Counter[int] = Counter()
        self.register_seq = self.checkin_seq = 0
        self.follow()

    # --- union-find over phone/email keys ---

    def find(self, x: str) -> str:
        parent = self.parent
        if x not in parent:
            return x
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def _flags(self, root: str) -> tuple[bool, bool, bool]:
        return (root in self.registered_roots, root in self.online_roots, root in self.arrival)

    def _node(self, attendee: str) -> str:
        if attendee not in self.parent:
            self.parent[attendee] = attendee
            self.flags[self._flags(attendee)] += 1
        return self.find(attendee)

    def _change(self, root: str, change) -> None:
        """Apply `change` to one person, keeping the flag counts right."""
        self.flags[self._flags(root)] -= 1
        change()
        self.flags[self._flags(root)] += 1

    def _arrive(self, root: str, row: dict) -> None:
        held = self.arrival.get(root)
        if held is not None and _order(held) <= _order(row):
            return
        if held is not None:
            self.arrivals_by_minute[acted_at_ms(held) // MINUTE_MS] -= 1
        self.arrivals_by_minute[acted_at_ms(row) // MINUTE_MS] += 1
        self._change(root, lambda: self.arrival.__setitem__(root, row))

    def _union(self, a: str, b: str) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        keep, gone = min(a, b), max(a, b)
        self.flags[self._flags(keep)] -= 1
        self.flags[self._flags(gone)] -= 1
        self.parent[gone] = keep
        for members in (self.registered_roots, self.online_roots):
            if gone in members:
                members.discard(gone)
                members.add(keep)
        moved = self.arrival.pop(gone, None)
        if moved is not None:
            held = self.arrival.get(keep)
            if held is None or _order(moved) < _order(held):
                self.arrival[keep] = moved
                if held is not None:
                    self.arrivals_by_minute[acted_at_ms(held) // MINUTE_MS] -= 1
            else:
                self.arrivals_by_minute[acted_at_ms(moved) // MINUTE_MS] -= 1
        self.flags[self._flags(keep)] += 1

    # --- following the log ---

    def follow(self) -> bool:
        """Take in the ops logged since the last call. False when only a rebuild can (the
        caller then makes a new People)."""
        dismissed = frozenset(row[0] for row in self.db.execute(_DISMISSED_KEYS, [self.event_id]))
        if dismissed != self.dismissed:
            return False
        registers = self.db.execute(
            # The left join keeps registrations that made no record (refused), so the position
            # read up to is the log's, whatever a writer on another thread adds meanwhile.
            "select o.seq, a.id, a.phone_key, a.email_key, a.device_id from ops o "
            "left join attendees a on a.id = o.subject and a.register_op_id = o.op_id "
            "where o.event_id = ? and o.kind = 'register' and o.seq > ? order by o.seq",
            [self.event_id, self.register_seq],
        ).fetchall()
        if any(attendee in self.registered for _, attendee, *_ in registers if attendee):
            return False  # an earlier registration rewrote a record: who is who may have changed
        for seq, attendee, phone_key, email_key, device in registers:
            self.register_seq = seq
            if attendee is None:
                continue
            root = self._node(attendee)
            self.registered.add(attendee)
            self._change(
                root,
                lambda root=root, device=device: (
                    self.registered_roots.add(root),
                    device == self.web and self.online_roots.add(root),
                ),
            )
            for key in (f"phone:{phone_key}" if phone_key else "", f"email:{email_key}" if email_key else ""):
                if not key or key in self.dismissed:
                    continue
                if key in self.owner:
                    self._union(attendee, self.owner[key])
                else:
                    self.owner[key] = attendee
        checkins = self.db.execute(
            "select seq, subject, corrected_time_ms, hlc_ms, hlc_counter, device_id from ops "
            "where event_id = ? and kind = 'checkin' and seq > ? order by seq",
            [self.event_id, self.checkin_seq],
        ).fetchall()
        if checkins:
            self.first = dict(self.first)  # a reader still holding the last one keeps what it was given
        for seq, subject, corrected, hlc_ms, counter, device in checkins:
            row = {
                "subject": subject,
                "corrected_time_ms": corrected,
                "hlc_ms": hlc_ms,
                "hlc_counter": counter,
                "device_id": device,
            }
            held = self.first.get(subject)
            if held is None or _order(row) < _order(held):
                self.first[subject] = row
                self._arrive(self._node(subject), row)
            self.checkin_seq = seq
        return True

    # --- what readers ask ---

    def groups(self) -> dict[str, str]:
        """Registered attendee id → the id standing for their person (the smallest of them)."""
        return {attendee: self.find(attendee) for attendee in self.registered}

    def count(self, *, registered: bool | None = None, online: bool | None = None, arrived: bool | None = None) -> int:
        return sum(
            n
            for (r, o, a), n in self.flags.items()
            if (registered is None or r == registered)
            and (online is None or o == online)
            and (arrived is None or a == arrived)
        )


def _order(row: dict) -> tuple:
    """Which check-in is a record's or a person's official one: the earliest by HLC, then HLC
    counter, ties by device, so it does not depend on the order ops arrived in."""
    return (row["hlc_ms"], row["hlc_counter"], row["device_id"])


# Database -> event id -> its People, kept while the database object lives.
_PEOPLE: WeakKeyDictionary[Database, dict[str, People]] = WeakKeyDictionary()


def people(db: Database, event_id: str) -> People:
    """The event's People, up to date with the log."""
    known = _PEOPLE.setdefault(db, {})
    found = known.get(event_id)
    if found is None or not found.follow():
        found = known[event_id] = People(db, event_id)
    return found


def figures(
    db: Database, event_id: str, *, who: People | None = None, redemptions: list[dict] | None = None
) -> Figures:
    """The event's figures now. `who` and `redemptions` may be passed by a caller that read them
    already (the wall's snapshot reads each once)."""
    who = who or people(db, event_id)
    redemptions = list(db.query(EFFECTIVE_REDEMPTIONS, {"event": event_id})) if redemptions is None else redemptions
    redeemed = {row["subject"] for row in redemptions}
    issued = 0
    holders: set[str] = set()
    redeemers: set[str] = set()
    for row in db.query(ISSUED_VOUCHERS, {"event": event_id, "server": SERVER_KEY_ID}):
        issued += 1
        if row["attendee_id"]:
            person = who.find(row["attendee_id"])
            holders.add(person)
            if row["id"] in redeemed:
                redeemers.add(person)
    open_conflicts = db.execute(
        "select count(*) from conflicts where event_id = ? and status = 'open'", [event_id]
    ).fetchone()[0]
    return Figures(
        registrations=len(who.registered),
        people=who.count(registered=True),
        signed_up=who.count(registered=True, online=True),
        walk_ins=who.count(registered=True, online=False),
        people_in=who.count(arrived=True),
        signed_up_in=who.count(registered=True, online=True, arrived=True),
        walk_ins_in=who.count(registered=True, online=False, arrived=True),
        vouchers_issued=issued,
        vouchers_redeemed=len(redeemed),
        redemptions=len(redemptions),
        voucher_holders=len(holders),
        holders_in=sum(1 for person in holders if person in who.arrival),
        redeemers=len(redeemers),
        open_conflicts=open_conflicts,
    )


# --- the chart's span and bins ----------------------------------------------------------------


def span(starts_at: int, ends_at: int, activity: list[int]) -> tuple[int, int]:
    """The seconds a chart covers: the event's hours, widened to any arrival or redemption
    outside them; for a span over a day, the day that ends with the latest of it."""
    low, high = starts_at, ends_at
    if activity:
        low, high = min(low, min(activity)), max(high, max(activity) + 1)
    if high - low > MAX_SPAN_S:
        high = max(activity) + 1 if activity else high
        low = max(low, high - MAX_SPAN_S)
    return low, high


def bin_size(seconds: int) -> int:
    """The smallest bin (in seconds) of BIN_MINUTES that draws `seconds` in MAX_BINS bars at most."""
    for minutes in BIN_MINUTES:
        if seconds <= minutes * 60 * MAX_BINS:
            return minutes * 60
    return BIN_MINUTES[-1] * 60


def bins(
    *,
    starts_at: int,
    ends_at: int,
    timezone: str,
    arrivals_ms: Counter[int] | dict[int, int],
    redemptions_ms: list[int],
) -> list[Bin]:
    """Arrivals (a Counter of minutes since the epoch → people arriving then) and redemptions
    (their times, ms) in bins over the event's hours, each bin starting on the clock in the
    event's time zone (10:00, 10:15… not 10:07)."""
    arrival_minutes = {minute: n for minute, n in arrivals_ms.items() if n}
    activity = [minute * 60 for minute in arrival_minutes] + [ms // 1000 for ms in redemptions_ms]
    low, high = span(starts_at, ends_at, activity)
    size = bin_size(high - low)
    offset = int(datetime.fromtimestamp(low, ZoneInfo(timezone)).utcoffset().total_seconds())
    first = (low + offset) // size * size - offset
    count = max(1, -(-(high - first) // size))
    arrived = [0] * count
    redeemed = [0] * count
    for minute, n in arrival_minutes.items():
        index = (minute * 60 - first) // size
        if 0 <= index < count:
            arrived[index] += n
    for ms in redemptions_ms:
        index = (ms // 1000 - first) // size
        if 0 <= index < count:
            redeemed[index] += 1
    return [Bin(first + i * size, size, arrived[i], redeemed[i]) for i in range(count)]

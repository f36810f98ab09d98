"""The post-event report: what the organizer takes to their boss, and the exports' rows.

Plain functions over the log. Every figure it shows (people, signed up, walk-ins, people in,
vouchers issued and redeemed, conversion) is events/figures.py's, the one the live wall shows:
docs/figures.md defines each. A per-campaign row counts the same way over that campaign's
vouchers.

The exports are the organizer's own data: only the attendees export carries phones and emails;
no export carries a token's text (a voucher's text is what redeems it). Writing them as CSV
(the byte-order mark, the formula guard) is the download's business: server/csv_export.py.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from events import figures, projections, registry
from events.devices import WEB_DEVICE_PREFIX
from events.keys import SERVER_KEY_ID
from events.projections import _EFFECTIVE_REDEMPTIONS

_ISSUED_VOUCHERS = figures.ISSUED_VOUCHERS
Share = figures.Share  # kept here too: the report's templates and tests name it so


@dataclass(frozen=True)
class Attendance:
    """events.figures.Figures' attendance figures, under the report's names."""

    registrations: int  # Figures.registrations: attendee records, duplicates included
    unique: int  # Figures.people: people, after de-duplication by phone or email
    signed_up: int  # Figures.signed_up: people registered online (sign-up or import) before coming
    walk_ins: int  # Figures.walk_ins: people registered only at a tablet
    checked_in: int  # Figures.people_in: people who checked in
    signed_up_checked_in: int
    walk_ins_checked_in: int


@dataclass(frozen=True)
class Conversion:
    """Vouchers → people who came in → vouchers redeemed, for one campaign or the whole event."""

    campaign: int | None  # None: every campaign together
    title: str
    vouchers_issued: int
    vouchers_redeemed: int  # with at least one accepted redemption that was not undone
    holders: int  # people holding at least one of these vouchers
    holders_checked_in: int

    @property
    def came_in(self) -> Share:
        return Share(self.holders_checked_in, self.holders)

    @property
    def redeemed(self) -> Share:
        return Share(self.vouchers_redeemed, self.vouchers_issued)


@dataclass
class Tally:
    """What one tablet (or one clerk) did. Check-ins count every one recorded, repeats included:
    it is the work done at the counter, not the arrivals."""

    key: str
    name: str
    web: bool = False  # the event's web device: online sign-ups and imports, not a tablet
    checkins: int = 0
    vouchers_issued: int = 0
    redemptions_accepted: int = 0  # and not undone
    redemptions_refused: int = 0


@dataclass(frozen=True)
class Report:
    event: registry.Event
    attendance: Attendance
    overall: Conversion
    campaigns: list[Conversion]
    quarter_hours: list[projections.Bucket]  # from the first arrival or redemption to the last
    tablets: list[Tally]
    clerks: list[Tally]
    conflicts_open: int
    conflicts_resolved: int
    peak: projections.Bucket | None = None  # the busiest quarter hour for arrivals
    chart: list[figures.Bin] = field(default_factory=list)  # over the event's hours, as the wall draws it
    figures: figures.Figures | None = None  # what every figure above is taken from


def build(db: Database, event_id: str) -> Report:
    event = registry.get_event(db, event_id)
    reading = projections.Reading(db, event_id)
    found = reading.figures
    who = reading.people
    args = {"event": event_id, "server": SERVER_KEY_ID}
    vouchers = list(db.query(_ISSUED_VOUCHERS, args))
    redeemed = {row["subject"] for row in reading.redemptions}
    titles = {
        row["number"]: row["title"]
        for row in db.query("select number, title from campaigns where event_id = ?", [event_id])
    }

    def conversion(number: int | None, title: str, rows: list[dict]) -> Conversion:
        """One campaign's share of Figures' voucher figures, counted the same way."""
        holders = {who.find(row["attendee_id"]) for row in rows if row["attendee_id"]}
        return Conversion(
            campaign=number,
            title=title,
            vouchers_issued=len(rows),
            vouchers_redeemed=sum(1 for row in rows if row["id"] in redeemed),
            holders=len(holders),
            holders_checked_in=sum(1 for person in holders if person in who.arrival),
        )

    by_campaign: dict[int | None, list[dict]] = defaultdict(list)
    for row in vouchers:
        by_campaign[row["campaign"] if row["campaign"] in titles else None].append(row)
    campaigns = [conversion(number, title, by_campaign.get(number, [])) for number, title in sorted(titles.items())]
    if by_campaign.get(None):  # vouchers naming no campaign this event has (a tablet's own terms)
        campaigns.append(conversion(None, "", by_campaign[None]))

    quarter_hours = projections.per_quarter_hour(db, event_id, reading)
    tablets, clerks = _tallies(db, event_id)
    statuses = Counter(row[0] for row in db.execute("select status from conflicts where event_id = ?", [event_id]))
    return Report(
        event=event,
        attendance=Attendance(
            registrations=found.registrations,
            unique=found.people,
            signed_up=found.signed_up,
            walk_ins=found.walk_ins,
            checked_in=found.people_in,
            signed_up_checked_in=found.signed_up_in,
            walk_ins_checked_in=found.walk_ins_in,
        ),
        overall=Conversion(
            None, "", found.vouchers_issued, found.vouchers_redeemed, found.voucher_holders, found.holders_in
        ),
        campaigns=campaigns,
        quarter_hours=quarter_hours,
        tablets=tablets,
        clerks=clerks,
        conflicts_open=statuses["open"],
        conflicts_resolved=statuses["resolved"],
        peak=max(quarter_hours, key=lambda b: (b.arrivals, -b.start), default=None),
        chart=projections.chart(db, event, reading),
        figures=found,
    )


def _tallies(db: Database, event_id: str) -> tuple[list[Tally], list[Tally]]:
    effective = {row["op_id"] for row in db.query(_EFFECTIVE_REDEMPTIONS, {"event": event_id})}
    web = WEB_DEVICE_PREFIX + event_id
    tablets = {
        row["id"]: Tally(row["id"], row["name"], web=row["id"] == web)
        for row in db.query("select id, name from devices where event_id = ?", [event_id])
    }
    clerks: dict[str, Tally] = {}
    for row in db.query(
        "select op_id, device_id, clerk, kind, json_extract(data, '$.outcome') as outcome from ops "
        "where event_id = ? and kind in ('checkin', 'issue', 'redeem')",
        [event_id],
    ):
        counted = [tablets.setdefault(row["device_id"], Tally(row["device_id"], row["device_id"]))]
        if row["device_id"] != web:  # online sign-ups and imports are nobody's shift
            name = (row["clerk"] or "").strip()
            counted.append(clerks.setdefault(name, Tally(name, name)))
        for tally in counted:
            if row["kind"] == "checkin":
                tally.checkins += 1
            elif row["kind"] == "issue":
                tally.vouchers_issued += 1
            elif row["outcome"] == "refused":
                tally.redemptions_refused += 1
            elif row["op_id"] in effective:
                tally.redemptions_accepted += 1
    busy = [
        t
        for t in tablets.values()
        if t.checkins or t.vouchers_issued or t.redemptions_accepted or t.redemptions_refused or not t.web
    ]
    # By name, as the organizer named them; the web device last: it is not staff.
    return sorted(busy, key=lambda t: (t.web, t.name.casefold(), t.key)), sorted(
        clerks.values(), key=lambda t: t.name.casefold()
    )


# --- exports: a header and rows each ---------------------------------------------------------------------------------

EXPORTS = ("attendees", "checkins", "vouchers", "redemptions", "conflicts")


def iso_time(ms: int | None, timezone: str) -> str:
    """ISO 8601 to the second, with the event's UTC offset (what a spreadsheet can sort)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).isoformat(timespec="seconds")


def export(db: Database, event_id: str, name: str) -> tuple[list[str], list[list]]:
    """The header and rows of one export; LookupError for a name that is not one. Column names
    are stable identifiers, not translated, so scripts and saved spreadsheet imports keep working
    whatever language the organizer reads the console in."""
    if name not in EXPORTS:
        raise LookupError(f"no export {name!r}")
    event = registry.get_event(db, event_id)
    return _EXPORTERS[name](db, event, _device_names(db, event_id))


def _device_names(db: Database, event_id: str) -> dict[str, str]:
    return {row["id"]: row["name"] for row in db.query("select id, name from devices where event_id = ?", [event_id])}


def _attendees(db: Database, event: registry.Event, devices: dict[str, str]) -> tuple[list[str], list[list]]:
    reading = projections.Reading(db, event.id)
    groups = reading.groups
    first = {subject: projections.acted_at_ms(row) for subject, row in reading.first_checkins.items()}
    held = Counter(
        row[0]
        for row in db.execute(
            "select attendee_id from tokens where event_id = ? and type = 'voucher' and attendee_id is not null",
            [event.id],
        )
    )
    rows = [
        [
            row["id"],
            groups.get(row["id"], row["id"]),
            row["name"],
            row["phone"] or "",
            row["email"] or "",
            iso_time(row["registered_at_ms"], event.timezone),
            devices.get(row["device_id"], row["device_id"]),
            "online" if row["device_id"] == WEB_DEVICE_PREFIX + event.id else "tablet",
            iso_time(first.get(row["id"]), event.timezone),
            held[row["id"]],
        ]
        for row in db.query(
            "select a.*, json_extract(o.data, '$.phone') as phone, json_extract(o.data, '$.email') as email "
            "from attendees a left join ops o on o.op_id = a.register_op_id where a.event_id = ? "
            "order by a.registered_at_ms, a.id",
            [event.id],
        )
    ]
    header = [
        "attendee_id",
        "person_id",
        "name",
        "phone",
        "email",
        "registered_at",
        "registered_on",
        "source",
        "checked_in_at",
        "vouchers_held",
    ]
    return header, rows


def _checkins(db: Database, event: registry.Event, devices: dict[str, str]) -> tuple[list[str], list[list]]:
    arrivals = {
        (row["subject"], row["hlc_ms"], row["device_id"]) for row in projections.arrivals(db, event.id).values()
    }
    rows = [
        [
            row["op_id"],
            row["subject"],
            row["name"] or "",
            iso_time(projections.acted_at_ms(row), event.timezone),
            devices.get(row["device_id"], row["device_id"]),
            row["clerk"] or "",
            row["method"] or "",
            "yes" if (row["subject"], row["hlc_ms"], row["device_id"]) in arrivals else "no",
            row["suspect"] or "",
        ]
        for row in db.query(
            "select o.*, json_extract(o.data, '$.method') as method, a.name from ops o "
            "left join attendees a on a.id = o.subject and a.event_id = o.event_id "
            "where o.event_id = ? and o.kind = 'checkin' order by o.hlc_ms, o.hlc_counter, o.device_id",
            [event.id],
        )
    ]
    return [
        "op_id",
        "attendee_id",
        "name",
        "checked_in_at",
        "tablet",
        "clerk",
        "method",
        "arrival",
        "clock_suspect",
    ], rows


def _vouchers(db: Database, event: registry.Event, devices: dict[str, str]) -> tuple[list[str], list[list]]:
    titles = {
        row["number"]: row["title"]
        for row in db.query("select number, title from campaigns where event_id = ?", [event.id])
    }
    uses = Counter(row["subject"] for row in db.query(_EFFECTIVE_REDEMPTIONS, {"event": event.id}))
    voided = {
        row[0]
        for row in db.execute(
            "select subject from ops where event_id = ? and kind = 'void' and json_extract(data, '$.redeem_op_id') is null",
            [event.id],
        )
    }
    issued_by = {
        row[0]: row[1]
        for row in db.execute("select subject, device_id from ops where event_id = ? and kind = 'issue'", [event.id])
    }
    rows = []
    for row in db.query(_ISSUED_VOUCHERS, {"event": event.id, "server": SERVER_KEY_ID}):
        device = issued_by.get(row["id"])
        status = "voided" if row["id"] in voided else "redeemed" if uses[row["id"]] else "unused"
        rows.append(
            [
                row["id"],
                row["campaign"] if row["campaign"] is not None else "",
                titles.get(row["campaign"], ""),
                row["attendee_id"] or "",
                iso_time(row["issued_at"] * 1000, event.timezone),
                iso_time(row["valid_until"] * 1000 if row["valid_until"] is not None else None, event.timezone),
                row["max_uses"],
                devices.get(device, device) if device else "server",
                uses[row["id"]],
                status,
                row["refusal"] or "",
            ]
        )
    header = [
        "voucher_id",
        "campaign",
        "campaign_title",
        "attendee_id",
        "issued_at",
        "valid_until",
        "max_uses",
        "issued_on",
        "uses",
        "status",
        "refusal",
    ]
    return header, rows


def _redemptions(db: Database, event: registry.Event, devices: dict[str, str]) -> tuple[list[str], list[list]]:
    effective = {row["op_id"] for row in db.query(_EFFECTIVE_REDEMPTIONS, {"event": event.id})}
    rows = [
        [
            row["op_id"],
            row["subject"],
            row["campaign"] if row["campaign"] is not None else "",
            iso_time(projections.acted_at_ms(row), event.timezone),
            devices.get(row["device_id"], row["device_id"]),
            row["clerk"] or "",
            row["outcome"],
            "yes" if row["outcome"] == "accepted" and row["op_id"] not in effective else "no",
            row["decided_by"] or "device",
            row["suspect"] or "",
        ]
        for row in db.query(
            "select o.*, t.campaign, json_extract(o.data, '$.outcome') as outcome, "
            "json_extract(o.data, '$.decided_by') as decided_by from ops o "
            "left join tokens t on t.event_id = o.event_id and t.id = o.subject "
            "where o.event_id = ? and o.kind = 'redeem' order by o.hlc_ms, o.hlc_counter, o.device_id",
            [event.id],
        )
    ]
    header = [
        "op_id",
        "voucher_id",
        "campaign",
        "redeemed_at",
        "tablet",
        "clerk",
        "outcome",
        "undone",
        "decided_by",
        "clock_suspect",
    ]
    return header, rows


def _conflicts(db: Database, event: registry.Event, devices: dict[str, str]) -> tuple[list[str], list[list]]:
    roles: dict[int, list[str]] = defaultdict(list)
    for row in db.query(
        "select co.conflict_id, co.op_id, co.role from conflict_ops co join conflicts c on c.id = co.conflict_id "
        "where c.event_id = ? order by co.conflict_id, co.op_id",
        [event.id],
    ):
        roles[row["conflict_id"]].append(f"{row['op_id']}:{row['role']}")
    latest = {
        row["conflict_id"]: row
        for row in db.query(
            "select r.* from conflict_resolutions r join conflicts c on c.id = r.conflict_id where c.event_id = ? order by r.id",
            [event.id],
        )
    }
    rows = []
    for row in db.query("select * from conflicts where event_id = ? order by id", [event.id]):
        subject = row["subject"]
        if row["kind"] == "possible_duplicate":
            # The subject is the shared phone or email: name the attendees instead (no contact
            # details outside the attendees export).
            subject = " ".join(json.loads(row["detail"]).get("attendees", []))
        decision = latest.get(row["id"], {})
        rows.append(
            [
                row["id"],
                row["kind"],
                row["status"],
                subject,
                iso_time(row["opened_at_ms"], event.timezone),
                " ".join(roles[row["id"]]),
                decision.get("decision", ""),
                decision.get("decided_by", ""),
                iso_time(decision.get("decided_at_ms"), event.timezone),
                decision.get("note", ""),
            ]
        )
    header = [
        "conflict_id",
        "kind",
        "status",
        "subject",
        "opened_at",
        "ops",
        "decision",
        "decided_by",
        "decided_at",
        "note",
    ]
    return header, rows


_EXPORTERS = {
    "attendees": _attendees,
    "checkins": _checkins,
    "vouchers": _vouchers,
    "redemptions": _redemptions,
    "conflicts": _conflicts,
}

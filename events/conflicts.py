"""Conflicts as stored: findings of events/merge.py kept under (event, kind, subject).

After every batch the subjects it touched are re-merged from all their stored ops. A conflict
is opened the first time it is found, updated when its ops change, reopened when new ops join
one a person already resolved, and marked `cleared` (never deleted) when later ops remove its
cause — for example an undo that brings a voucher back within its uses.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import msgspec
from sqlite_utils import Database

from events import merge, oplog, registry
from events.db import write_transaction
from events.hlc import order_key
from events.keys import KeyStatus
from events.refusal import FieldRefusal
from events.trust import ClockPolicy, TrustBundle

DECISIONS = ("honour", "reverse", "merge", "dismiss")
# What a person may decide, by kind. A decision is a record for the organizer and the report:
# it never changes, adds or removes an op (the log is facts), so "reverse" means "take it back
# at the counter", not "undo it in the data".
#   voucher conflicts and over_cap:
#     honour  — the extra use (or voucher) stands: the customer keeps what they were given;
#     reverse — it should not have been given: the store takes it back or writes it off as a loss;
#     dismiss — nothing wrong happened (e.g. the same person scanned twice, already settled).
#   possible_duplicate:
#     merge   — the same person registered twice: count them once;
#     dismiss — different people sharing a phone or email (a family, a shared inbox).
KIND_DECISIONS = {
    **{kind: ("honour", "reverse", "dismiss") for kind in (*merge.VOUCHER_CONFLICTS, *merge.CAMPAIGN_CONFLICTS)},
    **{kind: ("merge", "dismiss") for kind in merge.DUPLICATE_CONFLICTS},
}
STATUSES = ("open", "resolved", "cleared")
NOTE_MAX = 2000
DECIDED_BY_MAX = 80
CHUNK = 500  # ids per IN (...) query


class ResolutionRefused(FieldRefusal):
    """A resolution that cannot be recorded; `field` is decision, note or decided_by ("" when the
    conflict itself is the reason: a cleared one has nothing left to decide)."""


@dataclass(frozen=True)
class Conflict:
    id: int
    event_id: str
    kind: str
    subject: str
    status: str
    detail: dict
    opened_at_ms: int
    change_seq: int
    roles: dict[str, str]


@dataclass(frozen=True)
class Resolution:
    conflict_id: int
    decided_by: str
    decided_at_ms: int
    decision: str
    note: str


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


_decode_json = msgspec.json.Decoder(dict).decode


class _VoucherData(msgspec.Struct):
    token: str | None = None
    outcome: str | None = None
    redeem_op_id: str | None = None
    code_step: int | None = None


_VOUCHER_DATA = _VoucherData.__struct_fields__
_decode_voucher_data = msgspec.json.Decoder(_VoucherData).decode
_OP_FIELDS = "op_id, device_id, kind, subject, hlc_ms, hlc_counter, corrected_time_ms, data"


def _logged(row: tuple) -> merge.LoggedOp:
    """A row selected as _OP_FIELDS."""
    return merge.LoggedOp(*row[:7], data=_decode_json(row[7]))


class TokenRow(NamedTuple):
    text: str
    refusal: str
    type: str
    max_uses: int
    valid_from: int
    valid_until: int | None
    key_id: int
    campaign: int | None = None


def token_rows(db: Database, event_id: str, token_ids: list[str]) -> dict[str, TokenRow]:
    """What the event has on record for these token ids (one query per 500)."""
    rows = {}
    for chunk in _chunks(token_ids):
        marks = ",".join("?" * len(chunk))
        for token_id, *fields in db.conn.execute(
            "select id, text, refusal, type, max_uses, valid_from, valid_until, key_id, campaign from tokens "
            f"where event_id = ? and id in ({marks})",
            [event_id, *chunk],
        ):
            rows[token_id] = TokenRow(*fields)
    return rows


def voucher_terms(
    db: Database,
    event_id: str,
    token_ids: list[str],
    *,
    bundle: TrustBundle | None = None,
    rows: dict[str, TokenRow] | None = None,
) -> dict[str, merge.VoucherTerms]:
    """Each known token's terms and whether its issuer is trusted under today's key registry.
    `rows` may hold token rows already read in this transaction; the rest are fetched."""
    bundle = bundle or registry.trust_bundle(db, event_id, now=0)
    rows = dict(rows or {})
    missing = [token_id for token_id in token_ids if token_id not in rows]
    rows.update(token_rows(db, event_id, missing))
    terms = {}
    for token_id in token_ids:
        row = rows.get(token_id)
        if row is None:
            continue
        key = bundle.keys.get(row.key_id)
        if row.refusal:
            distrust = row.refusal
        elif key is None:
            distrust = "unknown_key"
        elif key.status is KeyStatus.REVOKED and token_id not in key.allowlist:
            distrust = "revoked_key"
        else:
            distrust = ""
        terms[token_id] = merge.VoucherTerms(
            token_id, row.text, row.max_uses, row.valid_from, row.valid_until, not distrust, distrust
        )
    return terms


def voucher_ops(db: Database, event_id: str, token_ids: list[str]) -> dict[str, list[merge.LoggedOp]]:
    ops: dict[str, list[merge.LoggedOp]] = defaultdict(list)
    for chunk in _chunks(token_ids):
        marks = ",".join("?" * len(chunk))
        rows = db.conn.execute(
            f"select {_OP_FIELDS} from ops where event_id = ? and subject in ({marks})", [event_id, *chunk]
        )
        for row in rows:
            if row[2] not in ("issue", "redeem", "void"):
                continue  # an attendee id that happens to look like a token id
            # Only the data fields the voucher rules read (the token text is most of the JSON).
            fields = _decode_voucher_data(row[7])
            data = {name: getattr(fields, name) for name in _VOUCHER_DATA if getattr(fields, name) is not None}
            ops[row[3]].append(merge.LoggedOp(*row[:7], data=data))
    return ops


def recompute_vouchers(
    db: Database,
    event_id: str,
    token_ids: Iterable[str],
    *,
    now_ms: int,
    bundle: TrustBundle | None = None,
    rows: dict[str, TokenRow] | None = None,
) -> list[int]:
    """Re-merge these vouchers from all their ops; returns the ids of conflicts that changed."""
    ids = sorted(set(token_ids))
    if not ids:
        return []
    terms = voucher_terms(db, event_id, ids, bundle=bundle, rows=rows)
    ops = voucher_ops(db, event_id, ids)
    tolerance = ClockPolicy().validity_tolerance_s
    findings = [
        finding
        for token_id in ids
        if token_id in terms
        for finding in merge.voucher_findings(terms[token_id], ops[token_id], tolerance_s=tolerance)
    ]
    scope = {(kind, token_id) for token_id in ids for kind in merge.VOUCHER_CONFLICTS}
    return _store(db, event_id, scope, findings, now_ms=now_ms)


def recompute_duplicates(db: Database, event_id: str, keys: Iterable[str], *, now_ms: int) -> list[int]:
    findings = []
    wanted = sorted(set(keys))
    for key in wanted:
        column = "phone_key" if key.startswith("phone:") else "email_key"
        rows = db.conn.execute(
            f"select {', '.join('o.' + f for f in _OP_FIELDS.split(', '))} "
            f"from attendees a join ops o on o.op_id = a.register_op_id where a.event_id = ? and a.{column} = ?",
            [event_id, key.split(":", 1)[1]],
        )
        findings += merge.duplicate_findings(key, [_logged(row) for row in rows])
    scope = {(kind, key) for key in wanted for kind in merge.DUPLICATE_CONFLICTS}
    return _store(db, event_id, scope, findings, now_ms=now_ms)


def recompute_caps(db: Database, event_id: str, numbers: Iterable[int], *, now_ms: int) -> list[int]:
    """Re-merge these campaigns' issue ops against their caps (over_cap, subject "campaign:<n>")."""
    findings = []
    wanted = sorted(set(numbers))
    for number in wanted:
        row = db.execute("select cap from campaigns where event_id = ? and number = ?", [event_id, number]).fetchone()
        if row is None or row[0] is None:
            continue  # no cap: nothing to find (and any earlier over_cap is cleared below)
        issues = db.conn.execute(
            f"select {', '.join('o.' + f for f in _OP_FIELDS.split(', '))} from ops o "
            "join tokens t on t.event_id = o.event_id and t.id = o.subject "
            "where o.event_id = ? and o.kind = 'issue' and t.type = 'voucher' and t.campaign = ? and t.refusal = ''",
            [event_id, number],
        )
        findings += merge.cap_findings(f"campaign:{number}", row[0], [_logged(op) for op in issues])
    scope = {(kind, f"campaign:{number}") for number in wanted for kind in merge.CAMPAIGN_CONFLICTS}
    return _store(db, event_id, scope, findings, now_ms=now_ms)


def _store(
    db: Database, event_id: str, scope: set[tuple[str, str]], findings: list[merge.Finding], *, now_ms: int
) -> list[int]:
    subjects = sorted({subject for _, subject in scope})
    kinds = sorted({kind for kind, _ in scope})
    existing: dict[tuple[str, str], dict] = {}
    roles: dict[int, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(subjects):
        marks = ",".join("?" * len(chunk))
        # Naming the kinds lets SQLite use the (event_id, kind, subject) index.
        query = (
            f"select * from conflicts where event_id = ? and kind in ({','.join('?' * len(kinds))}) "
            f"and subject in ({marks})"
        )
        for row in db.query(query, [event_id, *kinds, *chunk]):
            if (row["kind"], row["subject"]) in scope:
                existing[(row["kind"], row["subject"])] = row
        if existing:
            ids = [row["id"] for row in existing.values()]
            for row in db.query(f"select * from conflict_ops where conflict_id in ({','.join('?' * len(ids))})", ids):
                roles[row["conflict_id"]][row["op_id"]] = row["role"]
    changed = []
    found = set()
    for finding in findings:
        key = (finding.kind, finding.subject)
        found.add(key)
        detail = json.dumps(finding.detail, sort_keys=True)
        row = existing.get(key)
        if row is None:
            conflict_id = (
                db["conflicts"]
                .insert(
                    {
                        "event_id": event_id,
                        "kind": finding.kind,
                        "subject": finding.subject,
                        "status": "open",
                        "detail": detail,
                        "opened_at_ms": now_ms,
                        "change_seq": oplog.allocate(db, 1),
                    }
                )
                .last_pk
            )
            _set_roles(db, conflict_id, {}, finding.roles)
            changed.append(conflict_id)
            continue
        old = roles[row["id"]]
        if old == finding.roles and row["detail"] == detail and row["status"] != "cleared":
            continue
        # New ops joining a resolved conflict need a person again; the same ops do not.
        status = (
            "open"
            if row["status"] == "cleared" or (row["status"] == "resolved" and set(finding.roles) - set(old))
            else row["status"]
        )
        db["conflicts"].update(row["id"], {"status": status, "detail": detail, "change_seq": oplog.allocate(db, 1)})
        _set_roles(db, row["id"], old, finding.roles)
        changed.append(row["id"])
    for key, row in existing.items():
        if key not in found and row["status"] != "cleared":
            db["conflicts"].update(row["id"], {"status": "cleared", "change_seq": oplog.allocate(db, 1)})
            changed.append(row["id"])
    return changed


def _set_roles(db: Database, conflict_id: int, old: dict[str, str], new: dict[str, str]) -> None:
    gone = [op_id for op_id in old if op_id not in new]
    if gone:
        db.execute(
            f"delete from conflict_ops where conflict_id = ? and op_id in ({','.join('?' * len(gone))})",
            [conflict_id, *gone],
        )
    db["conflict_ops"].upsert_all(
        (
            {"conflict_id": conflict_id, "op_id": op_id, "role": role}
            for op_id, role in new.items()
            if old.get(op_id) != role
        ),
        pk=("conflict_id", "op_id"),
    )


def _conflict(db: Database, row: dict) -> Conflict:
    roles = {r["op_id"]: r["role"] for r in db["conflict_ops"].rows_where("conflict_id = ?", [row["id"]])}
    return Conflict(**{**row, "detail": json.loads(row["detail"]), "roles": roles})


def get_conflict(db: Database, conflict_id: int) -> Conflict:
    rows = list(db["conflicts"].rows_where("id = ?", [conflict_id]))
    if not rows:
        raise LookupError(f"no conflict {conflict_id}")
    return _conflict(db, rows[0])


def list_conflicts(
    db: Database, event_id: str, *, status: str | None = None, after_change: int = 0, upto_change: int | None = None
) -> list[Conflict]:
    where, args = "event_id = ? and change_seq > ?", [event_id, after_change]
    if status:
        where, args = where + " and status = ?", [*args, status]
    if upto_change is not None:
        where, args = where + " and change_seq <= ?", [*args, upto_change]
    return [_conflict(db, row) for row in db["conflicts"].rows_where(where, args, order_by="change_seq")]


def decisions_for(kind: str) -> tuple[str, ...]:
    return KIND_DECISIONS.get(kind, DECISIONS)


def resolve(db: Database, conflict_id: int, *, decided_by: str, decision: str, note: str, now_ms: int) -> Resolution:
    """A person's decision, recorded beside the conflict; the ops stay as they are. Deciding
    again (the organizer changed their mind, or new ops reopened it) adds a resolution: the
    earlier ones stay, and together they are the conflict's audit trail.

    The note is optional: the decision is the record, and a required note gets "ok" typed into
    it; the page asks for one. Refusals are ResolutionRefused (a ValueError) naming the field."""
    decision = decision.strip()
    if not decision:
        raise ResolutionRefused("decision_missing", "decision")
    if decision not in DECISIONS:
        raise ResolutionRefused("decision_unknown", "decision", f"decision is one of {', '.join(DECISIONS)}")
    if not decided_by.strip():
        raise ResolutionRefused("decided_by_missing", "decided_by", "who decided is required")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ResolutionRefused("note_too_long", "note", f"at most {NOTE_MAX} characters")
    with write_transaction(db):
        conflict = get_conflict(db, conflict_id)
        if decision not in decisions_for(conflict.kind):
            raise ResolutionRefused(
                "decision_not_for_kind",
                "decision",
                f"a {conflict.kind} is decided with {', '.join(decisions_for(conflict.kind))}",
            )
        if conflict.status == "cleared":
            raise ResolutionRefused("cleared", "", "a cleared conflict has nothing left to decide")
        resolution = Resolution(conflict_id, decided_by.strip()[:DECIDED_BY_MAX], now_ms, decision, note)
        db["conflict_resolutions"].insert(vars(resolution))
        db["conflicts"].update(conflict_id, {"status": "resolved", "change_seq": oplog.allocate(db, 1)})
    return resolution


def resolutions(db: Database, conflict_id: int) -> list[Resolution]:
    return [
        Resolution(**{k: row[k] for k in ("conflict_id", "decided_by", "decided_at_ms", "decision", "note")})
        for row in db["conflict_resolutions"].rows_where("conflict_id = ?", [conflict_id], order_by="id")
    ]


# --- what a person needs to decide: the records; the console's view of them is server/conflict_views.py


@dataclass(frozen=True)
class ConflictOp:
    """One op of a conflict as recorded: who did what, where, when, and what the clerk's screen
    said at the time."""

    op_id: str
    role: str
    kind: str
    subject: str
    device_id: str
    device_name: str
    clerk: str
    at_ms: int  # when it happened in server time (merge.LoggedOp.acted_at_ms)
    corrected: bool  # False: the device had no clock correction yet, at_ms is its HLC time
    suspect: str  # clock flags, "" when its time is trusted
    shown: dict | None  # what the clerk saw: verdict, reason, prior_uses_seen (checkin, redeem)
    outcome: str = ""  # redeem: accepted or refused
    decided_by: str = ""  # redeem: device (offline) or server (online)
    name: str = ""  # register: the name typed
    reason: str = ""  # void: why


@dataclass(frozen=True)
class ConflictSubject:
    """What a conflict is about, as the event has it on record. `about` is voucher, contact or campaign."""

    about: str
    token_id: str = ""
    campaign_number: int | None = None
    campaign_title: str = ""
    holder: str = ""  # the voucher's holder, "" when it was given to nobody in particular
    contact: str = ""  # the phone number or email several attendees share
    attendees: tuple[tuple[str, str], ...] = ()  # (id, name) of those sharing it
    cap: int | None = None
    issued: int | None = None


def conflict_ops(db: Database, conflict_id: int) -> list[ConflictOp]:
    """Every op of the conflict with its role, in merge order (HLC, then device id)."""
    rows = db.execute(
        "select c.role, o.op_id, o.kind, o.subject, o.device_id, coalesce(d.name, ''), o.clerk, o.hlc_ms, "
        "o.hlc_counter, o.corrected_time_ms, o.suspect, o.data from conflict_ops c "
        "join ops o on o.op_id = c.op_id left join devices d on d.id = o.device_id where c.conflict_id = ?",
        [conflict_id],
    ).fetchall()
    found = []
    for (
        role,
        op_id,
        kind,
        subject,
        device_id,
        device_name,
        clerk,
        hlc_ms,
        hlc_counter,
        corrected,
        suspect,
        data,
    ) in rows:
        data = _decode_json(data)
        shown = data.get("shown")
        found.append(
            (
                order_key(hlc_ms, hlc_counter, device_id),
                ConflictOp(
                    op_id,
                    role,
                    kind,
                    subject,
                    device_id,
                    device_name,
                    clerk,
                    at_ms=corrected if corrected is not None else hlc_ms,
                    corrected=corrected is not None,
                    suspect=suspect,
                    shown=shown if isinstance(shown, dict) else None,
                    outcome=data.get("outcome", ""),
                    decided_by=data.get("decided_by", "device" if kind == "redeem" else ""),
                    name=data.get("name", "") if kind == "register" else "",
                    reason=data.get("reason", "") if kind == "void" else "",
                ),
            )
        )
    return [op for _, op in sorted(found, key=lambda pair: pair[0])]


def describe(db: Database, conflict: Conflict) -> ConflictSubject:
    """The voucher (campaign, holder), the shared phone or email (who shares it) or the campaign
    (title, cap, issued) a conflict is about."""
    if conflict.kind in merge.DUPLICATE_CONFLICTS:
        ids = list(conflict.detail.get("attendees", []))
        names = (
            dict(
                db.execute(
                    f"select id, name from attendees where event_id = ? and id in ({','.join('?' * len(ids))})",
                    [conflict.event_id, *ids],
                ).fetchall()
            )
            if ids
            else {}
        )
        return ConflictSubject(
            "contact", contact=conflict.subject.split(":", 1)[-1], attendees=tuple((i, names.get(i, "")) for i in ids)
        )
    if conflict.kind in merge.CAMPAIGN_CONFLICTS:
        number = int(conflict.subject.split(":", 1)[1])
        return ConflictSubject(
            "campaign",
            campaign_number=number,
            campaign_title=_campaign_title(db, conflict.event_id, number),
            cap=conflict.detail.get("cap"),
            issued=conflict.detail.get("issued"),
        )
    row = db.execute(
        "select t.campaign, coalesce(a.name, '') from tokens t left join attendees a on a.id = t.attendee_id "
        "where t.event_id = ? and t.id = ?",
        [conflict.event_id, conflict.subject],
    ).fetchone()
    number, holder = row if row else (None, "")
    return ConflictSubject(
        "voucher",
        token_id=conflict.subject,
        campaign_number=number,
        campaign_title=_campaign_title(db, conflict.event_id, number),
        holder=holder,
    )


def _campaign_title(db: Database, event_id: str, number: int | None) -> str:
    if number is None:
        return ""
    row = db.execute("select title from campaigns where event_id = ? and number = ?", [event_id, number]).fetchone()
    return row[0] if row else ""


def counts(db: Database, event_id: str) -> dict[str, int]:
    """How many conflicts of the event are open, resolved and cleared."""
    found = dict(
        db.execute("select status, count(*) from conflicts where event_id = ? group by status", [event_id]).fetchall()
    )
    return {status: found.get(status, 0) for status in STATUSES}

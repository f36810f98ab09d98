"""Push, pull and online redemption: how devices' facts enter the log and come back out.

Push is idempotent and ordered per device (docs/sync-protocol.md): in one write transaction the
server skips ops at or below the device's last applied device_seq (duplicates), refuses a gap
(the device resends from `resend_from`), stores each op_id once, then re-merges every subject
the batch touched. A business rule broken by an op never refuses it: it becomes a conflict.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

import msgspec
from sqlite_utils import Database

from events import conflicts, devices, hlc, log_identity, merge, oplog, phone_search, registry, tokens, verdict
from events.db import is_disk_full, write_transaction
from events.ops import InvalidInput, OnlineRedeem, Op, PushBatch
from events.trust import ClockPolicy, TrustBundle

PULL_LIMIT = 1000
_ATTENDEE_COLUMNS = (
    "id",
    "event_id",
    "name",
    "phone_key",
    "email_key",
    "register_op_id",
    "hlc_ms",
    "hlc_counter",
    "device_id",
    "registered_at_ms",
)
_UPSERT_ATTENDEE = (
    f"insert into attendees ({', '.join(_ATTENDEE_COLUMNS)}) values ({', '.join(':' + c for c in _ATTENDEE_COLUMNS)}) "
    f"on conflict (id) do update set {', '.join(f'{c} = excluded.{c}' for c in _ATTENDEE_COLUMNS[1:])}"
)
# What a tablet pulls of an op's data (protocol 2, docs/sync-protocol.md, Pull). A tablet finds
# people by name and by phone, but holds no number: a register op's phone becomes its search
# hash and last 4 digits (events/phone_search.py), its email goes. And no pass text: a scanned
# pass proves itself by its signature, so a register's and a check-in's pass_token go, and so
# does the token of an issue op that issued a pass. A stolen tablet then holds no one's number
# and no pass to check in as someone else.
_PULLED_DATA = (
    "case kind "
    "when 'register' then poppass_pulled_register(data, :phone_search_key) "
    "when 'checkin' then json_remove(data, '$.pass_token') "
    "when 'issue' then case when (select type from tokens where tokens.event_id = ops.event_id and tokens.id = ops.subject) "
    "= 'pass' then json_remove(data, '$.token') else data end "
    "else data end"
)


def pulled_register(data: str, phone_search_key: bytes) -> str:
    """A register op's data as tablets pull it: no email, phone or pass text; the phone's search
    hash and last 4 digits instead, when it has them."""
    fields = json.loads(data)
    phone = fields.pop("phone", "")
    fields.pop("email", None)
    fields.pop("pass_token", None)
    if hashed := phone_search.search_hash(phone_search_key, phone):
        fields["phone_hash"] = hashed
    if last := phone_search.last_digits(phone):
        fields["phone_last4"] = last
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


class Gap(Exception):
    """The batch skips device_seq numbers the server has not seen: resend from `resend_from`."""

    def __init__(self, resend_from: int) -> None:
        super().__init__(f"resend from device_seq {resend_from}")
        self.resend_from = resend_from


class SeqReused(Exception):
    """An op the server has never seen claims a device_seq already applied: the device's
    counter went backwards. Refused whole, so nothing is dropped; it must renumber after
    `last_seq`."""

    def __init__(self, device_seq: int, last_seq: int) -> None:
        super().__init__(f"device_seq {device_seq} is already used (last applied: {last_seq})")
        self.device_seq = device_seq
        self.last_seq = last_seq


@dataclass(frozen=True)
class OpResult:
    op_id: str
    device_seq: int
    status: str  # applied, duplicate (seq already applied), duplicate_op_id (op_id already stored)
    seq: int | None = None


@dataclass(frozen=True)
class PushResult:
    results: list[OpResult]
    last_seq: int
    server_time_ms: int
    clock_offset_ms: int
    conflicts: list[int] = field(default_factory=list)
    log_id: str = ""  # the log's current history (events/log_identity.py)


@dataclass(frozen=True)
class PullResult:
    ops: list[dict]
    conflicts: list[conflicts.Conflict]
    cursor: int
    more: bool
    bundle: dict
    server_time_ms: int
    log_id: str


@dataclass(frozen=True)
class OnlineDecision:
    op_id: str
    outcome: str  # accepted or refused
    reason: str  # why refused ("" when accepted): a token reason, a code reason, or a use rule
    uses_before: int
    max_uses: int
    seq: int
    log_id: str = ""  # the log's current history (events/log_identity.py)


def check_ops(ops: list[Op], known: dict[str, conflicts.TokenRow] | None = None) -> dict[str, tokens.Token]:
    """What the schema cannot say: tokens in ops decode, and name the op's subject.

    Returns each op's decoded token by op_id. A token text the event already has on record
    passed these checks when it was first stored, so it is not decoded again."""
    known = known or {}
    decoded: dict[str, tokens.Token] = {}
    seen_seq, seen_id = set(), set()
    for index, op in enumerate(ops):
        if op.device_seq in seen_seq:
            raise InvalidInput("device_seq repeated in the batch", f"$.ops[{index}].device_seq")
        if op.op_id in seen_id:
            raise InvalidInput("op_id repeated in the batch", f"$.ops[{index}].op_id")
        seen_seq.add(op.device_seq)
        seen_id.add(op.op_id)
        if op.kind == "redeem" and op.data.decided_by == "server":
            raise InvalidInput("only the server decides online redemptions", f"$.ops[{index}].data.decided_by")
        text = getattr(op.data, "token", None) or getattr(op.data, "pass_token", None)
        if text is None:
            continue
        on_record = known.get(op.subject)
        if op.kind in ("issue", "redeem") and on_record is not None and on_record.text == text:
            if op.kind == "redeem" and on_record.type != "voucher":
                raise InvalidInput(
                    "only a voucher is redeemed (this is an attendee pass)", f"$.ops[{index}].data.token"
                )
            continue
        try:
            token = tokens.decode(text).token
        except tokens.TokenError as error:
            raise InvalidInput(f"token is {error.reason}: {error.detail}", f"$.ops[{index}].data") from None
        if op.kind in ("issue", "redeem") and token.id != op.subject:
            raise InvalidInput("subject is not the token's id", f"$.ops[{index}].subject")
        if op.kind == "redeem" and token.type is not tokens.TokenType.VOUCHER:
            raise InvalidInput("only a voucher is redeemed (this is an attendee pass)", f"$.ops[{index}].data.token")
        if getattr(op.data, "pass_token", None):
            if token.type is not tokens.TokenType.PASS:
                raise InvalidInput("pass_token is not an attendee pass", f"$.ops[{index}].data.pass_token")
            # An attendee's id is the id of their pass, so any tablet that scans a pass knows
            # whom it names, even before it has pulled the registration.
            if token.id != op.subject:
                raise InvalidInput("an attendee's id is the token id of their pass", f"$.ops[{index}].subject")
        decoded[op.op_id] = token
    return decoded


def push(db: Database, device_id: str, batch: PushBatch, *, now_ms: int) -> PushResult:
    if batch.device_id != device_id:
        raise InvalidInput("device_id is not the device this token belongs to", "$.device_id")
    ops = sorted(batch.ops, key=lambda op: op.device_seq)
    offset = hlc.measured_offset_ms(now_ms, batch.sent_at_ms)
    with write_transaction(db):
        log_id = log_identity.check(db, batch.log_id, device_id)  # a restore: the tablet sends again what it kept
        device = devices.get_device(db, device_id)
        claimed = sorted({op.subject for op in ops if op.kind in ("issue", "redeem")})
        known = conflicts.token_rows(db, device.event_id, claimed)
        decoded = check_ops(batch.ops, known)  # refusing here rolls back: nothing is written
        last = device.last_seq
        fresh = [op for op in ops if op.device_seq > last]
        if fresh and [op.device_seq for op in fresh] != list(range(last + 1, last + 1 + len(fresh))):
            raise Gap(last + 1)
        replayed = [op for op in ops if op.device_seq <= last]
        stored = oplog.stored_op_ids(db, [op.op_id for op in replayed])
        for op in replayed:
            if op.op_id not in stored:
                raise SeqReused(op.device_seq, last)
        results = [OpResult(op.op_id, op.device_seq, "duplicate") for op in replayed]
        new = _insert(db, device, fresh, now_ms=now_ms, offset=offset)
        applied = {op.op_id: seq for seq, op in new}
        new_ops = [op for _, op in new]
        results += [
            OpResult(op.op_id, op.device_seq, "applied", applied[op.op_id])
            if op.op_id in applied
            else OpResult(op.op_id, op.device_seq, "duplicate_op_id")
            for op in fresh
        ]
        changed = _apply(db, device.event_id, device.id, new_ops, decoded, known, now_ms=now_ms)
        db.execute(
            "update devices set last_seq = ?, last_sync_at = ?, clock_offset_ms = ?, pending = ? where id = ?",
            [max(last, ops[-1].device_seq) if ops else last, now_ms // 1000, offset, batch.pending, device_id],
        )
    results.sort(key=lambda r: r.device_seq)
    return PushResult(results, max(last, ops[-1].device_seq) if ops else last, now_ms, offset, changed, log_id)


def _insert(db: Database, device: devices.Device, fresh: list[Op], *, now_ms: int, offset: int) -> list[tuple[int, Op]]:
    """Store the ops whose op_id is new; returns them with their log seq."""
    if not fresh:
        return []
    first = oplog.allocate(db, len(fresh))
    policy = ClockPolicy()
    numbered = [(first + i, op) for i, op in enumerate(fresh)]
    landed = oplog.append(db, [_row(op, seq, device, now_ms, offset, policy) for seq, op in numbered])
    return [(seq, op) for seq, op in numbered if seq in landed]


def _row(op: Op, seq: int, device: devices.Device, now_ms: int, offset: int, policy: ClockPolicy) -> tuple:
    suspect = hlc.suspect_reasons(
        hlc_ms=op.hlc_ms,
        device_time_ms=op.device_time_ms,
        corrected_time_ms=op.corrected_time_ms,
        received_at_ms=now_ms,
        offset_ms=offset,
        policy=policy,
    )
    return (
        seq,
        op.op_id,
        device.event_id,
        device.id,
        op.device_seq,
        op.kind,
        op.subject,
        op.hlc_ms,
        op.hlc_counter,
        op.device_time_ms,
        op.corrected_time_ms,
        op.clerk,
        msgspec.json.encode(op.data).decode(),
        now_ms,
        ",".join(suspect),
    )


def _apply(
    db: Database,
    event_id: str,
    device_id: str,
    new: list[Op],
    decoded: dict[str, tokens.Token],
    known: dict[str, conflicts.TokenRow],
    *,
    now_ms: int,
) -> list[int]:
    """Bring the projections and conflicts in step with newly stored ops."""
    vouchers: set[str] = {op.subject for op in new if op.kind in ("issue", "redeem", "void")}
    keys: set[str] = set()
    for op in new:
        if op.kind == "register":
            keys |= register_attendee(db, event_id, device_id, op)
    bundle = registry.trust_bundle(db, event_id, now=now_ms // 1000) if vouchers else None
    known = dict(known)
    for op in new:
        if op.kind not in ("issue", "redeem"):
            continue
        attendee_id = getattr(op.data, "attendee_id", None)
        seen = known.get(op.subject)
        if seen is not None and seen.text == op.data.token and not attendee_id:
            continue  # already on record as this very text: nothing to learn
        remember_token(db, bundle, op.data.token, decoded.get(op.op_id), attendee_id=attendee_id)
        known.update(conflicts.token_rows(db, event_id, [op.subject]))
    changed = conflicts.recompute_vouchers(db, event_id, vouchers, now_ms=now_ms, bundle=bundle, rows=known)
    capped = {
        known[op.subject].campaign
        for op in new
        if op.kind == "issue" and op.subject in known and known[op.subject].campaign
    }
    changed += conflicts.recompute_caps(db, event_id, capped, now_ms=now_ms)
    return changed + conflicts.recompute_duplicates(db, event_id, keys, now_ms=now_ms)


def register_attendee(db: Database, event_id: str, device_id: str, op: Op) -> set[str]:
    """The attendee as first registered (events/verdict.py first: the earliest by HLC wins, whatever
    order ops arrive in; an equal stamp keeps the one on record)."""
    existing = db.execute("select hlc_ms, hlc_counter, device_id from attendees where id = ?", [op.subject]).fetchone()
    if existing is not None and hlc.order_key(*existing) <= hlc.order_key(op.hlc_ms, op.hlc_counter, device_id):
        return set()
    data = op.data
    row = {
        "id": op.subject,
        "event_id": event_id,
        "name": data.name,
        "phone_key": merge.phone_key(data.phone),
        "email_key": merge.email_key(data.email),
        "register_op_id": op.op_id,
        "hlc_ms": op.hlc_ms,
        "hlc_counter": op.hlc_counter,
        "device_id": device_id,
        # When it happened (merge.LoggedOp.acted_at_ms): a corrected time of 0 is a time, not a missing one.
        "registered_at_ms": op.hlc_ms if op.corrected_time_ms is None else op.corrected_time_ms,
    }
    # Plain SQL: an import registers thousands at once, and sqlite-utils' upsert re-reads the schema each time.
    db.execute(_UPSERT_ATTENDEE, row)
    return set(merge.dedup_keys({"phone": data.phone, "email": data.email}))


def remember_token(
    db: Database, bundle: TrustBundle, text: str, token: tokens.Token | None = None, *, attendee_id: str | None
) -> None:
    """Record a token first seen in an op, and whether its bytes verify.

    One text is kept per token id, chosen so that the arrival order does not matter: a genuine
    text beats a refused one, and between two genuine texts (an enrolled tablet minting an id
    that already exists) the smaller text wins. The merge flags ops carrying any other text."""
    token = token or tokens.decode(text).token
    existing = db.execute(
        "select text, refusal from tokens where event_id = ? and id = ?", [bundle.event_id, token.id]
    ).fetchone()
    if existing is not None and existing[0] == text:
        if attendee_id:
            db.execute(
                "update tokens set attendee_id = coalesce(attendee_id, ?) where event_id = ? and id = ?",
                [attendee_id, bundle.event_id, token.id],
            )
        return
    try:
        tokens.authenticate(text, bundle)
        refusal = ""
    except tokens.TokenError as error:
        # Revocation is judged at merge time against the keys of the day; only bytes count here.
        refusal = "" if error.reason is tokens.Reason.REVOKED_KEY else str(error.reason)
    if existing is not None:
        kept_text, kept_refusal = existing
        # Refused beats nothing; genuine beats refused; between equals the smaller text wins.
        if (bool(refusal), text) >= (bool(kept_refusal), kept_text):
            return
    key = bundle.keys.get(token.key_id)
    db["tokens"].upsert(
        {
            "id": token.id,
            "event_id": bundle.event_id,
            "type": token.type.name.lower(),
            "campaign": token.campaign or None,
            "key_id": token.key_id,
            "text": text,
            "issued_at": token.issued_at,
            "valid_from": token.valid_from,
            "valid_until": token.valid_until,
            "max_uses": token.max_uses,
            "rotating": int(token.rotating),
            "issuer_device": key.device_id if key else None,
            "attendee_id": attendee_id,
            "refusal": refusal,
        },
        pk=("event_id", "id"),
    )


def _note(db: Database, sql: str, params: list) -> None:
    """What a pull records about the tablet (clerk, last sync, clock offset): only bookkeeping,
    so a full disk (SQLITE_FULL) skips it rather than keep the tablet from what is stored."""
    try:
        with write_transaction(db):
            db.execute(sql, params)
    except (sqlite3.OperationalError, OSError) as error:
        if not is_disk_full(error):
            raise


def pull(
    db: Database,
    device_id: str,
    *,
    after: int,
    now_ms: int,
    limit: int = PULL_LIMIT,
    sent_at_ms: int | None = None,
    clerk: str | None = None,
    log_id: str | None = None,
) -> PullResult:
    """Everything after the cursor that this device did not write itself, and the trust bundle.
    With `sent_at_ms` (the device's own clock) the pull also measures its clock offset; with
    `clerk`, it records who is on shift on the tablet (the console shows them). With `log_id`,
    the history the cursor belongs to: another than the current one raises LogChanged."""
    current_log = log_identity.check(db, log_id, device_id)
    device = devices.get_device(db, device_id)
    columns = [c for c in oplog.COLUMNS if c not in ("event_id", "received_at_ms")]  # seq first
    key = registry.phone_search_key(db, device.event_id)
    # Registered once per connection, the event's key passed as an argument: SQLite refuses to
    # redefine a function while any statement on the connection is still active ("Error
    # creating function", a 500 on a pull that the crash-recovery harness's pulling tablet found).
    if not getattr(db, "_poppass_pull_function", False):
        db.conn.create_function("poppass_pulled_register", 2, pulled_register, deterministic=True)
        db._poppass_pull_function = True
    page, upto, more = oplog.page_after(
        db,
        device.event_id,
        after=after,
        limit=limit,
        skip_device=device_id,
        columns=", ".join(_PULLED_DATA if c == "data" else c for c in columns),
        params={"phone_search_key": key},
    )
    rows = [dict(zip(columns, row, strict=True)) for row in page]
    # Tablets act on vouchers; who-might-be-the-same-person is for the organizer (and its
    # subject is a phone number or email).
    changed = [
        c
        for c in conflicts.list_conflicts(db, device.event_id, after_change=after, upto_change=upto)
        if c.kind in merge.VOUCHER_CONFLICTS
    ]
    if clerk is not None and clerk.strip():
        _note(db, "update devices set clerk = ? where id = ?", [clerk.strip(), device_id])
    if sent_at_ms is not None:
        _note(
            db,
            "update devices set last_sync_at = ?, clock_offset_ms = ? where id = ?",
            [now_ms // 1000, hlc.measured_offset_ms(now_ms, sent_at_ms), device_id],
        )
    elif device.last_sync_at != now_ms // 1000:  # one write a second at most, not one a page
        _note(db, "update devices set last_sync_at = ? where id = ?", [now_ms // 1000, device_id])
    bundle = registry.signed_trust_bundle(db, device.event_id, now=now_ms // 1000).to_json()
    for row in rows:
        row["data"] = msgspec.Raw(row["data"].encode())
    return PullResult(rows, changed, upto, more, bundle, now_ms, current_log)


def redeem_online(
    db: Database, device_id: str, request: OnlineRedeem, *, rotation: registry.RotationKeys | None = None, now_ms: int
) -> OnlineDecision:
    """The server decides a redemption at once, with the merge rules, and records it.
    `rotation`: the event's rotation keys, read here when not given (a caller deciding many
    redemptions, like the demo, reads them once).

    Requests run one at a time (one writer, BEGIN IMMEDIATE), so two tablets asking for the
    last use of a voucher get one yes and one no. Asking again with the same op_id returns
    the first answer."""
    if request.device_id != device_id:
        raise InvalidInput("device_id is not the device this token belongs to", "$.device_id")
    try:
        decoded = tokens.decode(request.token).token
    except tokens.TokenError as error:
        raise InvalidInput(f"token is {error.reason}", "$.token") from None
    if decoded.id != request.subject:
        raise InvalidInput("subject is not the token's id", "$.subject")
    if decoded.type is not tokens.TokenType.VOUCHER:
        raise InvalidInput("only a voucher is redeemed (this is an attendee pass)", "$.token")
    with write_transaction(db):
        log_id = log_identity.check(db, request.log_id, device_id)
        device = devices.get_device(db, device_id)
        previous = oplog.find(db, request.op_id)
        if previous is not None:
            seq, data, kind, owner, subject = previous
            if (kind, owner, subject) != ("redeem", device_id, request.subject):
                raise InvalidInput("op_id is already used by a different op", "$.op_id")
            return _decision(request.op_id, seq, json.loads(data), decoded.max_uses, log_id)
        bundle = registry.trust_bundle(db, device.event_id, now=now_ms // 1000)
        if rotation is None and decoded.rotating:
            rotation = registry.rotation_keys(db, device.event_id)
        remember_token(db, bundle, request.token, attendee_id=None)
        terms = conflicts.voucher_terms(db, device.event_id, [request.subject], bundle=bundle)[request.subject]
        ops = conflicts.voucher_ops(db, device.event_id, [terms.token_id])[terms.token_id]
        state = verdict.voucher_state(terms.text, ops)
        judged = verdict.judge_voucher(
            request.token,
            request.code,
            bundle=bundle,
            distrust=terms.distrust,
            state=state,
            current_key=rotation.current if rotation else None,
            retired_keys=rotation.retired_keys if rotation else [],
            now_ms=now_ms,
        )
        reason, step, uses = judged.reason, judged.step, len(state.uses)
        outcome = "refused" if reason else "accepted"
        data = {
            "token": request.token,
            "outcome": outcome,
            "decided_by": "server",
            "shown": {"verdict": verdict.color(reason), "reason": reason, "prior_uses_seen": uses},
        }
        if step is not None:
            data["code_step"] = step
        seq = oplog.allocate(db, 1)
        suspect = hlc.suspect_reasons(
            hlc_ms=request.hlc_ms,
            device_time_ms=request.device_time_ms,
            corrected_time_ms=request.corrected_time_ms,
            received_at_ms=now_ms,
            offset_ms=hlc.measured_offset_ms(now_ms, request.sent_at_ms),
            policy=bundle.policy,
        )
        oplog.append(
            db,
            [
                (
                    seq,
                    request.op_id,
                    device.event_id,
                    device_id,
                    None,
                    "redeem",
                    request.subject,
                    request.hlc_ms,
                    request.hlc_counter,
                    request.device_time_ms,
                    request.corrected_time_ms,
                    request.clerk,
                    json.dumps(data, separators=(",", ":")),
                    now_ms,
                    ",".join(suspect),
                )
            ],
        )
        conflicts.recompute_vouchers(db, device.event_id, [request.subject], now_ms=now_ms, bundle=bundle)
    return _decision(request.op_id, seq, data, decoded.max_uses, log_id)


def _decision(op_id: str, seq: int, data: dict, max_uses: int, log_id: str) -> OnlineDecision:
    shown = data["shown"]
    return OnlineDecision(
        op_id, data["outcome"], shown.get("reason", ""), shown.get("prior_uses_seen", 0), max_uses, seq, log_id
    )

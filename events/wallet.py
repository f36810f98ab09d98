"""An attendee's wallet: their pass and vouchers, each with its state, as the phone shows them.

Everything here starts from the attendee id a capability opened, and reads only tokens recorded
as theirs: an attendee sees nothing of anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from events import campaigns, conflicts, manual_entry, merge, registry, rotating, sync, tokens
from events.db import write_transaction
from events.refusal import Refusal
from events.registry import Event


class ClaimRefused(Refusal):
    """A voucher that cannot be added to this wallet; `reason` says why."""


@dataclass(frozen=True)
class Item:
    """One pass or voucher in the wallet, with what the phone needs to show it."""

    id: str
    type: str  # pass or voucher
    text: str
    campaign: campaigns.Campaign | None
    valid_from: int
    valid_until: int | None
    max_uses: int
    rotating: bool
    secret: str | None  # this voucher's TOTP secret (rotating only): never the event's rotation key
    state: ItemState

    @property
    def short_code(self) -> str:
        """What a clerk types when the camera cannot read the QR (events/manual_entry.py)."""
        return manual_entry.short_code(self.id)


@dataclass(frozen=True)
class ItemState:
    state: str  # valid, not_yet_valid, redeemed, expired, voided; a pass: valid, checked_in or expired
    uses: int  # redemptions that count (a pass: check-ins)
    last_used_ms: int | None  # the latest of them (a pass: the official, first check-in)


@dataclass(frozen=True)
class Wallet:
    event: Event
    attendee_id: str
    name: str
    items: list[Item]  # the pass first, then the vouchers in the order they were issued
    # Which rotation key the items' secrets come from: when it moves on (a tablet was revoked),
    # an open wallet fetches its new secrets (server/controllers/wallet.py, wallet.js).
    rotation_epoch: int = 1


def open_wallet(db: Database, event_id: str, attendee_id: str, *, now_ms: int, language: str | None = None) -> Wallet:
    """The attendee's wallet; campaign titles, terms and values in `language` where the campaign
    has them (campaigns.localized), else in the event's first language."""
    event = registry.get_event(db, event_id)
    row = db.execute("select name from attendees where event_id = ? and id = ?", [event_id, attendee_id]).fetchone()
    rows = list(
        db.query(
            "select id, type, text, campaign, valid_from, valid_until, max_uses, rotating from tokens "
            "where event_id = ? and attendee_id = ? and refusal = '' order by type = 'voucher', issued_at, id",
            [event_id, attendee_id],
        )
    )
    states = item_states(db, event_id, rows, now_ms=now_ms)
    rotation_key = registry.rotation_key(db, event_id) if any(r["rotating"] for r in rows) else None
    known = {c.number: campaigns.in_language(c, language) for c in campaigns.list_campaigns(db, event_id)}
    items = [
        Item(
            id=r["id"],
            type=r["type"],
            text=r["text"],
            campaign=known.get(r["campaign"]),
            valid_from=r["valid_from"],
            valid_until=r["valid_until"],
            max_uses=r["max_uses"],
            rotating=bool(r["rotating"]),
            secret=rotating.voucher_secret(rotation_key, tokens.decode(r["text"]).token.token_id)
            if r["rotating"] and rotation_key
            else None,
            state=states[r["id"]],
        )
        for r in rows
    ]
    return Wallet(event, attendee_id, row[0] if row else "", items, registry.rotation_epoch(db, event_id))


def item_states(db: Database, event_id: str, rows: list[dict], *, now_ms: int) -> dict[str, ItemState]:
    vouchers = [r["id"] for r in rows if r["type"] == "voucher"]
    logged = conflicts.voucher_ops(db, event_id, vouchers)
    found = {}
    for r in rows:
        if r["type"] == "pass":
            found[r["id"]] = _pass_state(db, event_id, r, now_ms=now_ms)
            continue
        terms = merge.VoucherTerms(r["id"], r["text"], r["max_uses"], r["valid_from"], r["valid_until"], True)
        ops = logged.get(r["id"], [])
        uses = merge.effective_uses(terms, ops)
        last_used_ms = uses[-1].acted_at_ms if uses else None
        if merge.first_void(ops) is not None:
            state = "voided"
        elif r["max_uses"] and len(uses) >= r["max_uses"]:
            state = "redeemed"
        elif r["valid_until"] is not None and now_ms // 1000 >= r["valid_until"]:
            state = "expired"
        elif now_ms // 1000 < r["valid_from"]:
            state = "not_yet_valid"
        else:
            state = "valid"
        found[r["id"]] = ItemState(state, len(uses), last_used_ms)
    return found


def _pass_state(db: Database, event_id: str, row: dict, *, now_ms: int) -> ItemState:
    checkins = db.execute(
        "select count(*), min(coalesce(corrected_time_ms, hlc_ms)) from ops "
        "where event_id = ? and kind = 'checkin' and subject = ?",
        [event_id, row["id"]],
    ).fetchone()
    if checkins[0]:
        return ItemState("checked_in", checkins[0], checkins[1])
    expired = row["valid_until"] is not None and now_ms // 1000 >= row["valid_until"]
    return ItemState("expired" if expired else "valid", 0, None)


def holder(db: Database, event_id: str, token_id: str) -> str | None:
    """The attendee whose wallet holds this token, if anyone's does."""
    row = db.execute("select attendee_id from tokens where event_id = ? and id = ?", [event_id, token_id]).fetchone()
    return row[0] if row else None


def claim(db: Database, event_id: str, attendee_id: str, text: str, *, now: int) -> str:
    """Add the voucher `text` (a tablet's claim QR) to the attendee's wallet; returns its id.

    A voucher already in someone else's wallet stays theirs: the first claim wins."""
    try:
        text = tokens.parse_scan(text).text  # the URL form, as a phone camera read it, is fine
        event, token = registry.authenticate_token(db, text, now=now)
    except tokens.TokenError as error:
        raise ClaimRefused(str(error.reason)) from None
    if event.id != event_id:
        raise ClaimRefused("wrong_event")
    if token.type is not tokens.TokenType.VOUCHER:
        raise ClaimRefused("not_a_voucher")
    with write_transaction(db):
        row = db.execute(
            "select attendee_id, text from tokens where event_id = ? and id = ?", [event_id, token.id]
        ).fetchone()
        if row is not None and row[1] != text:
            raise ClaimRefused("bad_signature")  # another text under this id is on record
        if row is not None and row[0] not in (None, attendee_id):
            raise ClaimRefused("claimed_by_someone_else")
        sync.remember_token(db, registry.trust_bundle(db, event_id, now=now), text, attendee_id=attendee_id)
    return token.id

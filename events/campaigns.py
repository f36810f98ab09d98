"""Voucher campaigns, and the vouchers and passes the server signs with its own key.

A voucher carries its terms (validity, uses) signed inside it, so changing a campaign
later never changes a voucher already issued.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from events import registry, tokens
from events.db import write_transaction
from events.keys import SERVER_KEY_ID

MAX_CAMPAIGNS = 0xFF  # the campaign number is one byte of the token


@dataclass(frozen=True)
class Campaign:
    event_id: str
    number: int
    title: str
    terms: str
    max_uses: int
    valid_from: int | None
    valid_until: int | None
    valid_minutes: int | None
    rotating: bool
    welcome: bool
    created_at: int

    def window_for(self, issued_at: int) -> tuple[int, int | None]:
        """The validity window of a voucher issued now: the campaign's absolute window,
        cut short by the minutes-after-issue limit when there is one."""
        start = max(issued_at, self.valid_from or issued_at)
        ends = [t for t in (self.valid_until, self.valid_minutes and issued_at + 60 * self.valid_minutes) if t]
        return start, min(ends) if ends else None


@dataclass(frozen=True)
class IssuedToken:
    id: str
    event_id: str
    type: str
    campaign: int | None
    text: str
    issued_at: int
    valid_from: int
    valid_until: int | None
    max_uses: int
    rotating: bool


def create_campaign(
    db: Database,
    event_id: str,
    *,
    title: str,
    terms: str = "",
    max_uses: int = 1,
    valid_from: int | None = None,
    valid_until: int | None = None,
    valid_minutes: int | None = None,
    rotating: bool = True,
    welcome: bool = False,
    now: int,
) -> Campaign:
    registry.get_event(db, event_id)
    if not title.strip():
        raise ValueError("a campaign needs a title")
    if not 0 <= max_uses <= 0xFF:
        raise ValueError("max uses is 0 (unlimited) to 255")
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValueError("the validity window ends before it starts")
    if valid_minutes is not None and valid_minutes <= 0:
        raise ValueError("minutes after issue must be positive")
    with write_transaction(db):
        row = next(db.query("select max(number) as top from campaigns where event_id = ?", [event_id]))
        number = (row["top"] or 0) + 1
        if number > MAX_CAMPAIGNS:
            raise ValueError(f"an event has at most {MAX_CAMPAIGNS} campaigns")
        campaign = Campaign(
            event_id=event_id,
            number=number,
            title=title.strip(),
            terms=terms.strip(),
            max_uses=max_uses,
            valid_from=valid_from,
            valid_until=valid_until,
            valid_minutes=valid_minutes,
            rotating=rotating,
            welcome=welcome,
            created_at=now,
        )
        db["campaigns"].insert(vars(campaign))
    return campaign


def _campaign(row: dict) -> Campaign:
    return Campaign(**{**row, "rotating": bool(row["rotating"]), "welcome": bool(row["welcome"])})


def list_campaigns(db: Database, event_id: str) -> list[Campaign]:
    return [_campaign(r) for r in db["campaigns"].rows_where("event_id = ?", [event_id], order_by="number")]


def for_tablets(db: Database, event_id: str) -> list[dict]:
    """What a tablet needs to issue a campaign's vouchers offline: its terms, as plain values."""
    return [
        {"number": c.number, "title": c.title, "terms": c.terms, "max_uses": c.max_uses, "valid_from": c.valid_from,
         "valid_until": c.valid_until, "valid_minutes": c.valid_minutes, "rotating": c.rotating, "welcome": c.welcome}
        for c in list_campaigns(db, event_id)
    ]


def get_campaign(db: Database, event_id: str, number: int) -> Campaign:
    rows = list(db["campaigns"].rows_where("event_id = ? and number = ?", [event_id, number]))
    if not rows:
        raise LookupError(f"no campaign {number} in event {event_id}")
    return _campaign(rows[0])


def issue_voucher(db: Database, event_id: str, campaign_number: int, *, now: int) -> IssuedToken:
    campaign = get_campaign(db, event_id, campaign_number)
    valid_from, valid_until = campaign.window_for(now)
    return _issue(
        db,
        event_id,
        type=tokens.TokenType.VOUCHER,
        now=now,
        valid_from=valid_from,
        valid_until=valid_until,
        campaign=campaign.number,
        max_uses=campaign.max_uses,
        rotating=campaign.rotating,
    )


def issue_pass(db: Database, event_id: str, *, now: int) -> IssuedToken:
    event = registry.get_event(db, event_id)
    return _issue(db, event_id, type=tokens.TokenType.PASS, now=now, valid_from=now, valid_until=event.ends_at)


def _issue(db: Database, event_id: str, *, type: tokens.TokenType, now: int, **terms) -> IssuedToken:
    text = tokens.issue(
        signing_key=registry.issuing_key(db, event_id),
        key_id=SERVER_KEY_ID,
        event_id=event_id,
        type=type,
        issued_at=now,
        **terms,
    )
    # Store what the token says (rounded to its minutes), not what was asked for.
    token = tokens.decode(text).token
    issued = IssuedToken(
        id=token.id,
        event_id=event_id,
        type=token.type.name.lower(),
        campaign=token.campaign or None,
        text=text,
        issued_at=token.issued_at,
        valid_from=token.valid_from,
        valid_until=token.valid_until,
        max_uses=token.max_uses,
        rotating=token.rotating,
    )
    with write_transaction(db):
        db["tokens"].insert({**vars(issued), "key_id": SERVER_KEY_ID})
    return issued


def get_token(db: Database, token_id: str) -> IssuedToken | None:
    rows = list(db["tokens"].rows_where("id = ?", [token_id]))
    if not rows:
        return None
    row = rows[0]
    fields = IssuedToken.__dataclass_fields__
    return IssuedToken(**{name: row[name] for name in fields} | {"rotating": bool(row["rotating"])})

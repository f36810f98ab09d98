"""Voucher campaigns, and the vouchers and passes the server signs with its own key.

A voucher carries its terms (validity, uses) signed inside it, so changing a campaign
later never changes a voucher already issued.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from sqlite_utils import Database

from events import conflicts, registry, tokens
from events.db import write_transaction
from events.keys import SERVER_KEY_ID
from events.refusal import FieldRefusal, Refusal

MAX_CAMPAIGNS = 0xFF  # the campaign number is one byte of the token
TITLE_MAX, TERMS_MAX, VALUE_MAX = 120, 1000, 40
TEXT_FIELDS = ("title", "terms", "value")  # what a campaign says in each of the event's languages
_TEXT_LIMITS = {"title": TITLE_MAX, "terms": TERMS_MAX, "value": VALUE_MAX}


class CampaignRefused(FieldRefusal):
    """Campaign settings that cannot be stored."""


class CampaignExhausted(Refusal):
    """No more vouchers of this campaign: its cap, or this attendee's share, is reached."""


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
    value: str = ""
    per_attendee: int | None = None  # vouchers one attendee may hold
    cap: int | None = None  # vouchers in all
    by_clerks: bool = True  # tablets may issue it
    # The texts in the event's other languages: {"zh-CN": {"title": …, "terms": …, "value": …}};
    # the base fields above are in the event's first language.
    texts: dict[str, dict[str, str]] = field(default_factory=dict)

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


def check_terms(
    *,
    title: str,
    terms: str = "",
    value: str = "",
    max_uses: int = 1,
    valid_from: int | None = None,
    valid_until: int | None = None,
    valid_minutes: int | None = None,
    per_attendee: int | None = None,
    cap: int | None = None,
    welcome: bool = False,
    by_clerks: bool = True,
    texts: dict | None = None,
) -> None:
    """CampaignRefused naming the first field at fault, or nothing. A text in another language
    has the same limit as the base one; its field is named "<language>.<field>"."""
    if not title.strip():
        raise CampaignRefused("title_missing", "title")
    if len(title.strip()) > TITLE_MAX:
        raise CampaignRefused("title_too_long", "title")
    if len(terms.strip()) > TERMS_MAX:
        raise CampaignRefused("terms_too_long", "terms")
    if len(value.strip()) > VALUE_MAX:
        raise CampaignRefused("value_too_long", "value")
    if not 0 <= max_uses <= 0xFF:
        raise CampaignRefused("max_uses_range", "max_uses", "max uses is 0 (unlimited) to 255")
    if valid_from and valid_until and valid_until <= valid_from:
        raise CampaignRefused("window_backwards", "valid_until", "the validity window ends before it starts")
    if valid_minutes is not None and not 0 < valid_minutes <= 366 * 24 * 60:
        raise CampaignRefused("minutes_range", "valid_minutes", "minutes after issue must be positive")
    if per_attendee is not None and per_attendee < 1:
        raise CampaignRefused("per_attendee_range", "per_attendee")
    if cap is not None and cap < 1:
        raise CampaignRefused("cap_range", "cap")
    if not welcome and not by_clerks:
        raise CampaignRefused("nobody_issues", "by_clerks", "a campaign is given at sign-up, by clerks, or both")
    for language, given in (texts or {}).items():
        for name, text in given.items():
            if name not in _TEXT_LIMITS:
                raise CampaignRefused("unknown_text", f"{language}.{name}", f"a campaign has no text {name!r}")
            if len(text.strip()) > _TEXT_LIMITS[name]:
                raise CampaignRefused(f"{name}_too_long", f"{language}.{name}")


def clean_texts(texts: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]]:
    """The texts as stored: trimmed, empty ones left out (they fall back to the base field)."""
    cleaned = {}
    for language, given in (texts or {}).items():
        kept = {name: text.strip() for name, text in given.items() if text.strip()}
        if kept:
            cleaned[language] = kept
    return cleaned


def localized(campaign: Campaign, language: str) -> tuple[str, str, str]:
    """(title, terms, value) as a reader of `language` sees them: that language's text where the
    campaign has one, else the base field (the event's first language)."""
    given = campaign.texts.get(language, {})
    return tuple(given.get(name) or getattr(campaign, name) for name in TEXT_FIELDS)  # type: ignore[return-value]


def in_language(campaign: Campaign, language: str | None) -> Campaign:
    """The campaign with its title, terms and value in `language`, for pages that show one."""
    if not language:
        return campaign
    title, terms, value = localized(campaign, language)
    return replace(campaign, title=title, terms=terms, value=value)


def create_campaign(
    db: Database,
    event_id: str,
    *,
    title: str,
    terms: str = "",
    value: str = "",
    max_uses: int = 1,
    valid_from: int | None = None,
    valid_until: int | None = None,
    valid_minutes: int | None = None,
    rotating: bool = True,
    welcome: bool = False,
    by_clerks: bool = True,
    per_attendee: int | None = None,
    cap: int | None = None,
    texts: dict[str, dict[str, str]] | None = None,
    now: int,
) -> Campaign:
    registry.get_event(db, event_id)
    settings = dict(
        title=title,
        terms=terms,
        value=value,
        max_uses=max_uses,
        valid_from=valid_from,
        valid_until=valid_until,
        valid_minutes=valid_minutes,
        per_attendee=per_attendee,
        cap=cap,
        welcome=welcome,
        by_clerks=by_clerks,
        texts=texts or {},
    )
    check_terms(**settings)
    with write_transaction(db):
        row = next(db.query("select max(number) as top from campaigns where event_id = ?", [event_id]))
        number = (row["top"] or 0) + 1
        if number > MAX_CAMPAIGNS:
            raise CampaignRefused("too_many", "title", f"an event has at most {MAX_CAMPAIGNS} campaigns")
        campaign = Campaign(
            event_id=event_id,
            number=number,
            created_at=now,
            rotating=rotating,
            **{
                **settings,
                "title": title.strip(),
                "terms": terms.strip(),
                "value": value.strip(),
                "texts": clean_texts(texts),
            },
        )
        db["campaigns"].insert({**vars(campaign), "texts": json.dumps(campaign.texts, ensure_ascii=False)})
    return campaign


def update_campaign(db: Database, event_id: str, number: int, *, now: int, **settings) -> Campaign:
    """Change a campaign's settings for the vouchers it gives from now on. Vouchers already issued
    carry their terms signed inside them, so they do not change."""
    current = get_campaign(db, event_id, number)
    merged = {
        name: settings.get(name, getattr(current, name))
        for name in (
            "title",
            "terms",
            "value",
            "max_uses",
            "valid_from",
            "valid_until",
            "valid_minutes",
            "per_attendee",
            "cap",
            "welcome",
            "by_clerks",
            "texts",
        )
    }
    check_terms(**merged)
    merged |= {
        "title": merged["title"].strip(),
        "terms": merged["terms"].strip(),
        "value": merged["value"].strip(),
        "rotating": settings.get("rotating", current.rotating),
        "texts": json.dumps(clean_texts(merged["texts"]), ensure_ascii=False),
    }
    with write_transaction(db):
        db["campaigns"].update((event_id, number), merged)
        # A cap raised or lowered changes which vouchers tablets gave beyond it.
        conflicts.recompute_caps(db, event_id, [number], now_ms=now * 1000)
    return get_campaign(db, event_id, number)


def issued_count(db: Database, event_id: str, number: int, *, attendee_id: str | None = None) -> int:
    """Vouchers of this campaign on record (the server's and those tablets have synced)."""
    sql = "select count(*) from tokens where event_id = ? and campaign = ? and type = 'voucher' and refusal = ''"
    args: list = [event_id, number]
    if attendee_id is not None:
        sql += " and attendee_id = ?"
        args.append(attendee_id)
    return db.execute(sql, args).fetchone()[0]


@dataclass(frozen=True)
class Progress:
    """How far a campaign has gone: vouchers on record (what its cap counts) and how many of them
    were redeemed at least once (redemptions that count: accepted, not undone)."""

    campaign: Campaign
    issued: int
    redeemed: int


def progress(db: Database, event_id: str, redeemed_vouchers: set[str]) -> list[Progress]:
    """Each campaign's progress, given the ids of the event's redeemed vouchers (the wall's
    reading of them, `projections.Reading.redemptions`, so both count redemptions alike)."""
    issued: dict[int, int] = {}
    redeemed: dict[int, int] = {}
    for number, token_id in db.execute(
        "select campaign, id from tokens where event_id = ? and type = 'voucher' and refusal = ''", [event_id]
    ):
        issued[number] = issued.get(number, 0) + 1
        if token_id in redeemed_vouchers:
            redeemed[number] = redeemed.get(number, 0) + 1
    return [Progress(c, issued.get(c.number, 0), redeemed.get(c.number, 0)) for c in list_campaigns(db, event_id)]


def _campaign(row: dict) -> Campaign:
    return Campaign(
        **{
            **row,
            "rotating": bool(row["rotating"]),
            "welcome": bool(row["welcome"]),
            "by_clerks": bool(row["by_clerks"]),
            "texts": json.loads(row["texts"]),
        }
    )


def list_campaigns(db: Database, event_id: str) -> list[Campaign]:
    return [_campaign(r) for r in db["campaigns"].rows_where("event_id = ?", [event_id], order_by="number")]


def for_tablets(db: Database, event_id: str) -> list[dict]:
    """What a tablet needs to issue a campaign's vouchers offline: its terms, as plain values, and
    its texts in the event's other languages (`texts`; the station falls back to the base field)."""
    return [
        {
            "number": c.number,
            "title": c.title,
            "terms": c.terms,
            "value": c.value,
            "max_uses": c.max_uses,
            "valid_from": c.valid_from,
            "valid_until": c.valid_until,
            "valid_minutes": c.valid_minutes,
            "rotating": c.rotating,
            "welcome": c.welcome,
            "by_clerks": c.by_clerks,
            "per_attendee": c.per_attendee,
            "cap": c.cap,
            "texts": c.texts,
        }
        for c in list_campaigns(db, event_id)
    ]


def get_campaign(db: Database, event_id: str, number: int) -> Campaign:
    rows = list(db["campaigns"].rows_where("event_id = ? and number = ?", [event_id, number]))
    if not rows:
        raise LookupError(f"no campaign {number} in event {event_id}")
    return _campaign(rows[0])


def issue_voucher(
    db: Database, event_id: str, campaign_number: int, *, now: int, attendee_id: str | None = None
) -> IssuedToken:
    """A server-signed voucher of the campaign; CampaignExhausted past its cap or, for an
    attendee, past their share."""
    campaign = get_campaign(db, event_id, campaign_number)
    if (
        attendee_id is not None
        and campaign.per_attendee is not None
        and issued_count(db, event_id, campaign.number, attendee_id=attendee_id) >= campaign.per_attendee
    ):
        raise CampaignExhausted("attendee_share_reached", f"{attendee_id} holds {campaign.per_attendee}")
    return issue_vouchers(db, event_id, campaign.number, 1, now=now)[0]


def issue_vouchers(db: Database, event_id: str, campaign_number: int, count: int, *, now: int) -> list[IssuedToken]:
    """`count` vouchers of the campaign, signed with one load of the key and stored in one
    statement (handouts printed by the thousand); CampaignExhausted if they would pass its cap."""
    campaign = get_campaign(db, event_id, campaign_number)
    if campaign.cap is not None and issued_count(db, event_id, campaign.number) + count > campaign.cap:
        raise CampaignExhausted("cap_reached", f"campaign {campaign.number} gives {campaign.cap} vouchers in all")
    key = registry.issuing_key(db, event_id)
    valid_from, valid_until = campaign.window_for(now)
    issued = [
        _sign(
            key,
            event_id,
            type=tokens.TokenType.VOUCHER,
            now=now,
            valid_from=valid_from,
            valid_until=valid_until,
            campaign=campaign.number,
            max_uses=campaign.max_uses,
            rotating=campaign.rotating,
        )
        for _ in range(count)
    ]
    _store(db, issued)
    return issued


def issue_pass(db: Database, event_id: str, *, now: int) -> IssuedToken:
    return issue_passes(db, event_id, 1, now=now)[0]


def issue_passes(db: Database, event_id: str, count: int, *, now: int) -> list[IssuedToken]:
    """`count` attendee passes, signed with one load of the key and stored in one statement
    (an import makes thousands)."""
    event = registry.get_event(db, event_id)
    issued = sign_passes(registry.issuing_key(db, event_id), event_id, count, now=now, valid_until=event.ends_at)
    _store(db, issued)
    return issued


def sign_passes(key, event_id: str, count: int, *, now: int, valid_until: int) -> list[IssuedToken]:
    """`count` passes signed with the event's issuing key, not stored: no database, so an import
    signs them in a worker thread and stores those it uses with store_passes."""
    return [
        _sign(key, event_id, type=tokens.TokenType.PASS, now=now, valid_from=now, valid_until=valid_until)
        for _ in range(count)
    ]


def store_passes(db: Database, issued: list[IssuedToken]) -> None:
    _store(db, issued)


def _sign(key, event_id: str, *, type: tokens.TokenType, now: int, **terms) -> IssuedToken:
    text = tokens.issue(signing_key=key, key_id=SERVER_KEY_ID, event_id=event_id, type=type, issued_at=now, **terms)
    # Store what the token says (rounded to its minutes), not what was asked for.
    token = tokens.decode(text).token
    return IssuedToken(
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


_TOKEN_COLUMNS = (*IssuedToken.__dataclass_fields__, "key_id")
_INSERT_TOKEN = f"insert into tokens ({', '.join(_TOKEN_COLUMNS)}) values ({', '.join('?' * len(_TOKEN_COLUMNS))})"


def _store(db: Database, issued: list[IssuedToken]) -> None:
    with write_transaction(db):
        db.conn.executemany(_INSERT_TOKEN, [(*vars(token).values(), SERVER_KEY_ID) for token in issued])


def get_token(db: Database, token_id: str) -> IssuedToken | None:
    rows = list(db["tokens"].rows_where("id = ?", [token_id]))
    if not rows:
        return None
    row = rows[0]
    fields = IssuedToken.__dataclass_fields__
    return IssuedToken(**{name: row[name] for name in fields} | {"rotating": bool(row["rotating"])})

"""What the live wall shows: one snapshot of an event, read whole from the log each time.

A snapshot, not a diff: the wall replaces what it shows with each one, so a wall that missed
announcements (a dropped socket, a full backlog) is right again with the next. Names are
masked ("Li W.", "王*明") and so are emails ("w•••@example.com"): the projector faces a room.
Its figures are events/figures.py's, the report's too (docs/figures.md).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from sqlite_utils import Database

from events import draws, figures, oplog, projections, registry

FEED_LENGTH = 12
DRAW_SAMPLE = 40  # names the draw's animation flicks through before it stops on the winners


@dataclass(frozen=True)
class FeedItem:
    op_id: str
    kind: str  # "checkin" or "redeem"
    name: str  # masked
    at_ms: int  # when the clerk acted (corrected time, else HLC)
    device: str
    campaign: str = ""  # what was redeemed


@dataclass(frozen=True)
class Snapshot:
    event: registry.Event
    position: int  # the log position it was read at
    counters: projections.Counters
    funnel: list[tuple[str, int]]
    buckets: list[projections.Bucket]
    devices: list[projections.DeviceState]
    feed: list[FeedItem]
    draw: draws.Draw | None
    winners: list[draws.Winner]
    draw_sample: list[str]  # masked names among the draw's candidates
    figures: figures.Figures | None = None  # every figure the counters and the funnel show
    chart: list[figures.Bin] = field(default_factory=list)  # arrivals and redemptions over the event's hours
    shown_winners: list[ShownWinner] = field(default_factory=list)  # `winners` as the room may see them


@dataclass(frozen=True)
class ShownWinner:
    """A winner as the projector shows them: a masked name they recognise, and a hint that
    tells two "Li W." apart (their phone's last four digits, else their masked email)."""

    attendee_id: str
    name: str  # masked; the masked email when they gave no name
    hint: str  # "1234" (phone_tail) or "w•••@example.com", or ""
    hint_kind: str  # "phone", "email" or ""


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def mask_name(name: str) -> str:
    """ "Li Wei" → "Li W."; "Ana María López" → "Ana M. L."; "王小明" → "王*明"; "王明" → "王*"."""
    clean = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    words = clean.split()
    if not words:
        return "?"
    if len(words) == 1 and any(_is_wide(c) for c in words[0]):
        word = words[0]
        if len(word) <= 2:
            return word[0] + "*" * (len(word) - 1)
        return word[0] + "*" * (len(word) - 2) + word[-1]
    return " ".join([words[0][:40], *(f"{w[0]}." for w in words[1:])])


MASK = "•••"


def mask_email(email: str) -> str:
    """ "wei.li@example.com" → "w•••@example.com": the first character of the mailbox and the
    whole domain (a winner knows their own address; the room learns little). "" for no email."""
    clean = "".join(c for c in email if unicodedata.category(c)[0] != "C").strip()
    mailbox, at, domain = clean.rpartition("@")
    if not at or not mailbox or not domain:
        return ""
    return f"{mailbox[0]}{MASK}@{domain[:60]}"


def shown_winner(winner: draws.Winner) -> ShownWinner:
    """How the wall names a winner. A name is masked by mask_name; someone who gave no name is
    shown by their masked email, never by a mask of nothing ("?") or of the email as a name."""
    email = mask_email(winner.email)
    has_name = bool("".join(c for c in winner.name if unicodedata.category(c)[0] not in "CZ"))
    if winner.phone_tail:
        hint, kind = winner.phone_tail, "phone"
    elif email and has_name:
        hint, kind = email, "email"
    else:
        hint, kind = "", ""
    return ShownWinner(winner.attendee_id, mask_name(winner.name) if has_name else (email or "?"), hint, kind)


def _shown_name(name: str, email: str) -> str:
    """A candidate's name for the draw's shuffle, as shown_winner would show them."""
    return shown_winner(draws.Winner("", name, "", email)).name


def feed(db: Database, event_id: str, *, limit: int = FEED_LENGTH) -> list[FeedItem]:
    """The latest check-ins and accepted redemptions the server has heard of, newest first.

    Newest by arrival (log order), not by when they happened: a tablet back online after an
    hour shows what it brings, at the times its clerks acted."""
    checkins = db.execute(
        "select o.seq, o.op_id, o.kind, coalesce(o.corrected_time_ms, o.hlc_ms), d.name, a.name, '' from ops o "
        "join devices d on d.id = o.device_id left join attendees a on a.event_id = o.event_id and a.id = o.subject "
        "where o.event_id = ? and o.kind = 'checkin' order by o.seq desc limit ?",
        [event_id, limit],
    ).fetchall()
    # Refused and undone redemptions are not news; read a few more to fill the feed.
    redemptions = db.execute(
        "select o.seq, o.op_id, o.kind, coalesce(o.corrected_time_ms, o.hlc_ms), d.name, a.name, coalesce(c.title, '') "
        "from ops o join devices d on d.id = o.device_id "
        "left join tokens t on t.event_id = o.event_id and t.id = o.subject "
        "left join attendees a on a.event_id = o.event_id and a.id = t.attendee_id "
        "left join campaigns c on c.event_id = o.event_id and c.number = t.campaign "
        "where o.event_id = ? and o.kind = 'redeem' and json_extract(o.data, '$.outcome') = 'accepted' "
        "and not exists (select 1 from ops v where v.event_id = o.event_id and v.subject = o.subject and v.kind = 'void' "
        "                and json_extract(v.data, '$.redeem_op_id') = o.op_id) "
        "order by o.seq desc limit ?",
        [event_id, limit],
    ).fetchall()
    latest = sorted(checkins + redemptions, reverse=True)[:limit]
    return [
        FeedItem(op_id, kind, mask_name(name) if name else "—", at_ms, device, campaign)
        for _, op_id, kind, at_ms, device, name, campaign in latest
    ]


def snapshot(db: Database, event_id: str, *, now: int) -> Snapshot:
    event = registry.get_event(db, event_id)
    latest = draws.latest_draw(db, event_id)
    reading = projections.Reading(db, event_id)
    winners = draws.winners(db, latest) if latest else []
    return Snapshot(
        event=event,
        position=oplog.position(db),
        counters=projections.counters(db, event_id, reading),
        funnel=projections.funnel(db, event_id, reading),
        buckets=projections.per_quarter_hour(db, event_id, reading),
        devices=projections.device_states(db, event_id, now=now),
        feed=feed(db, event_id),
        draw=latest,
        winners=winners,
        draw_sample=_draw_sample(db, latest) if latest else [],
        figures=reading.figures,
        chart=projections.chart(db, event, reading),
        shown_winners=[shown_winner(winner) for winner in winners],
    )


def _draw_sample(db: Database, found: draws.Draw) -> list[str]:
    ids = found.candidates[:DRAW_SAMPLE]
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"select name, email_key from attendees where event_id = ? and id in ({marks})", [found.event_id, *ids]
    )
    return [_shown_name(name, email) for name, email in rows]

"""What the live wall shows: one snapshot of an event, read whole from the log each time.

A snapshot, not a diff: the wall replaces what it shows with each one, so a wall that missed
announcements (a dropped socket, a full backlog) is right again with the next. Names are
masked ("Li W.", "王*明"): the projector faces a room.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlite_utils import Database

from events import conflicts, draws, projections, registry

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


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def mask_name(name: str) -> str:
    """"Li Wei" → "Li W."; "Ana María López" → "Ana M. L."; "王小明" → "王*明"; "王明" → "王*"."""
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
    return [FeedItem(op_id, kind, mask_name(name) if name else "—", at_ms, device, campaign)
            for _, op_id, kind, at_ms, device, name, campaign in latest]


def snapshot(db: Database, event_id: str, *, now: int) -> Snapshot:
    event = registry.get_event(db, event_id)
    latest = draws.latest_draw(db, event_id)
    reading = projections.Reading(db, event_id)
    return Snapshot(
        event=event,
        position=conflicts.log_position(db),
        counters=projections.counters(db, event_id, reading),
        funnel=projections.funnel(db, event_id, reading),
        buckets=projections.per_quarter_hour(db, event_id, reading),
        devices=projections.device_states(db, event_id, now=now),
        feed=feed(db, event_id),
        draw=latest,
        winners=draws.winners(db, latest) if latest else [],
        draw_sample=_draw_sample(db, latest) if latest else [],
    )


def _draw_sample(db: Database, found: draws.Draw) -> list[str]:
    ids = found.candidates[:DRAW_SAMPLE]
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"select name from attendees where event_id = ? and id in ({marks})", [found.event_id, *ids])
    return [mask_name(name) for (name,) in rows]

"""The lucky draw: N winners among the people checked in, recorded so anyone can check it.

A draw ranks every candidate by HMAC-SHA256(seed, attendee id) and takes the lowest N. The draw
keeps its seed and its candidate list, so `replay` (or any HMAC tool) gives the same winners;
the seed is fresh randomness, drawn by the server, so the organizer cannot pick it to favour
someone. One person is one candidate however many records they have (shared phone or email),
and no one who has won an earlier draw of the event is a candidate again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from sqlite_utils import Database

from events import projections
from events.db import write_transaction
from events.refusal import Refusal

MAX_WINNERS = 100


class DrawRefused(Refusal):
    """bad_count: not 1 to MAX_WINNERS; no_candidates: no one checked in who has not won."""


@dataclass(frozen=True)
class Draw:
    id: int
    event_id: str
    drawn_by: str  # organizer id
    drawn_by_name: str
    drawn_at: int
    seed: str
    wanted: int
    candidates: list[str]  # attendee ids, sorted
    winners: list[str]  # attendee ids, in the order drawn


@dataclass(frozen=True)
class Winner:
    attendee_id: str
    name: str
    phone_tail: str  # the last four digits, so the winner recognises themselves
    email: str = ""  # as registered (lower case); the wall masks it (events.wall.shown_winner)


def rank(seed: str, attendee_id: str) -> str:
    return hmac.new(seed.encode(), attendee_id.encode(), hashlib.sha256).hexdigest()


def pick(seed: str, candidates: list[str], wanted: int) -> list[str]:
    return sorted(candidates, key=lambda attendee_id: (rank(seed, attendee_id), attendee_id))[:wanted]


def candidates(db: Database, event_id: str) -> list[str]:
    """Checked-in attendees, one per person (their smallest id), minus earlier winners' people."""
    groups = projections.person_groups(db, event_id)
    won = {groups.get(winner, winner) for draw in list_draws(db, event_id) for winner in draw.winners}
    people: dict[str, str] = {}
    for attendee_id in projections.checked_in(db, event_id):
        person = groups.get(attendee_id, attendee_id)
        if person not in won and (person not in people or attendee_id < people[person]):
            people[person] = attendee_id
    return sorted(people.values())


def draw(db: Database, event_id: str, *, drawn_by: str, wanted: int, now: int, seed: str | None = None) -> Draw:
    if not 1 <= wanted <= MAX_WINNERS:
        raise DrawRefused("bad_count")
    with write_transaction(db):
        pool = candidates(db, event_id)
        if not pool:
            raise DrawRefused("no_candidates")
        seed = seed or secrets.token_hex(16)
        winners = pick(seed, pool, wanted)
        draw_id = (
            db["draws"]
            .insert(
                {
                    "event_id": event_id,
                    "drawn_by": drawn_by,
                    "drawn_at": now,
                    "seed": seed,
                    "wanted": wanted,
                    "candidates": json.dumps(pool),
                    "winners": json.dumps(winners),
                }
            )
            .last_pk
        )
    return get_draw(db, draw_id)


def replay(found: Draw) -> list[str]:
    """The winners the recorded seed and candidates give: equal to `found.winners` unless the
    record was altered."""
    return pick(found.seed, found.candidates, found.wanted)


_SELECT = "select d.*, o.name as drawn_by_name from draws d join organizers o on o.id = d.drawn_by"


def _draw(row: dict) -> Draw:
    return Draw(
        row["id"],
        row["event_id"],
        row["drawn_by"],
        row["drawn_by_name"],
        row["drawn_at"],
        row["seed"],
        row["wanted"],
        json.loads(row["candidates"]),
        json.loads(row["winners"]),
    )


def get_draw(db: Database, draw_id: int) -> Draw:
    rows = list(db.query(f"{_SELECT} where d.id = ?", [draw_id]))
    if not rows:
        raise LookupError(f"no draw {draw_id}")
    return _draw(rows[0])


def list_draws(db: Database, event_id: str) -> list[Draw]:
    return [_draw(row) for row in db.query(f"{_SELECT} where d.event_id = ? order by d.id", [event_id])]


def latest_draw(db: Database, event_id: str) -> Draw | None:
    rows = list(db.query(f"{_SELECT} where d.event_id = ? order by d.id desc limit 1", [event_id]))
    return _draw(rows[0]) if rows else None


def winners(db: Database, found: Draw) -> list[Winner]:
    if not found.winners:
        return []
    marks = ",".join("?" * len(found.winners))
    rows = {
        row["id"]: row
        for row in db.query(
            f"select id, name, phone_key, email_key from attendees where event_id = ? and id in ({marks})",
            [found.event_id, *found.winners],
        )
    }

    def winner(attendee_id: str) -> Winner:
        row = rows.get(attendee_id)
        if row is None:
            return Winner(attendee_id, "", "")
        digits = "".join(c for c in row["phone_key"] or "" if c.isdigit())
        return Winner(attendee_id, row["name"], digits[-4:], row["email_key"] or "")

    return [winner(a) for a in found.winners]

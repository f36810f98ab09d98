"""The record of what organizers did: who, what, to which subject, when, with what detail."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlite_utils import Database

# Who acted when nobody signed in did: `poppass` on the server's command line. Sign-in
# attempts for an email without an account have no organizer at all ("").
CLI = "cli"


@dataclass(frozen=True)
class Action:
    organizer_id: str
    organizer_name: str  # "" for the command line and for attempts without an account
    action: str  # e.g. event.create, event.update, campaign.create
    subject: str  # the id acted on
    detail: dict
    at: int


def record(db: Database, organizer_id: str, action: str, subject: str, detail: dict, *, now: int) -> None:
    """`organizer_id`: the organizer who acted, CLI for the command line, "" for nobody known."""
    actor = "cli" if organizer_id == CLI else "organizer" if organizer_id else "anonymous"
    db["organizer_actions"].insert(
        {
            "organizer_id": organizer_id if actor == "organizer" else None,
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True),
            "at": now,
        }
    )


def history(db: Database, subject: str) -> list[Action]:
    return [
        Action(
            row["organizer_id"] or (CLI if row["actor"] == "cli" else ""),
            row["name"],
            row["action"],
            row["subject"],
            json.loads(row["detail"]),
            row["at"],
        )
        for row in db.query(
            "select a.*, coalesce(o.name, '') as name from organizer_actions a left join organizers o on o.id = a.organizer_id "
            "where a.subject = ? order by a.at, a.id",
            [subject],
        )
    ]

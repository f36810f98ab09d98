"""The record of what organizers did: who, what, to which subject, when, with what detail."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlite_utils import Database


@dataclass(frozen=True)
class Action:
    organizer_id: str
    organizer_name: str
    action: str  # e.g. event.create, event.update, campaign.create
    subject: str  # the id acted on
    detail: dict
    at: int


def record(db: Database, organizer_id: str, action: str, subject: str, detail: dict, *, now: int) -> None:
    db["organizer_actions"].insert(
        {"organizer_id": organizer_id, "action": action, "subject": subject,
         "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True), "at": now}
    )


def history(db: Database, subject: str) -> list[Action]:
    return [
        Action(row["organizer_id"], row["name"], row["action"], row["subject"], json.loads(row["detail"]), row["at"])
        for row in db.query(
            "select a.*, o.name from organizer_actions a join organizers o on o.id = a.organizer_id "
            "where a.subject = ? order by a.at, a.id",
            [subject],
        )
    ]

"""What `poppass lost-data-key` does: a database whose data key is gone gets a new one, and
every value sealed under the old key is replaced, since it can never be opened again
(docs/operations.md, "Losing the key")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from events import organizers, registry, sealed
from events.db import write_transaction


@dataclass(frozen=True)
class Replaced:
    key_source: str  # where the new data key is
    events: int  # events given new root, issuing and rotation keys: their tablets enroll again
    organizers: int  # organizers whose authenticator app is forgotten: they enroll one again


def replace_lost_secrets(db: Database) -> Replaced:
    """In one transaction: a new data key, new event keys, new TOTP secrets (not enrolled), and
    no CSRF secret (the server makes a new one at start). Ops, attendees, check-ins,
    redemptions and passwords are untouched: none of them was sealed."""
    with write_transaction(db):
        key = sealed.start_over(db)
        events = registry.list_events(db)
        for event in events:
            registry.replace_event_keys(db, event.id)
        emails = [row["email"] for row in db["organizers"].rows]
        for email in emails:
            organizers.reset_second_factor(db, email)
        db.execute("delete from settings where name = 'csrf_secret'")
    return Replaced(key.source, len(events), len(emails))

"""Install-wide settings kept in the database (for example the CSRF secret)."""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from events import sealed
from events.db import write_transaction


def get(db: Database, name: str) -> str | None:
    rows = list(db["settings"].rows_where("name = ?", [name]))
    return rows[0]["value"] if rows else None


def get_or_create(db: Database, name: str, make: Callable[[], str]) -> str:
    """The stored value, or a new one from `make` stored first: stable across restarts."""
    with write_transaction(db):
        value = get(db, name)
        if value is None:
            value = make()
            db["settings"].insert({"name": name, "value": value})
    return value


def put(db: Database, name: str, value: str) -> None:
    with write_transaction(db):
        db["settings"].upsert({"name": name, "value": value}, pk="name")


def get_or_create_secret(db: Database, name: str, make: Callable[[], str]) -> str:
    """Like get_or_create, for a value a copy of the database must not give away (the CSRF
    secret): stored sealed under the data key (events/sealed.py), returned clear."""
    with write_transaction(db):
        stored = get(db, name)
        if stored is None:
            value = make()
            db["settings"].insert({"name": name, "value": sealed.seal_text(db, "settings", "value", name, value)})
            return value
    return sealed.open_text(db, "settings", "value", name, stored)

"""Install-wide settings kept in the database (for example the CSRF secret)."""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

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

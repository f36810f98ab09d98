"""Migrations: applied on open, once, to a real file."""

from __future__ import annotations

from events import settings
from events.db import open_database
from migrations import migrations


def test_a_fresh_file_gets_every_migration(tmp_path) -> None:
    db = open_database(tmp_path / "fresh.db")
    assert migrations.pending(db) == []
    assert {"settings", "events", "event_secrets", "keys", "key_allowlist", "campaigns", "tokens"} <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_reopening_keeps_data_and_applies_nothing_twice(tmp_path) -> None:
    db = open_database(tmp_path / "again.db")
    settings.put(db, "colour", "blue")
    applied = [m.name for m in migrations.applied(db)]
    db.close()
    db = open_database(tmp_path / "again.db")
    assert [m.name for m in migrations.applied(db)] == applied
    assert settings.get(db, "colour") == "blue"
    db.close()


def test_migration_names_are_ordered_and_unique() -> None:
    names = [m.name for m in migrations._migrations]
    assert names == sorted(names) and len(set(names)) == len(names)

"""Migrations: applied on open, once, to a real file."""

from __future__ import annotations

from sqlite_utils import Database

from events import settings
from events.db import open_database
from migrations import migrations


def test_a_fresh_file_gets_every_migration(tmp_path) -> None:
    db = open_database(tmp_path / "fresh.db")
    assert migrations.pending(db) == []
    assert {"settings", "events", "event_secrets", "keys", "key_allowlist", "campaigns", "tokens"} <= set(
        db.table_names()
    )
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
    # Everything is pending on an empty database, in the order it would be applied.
    names = [m.name for m in migrations.pending(Database(memory=True))]
    assert names == sorted(names) and len(set(names)) == len(names)


def test_the_first_upsert_works_inside_a_write_transaction_with_a_statement_open(tmp_path) -> None:
    """The first push after a restart used to get a 500: sqlite-utils' upsert probe (a scratch
    table) could not be dropped while another statement was still stepping."""
    from events.db import write_transaction

    db = open_database(tmp_path / "fresh.db")
    stepping = db.conn.execute("select name from sqlite_master")
    stepping.fetchone()
    with write_transaction(db):
        db["settings"].upsert({"name": "probe", "value": "ok"}, pk="name")
    assert db["settings"].get("probe")["value"] == "ok"
    db.close()


def test_campaigns_made_before_texts_existed_get_none(tmp_path) -> None:
    """m010 adds `texts` to campaigns already stored: they read as speaking only their base fields."""
    from sqlite_utils import Database

    from events import campaigns, registry

    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m010_campaign_texts")
    assert "texts" not in old["campaigns"].columns_dict
    event = registry.create_event(old, name="Old", venue="", starts_at=0, ends_at=3600, now=0)
    old["campaigns"].insert(
        {
            "event_id": event.id,
            "number": 1,
            "title": "Coffee",
            "terms": "",
            "max_uses": 1,
            "rotating": 0,
            "welcome": 0,
            "created_at": 0,
        }
    )
    old.close()
    db = open_database(path)
    (campaign,) = campaigns.list_campaigns(db, event.id)
    assert campaign.texts == {} and campaigns.localized(campaign, "zh-CN") == ("Coffee", "", "")
    db.close()


def test_the_audit_log_made_before_m012_keeps_its_rows_and_index_and_takes_the_command_line(tmp_path) -> None:
    """m012 rebuilds organizer_actions (organizer_id may be null: the command line, strangers)."""
    from sqlite_utils import Database

    from events import audit, organizers, registry

    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m012_sign_in_throttle")
    mei = organizers.create_organizer(old, email="mei@example.com", name="Mei", password="correct horse battery", now=0)
    event = registry.create_event(old, name="Old", venue="", starts_at=0, ends_at=3600, now=0)
    old["organizer_actions"].insert(
        {"organizer_id": mei.id, "action": "event.create", "subject": event.id, "detail": '{"name": "Old"}', "at": 1}
    )
    old.close()
    db = open_database(path)
    assert ["subject", "at"] in [index.columns for index in db["organizer_actions"].indexes]
    audit.record(db, audit.CLI, "tablet.code", event.id, {"name": "Door"}, now=2)
    assert [(a.organizer_id, a.organizer_name, a.action) for a in audit.history(db, event.id)] == [
        (mei.id, "Mei", "event.create"),
        (audit.CLI, "", "tablet.code"),
    ]
    db.close()

"""Opening the SQLite database: a file only its owner reads, WAL, one connection, its data key
found, migrations applied on open."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from events import sealed

BUSY_TIMEOUT_MS = 5000


def open_database(path: str | Path, *, migrate: bool = True, check_key: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path`, or in memory for ":memory:".

    The connection is shared by the server's handlers, which all run on the event-loop
    thread: that is PopPass's single serialized writer (docs/adr/0002).

    The file is 0600 (a wider one is narrowed, with a log line), and so are its -wal and -shm:
    SQLite gives them the database file's mode. Its data key (events/sealed.py) is registered
    for the returned Database; a key that does not open the values already sealed raises
    sealed.DataKeyError here, before anything is served (`check_key` False, with `migrate`
    False, is only for `poppass lost-data-key`, which gives the database a new key).
    """
    if str(path) != ":memory:":
        sealed.private_file(path)
        for companion in ("-wal", "-shm"):
            sealed.narrow(f"{path}{companion}")
    conn = sqlite3.connect(
        str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
    )
    db = sqlite_utils.Database(conn)
    if str(path) != ":memory:":
        db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # Freed space is zeroed, so a value rewritten (a secret sealed by m014, a session signed
    # out) leaves no old copy in the file's free space.
    db.execute("PRAGMA secure_delete = ON")
    # sqlite-utils learns whether SQLite has upserts by creating and dropping a scratch table at
    # the first upsert. Inside a request's write transaction, with another statement still
    # stepping, that drop fails ("database table is locked"): a 500 on the first push after a
    # restart (the fault-injection soak found it). Find out now, outside any transaction.
    _ = db.supports_on_conflict
    if check_key:
        sealed.attach(db)
        sealed.verify(db)
    if migrate:
        from migrations import migrations

        migrations.apply(db)
    return db


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """BEGIN IMMEDIATE: take the write lock before reading what the write depends on.

    Inside another write transaction it simply joins it, so domain functions compose."""
    if db.conn.in_transaction:
        yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()

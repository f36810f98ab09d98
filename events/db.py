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
# What SQLite says when a file is damaged (SQLITE_CORRUPT) or is no database at all
# (SQLITE_NOTADB, a garbage header).
DAMAGED_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class DamagedDatabase(Exception):
    """The database file fails `PRAGMA quick_check` or is not an SQLite database: serving it
    could lose or invent records, so the server refuses to start (docs/operations.md)."""

    def __init__(self, path: str | Path, findings: list[str]) -> None:
        self.path, self.findings = str(path), findings
        shown = "; ".join(findings[:3]) + (f" (and {len(findings) - 3} more)" if len(findings) > 3 else "")
        super().__init__(
            f"the database {path} is damaged ({shown}), so nothing was served. Restore the last backup "
            f"(`poppass restore FILE`), or save what is readable into a new file: "
            f'`sqlite3 {path} ".recover" | sqlite3 recovered.db`, copy {path}.key to recovered.db.key, and '
            f'serve recovered.db. See docs/operations.md, "A damaged database file".'
        )


def database_file(db: sqlite_utils.Database) -> str:
    """The file of `db`'s main database ("" in memory)."""
    return next((row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main"), "") or ""


def is_damage(error: BaseException) -> bool:
    return getattr(error, "sqlite_errorname", "") in DAMAGED_ERRORS


def is_disk_full(error: BaseException) -> bool:
    """SQLite's "database or disk is full" (SQLITE_FULL), or ENOSPC / EDQUOT from any file."""
    import errno

    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorname", "") == "SQLITE_FULL"
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def quick_check(db: sqlite_utils.Database) -> list[str]:
    """What `PRAGMA quick_check` finds wrong (empty: nothing). It reads every page once, not
    every index entry: about 50 ms on a 20,000-attendee database (42 MiB) from the page cache,
    0.4 s from a cold disk, so it runs once at start-up (create_app), never on open."""
    rows = [row[0] for row in db.execute("PRAGMA quick_check(20)").fetchall()]
    return [] if rows == ["ok"] else rows


def open_database(
    path: str | Path, *, migrate: bool = True, check_key: bool = True, check_pages: bool = False
) -> sqlite_utils.Database:
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
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    db = sqlite_utils.Database(conn)
    try:
        if str(path) != ":memory:":
            db.enable_wal()  # the first read of the file: a garbage header fails here
        findings = quick_check(db) if check_pages else []
    except sqlite3.DatabaseError as error:
        conn.close()
        if is_damage(error):
            raise DamagedDatabase(path, [str(error)]) from error
        raise
    if findings:
        conn.close()
        raise DamagedDatabase(path, findings)
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
        # Inside the try: a COMMIT can fail too (a full disk: SQLITE_FULL while the WAL grows),
        # and a transaction left open would be joined by every later write, which then never
        # lands. Rolled back, the connection is ready for the next write once room comes back.
        db.commit()
    except BaseException:
        db.rollback()  # (nothing to do if SQLite already rolled back itself)
        raise


@contextlib.contextmanager
def read_snapshot(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A read transaction: every read inside sees the database as one moment (WAL gives each
    reader the snapshot of its first read), whatever other connections commit meanwhile.

    Inside a transaction already open it simply joins it: that one is already a snapshot."""
    if db.conn.in_transaction:
        yield db
        return
    db.execute("BEGIN")
    try:
        yield db
    finally:
        # A read-only transaction: ending it only releases the snapshot.
        if db.conn.in_transaction:
            db.execute("COMMIT")

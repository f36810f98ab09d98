"""Is the server well? What `/healthz` reports: the database answers, and its disk has room.

Polled by a monitor every few seconds, so every check here is cheap (measured on a
20,000-attendee database, 42 MiB: the whole check takes about 0.3 ms, nearly all of it the
fresh connection below). `PRAGMA quick_check` is not one of them: it reads every page (50 ms to
0.4 s there) and runs once, at start-up (events.db.open_database, `check_pages`).
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from events.db import database_file, is_damage

# Below this much free room a write may not fit: the largest push (2 MiB of JSON) becomes about
# as many bytes of WAL frames, plus its indexes' pages. SQLite would then answer "database or
# disk is full" and the server 503 (docs/operations.md, "When the disk fills").
DISK_FULL_BYTES = 4 * 1024 * 1024
# Below this, warn while everything still works: 64 MiB is one and a half times the whole
# database of a 20,000-attendee event (42 MiB, 65,000 ops), so a busy day still fits while
# someone makes room. A share of the disk would say nothing on a big disk and too much on a small one.
DISK_LOW_BYTES = 64 * 1024 * 1024
# A fresh reader gives up quickly instead of holding the poll for the writer's 5 s busy timeout.
PROBE_TIMEOUT_S = 0.5


@dataclass
class Health:
    problems: list[str] = field(default_factory=list)  # database_unreachable, database_damaged, disk_full, disk_low
    detail: dict[str, str] = field(default_factory=dict)  # problem -> what was seen, in words
    disk_free_bytes: int | None = None

    @property
    def well(self) -> bool:
        return not self.problems


def check(db: Database) -> Health:
    health = Health()
    try:
        db.execute("select 1").fetchone()  # the server's own connection answers
    except sqlite3.Error as error:
        health.problems.append("database_unreachable")
        health.detail["database_unreachable"] = str(error)
        return health
    file = database_file(db)
    if not file:  # in memory
        return health
    path = Path(file)
    _probe_file(path, health)
    _check_disk(path.parent, health)
    return health


def _probe_file(path: Path, health: Health) -> None:
    """(The detail names no path: /healthz is public.) Open the file afresh, read-only, and read its schema and migrations. The server's own
    connection would answer from its page cache even after the file was damaged, moved or
    deleted underneath it (it would then write into a file nobody will ever open again)."""
    try:
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=PROBE_TIMEOUT_S)
    except sqlite3.Error as error:
        health.problems.append("database_unreachable")
        health.detail["database_unreachable"] = f"the database file: {error}"
        return
    try:
        probe.execute("select count(*) from sqlite_master").fetchone()
        probe.execute("select count(*) from _sqlite_migrations").fetchone()
    except sqlite3.Error as error:
        problem = "database_damaged" if is_damage(error) else "database_unreachable"
        health.problems.append(problem)
        health.detail[problem] = f"the database file: {error}"
    finally:
        probe.close()


def _check_disk(directory: Path, health: Health) -> None:
    """The database and its -wal and -shm live in the same directory, so on the same disk."""
    try:
        free = shutil.disk_usage(directory).free  # what an unprivileged writer may still use
    except OSError as error:
        health.problems.append("database_unreachable")
        health.detail["database_unreachable"] = f"the database's directory: {error}"
        return
    health.disk_free_bytes = free
    mib = f"{free / 2**20:.1f} MiB free beside the database"
    if free < DISK_FULL_BYTES:
        health.problems.append("disk_full")
        health.detail["disk_full"] = f"{mib}: writes are refused (503) until there is room"
    elif free < DISK_LOW_BYTES:
        health.problems.append("disk_low")
        health.detail["disk_low"] = f"{mib}, under {DISK_LOW_BYTES // 2**20} MiB: make room before it fills"

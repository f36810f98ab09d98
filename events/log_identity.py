"""The log's identity: which history of the op log a cursor or a device_seq belongs to.

A restored backup (events/backup.py) puts the log back to an earlier position, and then numbers
new ops from there: positions a tablet had pulled past, and device_seq numbers the server had
acknowledged, now mean other ops or nothing. So every history of the log has an id, and a
restore starts a new one, recording where it forked from the old. A tablet names the id it last
saw in every push and pull (protocol 3); when it is not the current one the server refuses with
`409 log_changed` and tells it the fork, from which the tablet pulls again, and the last
device_seq the server holds, after which it sends again the ops it kept (docs/sync-protocol.md,
"After a restore").
"""

from __future__ import annotations

import secrets

from sqlite_utils import Database

from events import oplog


class LogChanged(Exception):
    """The device named a log id that is not the current one (the database was restored)."""

    def __init__(self, log_id: str, fork: int, last_seq: int) -> None:
        super().__init__(f"the log is now {log_id}, forked at {fork}")
        self.log_id = log_id
        self.fork = fork  # the log positions up to which the device's history and the current one agree
        self.last_seq = last_seq  # the device's last device_seq the server holds


def new_id() -> str:
    return "lg" + secrets.token_hex(8)


def current(db: Database) -> str:
    row = db.execute("select id from log_identities order by rowid desc limit 1").fetchone()
    return row[0]


def fork(db: Database, known: str) -> int:
    """Up to which log position the history `known` and the current one hold the same ops.

    Each restore began a history at the position of its backup; every history after `known`
    shares at least its starting prefix with it, so the smallest start after it is safe. A
    history this database never had (a restore from a backup older than the tablet's history's
    beginning) shares nothing known: 0, pull everything again."""
    rows = db.execute("select rowid, id, started_at_seq from log_identities order by rowid").fetchall()
    index = next((i for i, (_, identity, _) in enumerate(rows) if identity == known), None)
    if index is None:
        return 0
    later = [started for _, _, started in rows[index + 1 :]]
    return min(later) if later else oplog.position(db)


def begin(db: Database, *, at_seq: int, now: int, reason: str) -> str:
    """Start a new history of the log at position `at_seq` (a restore); returns its id."""
    identity = new_id()
    db["log_identities"].insert({"id": identity, "started_at_seq": at_seq, "started_at": now, "reason": reason})
    return identity


def check(db: Database, named: str | None, device_id: str) -> str:
    """The current history's id, for the answer; LogChanged when the device names another. A
    device that names none (protocol 2, or not yet told) is not checked."""
    identity = current(db)
    if named is not None and named != identity:
        (last_seq,) = db.execute("select last_seq from devices where id = ?", [device_id]).fetchone()
        raise LogChanged(identity, fork(db, named), last_seq)
    return identity

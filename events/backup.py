"""Backups and restores of the database file (`poppass backup`, `poppass restore`).

A backup is SQLite's online backup of the whole file, taken in one read transaction, so it is
a consistent snapshot while the server keeps writing; it is made 0600 under a temporary name,
checked, then renamed, so a half-written copy never carries the real name.

A restore puts a backup back in place of the database and starts a new history of the op log
at the backup's position (events/log_identity.py): tablets then send again what they pushed
after it and pull again from there, so no op a tablet still holds is lost. What only the server
held after the backup is gone with the database it replaces (which is kept beside it, renamed,
never deleted): the web device's ops (online sign-ups, imports) and what organizers did. The
report says which, read from the replaced file when it can still be read. Revocations made
after the backup are made again, and each event's trust bundle numbering jumps past what
tablets have seen, or they would refuse the restored server's bundles as old.

The server must be stopped: `poppass serve` holds a lock beside the database (serving_lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from events import devices, log_identity, oplog, sealed
from events.db import open_database, write_transaction

# Without the replaced file to compare with, how far each event's bundle numbering jumps: more
# key changes than any event makes (one per tablet enrolled or revoked) in the time between a
# backup and its restore.
BUNDLE_SEQ_JUMP = 1000


class BackupError(Exception):
    """A backup or restore that cannot be done: said as it is, nothing changed."""


class ServerRunning(BackupError):
    pass


def lock_path(database: str | Path) -> Path:
    return Path(f"{database}.lock")


@contextlib.contextmanager
def serving_lock(database: str | Path) -> Iterator[None]:
    """Held by `poppass serve` while it runs: a restore must not replace the file under it."""
    path = lock_path(database)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServerRunning(f"another PopPass server is already serving {database} (it holds {path})") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock; the empty file stays, harmlessly


@dataclass(frozen=True)
class Snapshot:
    """What a database file holds, as a backup or restore reports it."""

    path: str
    log_position: int
    log_id: str
    events: int
    attendees: int
    ops: int
    latest_op_at_ms: int | None
    size_bytes: int


def describe(path: str | Path) -> Snapshot:
    conn = sqlite3.connect(path)
    try:

        def one(sql: str, default: object = 0) -> object:
            try:
                row = conn.execute(sql).fetchone()
            except sqlite3.OperationalError:  # an older schema
                return default
            return row[0] if row and row[0] is not None else default

        return Snapshot(
            str(path),
            one("select value from log_counter where name = 'log'"),
            str(one("select id from log_identities order by rowid desc limit 1", "")),
            one("select count(*) from events"),
            one("select count(*) from attendees"),
            one("select count(*) from ops"),
            one("select max(received_at_ms) from ops", None),
            Path(path).stat().st_size,
        )
    finally:
        conn.close()


def _quick_check(conn: sqlite3.Connection) -> str:
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as error:
        return str(error)
    return "ok" if rows == [("ok",)] else "; ".join(row[0] for row in rows[:5])


def _copy(source: str | Path, target: Path) -> None:
    """The whole of `source` into the new file `target` (0600), in one step of the online backup
    API: one read transaction, so what is copied is one moment of the database."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        problem = _quick_check(dst)
        if problem != "ok":
            raise BackupError(f"the copy of {source} does not pass SQLite's quick_check: {problem}")
    finally:
        dst.close()
        src.close()
    with open(target, "rb") as copied:
        os.fsync(copied.fileno())


def backup(database: str | Path, target: str | Path) -> Snapshot:
    """Copy the database at `database` (running or not) to the new file `target`."""
    database, target = Path(database), Path(target)
    if not database.is_file():
        raise BackupError(f"no database at {database}")
    if target.exists():
        raise BackupError(f"{target} already exists: give a new file name (a backup never overwrites one)")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)  # left by a backup that was killed
    try:
        _copy(database, partial)
        os.rename(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return describe(target)


def backup_into(
    database: str | Path, directory: str | Path, *, keep: int, now: float | None = None
) -> tuple[Snapshot, list[Path]]:
    """A backup named by the time into `directory` (made 0700), keeping the newest `keep`;
    returns it and the older ones removed. For a schedule (cron, a systemd timer)."""
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    name = f"{Path(database).name}.{stamp}.backup"
    snapshot = backup(database, directory / name)
    ours = sorted(directory.glob(f"{Path(database).name}.*.backup"))
    removed = ours[:-keep] if keep > 0 else []
    for old in removed:
        old.unlink()
    return snapshot, removed


@dataclass
class RestoreReport:
    restored: Snapshot
    replaced_as: str | None  # where the database it replaced now is
    log_id: str  # the new history of the log
    lost_web_ops: list[dict] = field(default_factory=list)  # kind, subject, name, at: only the server held them
    resent_by_tablets: dict[str, int] = field(default_factory=dict)  # device name -> ops they will send again
    tablets_to_enroll_again: list[str] = field(default_factory=list)  # enrolled after the backup
    revoked_again: list[str] = field(default_factory=list)
    organizer_actions_lost: list[dict] = field(default_factory=list)  # what organizers did after the backup
    unread_replaced: str = ""  # why the replaced database could not be compared


def _read_replaced(path: Path, restored: sqlite3.Connection) -> dict:
    """What the database being replaced holds that the backup does not."""
    conn = sqlite3.connect(path)
    try:
        restored_ops = {row[0] for row in restored.execute("select op_id from ops")}
        devices_before = {row[0]: row[1] for row in restored.execute("select id, revoked_at from devices")}
        names = dict(conn.execute("select id, name from devices"))
        lost, resent = [], {}
        for op_id, device_id, kind, subject, data, received in conn.execute(
            "select op_id, device_id, kind, subject, data, received_at_ms from ops order by seq"
        ):
            if op_id in restored_ops:
                continue
            if device_id.startswith("web-"):
                name = json.loads(data).get("name", "") if kind == "register" else ""
                lost.append({"kind": kind, "subject": subject, "name": name, "at_ms": received})
            else:
                resent[names.get(device_id, device_id)] = resent.get(names.get(device_id, device_id), 0) + 1
        late_tablets = [
            name
            for device_id, name in names.items()
            if device_id not in devices_before and not device_id.startswith("web-")
        ]
        revoked = [
            device_id
            for device_id, revoked_at in conn.execute("select id, revoked_at from devices")
            if revoked_at is not None and device_id in devices_before and devices_before[device_id] is None
        ]
        (latest_action,) = restored.execute("select coalesce(max(id), 0) from organizer_actions").fetchone()
        actions = [
            {"action": action, "subject": subject, "at": at}
            for action, subject, at in conn.execute(
                "select action, subject, at from organizer_actions where id > ? order by id", [latest_action]
            )
        ]
        bundle_seqs = dict(conn.execute("select id, bundle_seq from events"))
        return {
            "lost": lost,
            "resent": resent,
            "late_tablets": late_tablets,
            "revoked": revoked,
            "actions": actions,
            "bundle_seqs": bundle_seqs,
        }
    finally:
        conn.close()


def restore(backup_file: str | Path, database: str | Path, *, now: int) -> RestoreReport:
    """Put `backup_file` in place of `database` (the server stopped). The replaced file, with its
    -wal, is kept as `<database>.replaced-<time>`. Stopped at any point, the name holds a whole
    database, the replaced one or the restored one, and the restore can simply be run again."""
    backup_file, database = Path(backup_file), Path(database)
    if not backup_file.is_file():
        raise BackupError(f"no backup at {backup_file}")
    if backup_file.resolve() == database.resolve():
        raise BackupError("the backup and the database are the same file")
    with serving_lock(database):
        check = sqlite3.connect(backup_file)
        try:
            problem = _quick_check(check)
        finally:
            check.close()
        if problem != "ok":
            raise BackupError(
                f"{backup_file} is not a sound database (SQLite's quick_check: {problem}): try an older backup"
            )
        staged = database.with_name(database.name + ".restoring")
        for leftover in (staged, Path(f"{staged}-wal"), Path(f"{staged}-shm")):
            leftover.unlink(missing_ok=True)
        _copy(backup_file, staged)
        try:
            report = _prepare(staged, backup_file, database, now=now)
        except BaseException:
            for leftover in (staged, Path(f"{staged}-wal"), Path(f"{staged}-shm")):
                leftover.unlink(missing_ok=True)
            raise
        if database.exists():
            report.replaced_as = str(_set_aside(database, now=now))
        # Atomic: whatever happens, a whole database (the replaced one or the backup) has the name.
        os.replace(staged, database)
        _fsync_directory(database.parent)
    report.restored = describe(database)
    return report


def _set_aside(database: Path, *, now: int) -> Path:
    """Keep the database being replaced as `<database>.replaced-<time>`, then remove its -wal and
    -shm: left beside the restored file, SQLite would apply the old WAL's pages to it. Its WAL is
    checkpointed into it first, so removing the WAL loses nothing even if the restore stops there."""
    try:
        conn = sqlite3.connect(database)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        pass  # a damaged file is kept as it is, with its WAL
    aside = Path(f"{database}.replaced-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}")
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{database}{suffix}").exists():
            shutil.copy2(f"{database}{suffix}", f"{aside}{suffix}")
            with open(f"{aside}{suffix}", "rb") as copied:
                os.fsync(copied.fileno())
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    return aside


def _prepare(staged: Path, backup_file: Path, database: Path, *, now: int) -> RestoreReport:
    """On the staged copy: open it with the database's key, migrate it, start the new history of
    the log, compare with the database it replaces, make revocations again, move bundle numbers."""
    db = open_database(staged, migrate=False, check_key=False)
    try:
        key = sealed.load_key(database, create=not sealed.has_key_check(db))
        sealed.register(db, key)
        try:
            sealed.verify(db)
        except sealed.DataKeyError:
            raise BackupError(
                f"{backup_file} was sealed with another data key than {key.source}: put that backup's "
                f"key at {sealed.key_path(database)} (or in {sealed.KEY_ENV})"
            ) from None
        from migrations import migrations

        migrations.apply(db)
        replaced: dict | None = None
        unread = ""
        if database.exists():
            try:
                replaced = _read_replaced(database, db.conn)
            except sqlite3.DatabaseError as error:
                unread = str(error)
        with write_transaction(db):
            position = oplog.position(db)
            identity = log_identity.begin(db, at_seq=position, now=now, reason=f"restored from {backup_file.name}")
            for event_id, seq in db.execute("select id, bundle_seq from events").fetchall():
                seen = (replaced or {}).get("bundle_seqs", {}).get(event_id)
                jumped = max(seq, seen) + 1 if seen is not None else seq + BUNDLE_SEQ_JUMP
                db.execute("update events set bundle_seq = ? where id = ?", [jumped, event_id])
        revoked = []
        for device_id in (replaced or {}).get("revoked", []):
            devices.revoke_device(db, device_id, now=now)
            revoked.append(devices.get_device(db, device_id).name)
        report = RestoreReport(describe(staged), None, identity, unread_replaced=unread, revoked_again=revoked)
        if replaced is not None:
            report.lost_web_ops = replaced["lost"]
            report.resent_by_tablets = replaced["resent"]
            report.tablets_to_enroll_again = replaced["late_tablets"]
            report.organizer_actions_lost = replaced["actions"]
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return report


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

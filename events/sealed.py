"""Secrets at rest: the few values a copied database file must not give away, sealed with a key
kept outside it (docs/operations.md).

The sealed values are the events' root and issuing private keys, rotation keys and phone
search keys (`event_secrets`), the rotation keys revocations retired (`retired_rotation_keys`), the organizers' TOTP secrets (`organizers.totp_secret`) and the CSRF secret
(`settings`). Each is AES-256-GCM under the *data key*, with a random nonce, and with its
table, column and row id as associated data, so a ciphertext copied onto another row (an
attacker's organizer onto the owner's, say) does not open.

The data key is 32 random bytes: `POPPASS_DATA_KEY` (base64) when set, otherwise the key file
beside the database (`<db file>.key`, made 0600 at first start). `events.db.open_database`
finds it and registers it for that Database object; domain code asks `key_for(db)`.

This module also owns how PopPass creates a file only its owner can read (`private_file`):
the database and its -wal/-shm, the key file, and backups.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
import stat
import weakref
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlite_utils import Database

KEY_ENV = "POPPASS_DATA_KEY"
KEY_LEN = 32
NONCE_LEN = 12
PRIVATE_MODE = 0o600
# A sealed blob: MAGIC, nonce, ciphertext and tag. Text columns keep text: TEXT_PREFIX and the
# blob in base64url. Neither can be mistaken for a clear value: clear keys are exactly 32 bytes,
# and base32 TOTP secrets and URL-safe CSRF secrets never hold a ':'.
MAGIC = b"PPS1"
TEXT_PREFIX = "sealed:"
# A known value sealed at first start: opening it proves the key is the database's own before
# anything else is read (settings row, row id KEY_CHECK).
KEY_CHECK = "data_key_check"
KEY_CHECK_VALUE = "PopPass data key"

log = logging.getLogger("poppass")


class DataKeyError(RuntimeError):
    """The data key is missing, malformed, or not the one this database's values were sealed with."""


@dataclass(frozen=True)
class DataKey:
    raw: bytes
    source: str  # where it came from, for messages: the key file's path or KEY_ENV

    def __repr__(self) -> str:  # never the key itself in a log or a traceback
        return f"DataKey(source={self.source!r})"


_keys: weakref.WeakKeyDictionary[Database, DataKey] = weakref.WeakKeyDictionary()


# --- files only the owner reads -------------------------------------------------------------------


def narrow(path: str | Path) -> bool:
    """Make an existing file 0600 if group or others may read it; True when it was changed."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    if mode & 0o077 == 0:
        return False
    os.chmod(path, PRIVATE_MODE)
    log.warning("%s was readable by others (mode %o): narrowed to %o", path, mode, PRIVATE_MODE)
    return True


def private_file(path: str | Path) -> Path:
    """Create `path` empty and 0600 if it does not exist, or narrow it to 0600 if it does.

    For every file that holds PopPass's data: the database (SQLite then gives its -wal and
    -shm the database file's mode), the key file, a backup."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    except FileExistsError:
        narrow(path)
    return path


def _write_new_private_file(path: Path, data: bytes) -> bool:
    """Write `data` to `path` only if it does not exist yet, atomically: another process
    opening the same database at the same moment reads either nothing or all of it.
    False when another process made it first."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    with contextlib.suppress(OSError):  # the new name survives a power cut
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return True


# --- where a database's key is --------------------------------------------------------------------


def key_path(database_path: str | Path) -> Path:
    """The key file that goes with a database file."""
    return Path(f"{database_path}.key")


def _key_from_env(text: str) -> DataKey:
    try:
        raw = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_LEN:
        raise DataKeyError(
            f"{KEY_ENV} must be {KEY_LEN} bytes in base64 (make one with: "
            f"python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')"
        )
    return DataKey(raw, KEY_ENV)


def load_key(database_path: str | Path, *, create: bool) -> DataKey:
    """The data key for the database at `database_path`: POPPASS_DATA_KEY when set, otherwise
    its key file, made now when `create` (a database with nothing sealed yet) and missing."""
    if os.environ.get(KEY_ENV):
        return _key_from_env(os.environ[KEY_ENV])
    path = key_path(database_path)
    if not path.exists():
        if not create:
            raise DataKeyError(
                f"this database was sealed with another key: there is no key file {path} "
                f"and {KEY_ENV} is not set (restore the key file kept with the backup)"
            )
        if _write_new_private_file(path, secrets.token_bytes(KEY_LEN)):
            log.warning("made a new data key %s: back it up, apart from the database (docs/operations.md)", path)
    narrow(path)
    raw = path.read_bytes()
    if len(raw) != KEY_LEN:
        raise DataKeyError(f"{path} is not a PopPass data key ({len(raw)} bytes, not {KEY_LEN})")
    return DataKey(raw, str(path))


def register(db: Database, key: DataKey) -> None:
    """Seal and open this Database's values with `key` (open_database calls it; so does a test
    copying a database into memory)."""
    _keys[db] = key


def _file_of(db: Database) -> str:
    from events.db import database_file  # events.db imports this module at its top

    return database_file(db)


def has_key_check(db: Database) -> bool:
    """Whether this database already has sealed values (then its key must be found, never made)."""
    return (
        db["settings"].exists()
        and db.execute("select 1 from settings where name = ?", [KEY_CHECK]).fetchone() is not None
    )


def attach(db: Database) -> DataKey:
    """Find this database's key (making it at first start) and register it."""
    path = _file_of(db)
    if path:
        key = load_key(path, create=not has_key_check(db))
    elif os.environ.get(KEY_ENV):
        key = _key_from_env(os.environ[KEY_ENV])
    else:
        key = DataKey(secrets.token_bytes(KEY_LEN), "a key made for this in-memory database")
    register(db, key)
    return key


def key_for(db: Database) -> DataKey:
    """The data key this Database seals with. A Database not made by open_database (a test
    building an older schema) gets its file's key the same way."""
    key = _keys.get(db)
    return key if key is not None else attach(db)


def verify(db: Database) -> None:
    """Refuse to go on with a key that does not open this database's values: a clear error at
    start, not garbage or a failed signature later."""
    if not has_key_check(db):
        return
    (stored,) = db.execute("select value from settings where name = ?", [KEY_CHECK]).fetchone()
    if open_text(db, "settings", "value", KEY_CHECK, stored) != KEY_CHECK_VALUE:
        raise DataKeyError(f"this database was sealed with another key: {key_for(db).source} does not open it")


def add_key_check(db: Database) -> None:
    """Store the known value that `verify` opens (once, when the database is first sealed)."""
    if not has_key_check(db):
        db["settings"].insert(
            {"name": KEY_CHECK, "value": seal_text(db, "settings", "value", KEY_CHECK, KEY_CHECK_VALUE)}
        )


def start_over(db: Database) -> DataKey:
    """For a database whose data key is lost: a new key (a new key file beside it, or
    POPPASS_DATA_KEY) and a new key check. What was sealed under the old key stays unreadable:
    the caller replaces every such value in the same transaction (events/lost_key.py)."""
    path = _file_of(db)
    if not has_key_check(db):
        raise DataKeyError("nothing in this database is sealed yet: no key was lost")
    if os.environ.get(KEY_ENV):
        key = _key_from_env(os.environ[KEY_ENV])
    elif key_path(path).exists():
        raise DataKeyError(f"{key_path(path)} exists: move it away first (keep it: it may be the key after all)")
    else:
        key = None
    if key is not None:
        register(db, key)
        try:
            verify(db)
        except DataKeyError:
            pass  # the environment holds the new key: the old one is indeed lost
        else:
            raise DataKeyError(f"{key.source} opens this database: nothing is lost")
    db.execute("delete from settings where name = ?", [KEY_CHECK])
    key = load_key(path, create=True)
    register(db, key)
    add_key_check(db)
    return key


# --- sealing ----------------------------------------------------------------------------------------


def associated_data(table: str, column: str, row_id: str) -> bytes:
    return f"poppass/{table}/{column}/{row_id}".encode()


def seal(key: bytes, aad: bytes, plaintext: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_LEN)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, aad: bytes, blob: bytes) -> bytes:
    """The plaintext; InvalidTag for another key, another row's value, or altered bytes."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_LEN + 16:
        raise ValueError("not a sealed value")
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_LEN]
    return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + NONCE_LEN :], aad)


def is_sealed(stored: bytes | str | None) -> bool:
    if isinstance(stored, str):
        return stored.startswith(TEXT_PREFIX)
    return isinstance(stored, bytes) and len(stored) > KEY_LEN and stored.startswith(MAGIC)


def seal_bytes(db: Database, table: str, column: str, row_id: str, value: bytes) -> bytes:
    return seal(key_for(db).raw, associated_data(table, column, row_id), value)


def open_bytes(db: Database, table: str, column: str, row_id: str, stored: bytes) -> bytes:
    if not is_sealed(stored):
        raise DataKeyError(f"{table}.{column} of {row_id} is not sealed (the database was not migrated?)")
    try:
        return unseal(key_for(db).raw, associated_data(table, column, row_id), stored)
    except InvalidTag:
        raise DataKeyError(
            f"this database was sealed with another key: {key_for(db).source} does not open "
            f"{table}.{column} of {row_id} (or the value was moved from another row)"
        ) from None


def seal_text(db: Database, table: str, column: str, row_id: str, value: str) -> str:
    blob = seal_bytes(db, table, column, row_id, value.encode())
    return TEXT_PREFIX + base64.urlsafe_b64encode(blob).decode("ascii")


def open_text(db: Database, table: str, column: str, row_id: str, stored: str) -> str:
    if not is_sealed(stored):
        raise DataKeyError(f"{table}.{column} of {row_id} is not sealed (the database was not migrated?)")
    try:
        blob = base64.urlsafe_b64decode(stored[len(TEXT_PREFIX) :])
    except (binascii.Error, ValueError):
        blob = b""
    return open_bytes(db, table, column, row_id, blob).decode()

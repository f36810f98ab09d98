"""Tablets: one-time enrollment codes, enrollment, device tokens, revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlite_utils import Database

from events import registry
from events.db import write_transaction
from events.keys import SERVER_KEY_ID
from events.refusal import Refusal

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: typed by a clerk
CODE_LENGTH = 12  # 60 bits, single use, short-lived
DEFAULT_CODE_MINUTES = 60
WEB_DEVICE_PREFIX = "web-"


class DeviceRefused(Refusal):
    """A device may not sync. `wipe` tells it to erase what it holds (revoked)."""

    def __init__(self, reason: str, *, wipe: bool = False) -> None:
        super().__init__(reason)
        self.wipe = wipe


class EnrollmentError(Refusal):
    """A one-time code or key that cannot enroll a tablet."""


@dataclass(frozen=True)
class Device:
    id: str
    event_id: str
    name: str
    key_id: int
    enrolled_at: int
    revoked_at: int | None
    last_seq: int
    last_sync_at: int | None
    clock_offset_ms: int | None
    pending: int
    clerk: str | None = None  # on shift, as the tablet last said at a pull


@dataclass(frozen=True)
class Enrollment:
    device: Device
    token: str  # the bearer token: shown once, only its hash is kept


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalize_code(code: str) -> str:
    """What the clerk typed, as the code was made: upper case, no dashes or spaces."""
    return "".join(c for c in code.upper() if c.isalnum())


def create_enrollment_code(
    db: Database, event_id: str, *, name: str, now: int, minutes: int = DEFAULT_CODE_MINUTES
) -> str:
    registry.get_event(db, event_id)
    if not name.strip():
        raise ValueError("a tablet needs a name")
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    with write_transaction(db):
        db["enrollment_codes"].insert(
            {
                "code_hash": _hash(code),
                "event_id": event_id,
                "name": name.strip()[:80],
                "created_at": now,
                "expires_at": now + 60 * minutes,
                "used_at": None,
                "device_id": None,
            }
        )
    return "-".join(code[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def enroll(db: Database, code: str, *, public_key: bytes, now: int) -> Enrollment:
    """Spend a one-time code: register the tablet's public key, make its device id and token."""
    with write_transaction(db):
        rows = list(db["enrollment_codes"].rows_where("code_hash = ?", [_hash(normalize_code(code))]))
        if not rows:
            raise EnrollmentError("invalid_code")
        row = rows[0]
        if row["used_at"] is not None:
            raise EnrollmentError("code_used")
        if now >= row["expires_at"]:
            raise EnrollmentError("code_expired")
        device_id = "dv" + secrets.token_hex(8)
        try:
            key_id = registry.register_device_key(
                db, row["event_id"], public_key=public_key, device_id=device_id, now=now
            )
        except ValueError:
            raise EnrollmentError("bad_public_key") from None
        token = secrets.token_urlsafe(32)
        db["devices"].insert(
            {
                "id": device_id,
                "event_id": row["event_id"],
                "name": row["name"],
                "key_id": key_id,
                "token_hash": _hash(token),
                "enrolled_at": now,
                "revoked_at": None,
                "last_seq": 0,
                "last_sync_at": None,
                "clock_offset_ms": None,
                "pending": 0,
            }
        )
        db["enrollment_codes"].update(row["code_hash"], {"used_at": now, "device_id": device_id})
    return Enrollment(get_device(db, device_id), token)


def get_device(db: Database, device_id: str) -> Device:
    rows = list(db["devices"].rows_where("id = ?", [device_id]))
    if not rows:
        raise LookupError(device_id)
    row = rows[0]
    row.pop("token_hash")
    return Device(**row)


def list_devices(db: Database, event_id: str) -> list[Device]:
    """The event's tablets (not the server's own web device)."""
    return [
        get_device(db, row["id"])
        for row in db["devices"].rows_where(
            "event_id = ? and key_id != ?", [event_id, SERVER_KEY_ID], order_by="enrolled_at, id"
        )
    ]


def web_device(db: Database, event_id: str, *, now: int) -> Device:
    """The server's own device: what the public web pages (online sign-up) record goes into the
    log under it, with its own device_seq, so tablets pull it like any tablet's ops. It has no
    bearer token (no SHA-256 hex digest equals its token_hash), so nothing can sync as it."""
    device_id = WEB_DEVICE_PREFIX + event_id
    with write_transaction(db):
        if not db.execute("select 1 from devices where id = ?", [device_id]).fetchone():
            db["devices"].insert(
                {
                    "id": device_id,
                    "event_id": event_id,
                    "name": "Online sign-up",
                    "key_id": SERVER_KEY_ID,
                    "token_hash": "none:" + event_id,
                    "enrolled_at": now,
                    "revoked_at": None,
                    "last_seq": 0,
                    "last_sync_at": None,
                    "clock_offset_ms": None,
                    "pending": 0,
                }
            )
    return get_device(db, device_id)


def authenticate(db: Database, token: str | None) -> Device:
    """The device holding this bearer token, or DeviceRefused."""
    if not token:
        raise DeviceRefused("no_device_token")
    rows = list(db["devices"].rows_where("token_hash = ?", [_hash(token)], select="id, revoked_at"))
    if not rows:
        raise DeviceRefused("unknown_device")
    if rows[0]["revoked_at"] is not None:
        raise DeviceRefused("device_revoked", wipe=True)
    return get_device(db, rows[0]["id"])


def revoke_device(db: Database, device_id: str, *, now: int) -> frozenset[str]:
    """Revoke a tablet: its key is revoked with an allowlist of every token it issued that the
    server has already seen; anything else signed by it is untrusted from now on. The event's
    rotation key it held is retired for a new one, so rotating codes it computes are refused
    once the other tablets have synced. The tablet is told to wipe itself at its next contact,
    but a stolen one kept offline never hears it. Returns the allowlist."""
    with write_transaction(db):
        device = get_device(db, device_id)
        if device.key_id == SERVER_KEY_ID:
            raise ValueError("the server's own web device is not a tablet")
        if device.revoked_at is not None:
            raise ValueError("this tablet is already revoked")
        # Only tokens whose bytes verified: a refused text under this key id must not become a
        # free pass for whatever the stolen tablet signs under that id later.
        allowlist = frozenset(
            row[0]
            for row in db.execute(
                "select id from tokens where event_id = ? and key_id = ? and refusal = ''",
                [device.event_id, device.key_id],
            )
        )
        registry.revoke_key(db, device.event_id, device.key_id, now=now, allowlist=allowlist)
        registry.retire_rotation_key(db, device.event_id, now=now, device_id=device_id)
        db["devices"].update(device_id, {"revoked_at": now})
    return allowlist

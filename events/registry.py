"""Events and their keys: the root key, the server's issuing key, device keys, the trust bundle."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlite_utils import Database

from events import phone_search, sealed, tokens
from events.db import write_transaction
from events.keys import (
    MAX_KEY_ID,
    SERVER_KEY_ID,
    KeyRecord,
    KeyStatus,
    generate_private_key,
    is_acceptable_public_key,
    private_key_bytes,
    private_key_from_bytes,
    public_key_bytes,
)
from events.refusal import FieldRefusal
from events.rotating import ROTATION_KEY_LEN
from events.tokens import Token
from events.trust import ClockPolicy, SignedBundle, TrustBundle, sign_bundle


@dataclass(frozen=True)
class Event:
    id: str
    name: str
    venue: str
    starts_at: int
    ends_at: int
    timezone: str
    created_at: int
    bundle_seq: int
    languages: str = "en,zh-CN"  # comma-separated web language tags, the first is the default

    @property
    def language_list(self) -> list[str]:
        return self.languages.split(",")


NAME_MAX = 120
VENUE_MAX = 200


class UnknownEvent(LookupError):
    pass


class EventRefused(FieldRefusal):
    """Event fields that cannot be stored."""


def check_event(*, name: str, venue: str, starts_at: int, ends_at: int, timezone: str, languages: list[str]) -> dict:
    """The event's fields as they will be stored, or EventRefused naming the field at fault."""
    if not name.strip():
        raise EventRefused("name_missing", "name", "an event needs a name")
    if len(name.strip()) > NAME_MAX:
        raise EventRefused("name_too_long", "name", f"a name has at most {NAME_MAX} characters")
    if len(venue.strip()) > VENUE_MAX:
        raise EventRefused("venue_too_long", "venue", f"a venue has at most {VENUE_MAX} characters")
    if ends_at <= starts_at:
        raise EventRefused("ends_before_start", "ends", "an event must end after it starts")
    try:
        ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise EventRefused("unknown_timezone", "timezone", f"unknown time zone {timezone!r}") from None
    if (
        not languages
        or len(set(languages)) != len(languages)
        or not all(re.fullmatch(r"[a-z]{2}(-[A-Z]{2})?", t) for t in languages)
    ):
        raise EventRefused("languages_missing", "languages", "an event needs one or more languages, each named once")
    return {
        "name": name.strip(),
        "venue": venue.strip(),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "timezone": timezone,
        "languages": ",".join(languages),
    }


def create_event(
    db: Database,
    *,
    name: str,
    venue: str,
    starts_at: int,
    ends_at: int,
    timezone: str = "UTC",
    languages: list[str] | None = None,
    now: int,
) -> Event:
    fields = check_event(
        name=name,
        venue=venue,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=timezone,
        languages=["en", "zh-CN"] if languages is None else languages,
    )
    event = Event(id="ev" + secrets.token_hex(8), created_at=now, bundle_seq=1, **fields)
    issuing_key = generate_private_key()
    clear = {
        "root_private_key": private_key_bytes(generate_private_key()),
        "issuing_private_key": private_key_bytes(issuing_key),
        "rotation_key": secrets.token_bytes(ROTATION_KEY_LEN),
    }
    with write_transaction(db):
        db["events"].insert(vars(event))
        db["event_secrets"].insert(
            {"event_id": event.id}
            | {
                column: sealed.seal_bytes(db, "event_secrets", column, event.id, value)
                for column, value in clear.items()
            }
        )
        db["keys"].insert(
            {
                "event_id": event.id,
                "key_id": SERVER_KEY_ID,
                "public_key": public_key_bytes(issuing_key),
                "device_id": None,
                "status": str(KeyStatus.ACTIVE),
                "valid_from": now,
                "revoked_at": None,
            }
        )
    return event


def update_event(
    db: Database,
    event_id: str,
    *,
    name: str,
    venue: str,
    starts_at: int,
    ends_at: int,
    timezone: str,
    languages: list[str],
) -> Event:
    """Change what an event is called, where and when it is, and its languages. Tokens already
    issued keep the validity they were signed with."""
    fields = check_event(
        name=name, venue=venue, starts_at=starts_at, ends_at=ends_at, timezone=timezone, languages=languages
    )
    with write_transaction(db):
        get_event(db, event_id)
        db["events"].update(event_id, fields)
    return get_event(db, event_id)


def get_event(db: Database, event_id: str) -> Event:
    rows = list(db["events"].rows_where("id = ?", [event_id]))
    if not rows:
        raise UnknownEvent(event_id)
    return Event(**rows[0])


def list_events(db: Database) -> list[Event]:
    return [Event(**row) for row in db["events"].rows_where(order_by="starts_at, id")]


# Sealed at rest under the data key (events/sealed.py): a copy of the database file alone
# cannot sign a trust bundle or a token, nor compute a rotating code.
SECRET_COLUMNS = ("root_private_key", "issuing_private_key", "rotation_key", "phone_search_key")


def _secret(db: Database, event_id: str, column: str) -> bytes:
    assert column in SECRET_COLUMNS  # a name, never input, in the query below
    rows = list(db.execute(f"select {column} from event_secrets where event_id = ?", [event_id]))
    if not rows:
        raise UnknownEvent(event_id)
    return sealed.open_bytes(db, "event_secrets", column, event_id, rows[0][0])


def root_key(db: Database, event_id: str) -> Ed25519PrivateKey:
    return private_key_from_bytes(_secret(db, event_id, "root_private_key"))


def root_public_key(db: Database, event_id: str) -> bytes:
    return public_key_bytes(root_key(db, event_id))


def issuing_key(db: Database, event_id: str) -> Ed25519PrivateKey:
    return private_key_from_bytes(_secret(db, event_id, "issuing_private_key"))


def phone_search_key(db: Database, event_id: str) -> bytes:
    """The key of the phone numbers' search hashes that tablets get instead of numbers
    (events/phone_search.py). Made the first time it is asked for: an event made before it
    existed, or whose keys were replaced, gets one then."""
    row = db.execute("select phone_search_key from event_secrets where event_id = ?", [event_id]).fetchone()
    if row is None:
        raise UnknownEvent(event_id)
    if row[0] is not None:
        return _secret(db, event_id, "phone_search_key")
    with write_transaction(db):
        fresh = secrets.token_bytes(phone_search.KEY_LEN)
        changed = db.execute(
            "update event_secrets set phone_search_key = ? where event_id = ? and phone_search_key is null",
            [sealed.seal_bytes(db, "event_secrets", "phone_search_key", event_id, fresh), event_id],
        ).rowcount
    return fresh if changed else _secret(db, event_id, "phone_search_key")


def rotation_key(db: Database, event_id: str) -> bytes:
    """The event's current rotation key."""
    return _secret(db, event_id, "rotation_key")


@dataclass(frozen=True)
class RetiredRotationKey:
    epoch: int
    key: bytes = field(repr=False)
    retired_at: int
    device_id: str | None  # the revoked tablet that held it


@dataclass(frozen=True)
class RotationKeys:
    """The event's rotation key of epoch `epoch` and every key it replaced, newest first."""

    epoch: int
    current: bytes = field(repr=False)
    retired: tuple[RetiredRotationKey, ...] = ()

    @property
    def retired_keys(self) -> list[bytes]:
        return [r.key for r in self.retired]


def _retired_row_id(event_id: str, epoch: int) -> str:
    return f"{event_id}/{epoch}"


def rotation_epoch(db: Database, event_id: str) -> int:
    """Which rotation key is current (1 for a new event; one more at each revocation)."""
    row = db.execute("select rotation_epoch from event_secrets where event_id = ?", [event_id]).fetchone()
    if row is None:
        raise UnknownEvent(event_id)
    return row[0]


def rotation_keys(db: Database, event_id: str) -> RotationKeys:
    retired = tuple(
        RetiredRotationKey(
            epoch,
            sealed.open_bytes(db, "retired_rotation_keys", "rotation_key", _retired_row_id(event_id, epoch), stored),
            retired_at,
            device_id,
        )
        for epoch, stored, retired_at, device_id in db.execute(
            "select epoch, rotation_key, retired_at, device_id from retired_rotation_keys where event_id = ? order by epoch desc",
            [event_id],
        )
    )
    return RotationKeys(rotation_epoch(db, event_id), rotation_key(db, event_id), retired)


def retire_rotation_key(db: Database, event_id: str, *, now: int, device_id: str | None = None) -> int:
    """Retire the current rotation key (a tablet that held it was revoked) for a new one;
    returns the new epoch. Every rotating voucher's secret changes: phones fetch theirs again,
    tablets get the keys at their next sync (docs/sync-protocol.md)."""
    with write_transaction(db):
        epoch = rotation_epoch(db, event_id)
        db["retired_rotation_keys"].insert(
            {
                "event_id": event_id,
                "epoch": epoch,
                "retired_at": now,
                "device_id": device_id,
                "rotation_key": sealed.seal_bytes(
                    db,
                    "retired_rotation_keys",
                    "rotation_key",
                    _retired_row_id(event_id, epoch),
                    rotation_key(db, event_id),
                ),
            }
        )
        fresh = secrets.token_bytes(ROTATION_KEY_LEN)
        db.execute(
            "update event_secrets set rotation_key = ?, rotation_epoch = ? where event_id = ?",
            [sealed.seal_bytes(db, "event_secrets", "rotation_key", event_id, fresh), epoch + 1, event_id],
        )
    return epoch + 1


def replace_event_keys(db: Database, event_id: str) -> None:
    """New root, issuing and rotation keys for an event whose old ones cannot be opened (the
    data key was lost: docs/operations.md). Tablets must enroll again (their bundles are signed
    by the old root), every token the server signed stops verifying, rotating codes change;
    what tablets signed, and every op recorded, stay as they are."""
    issuing = generate_private_key()
    clear = {
        "root_private_key": private_key_bytes(generate_private_key()),
        "issuing_private_key": private_key_bytes(issuing),
        "rotation_key": secrets.token_bytes(ROTATION_KEY_LEN),
    }
    with write_transaction(db):
        get_event(db, event_id)
        db["event_secrets"].update(
            event_id,
            {
                column: sealed.seal_bytes(db, "event_secrets", column, event_id, value)
                for column, value in clear.items()
            },
        )
        # Retired rotation keys were sealed under the lost key too; the new key is a new epoch,
        # so no tablet mistakes it for the one it held.
        db.execute("delete from retired_rotation_keys where event_id = ?", [event_id])
        db.execute(
            "update event_secrets set rotation_epoch = rotation_epoch + 1, phone_search_key = null where event_id = ?",
            [event_id],
        )
        db.execute(
            "update keys set public_key = ? where event_id = ? and key_id = ?",
            [public_key_bytes(issuing), event_id, SERVER_KEY_ID],
        )
        _bump_bundle(db, event_id)


def register_device_key(db: Database, event_id: str, *, public_key: bytes, device_id: str, now: int) -> int:
    """Add a tablet's public key and return its new key id. Ids are never reused."""
    get_event(db, event_id)
    if not is_acceptable_public_key(public_key):
        raise ValueError("not a usable Ed25519 public key")
    with write_transaction(db):
        row = next(db.query("select max(key_id) as top from keys where event_id = ?", [event_id]))
        key_id = (row["top"] or SERVER_KEY_ID) + 1
        if key_id > MAX_KEY_ID:
            raise ValueError("this event has used up its key ids")
        db["keys"].insert(
            {
                "event_id": event_id,
                "key_id": key_id,
                "public_key": public_key,
                "device_id": device_id,
                "status": str(KeyStatus.ACTIVE),
                "valid_from": now,
                "revoked_at": None,
            }
        )
        _bump_bundle(db, event_id)
    return key_id


def revoke_key(
    db: Database, event_id: str, key_id: int, *, now: int, allowlist: set[str] | frozenset[str] = frozenset()
) -> None:
    """Revoke a key; `allowlist` names the tokens it issued before revocation that stay valid."""
    with write_transaction(db):
        changed = db.execute(
            "update keys set status = ?, revoked_at = ? where event_id = ? and key_id = ? and status = ?",
            [str(KeyStatus.REVOKED), now, event_id, key_id, str(KeyStatus.ACTIVE)],
        ).rowcount
        if not changed:
            raise LookupError(f"no active key {key_id} in event {event_id}")
        db["key_allowlist"].insert_all(
            {"event_id": event_id, "key_id": key_id, "token_id": token_id} for token_id in sorted(allowlist)
        )
        _bump_bundle(db, event_id)


def _bump_bundle(db: Database, event_id: str) -> None:
    db.execute("update events set bundle_seq = bundle_seq + 1 where id = ?", [event_id])


def trust_bundle(db: Database, event_id: str, *, now: int, policy: ClockPolicy | None = None) -> TrustBundle:
    event = get_event(db, event_id)
    allowlists: dict[int, set[str]] = {}
    for row in db["key_allowlist"].rows_where("event_id = ?", [event_id]):
        allowlists.setdefault(row["key_id"], set()).add(row["token_id"])
    keys = {
        row["key_id"]: KeyRecord(
            key_id=row["key_id"],
            public_key=row["public_key"],
            device_id=row["device_id"],
            status=KeyStatus(row["status"]),
            valid_from=row["valid_from"],
            revoked_at=row["revoked_at"],
            allowlist=frozenset(allowlists.get(row["key_id"], ())),
        )
        for row in db["keys"].rows_where("event_id = ?", [event_id])
    }
    return TrustBundle(
        event_id=event_id,
        seq=event.bundle_seq,
        issued_at=now,
        keys=keys,
        policy=policy or ClockPolicy(),
    )


def signed_trust_bundle(db: Database, event_id: str, *, now: int) -> SignedBundle:
    return sign_bundle(trust_bundle(db, event_id, now=now), root_key(db, event_id))


def authenticate_token(db: Database, text: object, *, now: int) -> tuple[Event, Token]:
    """Check a token is genuine for whichever event it names, as a tablet would against its
    bundle; the caller checks its validity window with `tokens.check_time`.

    The token carries only a 2-byte event tag, so several events may match; the first one
    whose bundle authenticates it wins, otherwise the last refusal is raised.
    """
    decoded = tokens.decode(text)
    candidates = [e for e in list_events(db) if tokens.event_tag(e.id) == decoded.event_tag]
    if not candidates:
        raise tokens.TokenError(tokens.Reason.WRONG_EVENT, "no event here issued it")
    refusal = tokens.TokenError(tokens.Reason.WRONG_EVENT)
    for event in candidates:
        try:
            return event, tokens.authenticate(text, trust_bundle(db, event.id, now=now))
        except tokens.TokenError as error:
            refusal = error
    raise refusal

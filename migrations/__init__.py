"""Schema migrations, applied in order at start-up. Append only: never edit a released one."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("poppass")


@migrations()
def m001_settings(db: Database) -> None:
    # Install-wide values such as the CSRF secret, made once and kept across restarts.
    db["settings"].create({"name": str, "value": str}, pk="name")


@migrations()
def m002_events_and_keys(db: Database) -> None:
    db["events"].create(
        {
            "id": str,
            "name": str,
            "venue": str,
            "starts_at": int,
            "ends_at": int,
            "timezone": str,
            "created_at": int,
            "bundle_seq": int,
        },
        pk="id",
        not_null={"name", "venue", "starts_at", "ends_at", "timezone", "created_at", "bundle_seq"},
    )
    # Private halves held only by the server: never in any response.
    db["event_secrets"].create(
        {
            "event_id": str,
            "root_private_key": bytes,
            "issuing_private_key": bytes,
            "rotation_key": bytes,
        },
        pk="event_id",
        not_null={"root_private_key", "issuing_private_key", "rotation_key"},
        foreign_keys=[("event_id", "events", "id")],
    )
    db["keys"].create(
        {
            "event_id": str,
            "key_id": int,
            "public_key": bytes,
            "device_id": str,
            "status": str,
            "valid_from": int,
            "revoked_at": int,
        },
        pk=("event_id", "key_id"),
        not_null={"public_key", "status", "valid_from"},
        foreign_keys=[("event_id", "events", "id")],
    )
    # Tokens a revoked key issued before revocation, which stay valid.
    db["key_allowlist"].create(
        {"event_id": str, "key_id": int, "token_id": str},
        pk=("event_id", "key_id", "token_id"),
    )


@migrations()
def m003_campaigns_and_tokens(db: Database) -> None:
    db["campaigns"].create(
        {
            "event_id": str,
            "number": int,
            "title": str,
            "terms": str,
            "max_uses": int,
            "valid_from": int,
            "valid_until": int,
            "valid_minutes": int,
            "rotating": int,
            "welcome": int,
            "created_at": int,
        },
        pk=("event_id", "number"),
        not_null={"title", "terms", "max_uses", "rotating", "welcome", "created_at"},
        foreign_keys=[("event_id", "events", "id")],
    )
    # Every token the server itself signed (online vouchers and passes).
    db["tokens"].create(
        {
            "id": str,
            "event_id": str,
            "type": str,
            "campaign": int,
            "key_id": int,
            "text": str,
            "issued_at": int,
            "valid_from": int,
            "valid_until": int,
            "max_uses": int,
            "rotating": int,
        },
        pk="id",
        not_null={"event_id", "type", "key_id", "text", "issued_at", "valid_from", "max_uses"},
        foreign_keys=[("event_id", "events", "id")],
    )
    db["tokens"].create_index(["event_id", "campaign"])

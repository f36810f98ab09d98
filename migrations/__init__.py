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
        pk=("event_id", "id"),
        not_null={"event_id", "type", "key_id", "text", "issued_at", "valid_from", "max_uses"},
        foreign_keys=[("event_id", "events", "id")],
    )
    db["tokens"].create_index(["event_id", "campaign"])


@migrations()
def m004_devices_ops_conflicts(db: Database) -> None:
    db["enrollment_codes"].create(
        {
            "code_hash": str,
            "event_id": str,
            "name": str,
            "created_at": int,
            "expires_at": int,
            "used_at": int,
            "device_id": str,
        },
        pk="code_hash",
        not_null={"event_id", "name", "created_at", "expires_at"},
        foreign_keys=[("event_id", "events", "id")],
    )
    db["devices"].create(
        {
            "id": str,
            "event_id": str,
            "name": str,
            "key_id": int,
            "token_hash": str,
            "enrolled_at": int,
            "revoked_at": int,
            "last_seq": int,  # the highest device_seq applied: the outbox is acked up to here
            "last_sync_at": int,
            "clock_offset_ms": int,
            "pending": int,  # ops the device said were still waiting when it last pushed
        },
        pk="id",
        not_null={"event_id", "name", "key_id", "token_hash", "enrolled_at", "last_seq", "pending"},
        defaults={"last_seq": 0, "pending": 0},
        foreign_keys=[("event_id", "events", "id")],
    )
    db["devices"].create_index(["token_hash"], unique=True)
    # One sequence for everything a pull reports (ops and conflict changes, of every event):
    # the pull cursor. A single row, so op seqs never collide across events.
    db["log_counter"].create({"name": str, "value": int}, pk="name", not_null={"value"})
    db["ops"].create(
        {
            "seq": int,
            "op_id": str,
            "event_id": str,
            "device_id": str,
            "device_seq": int,  # null for a redemption the server decided online
            "kind": str,
            "subject": str,
            "hlc_ms": int,
            "hlc_counter": int,
            "device_time_ms": int,
            "corrected_time_ms": int,
            "clerk": str,
            "data": str,
            "received_at_ms": int,
            "suspect": str,  # comma-separated clock reasons, "" when the time is trusted
        },
        pk="seq",
        not_null={
            "op_id",
            "event_id",
            "device_id",
            "kind",
            "subject",
            "hlc_ms",
            "hlc_counter",
            "device_time_ms",
            "clerk",
            "data",
            "received_at_ms",
            "suspect",
        },
        foreign_keys=[("event_id", "events", "id"), ("device_id", "devices", "id")],
    )
    db["ops"].create_index(["op_id"], unique=True)
    db["ops"].create_index(["device_id", "device_seq"], unique=True)
    # Re-merging a voucher reads all ops on its subject, whatever their kind: one probe each.
    db["ops"].create_index(["event_id", "subject"])
    db["ops"].create_index(["event_id", "seq"])
    db["conflicts"].create(
        {
            "id": int,
            "event_id": str,
            "kind": str,
            "subject": str,
            "status": str,  # open, resolved, or cleared (later ops removed the cause)
            "detail": str,
            "opened_at_ms": int,
            "change_seq": int,
        },
        pk="id",
        not_null={"event_id", "kind", "subject", "status", "detail", "opened_at_ms", "change_seq"},
        foreign_keys=[("event_id", "events", "id")],
    )
    db["conflicts"].create_index(["event_id", "kind", "subject"], unique=True)
    db["conflicts"].create_index(["event_id", "change_seq"])
    db["conflict_ops"].create(
        {"conflict_id": int, "op_id": str, "role": str},
        pk=("conflict_id", "op_id"),
        not_null={"role"},
        foreign_keys=[("conflict_id", "conflicts", "id")],
    )
    db["conflict_resolutions"].create(
        {"id": int, "conflict_id": int, "decided_by": str, "decided_at_ms": int, "decision": str, "note": str},
        pk="id",
        not_null={"conflict_id", "decided_by", "decided_at_ms", "decision", "note"},
        foreign_keys=[("conflict_id", "conflicts", "id")],
    )
    # Projections kept in step with the log, in the same transaction as the ops they come from.
    db["attendees"].create(
        {
            "id": str,
            "event_id": str,
            "name": str,
            "phone_key": str,
            "email_key": str,
            "register_op_id": str,
            "hlc_ms": int,
            "hlc_counter": int,
            "device_id": str,
            "registered_at_ms": int,
        },
        pk="id",
        not_null={"event_id", "name", "phone_key", "email_key", "register_op_id", "hlc_ms", "hlc_counter", "device_id"},
        foreign_keys=[("event_id", "events", "id")],
    )
    db["attendees"].create_index(["event_id", "phone_key"])
    db["attendees"].create_index(["event_id", "email_key"])
    # Tokens first seen in ops (issued by tablets), beside those the server signed.
    db["tokens"].add_column("issuer_device", str)
    db["tokens"].add_column("attendee_id", str)
    # Why the token's bytes failed verification when first seen ("" = genuine): revocation is
    # judged later, at merge time, against the key registry of the day.
    db["tokens"].add_column("refusal", str, not_null_default="")


@migrations()
def m005_wallets(db: Database) -> None:
    # An attendee's wallet is reached through a capability URL; only its hash is kept, so a
    # copy of the database does not hand out wallets.
    db["wallets"].create(
        {"capability_hash": str, "event_id": str, "attendee_id": str, "created_at": int, "consent_at": int},
        pk="capability_hash",
        not_null={"event_id", "attendee_id", "created_at", "consent_at"},
        foreign_keys=[("event_id", "events", "id")],
    )
    db["wallets"].create_index(["event_id", "attendee_id"], unique=True)
    db["tokens"].create_index(["event_id", "attendee_id"])


@migrations()
def m006_organizers(db: Database) -> None:
    db["organizers"].create(
        {
            "id": str,
            "email": str,  # lower case
            "name": str,
            "password_hash": str,  # scrypt$N$r$p$salt$hash
            "totp_secret": str,
            "totp_enrolled_at": int,  # null until the first code from the authenticator app
            "last_totp_step": int,  # a code's step is accepted once
            "failed_logins": int,
            "locked_until": int,
            "created_at": int,
        },
        pk="id",
        not_null={"email", "name", "password_hash", "totp_secret", "failed_logins", "created_at"},
        defaults={"failed_logins": 0},
    )
    db["organizers"].create_index(["email"], unique=True)
    # Pending logins (password checked, code not yet) and sessions; only token hashes are kept.
    db["organizer_sessions"].create(
        {"token_hash": str, "organizer_id": str, "stage": str, "created_at": int, "expires_at": int},
        pk="token_hash",
        not_null={"organizer_id", "stage", "created_at", "expires_at"},
        foreign_keys=[("organizer_id", "organizers", "id")],
    )


@migrations()
def m007_event_languages_and_organizer_actions(db: Database) -> None:
    db["events"].add_column("languages", str, not_null_default="en,zh-CN")
    # What organizers did, with who and when (organizer actions are records too: docs/architecture.md).
    db["organizer_actions"].create(
        {"id": int, "organizer_id": str, "action": str, "subject": str, "detail": str, "at": int},
        pk="id",
        not_null={"organizer_id", "action", "subject", "detail", "at"},
        foreign_keys=[("organizer_id", "organizers", "id")],
    )
    db["organizer_actions"].create_index(["subject", "at"])


@migrations()
def m008_campaign_limits(db: Database) -> None:
    db["campaigns"].add_column("value", str, not_null_default="")  # what it is worth, as shown: "¥50", "a coffee"
    db["campaigns"].add_column("per_attendee", int)  # vouchers one attendee may hold; null: no limit
    db["campaigns"].add_column("cap", int)  # vouchers the campaign gives in all; null: no limit
    db["campaigns"].add_column("by_clerks", int, not_null_default=1)  # tablets may issue it


@migrations()
def m009_draws_and_wall(db: Database) -> None:
    # Lucky draws as drawn: who, when, the seed and the candidates, so anyone can draw again and
    # get the same winners (events/draws.py).
    db["draws"].create(
        {
            "id": int,
            "event_id": str,
            "drawn_by": str,
            "drawn_at": int,
            "seed": str,
            "wanted": int,
            "candidates": str,
            "winners": str,
        },
        pk="id",
        not_null={"event_id", "drawn_by", "drawn_at", "seed", "wanted", "candidates", "winners"},
        foreign_keys=[("event_id", "events", "id"), ("drawn_by", "organizers", "id")],
    )
    db["draws"].create_index(["event_id", "id"])
    # The wall's feed and counters read ops by kind on every merge.
    db["ops"].create_index(["event_id", "kind", "seq"])


@migrations()
def m010_campaign_texts(db: Database) -> None:
    # A campaign's title, terms and value in the event's other languages, by web language tag:
    # {"zh-CN": {"title": "…", "terms": "…", "value": "…"}}. The base columns keep the event's
    # first language; a missing language or key falls back to them (events/campaigns.localized).
    db["campaigns"].add_column("texts", str, not_null_default="{}")


@migrations()
def m011_device_clerk(db: Database) -> None:
    # The clerk on shift as the tablet last said (pull ?clerk=): the console names them before
    # they have recorded anything. Null: the tablet never said.
    db["devices"].add_column("clerk", str)


@migrations()
def m012_sign_in_throttle(db: Database) -> None:
    # Wrong passwords counted by the email they were typed for, whether or not it has an account,
    # so a lock-out looks the same for both (events/organizers.py). `key`: a hash of the email.
    db["sign_in_throttle"].create(
        {"key": str, "failures": int, "first_failed_at": int, "locked_until": int},
        pk="key",
        not_null={"failures", "first_failed_at"},
    )
    # Browsers an organizer has completed a sign-in on: a stranger's lock-out does not apply to
    # them. Only the cookie token's hash is kept.
    db["trusted_browsers"].create(
        {"token_hash": str, "organizer_id": str, "created_at": int, "expires_at": int, "failures": int},
        pk="token_hash",
        not_null={"organizer_id", "created_at", "expires_at", "failures"},
        defaults={"failures": 0},
        foreign_keys=[("organizer_id", "organizers", "id")],
    )
    db["trusted_browsers"].create_index(["organizer_id"])
    # The audit log also holds what no signed-in organizer did: the server's command line
    # (actor "cli") and sign-in attempts for an email without an account ("anonymous"); for
    # those organizer_id is null.
    db["organizer_actions"].transform(drop_foreign_keys=["organizer_id"], not_null={"organizer_id": False})
    db["organizer_actions"].add_column("actor", str, not_null_default="organizer")


@migrations()
def m013_session_client(db: Database) -> None:
    # Where a session was opened, so its organizer can tell their own from someone else's and
    # end it (the Account page): the client's address and the browser's User-Agent, shortened.
    db["organizer_sessions"].add_column("client", str, not_null_default="")
    db["organizer_sessions"].add_column("user_agent", str, not_null_default="")


@migrations()
def m014_seal_secrets(db: Database) -> None:
    # Private keys, rotation keys, TOTP secrets and the CSRF secret were stored clear: seal each
    # under the data key, with its table, column and row as associated data (events/sealed.py),
    # all in this migration's one transaction. A value already sealed is left as it is, so a
    # database a newer version wrote to before this ran comes out the same.
    from events import sealed

    for row in db.execute(
        "select event_id, root_private_key, issuing_private_key, rotation_key from event_secrets"
    ).fetchall():
        event_id, values = (
            row[0],
            dict(zip(("root_private_key", "issuing_private_key", "rotation_key"), row[1:], strict=True)),
        )
        for column, value in values.items():
            if not sealed.is_sealed(value):
                db.execute(
                    f"update event_secrets set {column} = ? where event_id = ?",
                    [sealed.seal_bytes(db, "event_secrets", column, event_id, value), event_id],
                )
    for organizer_id, secret in db.execute("select id, totp_secret from organizers").fetchall():
        if not sealed.is_sealed(secret):
            db.execute(
                "update organizers set totp_secret = ? where id = ?",
                [sealed.seal_text(db, "organizers", "totp_secret", organizer_id, secret), organizer_id],
            )
    for name, value in db.execute("select name, value from settings where name = 'csrf_secret'").fetchall():
        if not sealed.is_sealed(value):
            db.execute(
                "update settings set value = ? where name = ?",
                [sealed.seal_text(db, "settings", "value", name, value), name],
            )
    sealed.add_key_check(db)


@migrations()
def m015_organizations(db: Database) -> None:
    # Organizations own events; organizer accounts are their members with a role
    # (events/organizations.py). An account is in one organization at most.
    db["organizations"].create({"id": str, "name": str, "created_at": int}, pk="id", not_null={"name", "created_at"})
    db["memberships"].create(
        {"organization_id": str, "organizer_id": str, "role": str, "added_at": int},
        pk=("organization_id", "organizer_id"),
        not_null={"role", "added_at"},
        foreign_keys=[("organization_id", "organizations", "id"), ("organizer_id", "organizers", "id")],
    )
    db["memberships"].create_index(["organizer_id"], unique=True)
    db["organization_events"].create(
        {"event_id": str, "organization_id": str},
        pk="event_id",
        not_null={"organization_id"},
        foreign_keys=[("event_id", "events", "id"), ("organization_id", "organizations", "id")],
    )
    db["organization_events"].create_index(["organization_id"])
    # Before organizations, every account could do everything to every event: an existing
    # database keeps exactly that, as one organization holding every event with every account
    # as its owner. A new database has neither, and gets its first organization from
    # `poppass create-organizer`.
    events = [row[0] for row in db.execute("select id from events")]
    accounts = [row[0] for row in db.execute("select id from organizers")]
    if not events and not accounts:
        return
    import secrets
    import time

    now = int(time.time())  # a migration has no caller to pass the time in; this is when it ran
    organization_id = "og" + secrets.token_hex(8)
    db["organizations"].insert({"id": organization_id, "name": "Organization", "created_at": now})
    db["memberships"].insert_all(
        {"organization_id": organization_id, "organizer_id": account, "role": "owner", "added_at": now}
        for account in accounts
    )
    db["organization_events"].insert_all({"event_id": event, "organization_id": organization_id} for event in events)


@migrations()
def m016_revocation_and_tablet_data(db: Database) -> None:
    # Revoking a tablet retires the event's rotation key (the tablet held it) for a new one
    # (events/registry.py). The current key stays in event_secrets with its epoch; each retired
    # one is kept, sealed like it, so honest tablets can tell a code made with it from a wrong one.
    db["event_secrets"].add_column("rotation_epoch", int, not_null_default=1)
    db["retired_rotation_keys"].create(
        {"event_id": str, "epoch": int, "rotation_key": bytes, "retired_at": int, "device_id": str},
        pk=("event_id", "epoch"),
        not_null={"rotation_key", "retired_at"},
        foreign_keys=[("event_id", "events", "id")],
    )
    # Tablets find attendees by a keyed hash of their number (events/phone_search.py), never
    # the number: the key is the event's, sealed like its other secrets, made when first needed.
    db["event_secrets"].add_column("phone_search_key", bytes)


@migrations()
def m017_recovery_codes_and_account_states(db: Database) -> None:
    # One-time recovery codes for a lost authenticator app (events/organizers.py): only an
    # HMAC-SHA256 of each under its own salt is kept, and the time it was used.
    db["organizer_recovery_codes"].create(
        {"id": int, "organizer_id": str, "salt": str, "digest": str, "created_at": int, "used_at": int},
        pk="id",
        not_null={"organizer_id", "salt", "digest", "created_at"},
        foreign_keys=[("organizer_id", "organizers", "id")],
    )
    db["organizer_recovery_codes"].create_index(["organizer_id"])
    # A password an owner (or the command line) set and handed over must be changed at the next
    # sign-in; a disabled account cannot sign in at all until an owner enables it again.
    db["organizers"].add_column("must_change_password", int, not_null_default=0)
    db["organizers"].add_column("disabled_at", int)


@migrations()
def m018_log_identities(db: Database) -> None:
    # Each history of the op log has an id; a restored backup starts a new one at the backup's
    # position (events/log_identity.py), so tablets can tell their cursor and acknowledged ops
    # belong to a history the server no longer has.
    import secrets
    import time

    db["log_identities"].create(
        {"id": str, "started_at_seq": int, "started_at": int, "reason": str},
        pk="id",
        not_null={"started_at_seq", "started_at", "reason"},
    )
    db["log_identities"].insert(
        {"id": "lg" + secrets.token_hex(8), "started_at_seq": 0, "started_at": int(time.time()), "reason": "created"}
    )


@migrations()
def m019_import_jobs(db: Database) -> None:
    # An attendee import is a job in the database, not a task in memory (events/imports.py): its
    # file waits on disk beside the database, and each batch's rows commit with the job's
    # progress, so a restarted server resumes it where the last committed batch left off.
    db["import_jobs"].create(
        {
            "id": str,
            "event_id": str,
            "organizer_id": str,
            "filename": str,
            "path": str,
            "size": int,
            "encoding": str,
            "dialect": str,
            "headers": str,
            "mapping": str,
            "state": str,
            "failure": str,
            "rows_total": int,
            "rows_done": int,
            "created": int,
            "duplicates": int,
            "errors": int,
            "created_at": int,
            "started_at": int,
            "finished_at": int,
            "now_ms": int,
        },
        pk="id",
        not_null={
            "event_id",
            "organizer_id",
            "filename",
            "path",
            "state",
            "rows_total",
            "rows_done",
            "created",
            "duplicates",
            "errors",
            "created_at",
        },
        foreign_keys=[("event_id", "events", "id")],
    )
    db["import_jobs"].create_index(["state"])
    # The report's lines (a duplicate and whom it matched, a row left out and why), written in
    # the transaction of the batch that met them.
    db["import_job_lines"].create(
        {"job_id": str, "line": int, "kind": str, "attendee_id": str, "reason": str, "field": str},
        pk=("job_id", "line"),
        not_null={"kind"},
        foreign_keys=[("job_id", "import_jobs", "id")],
    )

"""Secrets at rest (events/sealed.py, docs/operations.md): the database file is 0600, and a copy
of it without its data key gives away no private key, rotation key, TOTP secret or CSRF secret."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pyotp
import pytest
from cryptography.exceptions import InvalidTag
from litestar.testing import TestClient
from sqlite_utils import Database

from events import campaigns, devices, keys, organizers, registry, sealed, settings, tokens, trust
from events.db import open_database, write_transaction
from migrations import m014_seal_secrets, migrations
from server.app import create_app
from tests.support.clock import NOW
from tests.support.tablet import Tablet

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(sealed.KEY_ENV, raising=False)


@contextlib.contextmanager
def umask(mask: int):
    """Most tests run under 022; 000 shows the modes come from PopPass, not from the umask."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def encodings(raw: bytes | str) -> list[bytes]:
    """The forms a secret could take in the file: as stored by the old schema, hex, base64(url)."""
    if isinstance(raw, str):
        return [raw.encode()]
    return [raw, raw.hex().encode(), base64.b64encode(raw).rstrip(b"="), keys.b64url(raw).encode()]


def file_bytes(path: Path) -> bytes:
    return b"".join(Path(f"{path}{suffix}").read_bytes() for suffix in ("", "-wal") if Path(f"{path}{suffix}").exists())


def clear_secrets(db: Database, event_id: str, organizer_id: str) -> dict[str, bytes | str]:
    return {
        "root": keys.private_key_bytes(registry.root_key(db, event_id)),
        "issuing": keys.private_key_bytes(registry.issuing_key(db, event_id)),
        "rotation": registry.rotation_key(db, event_id),
        "totp": organizers.totp_secret(db, organizer_id),
        "csrf": settings.get_or_create_secret(db, "csrf_secret", lambda: "never made: create_app made it"),
    }


# --- file modes ---------------------------------------------------------------------------------


def test_the_database_its_wal_shm_and_key_are_created_0600(tmp_path) -> None:
    path = tmp_path / "new.db"
    with umask(0):
        db = open_database(path)
        registry.create_event(db, name="Pop-up", venue="", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
        assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
        assert {
            name: mode(tmp_path / name) for name in ("new.db", "new.db-wal", "new.db-shm", "new.db.key")
        } == dict.fromkeys(("new.db", "new.db-wal", "new.db-shm", "new.db.key"), 0o600)
        db.close()


def test_an_existing_readable_database_is_narrowed_with_a_log_line(tmp_path, caplog) -> None:
    path = tmp_path / "old.db"
    with umask(0):
        # An older PopPass made it 0644, its -wal and -shm too; a second connection keeps those open.
        keeper = sqlite3.connect(path)
        keeper.execute("PRAGMA journal_mode = wal")
        keeper.execute("create table t (x)")
        for name in ("old.db", "old.db-wal", "old.db-shm"):
            os.chmod(tmp_path / name, 0o644)
        with caplog.at_level(logging.WARNING, logger="poppass"):
            db = open_database(path)
        assert [mode(tmp_path / name) for name in ("old.db", "old.db-wal", "old.db-shm")] == [0o600] * 3
        assert sum("readable by others (mode 644): narrowed to 600" in message for message in caplog.messages) == 3
        db.close()
        keeper.close()


def test_private_file_is_the_one_way_to_make_a_file_only_its_owner_reads(tmp_path) -> None:
    """For `poppass backup` too: a new file is 0600 under any umask; an existing one is narrowed."""
    with umask(0):
        made = sealed.private_file(tmp_path / "backup.db")
        assert made.read_bytes() == b"" and mode(made) == 0o600
        wide = tmp_path / "wide"
        wide.write_bytes(b"kept")
        os.chmod(wide, 0o664)
        sealed.private_file(wide)
        assert mode(wide) == 0o600 and wide.read_bytes() == b"kept"


# --- what a copied file gives away ------------------------------------------------------------------


def test_a_copied_database_file_reveals_no_secret_and_does_not_open_without_its_key(tmp_path) -> None:
    path = tmp_path / "live.db"
    db = open_database(path)
    create_app(db)  # makes the CSRF secret, as at first start
    event = registry.create_event(db, name="Pop-up", venue="", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    mei = organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)
    clear = clear_secrets(db, event.id, mei.id)
    assert all(clear.values())
    raw = file_bytes(path)  # what the WAL holds counts as much as the main file
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    raw += file_bytes(path)
    found = [name for name, value in clear.items() if any(form in raw for form in encodings(value))]
    assert found == []
    # The public halves are there: only secrets are sealed.
    assert keys.public_key_bytes(keys.private_key_from_bytes(clear["issuing"])) in raw

    thief = tmp_path / "thief"
    thief.mkdir()
    shutil.copyfile(path, thief / "live.db")
    with pytest.raises(sealed.DataKeyError, match="this database was sealed with another key: there is no key file"):
        open_database(thief / "live.db")
    assert not sealed.key_path(thief / "live.db").exists()  # no new key made to paper over the missing one


def test_a_wrong_key_is_a_clear_error_at_start(tmp_path, monkeypatch) -> None:
    path = tmp_path / "live.db"
    open_database(path).close()
    sealed.key_path(path).write_bytes(os.urandom(32))
    with pytest.raises(
        sealed.DataKeyError, match=f"this database was sealed with another key: {sealed.key_path(path)}"
    ):
        open_database(path)
    monkeypatch.setenv(sealed.KEY_ENV, base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(sealed.DataKeyError, match="this database was sealed with another key: POPPASS_DATA_KEY"):
        create_app(path)


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode(), ""])
def test_a_malformed_key_is_refused(tmp_path, monkeypatch, value) -> None:
    path = tmp_path / "live.db"
    if value:
        monkeypatch.setenv(sealed.KEY_ENV, value)
        with pytest.raises(sealed.DataKeyError, match="POPPASS_DATA_KEY must be 32 bytes in base64"):
            open_database(path)
    else:
        sealed.key_path(path).write_bytes(b"")
        with pytest.raises(sealed.DataKeyError, match="is not a PopPass data key"):
            open_database(path)


def test_the_environment_key_wins_and_no_key_file_is_made(tmp_path, monkeypatch) -> None:
    path = tmp_path / "live.db"
    key = os.urandom(32)
    monkeypatch.setenv(sealed.KEY_ENV, base64.urlsafe_b64encode(key).decode())
    db = open_database(path)
    event = registry.create_event(db, name="Pop-up", venue="", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    rotation = registry.rotation_key(db, event.id)
    db.close()
    assert not sealed.key_path(path).exists()
    monkeypatch.setenv(sealed.KEY_ENV, base64.b64encode(key).decode())  # either alphabet
    db = open_database(path)
    assert registry.rotation_key(db, event.id) == rotation
    db.close()
    monkeypatch.delenv(sealed.KEY_ENV)
    with pytest.raises(sealed.DataKeyError, match="no key file"):
        open_database(path)


def test_a_sealed_value_moved_to_another_row_does_not_open(db) -> None:
    mine = registry.create_event(db, name="Mine", venue="", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    theirs = registry.create_event(db, name="Theirs", venue="", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    mei = organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)
    eve = organizers.create_organizer(db, email="eve@example.com", name="Eve", password=PASSWORD, now=NOW)
    with write_transaction(db):
        db.execute(
            "update event_secrets set root_private_key = (select root_private_key from event_secrets "
            "where event_id = ?) where event_id = ?",
            [theirs.id, mine.id],
        )
        db.execute("update event_secrets set rotation_key = issuing_private_key where event_id = ?", [mine.id])
        db.execute(
            "update organizers set totp_secret = (select totp_secret from organizers where id = ?) where id = ?",
            [eve.id, mei.id],
        )
    for read in (
        lambda: registry.root_key(db, mine.id),
        lambda: registry.rotation_key(db, mine.id),
        lambda: organizers.totp_secret(db, mei.id),
    ):
        with pytest.raises(sealed.DataKeyError, match="or the value was moved from another row"):
            read()
    assert registry.issuing_key(db, mine.id) and organizers.totp_secret(db, eve.id)  # the rest still opens


def test_seal_and_unseal() -> None:
    key, aad = os.urandom(32), b"poppass/t/c/1"
    one, two = sealed.seal(key, aad, b"secret"), sealed.seal(key, aad, b"secret")
    assert one != two  # a random nonce per value
    assert sealed.unseal(key, aad, one) == b"secret"
    for wrong_key, wrong_aad in ((os.urandom(32), aad), (key, b"poppass/t/c/2")):
        with pytest.raises(InvalidTag):
            sealed.unseal(wrong_key, wrong_aad, one)
    assert repr(sealed.DataKey(key, "here")) == "DataKey(source='here')"  # never the key in a log


# --- the migration: a database made before secrets were sealed -------------------------------------------


def old_database(path: Path) -> dict:
    """What the schema before m014 held, written as that version wrote it: every secret clear."""
    old = Database(path)
    migrations.apply(old, stop_before="m014_seal_secrets")
    root, issuing, rotation = keys.generate_private_key(), keys.generate_private_key(), os.urandom(32)
    totp = pyotp.random_base32(32)
    old["settings"].insert({"name": "csrf_secret", "value": "old-csrf-secret-made-by-token_urlsafe"})
    old["events"].insert(
        {
            "id": "evold0000000000001",
            "name": "Old pop-up",
            "venue": "1F",
            "starts_at": NOW - 3600,
            "ends_at": NOW + 8 * 3600,
            "timezone": "UTC",
            "created_at": NOW - 7200,
            "bundle_seq": 1,
        }
    )
    old["event_secrets"].insert(
        {
            "event_id": "evold0000000000001",
            "root_private_key": keys.private_key_bytes(root),
            "issuing_private_key": keys.private_key_bytes(issuing),
            "rotation_key": rotation,
        }
    )
    old["keys"].insert(
        {
            "event_id": "evold0000000000001",
            "key_id": keys.SERVER_KEY_ID,
            "public_key": keys.public_key_bytes(issuing),
            "device_id": None,
            "status": "active",
            "valid_from": NOW - 7200,
            "revoked_at": None,
        }
    )
    old["organizers"].insert(
        {
            "id": "orold00000000001",
            "email": "mei@example.com",
            "name": "Mei",
            "password_hash": organizers.hash_password(PASSWORD),
            "totp_secret": totp,
            "totp_enrolled_at": NOW - 7200,
            "last_totp_step": None,
            "failed_logins": 0,
            "locked_until": None,
            "created_at": NOW - 7200,
        }
    )
    old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    old.close()
    return {
        "event_id": "evold0000000000001",
        "organizer_id": "orold00000000001",
        "root": keys.private_key_bytes(root),
        "issuing": keys.private_key_bytes(issuing),
        "rotation": rotation,
        "totp": totp,
        "csrf": "old-csrf-secret-made-by-token_urlsafe",
    }


def test_the_migration_seals_what_an_older_database_holds_and_the_app_still_works(tmp_path) -> None:
    path = tmp_path / "old.db"
    old = old_database(path)
    assert old["rotation"] in path.read_bytes() and old["totp"].encode() in path.read_bytes()

    db = open_database(path)
    assert migrations.pending(db) == []
    stored = db.execute("select root_private_key, issuing_private_key, rotation_key from event_secrets").fetchone()
    assert all(sealed.is_sealed(value) for value in stored)
    assert sealed.is_sealed(db["organizers"].get(old["organizer_id"])["totp_secret"])
    assert sealed.is_sealed(settings.get(db, "csrf_secret"))
    assert clear_secrets(db, old["event_id"], old["organizer_id"]) == {
        k: old[k] for k in ("root", "issuing", "rotation", "totp", "csrf")
    }

    # Idempotent: run again, nothing changes (a value already sealed is left as it is).
    before = db.execute("select * from event_secrets").fetchall(), db.execute("select * from organizers").fetchall()
    with write_transaction(db):
        m014_seal_secrets(db)
    assert (
        db.execute("select * from event_secrets").fetchall(),
        db.execute("select * from organizers").fetchall(),
    ) == before

    # End to end: the organizer signs in with the authenticator app enrolled before; a tablet
    # enrolls and gets a bundle the old root key signed; a voucher is signed by the old issuing key.
    with TestClient(create_app(db)) as client:
        client.get("/organizer/login")
        token = client.cookies["csrftoken"]
        client.post("/organizer/login/", data={"email": "mei@example.com", "password": PASSWORD, "_csrf_token": token})
        done = client.post(
            "/organizer/login/code",
            data={"code": pyotp.TOTP(old["totp"]).now(), "_csrf_token": token},
            follow_redirects=False,
        )
        assert done.status_code == 303 and client.get("/organizer").status_code == 200
        tablet = Tablet(old["event_id"])
        code = devices.create_enrollment_code(db, old["event_id"], name="Door", now=int(client.app.state.clock()))
        body = client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": tablet.public_key}).json()
        root_public = keys.public_key_bytes(keys.private_key_from_bytes(old["root"]))
        assert keys.from_b64url(body["root_public_key"]) == root_public
        trust.verify_bundle(body["bundle"], root_public, event_id=old["event_id"])
        assert keys.from_b64url(body["rotation_key"]) == old["rotation"]
        campaign = campaigns.create_campaign(db, old["event_id"], title="Coffee", rotating=False, now=NOW)
        text = campaigns.issue_voucher(db, old["event_id"], campaign.number, now=NOW).text
        assert (
            tokens.authenticate(text, registry.trust_bundle(db, old["event_id"], now=NOW)).key_id == keys.SERVER_KEY_ID
        )
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the app closes the database when it stops

    raw = file_bytes(path)
    assert [
        name for name in ("root", "issuing", "rotation", "totp", "csrf") if any(f in raw for f in encodings(old[name]))
    ] == []
    # The key file was made at that first open, beside the database, 0600.
    assert mode(sealed.key_path(path)) == 0o600 and len(sealed.key_path(path).read_bytes()) == 32


def test_the_command_says_what_is_wrong_with_the_key_and_serves_nothing(tmp_path, capsys) -> None:
    from server import cli

    path = tmp_path / "live.db"
    open_database(path).close()
    sealed.key_path(path).rename(tmp_path / "kept-elsewhere.key")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", "--db", str(path), "--port", "1"])
    assert exit_.value.code == 2
    assert (
        f"poppass: error: this database was sealed with another key: there is no key file {sealed.key_path(path)}"
        in capsys.readouterr().err
    )


def test_a_lost_key_is_replaced_with_new_event_keys_and_authenticators_enrolled_again(tmp_path, capsys) -> None:
    from server import cli

    path = tmp_path / "live.db"
    db = open_database(path)
    event = registry.create_event(db, name="Pop-up", venue="", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    mei = organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW)
    organizers.check_code(db, pending.token, pyotp.TOTP(pending.totp_secret).at(NOW), now=NOW)  # enrolled
    campaign = campaigns.create_campaign(db, event.id, title="Coffee", rotating=False, now=NOW)
    old_voucher = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW).text
    old = clear_secrets(db, event.id, mei.id)
    db.close()
    sealed.key_path(path).unlink()

    cli.main(["lost-data-key", "--db", str(path), "--yes-the-key-is-lost"])
    assert f"New data key: {sealed.key_path(path)}" in capsys.readouterr().out
    db = open_database(path)
    new = clear_secrets(db, event.id, mei.id)
    assert [name for name in ("root", "issuing", "rotation", "totp") if new[name] == old[name]] == []
    root_public = keys.public_key_bytes(registry.root_key(db, event.id))
    assert (
        trust.verify_bundle(
            registry.signed_trust_bundle(db, event.id, now=NOW).to_json(), root_public, event_id=event.id
        ).seq
        == 2
    )
    with pytest.raises(tokens.TokenError):  # what the server signed under the lost key no longer verifies
        tokens.authenticate(old_voucher, registry.trust_bundle(db, event.id, now=NOW))
    again = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 60)
    assert again.totp_secret == new["totp"]  # the password still works; the app is enrolled anew
    (replaced,) = db.query("select * from organizer_actions where action = 'data_key.replace'")
    assert replaced["actor"] == "cli" and '"events": 1' in replaced["detail"]
    assert campaigns.list_campaigns(db, event.id) and db["tokens"].count == 1  # the records are all there
    db.close()
    with pytest.raises(SystemExit):  # never over a key that may be the right one
        cli.main(["lost-data-key", "--db", str(path), "--yes-the-key-is-lost"])
    assert "exists: move it away first" in capsys.readouterr().err


def test_the_command_forgets_one_organizers_authenticator(db, tmp_path, capsys) -> None:
    from server import cli

    path = tmp_path / "test.db"  # the db fixture's file
    mei = organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW)
    organizers.check_code(db, pending.token, pyotp.TOTP(pending.totp_secret).at(NOW), now=NOW)
    before = organizers.totp_secret(db, mei.id)
    cli.main(["reset-second-factor", "--email", "Mei@example.com", "--db", str(path)])
    assert "Forgot the authenticator app of 'Mei'" in capsys.readouterr().out
    after = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 60)
    assert after.totp_secret is not None and after.totp_secret != before

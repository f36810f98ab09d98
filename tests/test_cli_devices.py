"""`poppass enrollment-code` and `poppass revoke-device`."""

from __future__ import annotations

import re

import pytest

from events import audit, devices, keys, registry, sync
from events.ops import decode_batch, encode
from server import cli
from tests.support.clock import NOW
from tests.support.tablet import Tablet

CODE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\b")


@pytest.fixture
def path(tmp_path, db) -> str:
    return str(tmp_path / "test.db")  # the file the `db` fixture opened


def printed_code(capsys) -> str:
    return CODE.search(capsys.readouterr().out).group(0)


def a_public_key() -> bytes:
    return keys.public_key_bytes(keys.generate_private_key())


def test_enrollment_code_prints_a_code_that_enrolls_a_tablet_once(path, db, event, capsys) -> None:
    cli.main(["enrollment-code", "--event", event.id, "--name", "Front desk", "--db", path])
    out = capsys.readouterr().out
    assert "Front desk" in out and event.id in out and "within 60 minutes" in out and "/api/v1/enroll" in out
    code = CODE.search(out).group(0)
    enrollment = devices.enroll(db, code, public_key=a_public_key(), now=NOW)
    assert (enrollment.device.event_id, enrollment.device.name) == (event.id, "Front desk")
    with pytest.raises(devices.EnrollmentError, match="code_used"):
        devices.enroll(db, code, public_key=a_public_key(), now=NOW)


def test_the_only_event_is_used_when_event_is_left_out(path, db, event, capsys) -> None:
    cli.main(["enrollment-code", "--name", "Door", "--db", path])
    device = devices.enroll(db, printed_code(capsys), public_key=a_public_key(), now=NOW).device
    assert device.event_id == event.id


def test_minutes_sets_how_long_the_code_works(path, db, event, capsys) -> None:
    cli.main(["enrollment-code", "--name", "Door", "--minutes", "5", "--db", path])
    assert "within 5 minutes" in capsys.readouterr().out
    (row,) = db["enrollment_codes"].rows
    assert row["expires_at"] - row["created_at"] == 300


def test_two_events_need_event(path, db, event, capsys) -> None:
    other = registry.create_event(db, name="Autumn fair", venue="2F", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    with pytest.raises(SystemExit) as stop:
        cli.main(["enrollment-code", "--name", "Door", "--db", path])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "choose one with --event" in err and event.id in err and other.id in err
    assert db["enrollment_codes"].count == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "Door"], "no events yet"),
        (["--name", "Door", "--event", "evnope"], "no event evnope"),
    ],
)
def test_no_event_to_enroll_into(path, capsys, args, message) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["enrollment-code", *args, "--db", path])
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "   "], "a tablet needs a name"),
        (["--name", "Door", "--minutes", "0"], "between 1 and 1440 minutes"),
        (["--name", "Door", "--minutes", "1441"], "between 1 and 1440 minutes"),
        (["--name", "Door", "--minutes", "ten"], "not a whole number of minutes"),
        ([], "--name"),
    ],
)
def test_enrollment_code_refuses_bad_arguments(path, db, event, capsys, args, message) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["enrollment-code", *args, "--db", path])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert db["enrollment_codes"].count == 0


@pytest.mark.parametrize("command", [["enrollment-code", "--name", "Door"], ["revoke-device", "dv0123456789abcdef"]])
def test_a_missing_database_is_not_created(tmp_path, capsys, command) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(SystemExit) as stop:
        cli.main([*command, "--db", str(missing)])
    assert stop.value.code == 2 and f"no database at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_revoke_device_prints_the_allowlist_size_and_the_tablet_is_refused(path, db, event, capsys) -> None:
    tablet = Tablet(event.id)
    enrollment = devices.enroll(
        db,
        devices.create_enrollment_code(db, event.id, name="Door", now=NOW),
        public_key=keys.public_key_bytes(tablet.private_key),
        now=NOW,
    )
    tablet.device_id, tablet.key_id = enrollment.device.id, enrollment.device.key_id
    tablet.issue_voucher(now_ms=NOW * 1000)
    tablet.issue_voucher(now_ms=NOW * 1000)
    sync.push(db, tablet.device_id, decode_batch(encode(tablet.batch(now_ms=NOW * 1000))), now_ms=NOW * 1000)

    cli.main(["revoke-device", tablet.device_id, "--db", path])
    out = capsys.readouterr().out
    assert f"Revoked tablet 'Door' ({tablet.device_id})" in out and "Allowlist: 2 token(s)" in out
    with pytest.raises(devices.DeviceRefused) as refused:
        devices.authenticate(db, enrollment.token)
    assert refused.value.reason == "device_revoked" and refused.value.wipe is True
    # Both commands are in the event's history, by the command line.
    assert [(a.organizer_id, a.action, a.detail.get("name")) for a in audit.history(db, event.id)] == [
        (audit.CLI, "tablet.revoke", "Door")
    ]


def test_the_console_shows_what_the_command_line_did(path, db, event, capsys, client) -> None:
    cli.main(["enrollment-code", "--name", "Door <b>", "--db", path])
    (action,) = audit.history(db, event.id)
    assert (action.organizer_id, action.action, action.detail) == (audit.CLI, "tablet.code", {"name": "Door <b>"})


def test_revoking_twice_or_an_unknown_tablet_is_an_error(path, db, event, capsys) -> None:
    device = devices.enroll(
        db, devices.create_enrollment_code(db, event.id, name="Door", now=NOW), public_key=a_public_key(), now=NOW
    ).device
    cli.main(["revoke-device", device.id, "--db", path])
    assert "Allowlist: 0 token(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        cli.main(["revoke-device", device.id, "--db", path])
    assert stop.value.code == 2 and "already revoked" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(["revoke-device", "dvnothere0000000", "--db", path])
    assert stop.value.code == 2 and "no tablet dvnothere0000000" in capsys.readouterr().err

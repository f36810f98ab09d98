"""Revoking a tablet retires the rotation key it held (events/registry.py, events/rotating.py):
codes computed from it are refused online as `rotation_key_retired`, honest tablets learn the new
key and the retired ones at their next sync, and the retired keys are sealed like the current one."""

from __future__ import annotations

import json
import re

import pytest

from events import campaigns, devices, keys, phone_search, registry, rotating, sealed, signup, tokens
from server import live
from tests.support.clock import NOW
from tests.support.device_api import online, pull, voucher
from tests.support.tablet import Tablet


def enroll(client, db, event, name: str) -> tuple[Tablet, dict]:
    """A tablet enrolled over HTTP, with the enrollment answer (its rotation key)."""
    tablet = Tablet(event.id)
    code = devices.create_enrollment_code(db, event.id, name=name, now=NOW)
    response = client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": tablet.public_key})
    assert response.status_code == 201, response.text
    return tablet.enrolled(response.json()), response.json()


def code_with(rotation_key: bytes, text: str, at: float) -> str:
    return rotating.code_at(rotating.voucher_secret(rotation_key, tokens.decode(text).token.token_id), at)


def test_revoking_a_tablet_retires_the_rotation_key_it_held(db, event) -> None:
    held = registry.rotation_key(db, event.id)
    assert registry.rotation_keys(db, event.id).epoch == 1 and registry.rotation_keys(db, event.id).retired == ()
    lost = devices.enroll(
        db,
        devices.create_enrollment_code(db, event.id, name="Lost", now=NOW),
        public_key=keys.public_key_bytes(keys.generate_private_key()),
        now=NOW,
    ).device
    devices.revoke_device(db, lost.id, now=NOW + 10)
    after = registry.rotation_keys(db, event.id)
    assert after.epoch == 2 and after.current != held and registry.rotation_key(db, event.id) == after.current
    assert [(r.epoch, r.key, r.retired_at, r.device_id) for r in after.retired] == [(1, held, NOW + 10, lost.id)]
    # Sealed at rest like the current key, under its own row: the file alone gives nothing away.
    (stored,) = db.execute("select rotation_key from retired_rotation_keys").fetchone()
    assert sealed.is_sealed(stored) and held not in stored
    # Its associated data is its own row: copied onto the current key's row, it does not open.
    db.execute("update event_secrets set rotation_key = ? where event_id = ?", [stored, event.id])
    with pytest.raises(sealed.DataKeyError):
        registry.rotation_key(db, event.id)


def test_a_failed_revocation_retires_nothing(db, event) -> None:
    with pytest.raises(ValueError):
        devices.revoke_device(db, devices.web_device(db, event.id, now=NOW).id, now=NOW)
    assert registry.rotation_keys(db, event.id).epoch == 1


def test_online_redemption_refuses_a_code_from_the_retired_key(client, db, event, clock) -> None:
    (lost, enrolled), (door, _) = enroll(client, db, event, "Lost"), enroll(client, db, event, "Door")
    stolen_key = keys.from_b64url(enrolled["rotation_key"])
    text = voucher(db, event, rotating=True)
    devices.revoke_device(db, lost.device_id, now=NOW)
    clock.now = NOW + 30
    refused = online(client, door, text, code=code_with(stolen_key, text, NOW + 30), op_id="opStolen0001")
    assert refused.status_code == 200
    assert refused.json() | {"server_time_ms": 0, "log_id": ""} == {
        "protocol": 3,
        "log_id": "",
        "op_id": "opStolen0001",
        "outcome": "refused",
        "reason": "rotation_key_retired",
        "uses_before": 0,
        "max_uses": 1,
        "server_time_ms": 0,
    }
    current = code_with(registry.rotation_key(db, event.id), text, NOW + 30)
    accepted = online(client, door, text, code=current, op_id="opCurrent001")
    assert accepted.json()["outcome"] == "accepted"


def test_tablets_learn_the_new_rotation_key_at_their_next_sync(client, db, event) -> None:
    (lost, _), (door, enrolled) = enroll(client, db, event, "Lost"), enroll(client, db, event, "Door")
    assert enrolled["rotation_epoch"] == 1
    assert pull(client, door, after=0).json()["rotation_epoch"] == 1
    held = keys.from_b64url(enrolled["rotation_key"])
    devices.revoke_device(db, lost.device_id, now=NOW)
    assert pull(client, door, after=0).json()["rotation_epoch"] == 2
    answer = client.get("/api/v1/rotation-keys", headers=door.headers)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["protocol"] == 3 and body["rotation_epoch"] == 2
    assert keys.from_b64url(body["rotation_key"]) == registry.rotation_key(db, event.id) != held
    assert body["retired"] == [{"epoch": 1, "rotation_key": keys.b64url(held), "retired_at": NOW}]
    # The revoked tablet gets nothing: it is told to wipe itself.
    refused = client.get("/api/v1/rotation-keys", headers=lost.headers)
    assert refused.status_code == 403 and refused.json() == {"error": "device_revoked", "wipe": True}
    assert client.get("/api/v1/rotation-keys").status_code == 401


def test_a_lost_data_key_drops_the_retired_keys_and_moves_the_epoch_on(db, event) -> None:
    lost = devices.enroll(
        db,
        devices.create_enrollment_code(db, event.id, name="Lost", now=NOW),
        public_key=keys.public_key_bytes(keys.generate_private_key()),
        now=NOW,
    ).device
    devices.revoke_device(db, lost.id, now=NOW)
    registry.replace_event_keys(db, event.id)
    after = registry.rotation_keys(db, event.id)
    assert after.epoch == 3 and after.retired == ()


# --- the attendee's wallet -------------------------------------------------------------------


def _secret_on(page: str, token_id: str) -> str:
    return re.search(rf'data-id="{token_id}"[^>]*data-secret="([A-Z2-7]+)"', page).group(1)


def _wallet(db, event):
    campaigns.create_campaign(
        db, event.id, title="¥50 off", max_uses=1, valid_minutes=240, rotating=True, welcome=True, now=NOW
    )
    me = signup.sign_up(db, event.id, signup.Applicant("Li Wei", "13800138000", "", True), now_ms=NOW * 1000)
    (voucher_id,) = [
        r["id"] for r in db.query("select id from tokens where attendee_id = ? and type = 'voucher'", [me.attendee_id])
    ]
    return me, voucher_id


def _revoke_a_tablet(db, event) -> None:
    lost = devices.enroll(
        db,
        devices.create_enrollment_code(db, event.id, name="Lost", now=NOW),
        public_key=keys.public_key_bytes(keys.generate_private_key()),
        now=NOW,
    ).device
    devices.revoke_device(db, lost.id, now=NOW)


def test_an_open_wallet_is_told_at_once_when_a_revocation_is_announced(client, db, event) -> None:
    me, voucher_id = _wallet(db, event)
    before = _secret_on(client.get(f"/wallet/{me.capability}").text, voucher_id)
    assert 'data-rotation-epoch="1"' in client.get(f"/wallet/{me.capability}").text
    with client.websocket_connect(f"/wallet/{me.capability}/live") as socket:
        assert socket.receive_json()["rotation_epoch"] == 1
        _revoke_a_tablet(db, event)
        live.announce(client.app, event.id, [live.ROTATION_KEYS])  # what the console's revoke does
        assert socket.receive_json(timeout=5)["rotation_epoch"] == 2
    page = client.get(f"/wallet/{me.capability}").text
    assert 'data-rotation-epoch="2"' in page
    token_id = tokens.decode(db["tokens"].get((event.id, voucher_id))["text"]).token.token_id
    assert (
        _secret_on(page, voucher_id) == rotating.voucher_secret(registry.rotation_key(db, event.id), token_id) != before
    )


def test_an_open_wallet_notices_a_revocation_made_by_another_process(client, db, event, monkeypatch) -> None:
    from server.controllers import wallet as wallet_controller

    monkeypatch.setattr(wallet_controller, "CAPABILITY_CHECK_S", 0.2)
    me, _ = _wallet(db, event)
    with client.websocket_connect(f"/wallet/{me.capability}/live") as socket:
        assert socket.receive_json()["rotation_epoch"] == 1
        _revoke_a_tablet(db, event)  # as `poppass revoke-device` does: no announcement here
        assert socket.receive_json(timeout=5)["rotation_epoch"] == 2


# --- what tablets pull (protocol 2) ----------------------------------------------------------


def test_the_pull_holds_no_pass_text_and_no_phone_number(client, db, event) -> None:
    """A stolen tablet holds what it pulled: no one's number, and no pass to check in as them."""
    (tablet, _), (door, enrolled) = enroll(client, db, event, "Front"), enroll(client, db, event, "Door")
    walk_in = tablet.register("Li Wei", now_ms=NOW * 1000, phone="+86 138 0013 8000", email="li@example.cn")
    checkin = tablet.checkin(walk_in["subject"], now_ms=NOW * 1000 + 1)
    assert client.post("/api/v1/push", json=tablet.batch(now_ms=NOW * 1000), headers=tablet.headers).status_code == 200
    signed_up = signup.sign_up(
        db, event.id, signup.Applicant("Wang Fang", "139 0000 2222", "", True), now_ms=NOW * 1000
    )
    pass_text = db.execute("select text from tokens where id = ?", [signed_up.attendee_id]).fetchone()[0]
    response = client.get("/api/v1/pull", headers=door.headers)
    body = response.text
    assert response.status_code == 200
    for secret in (pass_text, "13800138000", "138 0013 8000", "139 0000 2222", "13900002222", "li@example.cn"):
        assert secret not in body
    assert "pass_token" not in body and '"phone"' not in body
    key = keys.from_b64url(enrolled["phone_search_key"])
    assert key == registry.phone_search_key(db, event.id)
    registers = [op["data"] for op in response.json()["ops"] if op["kind"] == "register"]
    assert {
        "name": "Li Wei",
        "consent": True,
        "phone_hash": phone_search.search_hash(key, "138 0013 8000"),
        "phone_last4": "8000",
    } in registers
    # The clerk who is told the number, with or without the country code, finds the attendee.
    assert phone_search.search_hash(key, "8613800138000") == phone_search.search_hash(key, "+86 138 0013 8000")
    assert {
        "name": "Wang Fang",
        "consent": True,
        "phone_hash": phone_search.search_hash(key, "13900002222"),
        "phone_last4": "2222",
    } in registers
    assert [op for op in response.json()["ops"] if op["op_id"] == checkin["op_id"]]
    # The server itself keeps the number and the pass: the organizer's duplicates and the wallet need them.
    assert json.loads(db.execute("select data from ops where op_id = ?", [walk_in["op_id"]]).fetchone()[0])["phone"]


def test_the_phone_search_key_is_sealed_and_made_again_after_a_lost_data_key(db, event) -> None:
    first = registry.phone_search_key(db, event.id)
    assert registry.phone_search_key(db, event.id) == first
    (stored,) = db.execute("select phone_search_key from event_secrets").fetchone()
    assert sealed.is_sealed(stored) and first not in stored
    registry.replace_event_keys(db, event.id)
    assert registry.phone_search_key(db, event.id) != first

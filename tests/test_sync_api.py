"""The device API through HTTP (docs/sync-protocol.md): enroll, push, pull, online redeem."""

from __future__ import annotations

import json

import pytest

from events import campaigns, devices, keys, log_identity, phone_search, registry, tokens, trust
from server.controllers.sync_api import PUSH_MAX_BYTES
from tests.support.clock import NOW
from tests.support.device_api import M, code_for, enroll, online, pull, push, voucher
from tests.support.tablet import Tablet

MISSING = object()


@pytest.fixture
def tablet(client, db, event) -> Tablet:
    return enroll(client, db, event)


# --- enrollment ------------------------------------------------------------------------------


def test_enroll(client, db, event) -> None:
    tablet = Tablet(event.id)
    code = devices.create_enrollment_code(db, event.id, name="Front desk", now=NOW)
    typed = code.lower().replace("-", " ")  # as a clerk may type it
    response = client.post("/api/v1/enroll", json={"protocol": 1, "code": typed, "public_key": tablet.public_key})
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["protocol"] == 3 and body["device_name"] == "Front desk" and body["key_id"] == 2
    assert body["device_id"].startswith("dv") and len(body["device_token"]) >= 40
    assert body["event"] == {
        "id": event.id,
        "name": "Spring pop-up",
        "venue": "Store 1F",
        "starts_at": NOW - 3600,
        "ends_at": NOW + 8 * 3600,
        "timezone": "UTC",
    }
    assert keys.from_b64url(body["rotation_key"]) == registry.rotation_key(db, event.id)
    bundle = trust.verify_bundle(body["bundle"], keys.from_b64url(body["root_public_key"]), event_id=event.id)
    assert (
        bundle.keys[2].public_key == keys.from_b64url(tablet.public_key)
        and bundle.keys[2].device_id == body["device_id"]
    )
    assert body["server_time_ms"] == M
    assert pull(client, tablet.enrolled(body)).status_code == 200


def test_enroll_with_an_invalid_code(client, event) -> None:
    response = client.post(
        "/api/v1/enroll", json={"protocol": 1, "code": "AAAA-BBBB-CCCC", "public_key": Tablet(event.id).public_key}
    )
    assert response.status_code == 403 and response.json() == {"error": "invalid_code"}


def test_enroll_with_a_used_code(client, db, event) -> None:
    code = devices.create_enrollment_code(db, event.id, name="Door", now=NOW)
    body = {"protocol": 1, "code": code, "public_key": Tablet(event.id).public_key}
    assert client.post("/api/v1/enroll", json=body).status_code == 201
    response = client.post("/api/v1/enroll", json={**body, "public_key": Tablet(event.id).public_key})
    assert response.status_code == 403 and response.json() == {"error": "code_used"}


def test_enroll_with_an_expired_code(client, db, event, clock) -> None:
    code = devices.create_enrollment_code(db, event.id, name="Door", now=NOW, minutes=60)
    clock.now = NOW + 3600
    response = client.post(
        "/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": Tablet(event.id).public_key}
    )
    assert response.status_code == 403 and response.json() == {"error": "code_expired"}


@pytest.mark.parametrize(
    "raw",
    [bytes([1]) + bytes(31), bytes(32), bytes(31), b"\xff" * 32],
    ids=["small-order identity point", "small-order zero", "31 bytes", "not canonical"],
)
def test_enroll_with_a_bad_public_key_leaves_the_code_unspent(client, db, event, raw) -> None:
    code = devices.create_enrollment_code(db, event.id, name="Door", now=NOW)
    response = client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": keys.b64url(raw)})
    assert response.status_code == 400 and response.json() == {"error": "bad_public_key"}
    assert db["devices"].count == 0
    retry = client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": Tablet(event.id).public_key})
    assert retry.status_code == 201


def test_enroll_with_a_public_key_that_is_not_base64url(client, db, event) -> None:
    code = devices.create_enrollment_code(db, event.id, name="Door", now=NOW)
    response = client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": "a+b/c="})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "detail": "public_key is not base64url", "where": "$.public_key"}


def test_enroll_with_the_wrong_protocol(client, db, event) -> None:
    code = devices.create_enrollment_code(db, event.id, name="Door", now=NOW)
    response = client.post(
        "/api/v1/enroll", json={"protocol": 4, "code": code, "public_key": Tablet(event.id).public_key}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "detail": "Invalid enum value 4", "where": "$.protocol"}
    assert db["devices"].count == 0


def test_a_protocol_1_tablet_still_pushes_and_gets_the_protocol_2_pull(client, db, event, tablet) -> None:
    """Protocol 2 changed only what a pull gives: an older tablet's requests are the same shape."""
    door = enroll(client, db, event, name="Door")
    tablet.register("Li Wei", now_ms=M, phone="138 0013 8000")
    pushed = push(client, tablet, protocol=1)
    assert pushed.status_code == 200 and pushed.json()["protocol"] == 3
    body = pull(client, door).json()
    assert body["protocol"] == 3 and "phone" not in body["ops"][0]["data"]


def test_enroll_with_malformed_json(client) -> None:
    response = client.post(
        "/api/v1/enroll", content=b'{"protocol": 1, "code": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid" and response.json()["detail"].startswith("not JSON")


def test_enroll_with_a_mistyped_field_says_where(client) -> None:
    response = client.post("/api/v1/enroll", json={"protocol": "1", "code": "AAAA-BBBB-CCCC", "public_key": "x"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "detail": "Expected `int`, got `str`", "where": "$.protocol"}


def test_enroll_with_an_unknown_field(client) -> None:
    response = client.post(
        "/api/v1/enroll", json={"protocol": 1, "code": "AAAA-BBBB-CCCC", "public_key": "x", "admin": True}
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert "unknown field `admin`" in response.json()["detail"]


# --- who may sync ----------------------------------------------------------------------------


SYNC_ROUTES = [("post", "/api/v1/push"), ("get", "/api/v1/pull"), ("post", "/api/v1/redeem")]


@pytest.mark.parametrize("method, path", SYNC_ROUTES)
@pytest.mark.parametrize(
    "authorization, error",
    [
        (None, "no_device_token"),
        ("Bearer", "no_device_token"),
        ("Basic dXNlcjpwYXNz", "no_device_token"),
        ("Bearer garbage", "unknown_device"),
    ],
)
def test_no_device_token_no_sync(client, tablet, method, path, authorization, error) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.request(method, path, headers=headers, json=tablet.batch(now_ms=M) if method == "post" else None)
    assert response.status_code == 401 and response.json() == {"error": error, "wipe": False}


@pytest.mark.parametrize("method, path", SYNC_ROUTES)
def test_an_attendee_cannot_sync_with_their_voucher_or_an_enrollment_code(client, db, event, method, path) -> None:
    text = voucher(db, event)
    assert client.get(tokens.url_path(text)).status_code == 200  # the attendee's own page works
    code = devices.create_enrollment_code(db, event.id, name="Door", now=NOW)
    for credential in (text, code):
        response = client.request(method, path, headers={"Authorization": f"Bearer {credential}"})
        assert response.status_code == 401 and response.json() == {"error": "unknown_device", "wipe": False}


@pytest.mark.parametrize("method, path", SYNC_ROUTES)
def test_a_revoked_tablet_is_told_to_wipe(client, db, event, tablet, method, path) -> None:
    tablet.register("Li Wei", now_ms=M)
    devices.revoke_device(db, tablet.device_id, now=NOW)
    response = client.request(
        method, path, headers=tablet.headers, json=tablet.batch(now_ms=M) if method == "post" else None
    )
    assert response.status_code == 403 and response.json() == {"error": "device_revoked", "wipe": True}
    assert db["ops"].count == 0


# --- push ------------------------------------------------------------------------------------


def test_push(client, db, tablet) -> None:
    first = tablet.register("Li Wei", now_ms=M, phone="+86 138 0013 8000")
    second = tablet.checkin(first["subject"], now_ms=M + 1000)
    response = push(client, tablet, pending=0)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "protocol": 3,
        "results": [
            {"op_id": first["op_id"], "device_seq": 1, "status": "applied"},
            {"op_id": second["op_id"], "device_seq": 2, "status": "applied"},
        ],
        "last_seq": 2,
        "server_time_ms": M,
        "clock_offset_ms": 0,
        "conflicts_changed": 0,
        "log_id": log_identity.current(db),
    }
    assert db["attendees"].get(first["subject"])["name"] == "Li Wei"


def test_push_measures_the_clock_offset_and_flags_suspect_ops(client, db, tablet) -> None:
    tablet.skew_ms = -15 * 60 * 1000  # its wall clock is 15 minutes slow and it never synced
    op = tablet.register("Li Wei", now_ms=M)
    op["corrected_time_ms"] = None
    response = push(client, tablet)
    assert response.json()["clock_offset_ms"] == 15 * 60 * 1000
    assert db["ops"].get(1)["suspect"] == "never_synced"
    assert devices.get_device(db, tablet.device_id).clock_offset_ms == 15 * 60 * 1000


def test_a_slow_clock_that_corrects_itself_is_not_suspect_but_a_stale_correction_is(client, db, tablet) -> None:
    tablet.skew_ms = -15 * 60 * 1000
    tablet.offset_ms = 15 * 60 * 1000  # it synced and corrects for its slow clock
    tablet.register("Li Wei", now_ms=M)
    push(client, tablet)
    tablet.offset_ms = 0  # its clock was reset since: the old correction no longer holds
    tablet.register("Wang Fang", now_ms=M)
    push(client, tablet)
    # The HLC never runs backwards, so it is now also 15 minutes from the (wrong) clock.
    assert [row["suspect"] for row in db["ops"].rows_where(order_by="seq")] == [
        "",
        "stale_correction,hlc_far_from_clock",
    ]


def test_a_resent_batch_is_reported_as_duplicates(client, db, tablet) -> None:
    first = tablet.register("Li Wei", now_ms=M)
    assert push(client, tablet).json()["results"][0]["status"] == "applied"
    second = tablet.register("Wang Fang", now_ms=M)
    response = push(client, tablet)  # the whole outbox again: seq 1 was already applied
    assert response.json()["results"] == [
        {"op_id": first["op_id"], "device_seq": 1, "status": "duplicate"},
        {"op_id": second["op_id"], "device_seq": 2, "status": "applied"},
    ]
    assert response.json()["last_seq"] == 2 and db["ops"].count == 2


def test_a_gap_is_refused_with_resend_from_and_nothing_written(client, db, tablet) -> None:
    first = tablet.register("A", now_ms=M)
    tablet.register("B", now_ms=M)
    third = tablet.register("C", now_ms=M)
    push(client, tablet, [first])
    response = push(client, tablet, [third])
    assert response.status_code == 409 and response.json() == {"error": "gap", "resend_from": 2}
    assert db["ops"].count == 1 and devices.get_device(db, tablet.device_id).last_seq == 1


def test_a_queued_fallback_with_the_online_op_id_is_stored_once(client, db, event, tablet) -> None:
    text = voucher(db, event)
    assert online(client, tablet, text, op_id="opSameOp0001").json()["outcome"] == "accepted"
    queued = tablet.redeem(text, now_ms=M)  # the answer was late: the tablet decided locally
    queued["op_id"] = "opSameOp0001"
    response = push(client, tablet)
    assert response.json()["results"] == [{"op_id": "opSameOp0001", "device_seq": 1, "status": "duplicate_op_id"}]
    assert response.json()["last_seq"] == 1 and db["ops"].count == 1


def test_push_with_malformed_json(client, db, tablet) -> None:
    response = client.post("/api/v1/push", content=b'{"protocol": 1, "ops": [', headers=tablet.headers)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "detail": "not JSON: Input data was truncated", "where": ""}


@pytest.mark.parametrize(
    "change, detail, where",
    [
        ({"kind": "teleport"}, "Invalid value 'teleport'", "$.ops[0].kind"),
        ({"clerk": MISSING}, "Object missing required field `clerk`", "$.ops[0]"),
        ({"corrected_time_ms": MISSING}, "Object missing required field `corrected_time_ms`", "$.ops[0]"),
        ({"device_seq": "1"}, "Expected `int`, got `str`", "$.ops[0].device_seq"),
        ({"device_seq": True}, "Expected `int`, got `bool`", "$.ops[0].device_seq"),
        ({"device_seq": 1.0}, "Expected `int`, got `float`", "$.ops[0].device_seq"),
        ({"device_seq": 0}, "Expected `int` >= 1", "$.ops[0].device_seq"),
        ({"hlc_counter": 65536}, "Expected `int` <= 65535", "$.ops[0].hlc_counter"),
        ({"admin": True}, "Object contains unknown field `admin`", "$.ops[0]"),
        (
            {"data": {"name": "Li", "consent": True, "vip": True}},
            "Object contains unknown field `vip`",
            "$.ops[0].data",
        ),
        ({"data": {"name": "", "consent": True}}, "Expected `str` of length >= 1", "$.ops[0].data.name"),
        (
            {"subject": "<script>"},
            "Expected `str` matching regex '^[A-Za-z0-9_-]{8,64}$(?![\\\\s\\\\S])'",
            "$.ops[0].subject",
        ),
    ],
)
def test_push_with_a_malformed_op(client, db, tablet, change, detail, where) -> None:
    op = tablet.register("Li Wei", now_ms=M)
    for name, value in change.items():
        if value is MISSING:
            del op[name]
        else:
            op[name] = value
    response = push(client, tablet)
    assert response.status_code == 400 and response.json() == {"error": "invalid", "detail": detail, "where": where}
    assert db["ops"].count == 0


@pytest.mark.parametrize(
    "change, detail, where",
    [
        ({"protocol": 4}, "Invalid enum value 4", "$.protocol"),
        ({"sent_at_ms": -1}, "Expected `int` >= 0", "$.sent_at_ms"),
        ({"extra": 1}, "Object contains unknown field `extra`", ""),
    ],
)
def test_push_with_a_malformed_batch(client, db, tablet, change, detail, where) -> None:
    tablet.register("Li Wei", now_ms=M)
    response = push(client, tablet, **change)
    assert response.status_code == 400 and response.json() == {"error": "invalid", "detail": detail, "where": where}


def test_push_for_another_device(client, db, event, tablet) -> None:
    other = enroll(client, db, event, name="Door")
    tablet.register("Li Wei", now_ms=M)
    response = push(client, tablet, device_id=other.device_id)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid",
        "detail": "device_id is not the device this token belongs to",
        "where": "$.device_id",
    }
    assert db["ops"].count == 0


def test_push_with_a_subject_that_is_not_the_tokens_id(client, db, tablet) -> None:
    _, op = tablet.issue_voucher(now_ms=M)
    op["subject"] = "A" * 16
    response = push(client, tablet)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid",
        "detail": "subject is not the token's id",
        "where": "$.ops[0].subject",
    }


def test_push_with_a_subject_that_is_not_a_token_id(client, db, tablet) -> None:
    _, op = tablet.issue_voucher(now_ms=M)
    op["subject"] = "at0123456789abcdef"
    response = push(client, tablet)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid",
        "detail": "the subject of an issue, redeem or void is a token id",
        "where": "$.ops[0].subject",
    }


def test_push_with_a_token_that_does_not_decode(client, db, event, tablet) -> None:
    text = voucher(db, event)
    op = tablet.redeem(text, now_ms=M)
    op["data"]["token"] = text[:-1]
    response = push(client, tablet)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid",
        "detail": "token is malformed: truncated: 145 of 146 characters",
        "where": "$.ops[0].data",
    }


def test_push_with_more_than_1000_ops(client, db, tablet) -> None:
    for i in range(1001):
        tablet.register(f"Guest {i}", now_ms=M)
    response = push(client, tablet)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "detail": "Expected `array` of length <= 1000", "where": "$.ops"}
    assert db["ops"].count == 0


def test_push_accepts_up_to_2_mib_and_refuses_more(client, db, tablet) -> None:
    tablet.register("Li Wei", now_ms=M)
    body = json.dumps(tablet.batch(now_ms=M)).encode()
    headers = {**tablet.headers, "content-type": "application/json"}
    padded = body + b" " * (PUSH_MAX_BYTES - len(body))  # over the 1 MiB limit of other routes
    assert client.post("/api/v1/push", content=padded, headers=headers).status_code == 200
    response = client.post("/api/v1/push", content=padded + b" ", headers=headers)
    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_html_in_a_name_is_stored_verbatim_and_pulled_as_json_data(client, db, event, tablet) -> None:
    name = "<script>alert('x')</script><b>Li</b> & \"Wei\""
    op = tablet.register(name, now_ms=M)
    push(client, tablet)
    assert db["attendees"].get(op["subject"])["name"] == name
    response = pull(client, enroll(client, db, event, name="Door"))
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["ops"][0]["data"] == {"name": name, "consent": True}


def test_tablets_of_two_events_can_both_push(client, db, event, tablet) -> None:
    other_event = registry.create_event(db, name="Autumn fair", venue="2F", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    other = enroll(client, db, other_event, name="Autumn door")
    tablet.register("Li Wei", now_ms=M)
    other.register("Wang Fang", now_ms=M)
    assert push(client, tablet).status_code == 200
    assert push(client, other).status_code == 200
    names = [
        op["data"]["name"] for op in pull(client, enroll(client, db, other_event, name="Autumn till")).json()["ops"]
    ]
    assert names == ["Wang Fang"]


def test_a_voucher_of_another_event_redeemed_here_opens_a_conflict(client, db, event, tablet) -> None:
    other_event = registry.create_event(db, name="Autumn fair", venue="2F", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    foreign = voucher(db, other_event, max_uses=1)  # known to the server, as event "Autumn fair"'s
    tablet.redeem(foreign, now_ms=M)
    push(client, tablet)
    conflicts = pull(client, enroll(client, db, event, name="Door")).json()["conflicts"]
    assert [(c["kind"], c["subject"]) for c in conflicts] == [("untrusted_issuer", tokens.decode(foreign).token.id)]


def test_a_tampered_copy_pushed_first_does_not_taint_the_genuine_voucher(client, db, event, tablet) -> None:
    door, till = enroll(client, db, event, name="Door"), enroll(client, db, event, name="Till")
    text, _ = tablet.issue_voucher(now_ms=M, max_uses=1)
    genuine = tokens.decode(text).token
    tampered = tokens.issue(
        signing_key=keys.generate_private_key(),
        key_id=tablet.key_id,
        event_id=event.id,
        type=tokens.TokenType.VOUCHER,
        issued_at=genuine.issued_at,
        valid_until=genuine.valid_until,
        campaign=1,
        max_uses=99,
        token_id=genuine.token_id,
    )
    refused = door.redeem(tampered, now_ms=M + 1000, outcome="refused")
    push(client, door)  # the tampered copy reaches the server before the genuine issue op
    push(client, tablet)
    assert pull(client, till).json()["conflicts"] == [
        {
            "id": 1,
            "kind": "untrusted_issuer",
            "detail": {"why": "different_token"},
            "subject": genuine.id,
            "status": "open",
            "ops": {refused["op_id"]: "untrusted"},
        }
    ]
    assert online(client, till, text).json()["outcome"] == "accepted"


# --- pull ------------------------------------------------------------------------------------


def test_pull_advances_the_cursor_and_leaves_out_the_pullers_own_ops(client, db, event, tablet) -> None:
    door = enroll(client, db, event, name="Door")
    first = tablet.register("Li Wei", now_ms=M)
    second = tablet.checkin(first["subject"], now_ms=M + 1000)
    push(client, tablet)
    own = pull(client, tablet).json()
    assert own["ops"] == [] and own["cursor"] == 2 and own["more"] is False
    body = pull(client, door).json()
    assert [op["op_id"] for op in body["ops"]] == [first["op_id"], second["op_id"]]
    assert body["ops"][0] == {
        "seq": 1,
        "op_id": first["op_id"],
        "device_id": tablet.device_id,
        "device_seq": 1,
        "kind": "register",
        "subject": first["subject"],
        "hlc_ms": M,
        "hlc_counter": 0,
        "device_time_ms": M,
        "corrected_time_ms": M,
        "clerk": "Clerk",
        "data": {"name": "Li Wei", "consent": True},
        "suspect": "",
    }
    assert (body["cursor"], body["more"], body["server_time_ms"]) == (2, False, M)
    again = pull(client, door, after=body["cursor"]).json()
    assert again["ops"] == [] and again["conflicts"] == [] and again["cursor"] == 2


def test_pull_pages_with_limit_and_more(client, db, event, tablet) -> None:
    door = enroll(client, db, event, name="Door")
    for name in ("A", "B", "C"):
        tablet.register(name, now_ms=M)
    push(client, tablet)
    page = pull(client, door, limit=2).json()
    assert [op["seq"] for op in page["ops"]] == [1, 2] and page["more"] is True and page["cursor"] == 2
    page = pull(client, door, after=2, limit=2).json()
    assert [op["seq"] for op in page["ops"]] == [3] and page["more"] is False and page["cursor"] == 3


def test_pull_includes_conflict_changes_with_op_roles(client, db, event, tablet) -> None:
    door, till = enroll(client, db, event, name="Door"), enroll(client, db, event, name="Till")
    text = voucher(db, event, max_uses=1)
    first = tablet.redeem(text, now_ms=M)
    second = door.redeem(text, now_ms=M + 1000)
    push(client, door)  # arrival order does not matter: HLC order decides which use is over
    assert push(client, tablet).json()["conflicts_changed"] == 1
    body = pull(client, till).json()
    assert [op["op_id"] for op in body["ops"]] == [second["op_id"], first["op_id"]]
    assert body["conflicts"] == [
        {
            "id": 1,
            "kind": "over_redemption",
            "subject": tokens.decode(text).token.id,
            "status": "open",
            "detail": {"max_uses": 1, "uses": 2},
            "ops": {first["op_id"]: "within", second["op_id"]: "over"},
        }
    ]
    assert body["cursor"] == 3  # two ops and one conflict change share the log sequence
    assert pull(client, till, after=2).json()["conflicts"] == body["conflicts"]
    assert pull(client, till, after=3).json()["conflicts"] == []


def test_the_pulled_bundle_verifies_with_the_root_key_and_shows_revocations(client, db, event, tablet) -> None:
    door = enroll(client, db, event, name="Door")
    devices.revoke_device(db, door.device_id, now=NOW)
    signed = pull(client, tablet).json()["bundle"]
    bundle = trust.verify_bundle(signed, registry.root_public_key(db, event.id), event_id=event.id)
    assert sorted(bundle.keys) == [1, 2, 3] and bundle.keys[door.key_id].status == "revoked"
    with pytest.raises(trust.BundleError, match="bad_signature"):
        trust.verify_bundle(signed, keys.public_key_bytes(keys.generate_private_key()), event_id=event.id)


@pytest.mark.parametrize(
    "params, detail",
    [
        ({"after": -1}, "after must be at least 0"),
        ({"limit": 0}, "limit must be 1 to 1000"),
        ({"limit": 1001}, "limit must be 1 to 1000"),
        ({"sent_at_ms": -5}, "sent_at_ms must be at least 0"),
    ],
)
def test_pull_with_bad_paging(client, tablet, params, detail) -> None:
    response = pull(client, tablet, **params)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "detail": detail, "where": "?" + next(iter(params))}


def test_pull_with_a_cursor_that_is_not_a_number(client, tablet) -> None:
    assert pull(client, tablet, after="abc").status_code == 400


# --- online redemption -----------------------------------------------------------------------


def test_online_redeem_accepts_a_single_use_voucher_once(client, db, event, tablet) -> None:
    text = voucher(db, event, max_uses=1)
    first = online(client, tablet, text, op_id="opFirstTry01")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert first.json() == {
        "protocol": 3,
        "op_id": "opFirstTry01",
        "outcome": "accepted",
        "reason": "",
        "uses_before": 0,
        "max_uses": 1,
        "log_id": log_identity.current(db),
        "server_time_ms": M,
    }
    second = online(client, tablet, text, op_id="opSecondTry1")
    assert second.json() == {
        "protocol": 3,
        "op_id": "opSecondTry1",
        "outcome": "refused",
        "reason": "used_up",
        "uses_before": 1,
        "max_uses": 1,
        "log_id": log_identity.current(db),
        "server_time_ms": M,
    }


def test_online_redeem_again_with_the_same_op_id_gives_the_same_answer(client, db, event, tablet) -> None:
    text = voucher(db, event, max_uses=1)
    first = online(client, tablet, text, op_id="opRetried001").json()
    assert online(client, tablet, text, op_id="opRetried001").json() == first
    assert first["outcome"] == "accepted" and db["ops"].count == 1


def test_an_online_redemption_is_pulled_by_other_tablets(client, db, event, tablet) -> None:
    text = voucher(db, event)
    online(client, tablet, text, op_id="opOnline0001")
    (op,) = pull(client, enroll(client, db, event, name="Door")).json()["ops"]
    assert op["op_id"] == "opOnline0001" and op["device_seq"] is None and op["kind"] == "redeem"
    assert op["data"] == {
        "token": text,
        "outcome": "accepted",
        "decided_by": "server",
        "shown": {"verdict": "green", "reason": "", "prior_uses_seen": 0},
    }


def test_online_redeem_refuses_a_forged_voucher_with_its_reason(client, db, event, tablet) -> None:
    forged = tokens.issue(
        signing_key=keys.generate_private_key(),
        key_id=1,
        event_id=event.id,
        type=tokens.TokenType.VOUCHER,
        issued_at=NOW,
        max_uses=1,
    )
    response = online(client, tablet, forged)
    assert response.json()["outcome"] == "refused" and response.json()["reason"] == "bad_signature"


def test_online_redeem_of_a_rotating_voucher_needs_the_current_code(client, db, event, tablet, clock) -> None:
    text = voucher(db, event, max_uses=2, rotating=True)
    assert online(client, tablet, text, op_id="opNoCode0001").json()["reason"] == "malformed_code"
    window = {code_for(db, event, text, NOW + step) for step in (-15, 0, 15)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333") if code not in window)
    assert online(client, tablet, text, op_id="opBadCode001", code=wrong).json()["reason"] == "bad_code"
    accepted = online(client, tablet, text, op_id="opGoodCode01", code=code_for(db, event, text, NOW)).json()
    assert accepted["outcome"] == "accepted" and accepted["uses_before"] == 0 and accepted["max_uses"] == 2


def test_online_redeem_refuses_a_replayed_code(client, db, event, tablet, clock) -> None:
    text = voucher(db, event, max_uses=2, rotating=True)
    code = code_for(db, event, text, NOW)
    assert online(client, tablet, text, op_id="opScreen0001", code=code).json()["outcome"] == "accepted"
    clock.now = NOW + 10  # the same code, still inside the ±1 step window: a screenshot
    replayed = online(client, tablet, text, op_id="opScreen0002", code=code).json()
    assert replayed["outcome"] == "refused" and replayed["reason"] == "code_replayed" and replayed["uses_before"] == 1
    clock.now = NOW + 15
    fresh = online(client, tablet, text, op_id="opScreen0003", code=code_for(db, event, text, NOW + 15)).json()
    assert fresh["outcome"] == "accepted"


@pytest.mark.parametrize(
    "change, detail, where",
    [
        ({"subject": "A" * 16}, "subject is not the token's id", "$.subject"),
        ({"token": "PPNOTATOKEN"}, "token is malformed", "$.token"),
        ({"code": "12345"}, "Expected `str` matching regex '^[0-9]{6}$(?![\\\\s\\\\S])'", "$.code"),
        ({"op_id": "short"}, "Expected `str` matching regex '^[A-Za-z0-9_-]{8,64}$(?![\\\\s\\\\S])'", "$.op_id"),
        ({"device_seq": 1}, "Object contains unknown field `device_seq`", ""),
    ],
)
def test_online_redeem_with_a_malformed_request(client, db, event, tablet, change, detail, where) -> None:
    response = online(client, tablet, voucher(db, event), **change)
    assert response.status_code == 400 and response.json() == {"error": "invalid", "detail": detail, "where": where}
    assert db["ops"].count == 0


def test_online_redeem_for_another_device(client, db, event, tablet) -> None:
    door = enroll(client, db, event, name="Door")
    response = online(client, tablet, voucher(db, event), device_id=door.device_id)
    assert response.status_code == 400 and response.json()["where"] == "$.device_id"


def test_online_redeem_with_an_op_id_already_used_by_another_op(client, db, event, tablet) -> None:
    checkin = tablet.checkin("at0123456789abcdef", now_ms=M)
    push(client, tablet)
    response = online(client, tablet, voucher(db, event), op_id=checkin["op_id"])
    assert response.status_code == 400 and response.json()["error"] == "invalid"


# --- refusals added after review -------------------------------------------------------------


def test_a_new_op_under_an_applied_device_seq_is_refused_not_dropped(client, db, tablet) -> None:
    tablet.register("Li Wei", now_ms=M)
    push(client, tablet)
    reused = {**tablet.register("Wang Fang", now_ms=M), "device_seq": 1}  # its counter went back
    response = push(client, tablet, [reused])
    assert response.status_code == 409
    assert response.json() == {"error": "seq_reused", "last_seq": 1, "device_seq": 1}
    assert db["ops"].count == 1


def test_a_pushed_op_cannot_claim_the_server_decided_it(client, db, event, tablet) -> None:
    op = tablet.redeem(voucher(db, event), now_ms=M)
    op["data"]["decided_by"] = "server"
    response = push(client, tablet, [op])
    assert response.status_code == 400 and response.json()["where"] == "$.ops[0].data.decided_by"


def test_an_attendee_pass_is_not_redeemed(client, db, event, tablet) -> None:
    pass_text = campaigns.issue_pass(db, event.id, now=NOW).text
    response = push(client, tablet, [tablet.redeem(pass_text, now_ms=M)])
    assert response.status_code == 400 and response.json()["where"] == "$.ops[0].data.token"
    assert online(client, tablet, pass_text).status_code == 400
    assert db["ops"].count == 0


def test_pull_leaves_out_emails_and_who_might_be_the_same_person(client, db, event, tablet) -> None:
    door = enroll(client, db, event, name="Door")
    tablet.register("Li Wei", now_ms=M, phone="+86 138 0000 1111", email="li@example.cn")
    tablet.register("Wei Li", now_ms=M, email="li@example.cn")
    push(client, tablet)
    body = pull(client, door).json()
    hashed = phone_search.search_hash(registry.phone_search_key(db, event.id), "+86 138 0000 1111")
    assert [op["data"] for op in body["ops"]] == [
        {"name": "Li Wei", "consent": True, "phone_hash": hashed, "phone_last4": "1111"},
        {"name": "Wei Li", "consent": True},
    ]
    assert body["conflicts"] == []
    assert db["conflicts"].count == 1  # the organizer still sees the possible duplicate


def test_401_names_the_scheme(client) -> None:
    response = client.get("/api/v1/pull")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")


def test_pull_is_gzipped_for_clients_that_accept_it_and_pages_are_not(client, db, event, tablet) -> None:
    door = enroll(client, db, event, name="Door")
    for i in range(20):
        tablet.register(f"Attendee {i}", now_ms=M)
    push(client, tablet)
    response = client.get("/api/v1/pull", headers={**door.headers, "Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip" and len(response.json()["ops"]) == 20
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in page.headers


def test_a_pull_with_sent_at_measures_the_clock_too(client, db, tablet) -> None:
    assert pull(client, tablet, sent_at_ms=M - 90_000).status_code == 200
    assert devices.get_device(db, tablet.device_id).clock_offset_ms == 90_000


# --- what a tablet needs to work offline -------------------------------------------------------


def test_enrollment_and_the_last_pull_page_carry_the_campaigns(client, db, event) -> None:
    campaigns.create_campaign(
        db,
        event.id,
        title="Free <b>coffee</b>",
        terms="At the bar",
        max_uses=2,
        valid_minutes=30,
        rotating=False,
        now=NOW,
    )
    tablet = Tablet(event.id)
    code = devices.create_enrollment_code(db, event.id, name="Door", now=NOW)
    body = client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": tablet.public_key}).json()
    tablet.enrolled(body)
    expected = {
        "number": 1,
        "title": "Free <b>coffee</b>",
        "terms": "At the bar",
        "max_uses": 2,
        "valid_from": None,
        "valid_until": None,
        "valid_minutes": 30,
        "rotating": False,
        "welcome": False,
        "value": "",
        "by_clerks": True,
        "per_attendee": None,
        "cap": None,
        "texts": {},
    }
    assert body["campaigns"] == [expected]
    other = enroll(client, db, event, name="Other")
    for _ in range(3):
        other.register("Li Wei", now_ms=M)
    push(client, other)
    campaigns.create_campaign(db, event.id, title="Tote bag", now=NOW)
    first = pull(client, tablet, limit=2).json()
    assert first["more"] is True and first["campaigns"] is None
    last = pull(client, tablet, after=first["cursor"], limit=2).json()
    assert last["more"] is False and [c["title"] for c in last["campaigns"]] == ["Free <b>coffee</b>", "Tote bag"]


def pass_for(tablet: Tablet) -> str:
    return tokens.issue(
        signing_key=tablet.private_key,
        key_id=tablet.key_id,
        event_id=tablet.event_id,
        type=tokens.TokenType.PASS,
        issued_at=NOW,
    )


def test_a_walk_in_registered_with_a_pass_is_the_passs_token_id(client, db, event, tablet) -> None:
    text = pass_for(tablet)
    attendee = tokens.decode(text).token.id
    op = tablet.register("Li Wei", now_ms=M)
    op["subject"], op["data"]["pass_token"] = attendee, text
    checkin = tablet.checkin(attendee, now_ms=M)
    checkin["data"] |= {"method": "scan", "pass_token": text}
    assert push(client, tablet).status_code == 200
    assert db["attendees"].get(attendee)["name"] == "Li Wei"


@pytest.mark.parametrize("kind", ["register", "checkin"])
def test_a_pass_whose_token_id_is_not_the_subject_is_refused(client, db, event, tablet, kind) -> None:
    text = pass_for(tablet)
    op = tablet.register("Li Wei", now_ms=M) if kind == "register" else tablet.checkin("atSomeoneElse1", now_ms=M)
    op["data"]["pass_token"] = text
    response = push(client, tablet)
    assert response.status_code == 400
    assert response.json()["detail"] == "an attendee's id is the token id of their pass"
    assert response.json()["where"] == "$.ops[0].subject" and db["ops"].count == 0


# --- after a restore (the log's identity) ----------------------------------------------------


def restored(db) -> str:
    """What `poppass restore` does to the log: a new history, here forked at position 1."""
    from events.db import write_transaction

    with write_transaction(db):
        return log_identity.begin(db, at_seq=1, now=NOW, reason="restored")


def test_every_answer_names_the_log_and_a_tablet_naming_it_is_served(client, db, event, tablet) -> None:
    current = log_identity.current(db)
    tablet.register("Li Wei", now_ms=M)
    assert push(client, tablet, log_id=current).json()["log_id"] == current
    assert pull(client, tablet, log=current).json()["log_id"] == current
    assert online(client, tablet, voucher(db, event), log_id=current).json()["log_id"] == current


def test_a_tablet_naming_an_old_log_is_told_and_nothing_is_written(client, db, event, tablet) -> None:
    old = log_identity.current(db)
    tablet.register("Li Wei", now_ms=M)
    assert push(client, tablet, log_id=old).status_code == 200
    new = restored(db)
    tablet.checkin("atFirstOne0000001", now_ms=M + 1)
    told = {"error": "log_changed", "log_id": new, "fork": 1, "last_seq": 1}
    before = db["ops"].count
    pushed = push(client, tablet, tablet.outbox[-1:], log_id=old)
    assert pushed.status_code == 409 and pushed.json() == told
    assert pull(client, tablet, log=old).json() == told
    redeemed = online(client, tablet, voucher(db, event), log_id=old)
    assert redeemed.status_code == 409 and redeemed.json() == told
    assert db["ops"].count == before
    # Protocol 2 names no log: served as before.
    assert push(client, tablet, tablet.outbox[-1:], protocol=2).status_code == 200


@pytest.mark.parametrize("log", ["short", "lg" + "x" * 70, "lg0000000000000000\n", "lg 00000000000000"])
def test_a_malformed_log_id_is_refused_where_it_is(client, tablet, log) -> None:
    response = pull(client, tablet, log=log)
    assert response.status_code == 400 and response.json()["where"] == "?log"
    pushed = push(client, tablet, [], log_id=log)
    assert pushed.status_code == 400 and pushed.json()["where"] == "$.log_id"

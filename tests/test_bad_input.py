"""Bad input found by probing the running server, one test per case: each got a 500 (or was
stored garbled) and now gets a 4xx in the usual error shape, with nothing written. The classes
these belong to are fuzzed in tests/test_fuzz_inputs.py; the guard is server/input_guard.py.
"""

from __future__ import annotations

import json
import re

import msgspec
import pytest

from events import campaigns, conflicts, ops, registry, rotating, signup, tokens
from server.input_guard import undecodable
from tests.support.clock import NOW
from tests.support.device_api import M
from tests.support.tablet import Tablet, enroll

FORM = {"content-type": "application/x-www-form-urlencoded"}
HTML = {"accept": "text/html"}


def rows(db) -> dict[str, int]:
    """How many rows each table holds but the sessions' (signing in writes those)."""
    return {t: db[t].count for t in db.table_names() if not t.startswith(("organizer_session", "sqlite_"))}


@pytest.fixture
def tablet(client, db, event) -> Tablet:
    return enroll(db, event.id, "Door", now=NOW)


# --- 1. invalid UTF-8 in a JSON string on the device API ---------------------------------------


def _with_raw(body: dict, value: bytes, field: str) -> bytes:
    """`body` as JSON with the string field `field` holding the raw bytes `value`."""
    marker = "MARKER-0123456789"
    encoded = msgspec.json.encode({**body, field: marker})
    return encoded.replace(marker.encode(), value)


@pytest.mark.parametrize(
    "value",
    [b"\xff", b"Li \xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"],
    ids=["ff", "truncated", "encoded surrogate", "overlong", "beyond U+10FFFF"],
)
def test_a_push_with_bytes_that_are_not_utf8_in_a_string_is_invalid_and_stores_nothing(
    client, db, tablet, value
) -> None:
    register = tablet.register("Li", now_ms=M)
    batch = tablet.batch([register], now_ms=M)
    body = _with_raw(batch, value, "device_id")
    response = client.post("/api/v1/push", content=body, headers={**tablet.headers, "content-type": "application/json"})
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == "invalid" and answer["where"] == "" and "not UTF-8" in answer["detail"]
    first_bad = len(value) - len(value.lstrip(b"Li "))  # the bytes before it are good UTF-8
    assert f"byte {body.index(value) + first_bad} " in answer["detail"]
    assert db["ops"].count == 0


def test_a_name_with_a_lone_surrogate_is_invalid(client, db, tablet) -> None:
    batch = tablet.batch([tablet.register("Li", now_ms=M)], now_ms=M)
    body = msgspec.json.encode(batch).replace(b'"name":"Li"', b'"name":"Li\\ud800"')
    response = client.post("/api/v1/push", content=body, headers={**tablet.headers, "content-type": "application/json"})
    assert (
        response.status_code == 400
        and response.json()["error"] == "invalid"
        and "not JSON" in response.json()["detail"]
    )
    assert db["ops"].count == 0


@pytest.mark.parametrize("path", ["/api/v1/enroll", "/api/v1/redeem"])
def test_enroll_and_redeem_refuse_bytes_that_are_not_utf8(client, db, tablet, path) -> None:
    body = _with_raw(
        {"protocol": 1, "code": "x", "public_key": "x"}
        if path.endswith("enroll")
        else {"protocol": 1, "device_id": tablet.device_id},
        b"\xff\xfe",
        "code" if path.endswith("enroll") else "device_id",
    )
    response = client.post(path, content=body, headers={**tablet.headers, "content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == "invalid", response.text
    assert db["ops"].count == 0 and db["devices"].count == 1


# --- 2. integers beyond 64 bits, and numbers not written the app's way, in console paths -----------


@pytest.mark.parametrize(
    "number", [str(10**21), str(2**63), str(-(2**63) - 1), "1%0A", "%201", "1%20", "1_0", "+1", "01"]
)
@pytest.mark.parametrize("path", ["campaigns/{n}", "conflicts/{n}", "wall/draws/{n}"])
def test_a_console_number_beyond_64_bits_or_not_canonical_is_404(client, db, event, signed_in, path, number) -> None:
    campaigns.create_campaign(db, event.id, title="T", max_uses=1, rotating=False, now=NOW)  # campaign 1 exists
    response = client.get(f"/organizer/events/{event.id}/{path.format(n=number)}", headers=HTML)
    assert response.status_code == 404, (path, number, response.status_code)
    assert "There is nothing at this address." in response.text
    assert client.get(f"/organizer/events/{event.id}/campaigns/1").status_code == 200


def test_resolving_a_conflict_beyond_64_bits_is_404(client, db, event, signed_in) -> None:
    token = client.cookies["csrftoken"]
    response = client.post(
        f"/organizer/events/{event.id}/conflicts/{10**21}/resolve",
        data={"decision": "keep", "note": "", "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 404 and response.json()["error"] == "not_found"


# --- 3. identifier and code patterns: exact, no trailing newline or other whitespace ---------------

WHITESPACE = ["\n", " ", "\t", "\r\n", "\u00a0", "\u2028"]


@pytest.mark.parametrize("suffix", WHITESPACE, ids=repr)
@pytest.mark.parametrize(
    "where",
    [
        "$.device_id",
        "$.ops[0].op_id",
        "$.ops[0].subject",
        "$.ops[1].subject",
        "$.ops[2].data.attendee_id",
        "$.ops[4].data.redeem_op_id",
    ],
)
def test_an_identifier_in_a_push_with_trailing_whitespace_is_refused(where, suffix) -> None:
    tablet = Tablet("evwhitespace01")
    tablet.device_id, tablet.key_id = "dvwhitespace01", 2
    attendee = tablet.register("Li", now_ms=M)
    tablet.checkin(attendee["subject"], now_ms=M + 1)
    text, _ = tablet.issue_voucher(now_ms=M + 2, attendee_id=attendee["subject"])
    redeem = tablet.redeem(text, now_ms=M + 3)
    tablet.void(text, now_ms=M + 4, redeem_op_id=redeem["op_id"])
    batch = json.loads(json.dumps(tablet.batch(tablet.outbox, now_ms=M)))
    ops.decode_batch(msgspec.json.encode(batch))  # as sent, it is a batch
    holder, key = batch, None
    steps = re.findall(r"\.(\w+)|\[(\d+)\]", where)
    for name, index in steps[:-1]:
        holder = holder[name] if name else holder[int(index)]
    key = steps[-1][0]
    holder[key] += suffix
    with pytest.raises(ops.InvalidInput) as refused:
        ops.decode_batch(msgspec.json.encode(batch))
    assert refused.value.where == where


@pytest.mark.parametrize(
    "field, value",
    [("subject", "A" * 16), ("op_id", "op-online-01"), ("device_id", "dvonline0001"), ("code", "123456")],
)
def test_an_online_redemption_refuses_trailing_newline_in_ids_and_code(field, value) -> None:
    body = {
        "protocol": 1,
        "device_id": "dvonline0001",
        "sent_at_ms": M,
        "op_id": "op-online-01",
        "subject": "A" * 16,
        "hlc_ms": M,
        "hlc_counter": 0,
        "device_time_ms": M,
        "corrected_time_ms": M,
        "clerk": "C",
        "token": "PP",
        "code": "123456",
    }
    assert ops.decode_online_redeem(msgspec.json.encode({**body, field: value})).protocol == 1
    with pytest.raises(ops.InvalidInput) as refused:
        ops.decode_online_redeem(msgspec.json.encode({**body, field: value + "\n"}))
    assert refused.value.where == f"$.{field}"


def test_the_schema_patterns_are_exact_in_python_and_in_a_browser(client) -> None:
    """The OpenAPI schema carries the same patterns: ones that also mean "the whole string" in
    ECMA-262 (no \\Z, which JS reads as a plain Z)."""
    schema = client.get("/schema/openapi.json").text
    patterns = set(re.findall(r'"pattern":"((?:[^"\\]|\\.)*)"', schema))
    assert patterns, "the schema documents its patterns"
    for pattern in patterns:
        pattern = json.loads(f'"{pattern}"')
        assert pattern.endswith(r"$(?![\s\S])") and r"\Z" not in pattern, pattern


@pytest.mark.parametrize("suffix", WHITESPACE, ids=repr)
def test_every_other_identifier_and_code_check_refuses_trailing_whitespace(db, event, suffix) -> None:
    """(What a clerk types by hand is read leniently on purpose: events/manual_entry.py drops
    whitespace, and an organizer's email is stripped. These are what programs and scanners send.)"""
    assert signup.is_capability("A" * 32) and not signup.is_capability("A" * 32 + suffix)
    secret = rotating.voucher_secret(b"k" * 32, b"t" * 10)
    code = rotating.code_at(secret, NOW)
    assert rotating.check_code(secret, code, now=NOW)
    with pytest.raises(rotating.CodeError):
        rotating.check_code(secret, code + suffix, now=NOW)
    number = campaigns.create_campaign(db, event.id, title="T", max_uses=1, rotating=False, now=NOW).number
    voucher = campaigns.issue_voucher(db, event.id, number, now=NOW).text
    assert tokens.decode(tokens.parse_scan(voucher).text)
    with pytest.raises(tokens.TokenError):
        tokens.decode(tokens.parse_scan(voucher + suffix).text)
    with pytest.raises(registry.EventRefused):
        registry.create_event(
            db, name="E", venue="V", starts_at=NOW, ends_at=NOW + 60, now=NOW, languages=["en" + suffix]
        )


# --- 4. forms with text that is not UTF-8 ---------------------------------------------------------


@pytest.mark.parametrize(
    "phone", [b"\xff\xfe", b"%FF%FE", b"138%C3", b"%ED%A0%80"], ids=["raw", "escaped", "cut", "surrogate"]
)
def test_a_sign_up_with_a_field_that_is_not_utf8_is_shown_again_and_stores_nothing(client, db, event, phone) -> None:
    client.get(f"/events/{event.id}")
    body = b"name=Li+Wei&consent=yes&phone=" + phone + b"&_csrf_token=" + client.cookies["csrftoken"].encode()
    before = rows(db)
    response = client.post(f"/events/{event.id}/signup", content=body, headers={**FORM, **HTML})
    assert response.status_code == 400
    assert 'id="sign-up-phone-error">This could not be read as text. Please type it again.<' in response.text
    assert 'value="Li Wei"' in response.text  # what was readable stays in the form
    assert rows(db) == before and db["attendees"].count == 0


def test_a_sign_up_that_is_not_utf8_is_refused_in_chinese_too(client, db, event) -> None:
    client.get(f"/events/{event.id}")
    body = b"name=%FF&consent=yes&phone=13800138000&_csrf_token=" + client.cookies["csrftoken"].encode()
    response = client.post(
        f"/events/{event.id}/signup", content=body, headers={**FORM, **HTML, "accept-language": "zh-CN"}
    )
    assert response.status_code == 400 and 'id="sign-up-name-error"' in response.text
    assert "无法识别这段文字，请重新输入。" in response.text


def _console_forms(event_id: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (
            "/organizer/events/",
            {
                "name": "E",
                "venue": "V",
                "starts": "2026-01-02T10:00",
                "ends": "2026-01-02T18:00",
                "timezone": "UTC",
                "languages": "en",
            },
        ),
        (
            f"/organizer/events/{event_id}/edit",
            {
                "name": "E",
                "venue": "V",
                "starts": "2026-01-02T10:00",
                "ends": "2026-01-02T18:00",
                "timezone": "UTC",
                "languages": "en",
            },
        ),
        (f"/organizer/events/{event_id}/campaigns/", {"title": "T", "welcome": "yes", "max_uses": "1"}),
        (f"/organizer/events/{event_id}/tablets/", {"name": "Door"}),
        (f"/organizer/events/{event_id}/wall/draws", {"winners": "1"}),
    ]


@pytest.mark.parametrize("index", range(5))
@pytest.mark.parametrize("bad", [b"\xff\xfe", b"%FF%FE"], ids=["raw", "escaped"])
def test_every_console_form_refuses_text_that_is_not_utf8_and_stores_nothing(
    client, db, event, signed_in, index, bad
) -> None:
    path, fields = _console_forms(event.id)[index]
    name = next(iter(fields))
    body = b"&".join(f"{k}={v}".encode() for k, v in fields.items() if k != name)
    body += b"&" + name.encode() + b"=" + bad + b"&_csrf_token=" + client.cookies["csrftoken"].encode()
    before = rows(db)
    page = client.post(path, content=body, headers={**FORM, **HTML}, follow_redirects=False)
    assert page.status_code == 400, (path, page.status_code)
    assert "not valid UTF-8, so nothing was saved" in page.text
    answer = client.post(path, content=body, headers=FORM, follow_redirects=False)
    assert answer.status_code == 400 and answer.json() == {
        "error": "invalid",
        "detail": f"{name} is not valid UTF-8",
        "where": name,
    }
    assert rows(db) == before


def test_a_query_value_that_is_not_utf8_is_invalid_and_a_path_segment_is_404(client, tablet, event) -> None:
    pulled = client.get("/api/v1/pull?clerk=%FF&limit=1", headers=tablet.headers)
    assert pulled.status_code == 400 and pulled.json() == {
        "error": "invalid",
        "detail": "?clerk is not valid UTF-8",
        "where": "?clerk",
    }
    assert client.get(f"/events/{event.id}?claim=%C3", headers=HTML).status_code == 400
    assert client.get(f"/events/{event.id}?claim=%C3%A9").status_code == 200
    assert client.get("/events/ev%FF", headers=HTML).status_code == 404
    assert client.get("/wallet/" + "A" * 31 + "%FF").status_code == 404


def test_a_multipart_field_that_is_not_utf8_is_invalid(client, db, event, signed_in) -> None:
    token = client.cookies["csrftoken"].encode()
    body = (
        b'--B\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n'
        + token
        + b'\r\n--B\r\nContent-Disposition: form-data; name="note"\r\n\r\n\xff\xfe'
        + b'\r\n--B\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nname,phone\nLi,13800138000\n\r\n--B--\r\n"
    )
    before = rows(db)
    response = client.post(
        f"/organizer/events/{event.id}/import/",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=B", **HTML},
    )
    assert response.status_code == 400, response.status_code
    assert "not valid UTF-8, so nothing was saved" in response.text
    assert rows(db) == before


def test_a_superscript_digit_in_a_campaign_number_is_a_form_error_not_a_500(client, db, event, signed_in) -> None:
    response = client.post(
        f"/organizer/events/{event.id}/campaigns/",
        data={"title": "T", "welcome": "yes", "max_uses": "²", "_csrf_token": client.cookies["csrftoken"]},
    )
    assert response.status_code == 422 and 'id="campaign-max_uses-error"' in response.text
    assert campaigns.list_campaigns(db, event.id) == []


def test_undecodable_names_each_field_and_decodes_the_rest() -> None:
    assert undecodable(b"a=1&b=%FF&c=%C3%A9&d=\xc3\xa9&+e+=x+y") == (["b", "d"], {"a": "1", "c": "é", " e ": "x y"})
    assert undecodable(b"") == ([], {})
    assert conflicts.NOTE_MAX  # the conflict note is a console form too: tests/test_fuzz_inputs.py sends it bytes

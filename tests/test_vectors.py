"""The shared vectors: committed file is current, and Python passes every one.

web/static/js/token.js passes the same file in real Chromium (e2e/test_token_js.py).
"""

from __future__ import annotations

import json

import pytest

from events import phone_search, rotating, tokens
from events.keys import from_b64url
from events.trust import BundleError, verify_bundle
from tests.vectors import build

VECTORS = json.loads(build.PATH.read_text(encoding="utf-8"))
ROOT = from_b64url(VECTORS["root_public_key"])
BUNDLE = verify_bundle(VECTORS["bundle"], ROOT, event_id=VECTORS["event_id"])


def test_committed_vectors_match_the_implementation() -> None:
    assert build.PATH.read_text(encoding="utf-8") == build.render(), "run: python -m tests.vectors.build"


def test_there_is_a_vector_for_every_refusal_reason() -> None:
    reasons = {v["reason"] for v in VECTORS["tokens"] if not v["ok"]}
    assert reasons == {str(r) for r in tokens.Reason}


@pytest.mark.parametrize("vector", VECTORS["tokens"], ids=lambda v: v["name"])
def test_token(vector: dict) -> None:
    if vector["ok"]:
        token = tokens.verify(vector["text"], BUNDLE, now=vector["now"])
        assert build.described(vector["text"]) == vector["token"]
        assert token.id == vector["token"]["id"]
    else:
        with pytest.raises(tokens.TokenError) as raised:
            tokens.verify(vector["text"], BUNDLE, now=vector["now"])
        assert raised.value.reason == vector["reason"]


@pytest.mark.parametrize("vector", VECTORS["scans"], ids=lambda v: v["input"][:24])
def test_scan(vector: dict) -> None:
    assert tokens.parse_scan(vector["input"]) == tokens.Scan(vector["text"], vector["code"])


@pytest.mark.parametrize("vector", VECTORS["bundles"], ids=lambda v: v["name"])
def test_bundle(vector: dict) -> None:
    verify = lambda: verify_bundle(vector["bundle"], ROOT, event_id=vector["event_id"], min_seq=vector["min_seq"])  # noqa: E731
    if vector["ok"]:
        assert verify().seq == vector["seq"]
    else:
        with pytest.raises(BundleError) as raised:
            verify()
        assert raised.value.reason == vector["reason"]


def test_rotating_codes() -> None:
    spec = VECTORS["rotating"]
    token_id = tokens.decode(VECTORS["tokens"][0]["text"]).token.token_id
    assert rotating.voucher_secret(from_b64url(spec["rotation_key"]), token_id) == spec["secret"]
    for sample in spec["codes"]:
        assert rotating.code_at(spec["secret"], sample["time"]) == sample["code"]
    for check in spec["checks"]:
        if check["ok"]:
            assert (
                rotating.check_code(spec["secret"], check["code"], now=check["now"], last_step=check["last_step"]).step
                == check["step"]
            )
        else:
            with pytest.raises(rotating.CodeError) as raised:
                rotating.check_code(spec["secret"], check["code"], now=check["now"], last_step=check["last_step"])
            assert raised.value.reason == check["reason"], check["name"]


def test_rotation_epochs() -> None:
    """A code made with a retired rotation key is refused with its own reason, never accepted."""
    spec = VECTORS["rotation_epochs"]
    token_id = tokens.decode(VECTORS["tokens"][0]["text"]).token.token_id
    assert tokens.decode(VECTORS["tokens"][0]["text"]).token.id == spec["token_id"]
    current, retired = from_b64url(spec["rotation_key"]), [from_b64url(k) for k in spec["retired"]]
    reasons = set()
    for check in spec["checks"]:
        call = lambda check=check: rotating.check_voucher_code(  # noqa: E731
            current, retired, token_id, check["code"], now=check["now"], last_step=check["last_step"]
        )
        if check["ok"]:
            assert call().step == check["step"], check["name"]
        else:
            with pytest.raises(rotating.CodeError) as raised:
                call()
            assert raised.value.reason == check["reason"], check["name"]
            reasons.add(check["reason"])
    assert reasons == {"rotation_key_retired", "bad_code", "code_replayed", "malformed_code"}
    # Without the retired keys the same codes are simply wrong: the epochs change only the reason.
    for check in spec["checks"]:
        if check.get("reason") == "rotation_key_retired":
            with pytest.raises(rotating.CodeError) as raised:
                rotating.check_voucher_code(
                    current, [], token_id, check["code"], now=check["now"], last_step=check["last_step"]
                )
            assert raised.value.reason == "bad_code"


def test_phone_search() -> None:
    spec = VECTORS["phone_search"]
    key = from_b64url(spec["key"])
    for case in spec["cases"]:
        assert (phone_search.search_hash(key, case["phone"]), phone_search.last_digits(case["phone"])) == (
            case["hash"],
            case["last4"],
        ), case["phone"]
    # One person, however the number is written; another number, another hash.
    assert len({c["hash"] for c in spec["cases"][:5]}) == 1 and spec["cases"][5]["hash"] != spec["cases"][0]["hash"]


# --- The tablet's words (web/static/js/reasons.js and station-app.js: e2e/test_words_js.py) ---

WORDS = json.loads(build.WORDS_PATH.read_text(encoding="utf-8"))


def test_committed_word_vectors_match_the_server() -> None:
    assert build.WORDS_PATH.read_text(encoding="utf-8") == build.render_words(), "run: python -m tests.vectors.build"


def test_every_reason_a_tablet_may_show_has_words() -> None:
    from events import merge

    online = {"bad_code", "code_replayed", "rotation_key_retired", "malformed_code", "used_up", "voided"}
    assert set(WORDS["reasons"]) == {str(r) for r in tokens.Reason} | online
    assert set(WORDS["conflict_kinds"]) == set(merge.VOUCHER_CONFLICTS)
    assert set(WORDS["conflict_statuses"]) == {"open", "resolved", "cleared"}


# --- Verdicts, uses, voids and firsts (web/static/js/verdict.js, ledger.js: e2e/test_verdicts_js.py) ---

VERDICTS = json.loads(build.VERDICTS_PATH.read_text(encoding="utf-8"))


def test_committed_verdict_vectors_match_the_rules() -> None:
    assert build.VERDICTS_PATH.read_text(encoding="utf-8") == build.render_verdicts(), (
        "run: python -m tests.vectors.build"
    )


@pytest.mark.parametrize("vector", VERDICTS["uses"], ids=lambda v: v["name"])
def test_uses_and_first_void_do_not_depend_on_arrival(vector: dict) -> None:
    assert build.voucher_state_of(vector["text"], vector["ops"]) == vector["expect"]
    assert build.voucher_state_of(vector["text"], vector["ops"][::-1]) == vector["expect"]


@pytest.mark.parametrize("vector", VERDICTS["first"], ids=lambda v: v["name"])
def test_first_registration_and_check_in_do_not_depend_on_arrival(vector: dict) -> None:
    assert build.first_of(vector["ops"][::-1]) == vector["expect"]


def test_every_vector_op_is_a_valid_op() -> None:
    import msgspec

    from events.ops import Op

    for section in ("uses", "first", "verdicts"):
        for vector in VERDICTS[section]:
            for raw_op in vector["ops"]:
                msgspec.convert({k: v for k, v in raw_op.items() if k != "device_id"}, Op)


def test_the_server_keeps_the_first_registration_whatever_the_arrival(tmp_path) -> None:
    """events/sync.py keeps the attendee as first registered, one op at a time as pushes arrive:
    the rule's answer, in either order, with its time."""
    import msgspec

    from events import registry, sync
    from events.db import open_database
    from events.ops import Op

    for n, vector in enumerate(VERDICTS["first"]):
        registers = [o for o in vector["ops"] if o["kind"] == "register"]
        for order in (registers, registers[::-1]):
            db = open_database(tmp_path / f"first-{n}-{order[0]['op_id'] if order else 'none'}.db")
            event = registry.create_event(
                db, name="Pop-up", venue="", starts_at=build.NOW, ends_at=build.NOW + 3600, now=build.NOW
            )
            for raw_op in order:
                op = msgspec.convert({k: v for k, v in raw_op.items() if k != "device_id"}, Op)
                sync.register_attendee(db, event.id, raw_op["device_id"], op)
            row = db.execute("select register_op_id, registered_at_ms from attendees").fetchone()
            expect = vector["expect"]
            assert (tuple(row) if row else (None, None)) == (expect["register"], expect["register_at_ms"]), vector[
                "name"
            ]
            db.close()


@pytest.mark.parametrize("vector", VERDICTS["verdicts"], ids=lambda v: v["name"])
def test_verdict(vector: dict) -> None:
    shown, online = build.judged(vector["scan"], vector["ops"], now_ms=vector["now_ms"], rotation=vector["rotation"])
    assert (shown, online) == (vector["expect"], vector["online"])


def test_amber_is_only_for_genuine_codes_with_nothing_to_do() -> None:
    assert {r for r, c in VERDICTS["colors"].items() if c == "amber"} == {"used_up", "already_checked_in"}
    assert VERDICTS["colors"][""] == "green"


def test_the_verdict_vectors_cover_every_outcome() -> None:
    shown = {(v["expect"]["color"], v["expect"]["reason"]) for v in VERDICTS["verdicts"]}
    assert {color for color, _ in shown} == {"green", "amber", "red"}
    reasons = {reason for _, reason in shown if reason}
    assert {
        "used_up",
        "voided",
        "already_checked_in",
        "malformed_code",
        "code_replayed",
        "bad_code",
        "rotation_key_retired",
        "expired",
        "not_yet_valid",
        "revoked_key",
        "bad_signature",
        "malformed",
    } <= reasons
    assert reasons <= set(WORDS["reasons"]) | {"already_checked_in"}

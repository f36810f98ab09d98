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
            assert rotating.check_code(spec["secret"], check["code"], now=check["now"], last_step=check["last_step"]).step == check["step"]
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
        call = lambda: rotating.check_voucher_code(  # noqa: E731
            current, retired, token_id, check["code"], now=check["now"], last_step=check["last_step"])
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
                rotating.check_voucher_code(current, [], token_id, check["code"], now=check["now"], last_step=check["last_step"])
            assert raised.value.reason == "bad_code"


def test_phone_search() -> None:
    spec = VECTORS["phone_search"]
    key = from_b64url(spec["key"])
    for case in spec["cases"]:
        assert (phone_search.search_hash(key, case["phone"]), phone_search.last_digits(case["phone"])) == (
            case["hash"], case["last4"]), case["phone"]
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

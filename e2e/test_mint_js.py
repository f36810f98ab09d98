"""web/static/js/mint.js in real Chromium, on a page of the real server under its CSP.

Ed25519 is deterministic, so a token the browser signs with a key must be the very text that
tokens.issue() gives for the same key and inputs; each batch compares the two, and Python
verifies what the browser signed. Each test is one page.evaluate, so the file runs in seconds.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Page

from e2e.js_runner import Run, runner
from events import tokens
from events.keys import (
    KeyRecord,
    KeyStatus,
    b64url,
    from_b64url,
    is_acceptable_public_key,
    private_key_from_bytes,
    public_key_bytes,
)
from events.trust import TrustBundle, sign_bundle
from tests.vectors import build

KEY = private_key_from_bytes(hashlib.sha256(b"poppass mint.js tablet").digest())
PKCS8 = b64url(
    KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
)
NOW = build.NOW
EVENT_IDS = [build.EVENT_ID, "e", "évènement-🎉", "x" * 255, "é" * 127 + "x"]
# Stands for "\ud800" on the browser side: a lone surrogate cannot cross to the page as JSON.
LONE_SURROGATE = "<lone surrogate>"

PRELUDE = """
const m = await import('/static/js/mint.js');
const t = await import('/static/js/token.js');
const privateKey = await crypto.subtle.importKey('pkcs8', t.base64UrlDecode(arg.pkcs8), { name: 'Ed25519' }, false, ['sign']);
const args = (c) => ({
  privateKey, ...c,
  eventId: c.eventId === arg.lone ? '\\ud800' : c.eventId,
  tokenId: Array.isArray(c.tokenId) ? new Uint8Array(c.tokenId) : c.tokenId,
});
const outcome = async (call) => {
  try {
    return { ok: true, text: await call() };
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) return { ok: false, error: error.name, message: error.message };
    return { ok: false, unexpected: `${error?.name}: ${error?.message}` };
  }
};
"""

NAMES = {
    "key_id": "keyId",
    "event_id": "eventId",
    "issued_at": "issuedAt",
    "valid_from": "validFrom",
    "valid_until": "validUntil",
    "max_uses": "maxUses",
    "token_id": "tokenId",
}


@pytest.fixture
def run(page: Page, live_server) -> Run:
    """Evaluate a batch (JS function body, `arg` in scope) on the home page of the live server."""
    return runner(page, live_server.url, PRELUDE, {"pkcs8": PKCS8, "lone": LONE_SURROGATE})


def to_js(case: dict[str, Any], rng: random.Random | None = None) -> dict[str, Any]:
    """issue()'s keyword arguments as mintToken's; the type alternates between number and name."""
    out = {}
    for name, value in case.items():
        if isinstance(value, bytes):
            value = list(value)
        elif isinstance(value, tokens.TokenType):
            value = value.name.lower() if rng is None or rng.random() < 0.5 else int(value)
        elif name == "event_id" and value == "\ud800":
            value = LONE_SURROGATE
        out[NAMES.get(name, name)] = value
    return out


def python_outcome(case: dict[str, Any]) -> dict[str, Any]:
    """What tokens.issue() does with a call, shaped like the browser's outcome."""
    try:
        return {"ok": True, "text": tokens.issue(signing_key=KEY, **case)}
    except UnicodeEncodeError:
        return {"ok": False, "error": "RangeError"}
    except ValueError as error:
        return {"ok": False, "error": "RangeError", "message": str(error)}
    except (TypeError, AttributeError):
        return {"ok": False, "error": "TypeError"}


def bundle_for(event_id: str, key_ids: set[int], public_key: bytes) -> TrustBundle:
    keys = {k: KeyRecord(k, public_key, f"dv{k}", KeyStatus.ACTIVE, NOW - 86400) for k in key_ids}
    return TrustBundle(event_id=event_id, seq=1, issued_at=NOW, keys=keys)


def varied_cases(rng: random.Random) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    while len(cases) < 60:
        issued_at = rng.choice([NOW, NOW + 59, NOW - 1, NOW + rng.randrange(-86400, 86400), 1, 2**32 - 1, 60])
        valid_from = rng.choice(
            [None, issued_at, issued_at - rng.randrange(0, 7200), issued_at + rng.randrange(0, 7200), 0]
        )
        start = issued_at if valid_from is None else valid_from
        valid_until = rng.choice(
            [None, start + 1, start + 60, start + rng.randrange(1, 4 * 86400), start + 86400 * 365 * 20]
        )
        case = dict(
            key_id=rng.choice([1, 2, 3, 255, 256, 4097, 65535]),
            event_id=rng.choice(EVENT_IDS),
            type=rng.choice(list(tokens.TokenType)),
            issued_at=issued_at,
            valid_from=valid_from,
            valid_until=valid_until,
            campaign=rng.choice([0, 1, 7, 255]),
            max_uses=rng.choice([0, 1, 2, 255]),
            rotating=rng.random() < 0.5,
            token_id=rng.choice([rng.randbytes(10), bytes(10), b"\xff" * 10]),
        )
        if python_outcome(case)["ok"]:  # the refusals have their own test
            cases.append(case)
    return cases


def test_browser_mints_the_same_tokens_as_python(run: Run) -> None:
    rng = random.Random(25519)
    cases = varied_cases(rng)
    # Without a token id both sides draw one: only the rest of the token can be compared.
    fresh = [
        dict(key_id=2, event_id=build.EVENT_ID, type=tokens.TokenType.VOUCHER, issued_at=NOW + n) for n in range(5)
    ]
    result = run(
        """
        const minted = await Promise.all(arg.cases.map((c) => m.mintToken(args(c))));
        const fresh = await Promise.all(arg.fresh.map((c) => m.mintToken(args(c))));
        const ids = [m.newTokenId(), m.newTokenId()];
        return {
          minted, fresh,
          ids: ids.map((id) => [id instanceof Uint8Array, id.length, t.base32Encode(id)]),
          decoded: minted.map((text) => t.decode(text).token.id),
          types: m.TokenType,
        };
        """,
        {"cases": [to_js(c, rng) for c in cases], "fresh": [to_js(c) for c in fresh]},
    )
    expected = [tokens.issue(signing_key=KEY, **case) for case in cases]
    assert [(c, e, r) for c, e, r in zip(cases, expected, result["minted"], strict=True) if e != r] == []
    assert result["decoded"] == [tokens.decode(text).token.id for text in expected]
    assert result["types"] == {"VOUCHER": 1, "PASS": 2}

    public_key = public_key_bytes(KEY)
    for case, text in zip(cases + fresh, result["minted"] + result["fresh"], strict=True):
        token = tokens.authenticate(text, bundle_for(case["event_id"], {case["key_id"]}, public_key))
        assert (token.key_id, token.type, token.issued_at) == (case["key_id"], case["type"], case["issued_at"])
        minute = case["issued_at"] - case["issued_at"] % 60  # no window opens before it
        assert (
            token.valid_from == minute
            if case.get("valid_from") is None
            else token.valid_from <= max(minute, case["valid_from"])
        )
        assert token.valid_until is None or token.valid_until >= case["valid_until"]
    fresh_ids = [tokens.decode(text).token.id for text in result["fresh"]]
    assert len(set(fresh_ids)) == len(fresh_ids)
    assert [ok and length for ok, length, _ in result["ids"]] == [10, 10] and result["ids"][0] != result["ids"][1]
    # The batch covers what it claims to: every type, both flags, windows of every kind.
    decoded = [tokens.decode(text).token for text in expected]
    assert {t.type for t in decoded} == set(tokens.TokenType) and {t.rotating for t in decoded} == {True, False}
    assert any(t.valid_until is None for t in decoded) and any(t.valid_until is not None for t in decoded)
    assert any(c["issued_at"] % 60 for c in cases)
    assert any(c["valid_from"] is not None and c["valid_from"] % 60 for c in cases)
    assert any(c["valid_until"] is not None and c["valid_until"] % 60 for c in cases)


def refused_cases() -> list[dict[str, Any]]:
    base = dict(
        key_id=2, event_id=build.EVENT_ID, type=tokens.TokenType.PASS, issued_at=NOW + 17, token_id=bytes(range(10))
    )
    minute = NOW  # NOW is a whole minute, so issued_at NOW + 17 is counted from it
    far = minute + 60 * tokens.MAX_OFFSET_MINUTES
    changes: list[dict[str, Any]] = [
        {},
        {"token_id": bytes(9)},
        {"token_id": bytes(11)},
        {"token_id": b""},
        {"key_id": 0},
        {"key_id": -1},
        {"key_id": 65536},
        {"key_id": 65535},
        {"key_id": 1},
        {"key_id": "2"},
        {"key_id": None},
        {"issued_at": 0},
        {"issued_at": -60},
        {"issued_at": 2**32},
        {"issued_at": 2**32 - 1},
        {"issued_at": 1},
        {"issued_at": None},
        {"campaign": 256},
        {"campaign": -1},
        {"campaign": 255},
        {"max_uses": 256},
        {"max_uses": -1},
        {"max_uses": 255},
        {"campaign": "1"},
        {"valid_until": minute},
        {"valid_until": minute + 1},
        {"valid_until": NOW - 3600},
        {"valid_from": minute + 90, "valid_until": minute + 120},
        {"valid_from": minute + 90, "valid_until": minute + 121},
        {"valid_from": minute + 120, "valid_until": minute + 120},
        {"valid_from": minute + 130, "valid_until": minute + 125},
        {"valid_from": NOW - 86400, "valid_until": minute - 1},
        {"valid_from": -(2**40), "valid_until": minute + 1},
        {"valid_from": far},
        {"valid_from": far + 60},
        {"valid_from": far + 59},
        {"valid_until": far},
        {"valid_until": far + 1},
        {"valid_until": 2**40},
        {"valid_from": far + 60, "valid_until": far + 120},
        {"event_id": ""},
        {"event_id": "x" * 256},
        {"event_id": "é" * 128},
        {"event_id": "é" * 127 + "x"},
        {"event_id": "\ud800"},
        {"event_id": 5},
        {"event_id": None},
    ]
    return [{**base, **change} for change in changes]


def test_argument_errors_are_those_of_python(run: Run) -> None:
    cases = refused_cases()
    # Where Python has no clean refusal (it packs type 3 into a token nobody accepts, or fails
    # inside struct.pack), the browser refuses with the category its header comment promises.
    base = to_js(cases[0])
    stricter = [
        ({**base, "type": 3}, "RangeError"),
        ({**base, "type": 0}, "RangeError"),
        ({**base, "type": "VOUCHER"}, "RangeError"),
        ({**base, "type": "__proto__"}, "RangeError"),
        ({**base, "type": None}, "TypeError"),
        ({**base, "keyId": 1.5}, "TypeError"),
        ({**base, "issuedAt": NOW + 0.5}, "TypeError"),
        ({**base, "validUntil": NOW + 600.5}, "TypeError"),
        ({**base, "rotating": 1}, "TypeError"),
        ({**base, "tokenId": "AAAAAAAAAAAAAAAA"}, "TypeError"),
    ]
    result = run(
        """
        const publicKey = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])).publicKey;
        return {
          same: await Promise.all(arg.cases.map((c) => outcome(() => m.mintToken(args(c))))),
          stricter: await Promise.all(arg.stricter.map((c) => outcome(() => m.mintToken(args(c))))),
          keys: await Promise.all([publicKey, null, 'key'].map((key) => outcome(() => m.mintToken({ ...args(arg.cases[0]), privateKey: key })))),
          nothing: await outcome(() => m.mintToken()),
        };
        """,
        {"cases": [to_js(c) for c in cases], "stricter": [c for c, _ in stricter]},
    )
    expected = [python_outcome(c) for c in cases]
    shapes = [{k: v for k, v in r.items() if k in e} for e, r in zip(expected, result["same"], strict=True)]
    assert [(c, e, s) for c, e, s in zip(cases, expected, shapes, strict=True) if e != s] == []
    assert {e["error"] for e in expected if not e["ok"]} == {"RangeError", "TypeError"}
    assert sum(e["ok"] for e in expected) >= 10
    assert [r.get("error", r) for r in result["stricter"]] == [category for _, category in stricter]
    assert tokens.decode(tokens.issue(signing_key=KEY, **{**cases[0], "type": 2})).token.type is tokens.TokenType.PASS
    with pytest.raises(tokens.TokenError, match="unknown token type"):  # why the browser refuses type 3
        tokens.decode(tokens.issue(signing_key=KEY, **{**cases[0], "type": 3}))
    assert [r.get("error", r) for r in result["keys"]] == ["TypeError"] * 3
    assert result["nothing"]["error"] == "TypeError"


def test_a_non_extractable_key_signs_what_both_verifiers_accept(run: Run, page: Page) -> None:
    root = private_key_from_bytes(hashlib.sha256(b"poppass mint.js root").digest())
    enrolled: list[bytes] = []

    def enroll(public_key: str) -> dict[str, str]:
        """The server's half of enrollment: list the tablet's key in a root-signed bundle."""
        raw = from_b64url(public_key)
        assert is_acceptable_public_key(raw)
        enrolled.append(raw)
        return sign_bundle(bundle_for(build.EVENT_ID, {7}, raw), root).to_json()

    page.expose_function("enroll", enroll)
    result = run(
        """
        const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
        const exported = await crypto.subtle.exportKey('pkcs8', pair.privateKey).then(() => 'exported', (e) => e.name);
        const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
        const bundle = await t.verifyBundle(await window.enroll(t.base64UrlEncode(publicKey)), arg.root, { eventId: arg.eventId });
        const texts = await Promise.all([['voucher', true, 3], ['pass', false, 0]].map(([type, rotating, maxUses]) => m.mintToken({
          privateKey: pair.privateKey, keyId: 7, eventId: arg.eventId, type, rotating, maxUses, campaign: 2,
          issuedAt: arg.now + 25, validFrom: arg.now, validUntil: arg.now + 7200,
        })));
        const verified = await Promise.all(texts.map(async (text) => {
          const token = await t.verify(text, bundle, { now: arg.now + 600 });
          return { ...token, token_id: t.base32Encode(token.token_id) };
        }));
        return { extractable: pair.privateKey.extractable, exported, texts, verified };
        """,
        {"root": b64url(public_key_bytes(root)), "eventId": build.EVENT_ID, "now": NOW},
    )
    assert result["extractable"] is False and result["exported"] == "InvalidAccessError"
    assert len(enrolled) == 1
    bundle = bundle_for(build.EVENT_ID, {7}, enrolled[0])
    terms = [("voucher", True, 3), ("pass", False, 0)]
    for text, seen, (kind, rotating, max_uses) in zip(result["texts"], result["verified"], terms, strict=True):
        token = tokens.verify(text, bundle, now=NOW + 600)
        assert (token.type.name.lower(), token.rotating, token.max_uses) == (kind, rotating, max_uses)
        assert (token.campaign, token.key_id) == (2, 7)
        assert seen == {**build.described(text), "token_id": token.id}
        with pytest.raises(tokens.TokenError, match="signature"):  # the key is the tablet's, not the test's
            tokens.authenticate(text, bundle_for(build.EVENT_ID, {7}, public_key_bytes(KEY)))

"""web/static/js/token.js in real Chromium, on a page of the real server under its CSP.

Every shared vector in tests/vectors/tokens.json, then differential batches (mutated tokens, odd
but root-signed bundles, rotating codes around step edges) where Python's answer is the
expected one, and bad input that must only ever be refused with a typed error.
Each test is one page.evaluate over a whole batch, so the file runs in seconds.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from e2e.js_runner import Run, runner
from events import rotating, tokens
from events.keys import b64url, from_b64url
from events.trust import BundleError, bundle_message, verify_bundle
from tests.vectors import build

VECTORS = json.loads(build.PATH.read_text(encoding="utf-8"))
ROOT_PUBLIC_KEY = from_b64url(VECTORS["root_public_key"])
BUNDLE = verify_bundle(VECTORS["bundle"], ROOT_PUBLIC_KEY, event_id=VECTORS["event_id"])
NOW = build.NOW
VALID = VECTORS["tokens"][0]["text"]
# Ed25519 group order: a signature whose S has L added is the same point, and must still fail.
ED25519_L = 2**252 + 27742317777372353535851937790883648493

# Runs before every batch: imports the module the way the app does, and turns each call into a
# plain value — its result or the reason of a typed error. Anything else is reported as
# `unexpected`, which no test accepts.
PRELUDE = """
const t = await import('/static/js/token.js');
const outcome = async (call) => {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    if (error instanceof t.TokenError || error instanceof t.BundleError || error instanceof t.CodeError) {
      return { ok: false, reason: error.reason, error: error.name };
    }
    return { ok: false, unexpected: `${error?.name}: ${error?.message}` };
  }
};
const plain = (token) => ({ ...token, token_id: t.base32Encode(token.token_id) });
const bundleOf = () => t.verifyBundle(arg.vectors.bundle, arg.vectors.root_public_key, { eventId: arg.vectors.event_id });
"""


@pytest.fixture
def run(page: Page, live_server) -> Run:
    """Evaluate a batch (JS function body, `arg` in scope) on the home page of the live server."""
    return runner(page, live_server.url, PRELUDE, {"vectors": VECTORS})


def python_token(text: object, bundle, now: float) -> dict:
    """What Python says of a token, shaped like the browser's outcome."""
    try:
        tokens.verify(text, bundle, now=now)
    except tokens.TokenError as error:
        return {"ok": False, "reason": str(error.reason), "error": "TokenError"}
    described = build.described(text)
    return {"ok": True, "value": {**described, "token_id": described["id"]}}


# --- The shared vectors ----------------------------------------------------------------------


def test_every_token_vector(run: Run) -> None:
    results = run(
        """
        const bundle = await bundleOf();
        return Promise.all(arg.vectors.tokens.map(async (v) => ({
          verify: await outcome(async () => plain(await t.verify(v.text, bundle, { now: v.now }))),
          decode: await outcome(() => plain(t.decode(v.text).token)),
        })));
        """,
        {},
    )
    for vector, result in zip(VECTORS["tokens"], results, strict=True):
        if vector["ok"]:
            expected = {"ok": True, "value": {**vector["token"], "token_id": vector["token"]["id"]}}
            assert result == {"verify": expected, "decode": expected}, vector["name"]
        else:
            assert result["verify"] == {"ok": False, "reason": vector["reason"], "error": "TokenError"}, vector["name"]
            decode_fails = vector["reason"] in {"malformed", "unsupported_version"}
            assert result["decode"]["ok"] is not decode_fails, vector["name"]


def test_every_scan_vector(run: Run) -> None:
    results = run("return Promise.all(arg.vectors.scans.map((v) => outcome(() => t.parseScan(v.input))));", {})
    assert results == [{"ok": True, "value": {"text": v["text"], "code": v["code"]}} for v in VECTORS["scans"]]


def test_every_bundle_vector(run: Run) -> None:
    results = run(
        """
        return Promise.all(arg.vectors.bundles.map((v) => outcome(async () => {
          const bundle = await t.verifyBundle(v.bundle, arg.vectors.root_public_key, { eventId: v.event_id, minSeq: v.min_seq });
          return { seq: bundle.seq, event_id: bundle.event_id, kids: [...bundle.keys.keys()], policy: bundle.policy };
        })));
        """,
        {},
    )
    for vector, result in zip(VECTORS["bundles"], results, strict=True):
        if vector["ok"]:
            expected = {
                "seq": vector["seq"],
                "event_id": vector["event_id"],
                "kids": sorted(BUNDLE.keys),
                "policy": BUNDLE.policy.to_json(),
            }
            assert result == {"ok": True, "value": expected}, vector["name"]
        else:
            assert result == {"ok": False, "reason": vector["reason"], "error": "BundleError"}, vector["name"]


def test_rotating_code_vectors(run: Run) -> None:
    spec = VECTORS["rotating"]
    result = run(
        """
        const spec = arg.vectors.rotating;
        const token = t.decode(arg.vectors.tokens[0].text).token;
        return {
          token_id: token.id,
          secret: await t.voucherSecret(t.base64UrlDecode(spec.rotation_key), token.token_id),
          codes: await Promise.all(spec.codes.map((c) => t.totp(spec.secret, c.time, { digits: spec.digits, step: spec.step_seconds }))),
          checks: await Promise.all(spec.checks.map((c) => outcome(() => t.checkCode(spec.secret, c.code, { now: c.now, lastStep: c.last_step })))),
        };
        """,
        {},
    )
    assert result["token_id"] == spec["token_id"]
    assert result["secret"] == spec["secret"]
    assert result["codes"] == [c["code"] for c in spec["codes"]]
    for check, outcome in zip(spec["checks"], result["checks"], strict=True):
        if check["ok"]:
            assert outcome == {"ok": True, "value": {"step": check["step"]}}, check["name"]
        else:
            assert outcome == {"ok": False, "reason": check["reason"], "error": "CodeError"}, check["name"]


def test_rotation_epoch_vectors(run: Run) -> None:
    spec = VECTORS["rotation_epochs"]
    result = run(
        """
        const spec = arg.vectors.rotation_epochs;
        const token = t.decode(arg.vectors.tokens[0].text).token;
        const keys = { current: t.base64UrlDecode(spec.rotation_key), retired: spec.retired.map(t.base64UrlDecode) };
        return Promise.all(spec.checks.map((c) =>
          outcome(() => t.checkVoucherCode(keys, token.token_id, c.code, { now: c.now, lastStep: c.last_step }))));
        """,
        {},
    )
    for check, outcome in zip(spec["checks"], result, strict=True):
        if check["ok"]:
            assert outcome == {"ok": True, "value": {"step": check["step"]}}, check["name"]
        else:
            assert outcome == {"ok": False, "reason": check["reason"], "error": "CodeError"}, check["name"]


def test_phone_search_vectors(run: Run) -> None:
    spec = VECTORS["phone_search"]
    result = run(
        """
        const ledger = await import('/static/js/ledger.js');
        const spec = arg.vectors.phone_search;
        return Promise.all(spec.cases.map(async (c) => ({ hash: await ledger.phoneSearchHash(spec.key, c.phone), last4: ledger.lastDigits(c.phone) })));
        """,
        {},
    )
    assert result == [{"hash": c["hash"], "last4": c["last4"]} for c in spec["cases"]]


def test_rfc6238_vectors(run: Run) -> None:
    codes = run(
        "return Promise.all(arg.vectors.rfc6238.map((v) => t.totp(v.secret, v.time, { digits: v.digits, step: v.step_seconds })));",
        {},
    )
    assert codes == [v["code"] for v in VECTORS["rfc6238"]]


# --- Bad input: refused with a typed error, never anything else --------------------------------


def garbage(rng: random.Random) -> list[str]:
    """Strings that are not tokens: random text of every kind, and near-misses of the shape."""
    alphabets = [
        "".join(map(chr, range(32, 127))),
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abc01=-/:\n\r\x85\u2028 ",
        "".join(map(chr, range(0xA0, 0x2000))) + "😀𝔸",
    ]
    strings = []
    for _ in range(150):
        alphabet = rng.choice(alphabets)
        text = "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 146, 148, 150, 600, 1024, 1025, 3000])))
        strings.append(rng.choice(["", "PP", "HTTPS://X/V/"]) + text + rng.choice(["", "-123456", "-12345"]))
    return strings


def test_bad_input_is_refused_as_malformed_and_nothing_else(run: Run) -> None:
    # Python's `.` only stops at "\n", JavaScript's also at "\r", U+2028 and U+2029.
    line_breaks = [f"{VALID[:9]}{c}{VALID[9:]}-123456" for c in "\n\r\x85\u2028\u2029"]
    strings = (
        garbage(random.Random(6238))
        + line_breaks
        + ["PP" + "A" * 1_000_000, VALID + "x" * 1_000_000, "😀" * 600, "😀" * 1000]
    )
    result = run(
        """
        const bundle = await bundleOf();
        const valid = arg.vectors.tokens[0].text;
        const nonStrings = [null, undefined, 0, 1.5, NaN, true, {}, [], [valid], new String(valid), Symbol('PP'), 10n,
                            () => valid, new Uint8Array(91), { toString: () => valid }];
        const odd = ['\\uD800', valid.slice(0, 100) + '\\uDC00' + valid.slice(101), 'PP' + '\\uD83D'.repeat(1100)];
        const inputs = [...arg.strings, ...odd, ...nonStrings];
        // Only shapes come back: a lone surrogate does not survive the trip to Python.
        const oneOf = async (input) => [
          await outcome(() => { t.parseScan(input); return 'scanned'; }),
          await outcome(() => { t.decode(input); return 'decoded'; }),
          await outcome(async () => { await t.verify(input, bundle, { now: 1767261600 }); return 'verified'; }),
        ];
        const tokens = await Promise.all(inputs.map(oneOf));
        const scans = await Promise.all(arg.strings.map((input) => outcome(() => t.parseScan(input).text)));
        const goodBundle = arg.vectors.bundle;
        const badBundles = [...nonStrings, 'payload', { payload: goodBundle.payload }, { signature: goodBundle.signature },
          ...nonStrings.map((x) => ({ payload: x, signature: goodBundle.signature })),
          ...nonStrings.map((x) => ({ payload: goodBundle.payload, signature: x })),
          Object.create(goodBundle), { ...goodBundle, signature: goodBundle.signature + '=' },
          { ...goodBundle, signature: goodBundle.signature.slice(0, -1) + '+' },
          { ...goodBundle, signature: goodBundle.signature.slice(0, -1) + '\\u0141' },
          { payload: 'x'.repeat(1_000_001), signature: goodBundle.signature }];
        const bundles = await Promise.all(badBundles.map((b) => outcome(
          () => t.verifyBundle(b, arg.vectors.root_public_key, { eventId: arg.vectors.event_id }))));
        const codes = await Promise.all([...nonStrings, '', '12345', '1234567', '123456\\n', '１２３４５６', '12 456', 'x'.repeat(1_000_000)]
          .map((code) => outcome(() => t.checkCode(arg.vectors.rotating.secret, code, { now: 1767261600 }))));
        // A verifier without a clock is a programming error, never a silent acceptance.
        const noClock = await outcome(() => t.verify(valid, bundle, {}));
        const notABundle = await outcome(() => t.verify(valid, { keys: {} }, { now: 1767261600 }));
        return { tokens, scans, bundles, codes, noClock, notABundle };
        """,
        {"strings": strings},
    )
    malformed = {"ok": False, "reason": "malformed", "error": "TokenError"}
    for index, (scan, decoded, verified) in enumerate(result["tokens"]):
        label = repr(strings[index][:40]) if index < len(strings) else f"odd input #{index - len(strings)}"
        assert decoded == verified == malformed, label
        assert scan in (malformed, {"ok": True, "value": "scanned"}), label
    assert result["scans"] == [python_scan(s) for s in strings]
    assert all(r == {"ok": False, "reason": "malformed", "error": "BundleError"} for r in result["bundles"]), result[
        "bundles"
    ]
    assert all(r == {"ok": False, "reason": "malformed_code", "error": "CodeError"} for r in result["codes"]), result[
        "codes"
    ]
    assert result["noClock"] == {"ok": False, "unexpected": "TypeError: now must be a number"}
    assert result["notABundle"] == {"ok": False, "reason": "malformed", "error": "BundleError"}


def python_scan(raw: str) -> dict:
    try:
        return {"ok": True, "value": tokens.parse_scan(raw).text}
    except tokens.TokenError as error:
        return {"ok": False, "reason": str(error.reason), "error": "TokenError"}


# --- Differential: where the vectors stop, Python's answer is the expected one -----------------


def mutated_tokens(rng: random.Random) -> list[tuple[str, int]]:
    valid = bytes(build.raw(VALID))
    signers = [
        (build.SERVER, 1),
        (build.TABLET, 2),
        (build.REVOKED_TABLET, 3),
        (build.STRANGER, 9),
        (build.SERVER, 0),
        (build.TABLET, 1),
    ]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    cases: list[tuple[str, int]] = []
    for _ in range(400):
        data = bytearray(valid)
        kind = rng.randrange(6)
        if kind == 0:  # a flipped bit, not re-signed
            bit = rng.randrange(len(data) * 8)
            data[bit // 8] ^= 1 << (bit % 8)
            text = build.text_of(data)
        elif kind in (1, 2):  # a changed body, re-signed: every field check and the clock
            data[0] = rng.choice([0x11, 0x12, 0x15, 0x16, rng.randrange(256)])
            signer, key_id = rng.choice(signers)
            data[1:3] = key_id.to_bytes(2, "big")
            data[3:5] = rng.choice(
                [tokens.event_tag(build.EVENT_ID)] * 3 + [tokens.event_tag(build.OTHER_EVENT_ID), rng.randbytes(2)]
            )
            data[5:15] = rng.randbytes(10)
            data[15:21] = rng.randbytes(6) if rng.random() < 0.5 else data[15:21]
            start = rng.choice([0, 60, 120, 2**24 - 2, rng.randrange(2**24)])
            end = rng.choice([0xFFFFFF, start, start + 1, start + rng.randrange(1, 600), rng.randrange(2**24)])
            data[21:27] = start.to_bytes(3, "big") + min(end, 0xFFFFFF).to_bytes(3, "big")
            text = build.resigned(data, signer, rng.choice([build.EVENT_ID] * 4 + [build.OTHER_EVENT_ID]))
        elif kind == 3:  # one character changed, dropped or added
            text, at = VALID, rng.randrange(2, len(VALID))
            text = rng.choice(
                [
                    text[:at] + rng.choice(alphabet + "a1=") + text[at + 1 :],
                    text[:at] + text[at + 1 :],
                    text[:at] + "A" + text[at:],
                ]
            )
        elif kind == 4:  # another spelling of the last character
            text = VALID[:-1] + rng.choice(alphabet)
        else:  # the same signature with S + L
            s = int.from_bytes(data[-32:], "little") + ED25519_L
            data[-32:] = s.to_bytes(32, "little")
            text = build.text_of(data)
        now = rng.choice(
            [
                NOW,
                NOW - 4 * 3600,
                NOW + 3 * 3600 + rng.randrange(-120, 120),
                NOW + rng.randrange(-6000, 36000),
                rng.randrange(2**32),
            ]
        )
        try:
            token = tokens.decode(text).token
        except tokens.TokenError:
            pass
        else:  # the edges of the window, where the tolerance decides
            edges = [token.valid_from - 61, token.valid_from - 60]
            if token.valid_until is not None:
                edges += [token.valid_until + 59, token.valid_until + 60]
            now = rng.choice([now, *edges])
        cases.append((text, now))
    return cases


def test_python_and_browser_agree_on_mutated_tokens(run: Run) -> None:
    cases = mutated_tokens(random.Random(25519))
    results = run(
        """
        const bundle = await bundleOf();
        return Promise.all(arg.cases.map(([text, now]) => outcome(async () => plain(await t.verify(text, bundle, { now })))));
        """,
        {"cases": cases},
    )
    expected = [python_token(text, BUNDLE, now) for text, now in cases]
    mismatches = [(text, now, e, r) for (text, now), e, r in zip(cases, expected, results, strict=True) if e != r]
    assert mismatches == []
    reasons = {e.get("reason", "ok") for e in expected}
    assert reasons == {"ok", *(str(r) for r in tokens.Reason)}


def signed_payload(payload: str) -> dict:
    return {"payload": payload, "signature": b64url(build.ROOT.sign(bundle_message(payload)))}


def odd_bundles() -> list[tuple[str, dict, str, int]]:
    """Root-signed payloads that bend every type trust._parse_payload reads: (name, signed, event id, min seq)."""
    good = json.loads(VECTORS["bundle"]["payload"])
    identity_key = b64url(bytes([1]) + bytes(31))  # a small-order point: both sides refuse it
    cases: list[tuple[str, dict, str, int]] = []

    def edit(name: str, change: Callable[[dict], None], event_id: str = build.EVENT_ID, min_seq: int = 0) -> None:
        body = copy.deepcopy(good)
        change(body)
        cases.append((name, signed_payload(json.dumps(body, ensure_ascii=False)), event_id, min_seq))

    def setter(*path: str | int, value: object = None, delete: bool = False) -> Callable[[dict], None]:
        def change(body: dict) -> None:
            holder = body
            for step in path[:-1]:
                holder = holder[step]
            if delete:
                del holder[path[-1]]
            else:
                holder[path[-1]] = value

        return change

    for value in [True, 1.0, "1", 2, None]:
        edit(f"format {value!r}", setter("format", value=value))
    for value in ["", {}, [], "ab", {"a": 1}, 5, None, [1], [[]], ["x"]]:
        edit(f"keys {value!r}", setter("keys", value=value))
    for value in [0, 65535, 65536, 1.0, "1", True, 2**60, None]:
        edit(f"kid {value!r}", setter("keys", 0, "kid", value=value))
    key = good["keys"][0]["public_key"]
    for value in [
        b64url(bytes(31)),
        b64url(bytes(33)),
        key + "=",
        key[:-1] + "d",
        "Ł" + key[1:],
        5,
        None,
        "",
        identity_key,
    ]:
        edit(f"public key {value!r}", setter("keys", 0, "public_key", value=value))
    for value in ["ACTIVE", "revoked", 1, None]:
        edit(f"status {value!r}", setter("keys", 0, "status", value=value))
    allowlisted = good["keys"][2]["allowlist"][0]
    for value in [
        "ABC",
        {allowlisted: 1},
        allowlisted,
        [1, True, None, 1.5, [1], {}],
        5,
        None,
        [2222222222222222],
        [2222222222222222.0],
        ["2222222222222222"],  # a token id, spelled three ways
    ]:
        edit(f"allowlist {value!r}", setter("keys", 2, "allowlist", value=value))
    for value in [5, [1, 2.5], {"a": None}]:
        edit(f"device id {value!r}", setter("keys", 0, "device_id", value=value))
    for value in [1.5, "1", None, True, 1000.0, -(2**70)]:
        edit(f"valid from {value!r}", setter("keys", 0, "valid_from", value=value))
    for value in [None, 1.5, "x"]:
        edit(f"revoked at {value!r}", setter("keys", 2, "revoked_at", value=value))
    for field in ["kid", "public_key", "device_id", "status", "valid_from", "revoked_at", "allowlist"]:
        edit(f"key without {field}", setter("keys", 1, field, delete=True))
    edit("a duplicate kid: the last wins", lambda b: b["keys"].append({**b["keys"][0], "kid": 2}))
    edit("a small-order key", lambda b: b["keys"].append({**b["keys"][0], "kid": 4, "public_key": identity_key}))
    for value in [
        {},
        {"validity_tolerance_s": 1.0},
        {"validity_tolerance_s": 0},
        {"validity_tolerance_s": 7200},
        {"unknown": 1},
        {"__proto__": 1},
        [],
        "x",
        None,
    ]:
        edit(f"policy {value!r}", setter("policy", value=value))
    for value, event_id in [
        ("evsomewhereelse", build.EVENT_ID),
        (123, "123"),
        (True, "True"),
        (None, "None"),
        (1.5, build.EVENT_ID),
        ([], build.EVENT_ID),
        ("", ""),
        ("é" * 200, "é" * 200),
        (123456789012345678901, "123456789012345678901"),
    ]:
        edit(f"event id {value!r}", setter("event_id", value=value), event_id)
    for value, min_seq in [(3.0, 0), ("3", 0), (-1, 0), (-1, -1), (2**70, 5), (-(2**70), 0), (True, 0)]:
        edit(f"seq {value!r} against {min_seq}", setter("seq", value=value), min_seq=min_seq)
    edit("issued at 1.5", setter("issued_at", value=1.5))
    for field in ["format", "keys", "policy", "event_id", "seq", "issued_at"]:
        edit(f"no {field}", setter(field, delete=True))
    edit("extra fields", setter("extra", value=[1, {"a": 2.5}, None]))
    payload = VECTORS["bundle"]["payload"]
    for name, text in [
        ("empty", ""),
        ("not JSON", "{"),
        ("a list", "[]"),
        ("null", "null"),
        ("a number", "1"),
        ("leading white space", " \n" + payload),
        ("a byte-order mark", "\ufeff" + payload),
        ("a duplicate seq: the last wins", payload.replace('"seq":3', '"seq":1,"seq":3')),
        ("-0 as seq", payload.replace('"seq":3', '"seq":-0')),
        ("1E0 as format", payload.replace('"format":1', '"format":1E0')),
        ("an integer of 4,300 digits", payload[:-1] + ',"x":' + "9" * 4300 + "}"),
        ("an integer of 4,301 digits", payload[:-1] + ',"x":-' + "9" * 4301 + "}"),
        ("a float of 5,000 digits", payload[:-1] + ',"x":' + "9" * 5000 + ".5}"),
    ]:
        cases.append((f"payload: {name}", signed_payload(text), build.EVENT_ID, 0))
    minus_zero = payload.replace(f'"event_id":"{build.EVENT_ID}"', '"event_id":-0')
    cases.append(("payload: -0 as event id", signed_payload(minus_zero), "0", 0))
    return cases


def tokens_for_odd_bundles() -> list[tuple[str, int]]:
    def body(key_id: int, token_id: bytes, tag: bytes, until: int = 0xFFFFFF) -> bytes:
        raw_body = bytearray(build.raw(VALID)[: tokens.BODY_LEN])
        raw_body[1:3], raw_body[3:5], raw_body[5:15] = key_id.to_bytes(2, "big"), tag, token_id
        raw_body[24:27] = until.to_bytes(3, "big")
        return bytes(raw_body)

    def signed(raw_body: bytes, signer, event_id: str) -> str:
        return build.text_of(raw_body + signer.sign(tokens.signing_message(event_id, raw_body)))

    twos = base64.b32decode("2" * 16)
    small_order_signature = bytes([1]) + bytes(63)  # R = identity, S = 0: "valid" for any message
    texts = [v["text"] for v in VECTORS["tokens"][:3]] + [
        build.issue(10, signer=build.REVOKED_TABLET, key_id=3),
        signed(body(3, twos, tokens.event_tag(build.EVENT_ID)), build.REVOKED_TABLET, build.EVENT_ID),
        build.text_of(body(4, bytes(10), tokens.event_tag(build.EVENT_ID)) + small_order_signature),
        signed(body(1, bytes(10), tokens.event_tag("123")), build.SERVER, "123"),
        signed(body(1, bytes(10), tokens.event_tag("123456789012345678901")), build.SERVER, "123456789012345678901"),
        # Tags of event ids no token can be signed for: Python's signing_message raises ValueError.
        build.text_of(body(1, bytes(10), tokens.event_tag("")) + bytes(64)),
        build.text_of(body(1, bytes(10), tokens.event_tag("é" * 200)) + bytes(64)),
    ]
    return [(text, now) for text in texts for now in (NOW, NOW + 3 * 3600 + 30, NOW + 5 * 3600)]


def python_bundle(case: tuple[str, dict, str, int], token_cases: list[tuple[str, int]]) -> dict:
    _, signed, event_id, min_seq = case
    try:
        bundle = verify_bundle(signed, ROOT_PUBLIC_KEY, event_id=event_id, min_seq=min_seq)
    except BundleError as error:
        return {"ok": False, "reason": error.reason, "error": "BundleError"}
    except Exception as error:  # a crash is a bug in trust.py, never an answer
        raise AssertionError(f"{case[0]}: verify_bundle raised {error!r}") from error
    keys = [
        {
            "kid": k.key_id,
            "public_key": b64url(k.public_key),
            "device_id": k.device_id,
            "status": str(k.status),
            "valid_from": k.valid_from,
            "revoked_at": k.revoked_at,
            "allowlist": sorted(k.allowlist),
        }
        for k in sorted(bundle.keys.values(), key=lambda k: k.key_id)
    ]
    results = [python_token(text, bundle, now) for text, now in token_cases]
    summary = {
        "event_id": bundle.event_id,
        "seq": bundle.seq,
        "issued_at": bundle.issued_at,
        "policy": bundle.policy.to_json(),
        "keys": keys,
    }
    return {"ok": True, "value": summary, "tokens": results}


def test_python_and_browser_agree_on_odd_bundles(run: Run) -> None:
    cases = odd_bundles()
    token_cases = tokens_for_odd_bundles()
    results = run(
        """
        const summary = (b) => ({
          event_id: b.event_id, seq: b.seq, issued_at: b.issued_at, policy: { ...b.policy },
          keys: [...b.keys.values()].sort((x, y) => x.key_id - y.key_id).map((k) => ({
            kid: k.key_id, public_key: t.base64UrlEncode(k.public_key), device_id: k.device_id, status: k.status,
            valid_from: k.valid_from, revoked_at: k.revoked_at, allowlist: [...k.allowlist].sort(),
          })),
        });
        return Promise.all(arg.cases.map(async ([name, signed, eventId, minSeq]) => {
          let bundle = null;
          const result = await outcome(async () => summary(bundle = await t.verifyBundle(signed, arg.vectors.root_public_key, { eventId, minSeq })));
          if (bundle !== null) {
            result.tokens = await Promise.all(arg.tokens.map(([text, now]) => outcome(async () => plain(await t.verify(text, bundle, { now })))));
          }
          return result;
        }));
        """,
        {"cases": cases, "tokens": token_cases},
    )
    mismatches = []
    for case, result in zip(cases, results, strict=True):
        expected = python_bundle(case, token_cases)
        if result != expected:
            mismatches.append((case[0], expected, result))
    assert mismatches == []
    outcomes = [r.get("reason", "ok") for r in results]
    assert {"ok", "malformed", "wrong_event", "stale"} <= set(outcomes)


def test_python_and_browser_agree_on_rotating_codes(run: Run) -> None:
    secret = VECTORS["rotating"]["secret"]
    rng = random.Random(6238)
    cases = []
    for now in [*range(NOW - 31, NOW + 31, 4), 0, 7, 14, 15, 16]:
        step = rotating.step_at(now)
        codes = [rotating.code_at(secret, s * 15) for s in range(max(step - 2, 0), step + 3)] + [
            f"{rng.randrange(10**6):06d}"
        ]
        for code in codes:
            for last_step in [None, step - 1, step, step + 1]:
                cases.append((code, now, last_step))

    def python(code: str, now: int, last_step: int | None) -> dict:
        try:
            return {"ok": True, "value": {"step": rotating.check_code(secret, code, now=now, last_step=last_step).step}}
        except rotating.CodeError as error:
            return {"ok": False, "reason": error.reason, "error": "CodeError"}
        except ValueError:  # pyotp refuses times before the epoch: step -1 when now < 15
            return {
                "ok": False,
                "unexpected": "RangeError: time must be at or after the Unix epoch and before year 10000 UTC",
            }

    results = run(
        """
        const secret = arg.vectors.rotating.secret;
        return Promise.all(arg.cases.map(([code, now, lastStep]) => outcome(() => t.checkCode(secret, code, { now, lastStep }))));
        """,
        {"cases": cases},
    )
    expected = [python(*case) for case in cases]
    assert [(c, e, r) for c, e, r in zip(cases, expected, results, strict=True) if e != r] == []


# Every encoding of a small-order Ed25519 point (the 8 torsion points, both sign bits, and the
# non-canonical y + p where it fits): what libsodium's blocklist lists.
SMALL_ORDER = [
    bytes.fromhex(h)
    for h in (
        "00" * 32,
        "00" * 31 + "80",
        "01" + "00" * 31,
        "01" + "00" * 30 + "80",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "ec" + "ff" * 30 + "7f",
        "ec" + "ff" * 31,
        "ed" + "ff" * 30 + "7f",
        "ed" + "ff" * 31,
        "ee" + "ff" * 30 + "7f",
        "ee" + "ff" * 31,
    )
]


def test_python_and_browser_vet_public_keys_alike(run: Run) -> None:
    from events.keys import generate_private_key, is_acceptable_public_key, public_key_bytes

    rng = random.Random(6)
    candidates = SMALL_ORDER + [public_key_bytes(generate_private_key()) for _ in range(40)]
    candidates += [rng.randbytes(32) for _ in range(60)] + [bytes(31), bytes(33)]
    assert not any(is_acceptable_public_key(key) for key in SMALL_ORDER)
    expected = [is_acceptable_public_key(key) for key in candidates]
    assert 40 <= sum(expected) < len(candidates) - len(SMALL_ORDER)  # random bytes are points half the time
    results = run(
        "return arg.keys.map((k) => t.isAcceptablePublicKey(t.base64UrlDecode(k)));",
        {"keys": [b64url(key) for key in candidates]},
    )
    assert results == expected

"""Build tests/vectors/tokens.json, manual.json and hlc.json: the examples Python and the browser must both pass.

Run `python -m tests.vectors.build` after a deliberate format change; test_vectors.py fails
while the committed file differs from what this builds. Everything here is deterministic:
Ed25519 signatures are, and keys come from fixed seeds.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from events import hlc, manual_entry, phone_search, rotating, tokens
from events.keys import KeyRecord, KeyStatus, b64url, private_key_from_bytes, public_key_bytes
from events.trust import TrustBundle, bundle_message, sign_bundle

PATH = Path(__file__).with_name("tokens.json")
MANUAL_PATH = Path(__file__).with_name("manual.json")
HLC_PATH = Path(__file__).with_name("hlc.json")
WORDS_PATH = Path(__file__).with_name("words.json")
EVENT_ID = "evvectors0000001"
OTHER_EVENT_ID = "evvectors0000002"
NOW = 1767261600  # 2026-01-01 10:00:00 UTC
HOUR = 3600


def key(label: str):
    return private_key_from_bytes(hashlib.sha256(f"poppass vectors {label}".encode()).digest())


ROOT, FOREIGN_ROOT = key("root"), key("foreign root")
SERVER, TABLET, REVOKED_TABLET, STRANGER = key("server"), key("tablet"), key("revoked tablet"), key("stranger")
ALLOWLISTED_ID = bytes(range(10))


def bundle(event_id: str = EVENT_ID, seq: int = 3) -> TrustBundle:
    allowlisted = tokens.Token(tokens.TokenType.VOUCHER, 3, ALLOWLISTED_ID, 0, 0, 0, 0, None, False).id
    return TrustBundle(
        event_id=event_id,
        seq=seq,
        issued_at=NOW,
        keys={
            1: KeyRecord(1, public_key_bytes(SERVER), None, KeyStatus.ACTIVE, NOW - 10 * HOUR),
            2: KeyRecord(2, public_key_bytes(TABLET), "dvtablet0001", KeyStatus.ACTIVE, NOW - 9 * HOUR),
            3: KeyRecord(
                3,
                public_key_bytes(REVOKED_TABLET),
                "dvtablet0002",
                KeyStatus.REVOKED,
                NOW - 9 * HOUR,
                revoked_at=NOW - HOUR,
                allowlist=frozenset({allowlisted}),
            ),
        },
    )


def issue(n: int, *, signer=SERVER, key_id: int = 1, event_id: str = EVENT_ID, **terms) -> str:
    defaults = dict(
        type=tokens.TokenType.VOUCHER,
        issued_at=NOW - HOUR,
        valid_from=NOW - HOUR,
        valid_until=NOW + 3 * HOUR,
        campaign=1,
        max_uses=1,
        rotating=True,
        token_id=hashlib.sha256(f"token {n}".encode()).digest()[:10],
    )
    return tokens.issue(signing_key=signer, key_id=key_id, event_id=event_id, **{**defaults, **terms})


def tablet_pass(n: int) -> str:
    """An attendee's pass made by an enrolled tablet: no campaign, no use count, no end."""
    return issue(
        n, signer=TABLET, key_id=2, type=tokens.TokenType.PASS, campaign=0, max_uses=0, valid_until=None, rotating=False
    )


def raw(text: str) -> bytearray:
    encoded = text[len(tokens.PREFIX) :]
    return bytearray(base64.b32decode(encoded + "=" * (-len(encoded) % 8)))


def text_of(data: bytes) -> str:
    return tokens.PREFIX + base64.b32encode(bytes(data)).decode().rstrip("=")


def resigned(data: bytearray, signer=SERVER, event_id: str = EVENT_ID) -> str:
    body = bytes(data[: tokens.BODY_LEN])
    return text_of(body + signer.sign(tokens.signing_message(event_id, body)))


def with_header(text: str, header: int) -> str:
    data = raw(text)
    data[0] = header
    return resigned(data)


def described(text: str) -> dict:
    token = tokens.decode(text).token
    return {
        "type": token.type.name.lower(),
        "key_id": token.key_id,
        "id": token.id,
        "campaign": token.campaign,
        "max_uses": token.max_uses,
        "issued_at": token.issued_at,
        "valid_from": token.valid_from,
        "valid_until": token.valid_until,
        "rotating": token.rotating,
    }


def token_vectors() -> list[dict]:
    valid = issue(1)
    flipped_signature = raw(valid)
    flipped_signature[-1] ^= 0x01
    altered_body = raw(valid)
    altered_body[15] = 2  # campaign 1 -> 2 without re-signing
    key_zero = raw(valid)
    key_zero[1:3] = b"\x00\x00"
    empty_window = raw(valid)
    empty_window[21:27] = (5).to_bytes(3, "big") + (5).to_bytes(3, "big")
    last = valid[-1]
    # 91 bytes = 728 bits; the last base32 character carries 3 data bits (the top three of
    # its 5) and 2 unused bits that must be zero.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    noncanonical = valid[:-1] + alphabet[alphabet.index(last) | 0b1]

    # (name, text, the verifier's now). Windows are whole minutes, so the edge cases verify
    # at a time off the minute rather than issuing a window that would be rounded.
    ok = [
        ("valid voucher from the server key", valid, NOW),
        (
            "valid attendee pass from a tablet, no end",
            tablet_pass(2),
            NOW,
        ),
        (
            "revoked key, but the token is on its allowlist",
            issue(3, signer=REVOKED_TABLET, key_id=3, token_id=ALLOWLISTED_ID),
            NOW,
        ),
        ("ended 30 s ago, inside the 60 s tolerance", issue(4, valid_until=NOW), NOW + 30),
        ("starts in 30 s, inside the 60 s tolerance", issue(5, issued_at=NOW - 60, valid_from=NOW), NOW - 30),
        (
            "unlimited uses, validity rounded outwards to minutes",
            issue(6, issued_at=NOW - 125, valid_from=NOW - 100, valid_until=NOW + 61, max_uses=0),
            NOW,
        ),
    ]
    bad = [
        ("malformed", "empty string", ""),
        ("malformed", "lower case", valid.lower()),
        ("malformed", "wrong prefix", "PQ" + valid[2:]),
        ("malformed", "no prefix", valid[2:]),
        ("malformed", "truncated by one character", valid[:-1]),
        ("malformed", "truncated to half", valid[:74]),
        ("malformed", "padded with '='", valid + "=="),
        ("malformed", "padded with extra characters", valid + "AA"),
        ("malformed", "a character outside base32", valid[:40] + "1" + valid[41:]),
        ("malformed", "unused bits set in the last character", noncanonical),
        ("malformed", "reserved header bit set", with_header(valid, 0x1D)),
        ("malformed", "type 0", with_header(valid, 0x14)),
        ("malformed", "type 3", with_header(valid, 0x17)),
        ("malformed", "key id 0", resigned(key_zero)),
        ("malformed", "empty validity window", resigned(empty_window)),
        ("malformed", "1,100 characters", "PP" + "A" * 1098),
        ("unsupported_version", "format version 2", with_header(valid, 0x25)),
        ("unsupported_version", "format version 0", with_header(valid, 0x05)),
        ("wrong_event", "signed for another event", issue(7, event_id=OTHER_EVENT_ID)),
        ("unknown_key", "key id 9 is not in the bundle", issue(8, signer=STRANGER, key_id=9)),
        ("bad_signature", "one bit of the signature flipped", text_of(flipped_signature)),
        ("bad_signature", "body changed after signing", text_of(altered_body)),
        ("bad_signature", "key id 1 claimed, signed by a stranger", issue(9, signer=STRANGER, key_id=1)),
        ("revoked_key", "revoked key, not on the allowlist", issue(10, signer=REVOKED_TABLET, key_id=3)),
        ("not_yet_valid", "starts in two hours", issue(11, valid_from=NOW + 2 * HOUR)),
        (
            "expired",
            "ended two hours ago",
            issue(12, issued_at=NOW - 5 * HOUR, valid_from=NOW - 5 * HOUR, valid_until=NOW - 2 * HOUR),
        ),
        ("expired", "ended exactly at the tolerance", issue(13, valid_until=NOW - 60)),
    ]
    vectors = [{"name": name, "text": text, "now": now, "ok": True, "token": described(text)} for name, text, now in ok]
    vectors += [{"name": name, "text": text, "now": NOW, "ok": False, "reason": reason} for reason, name, text in bad]
    return vectors


def scan_vectors() -> list[dict]:
    valid = issue(1)
    url = tokens.to_url(valid, "poppass.example")
    return [
        {"input": valid, "text": valid, "code": None},
        {"input": url, "text": valid, "code": None},
        {"input": "HTTP://127.0.0.1:8000/V/" + valid[2:], "text": valid, "code": None},
        {"input": valid + "-123456", "text": valid, "code": "123456"},
        {"input": url + "-000042", "text": valid, "code": "000042"},
        {"input": "HELLO", "text": "HELLO", "code": None},
        {"input": valid + "-12345", "text": valid + "-12345", "code": None},
    ]


def signed(b: TrustBundle, root=ROOT) -> dict:
    return sign_bundle(b, root).to_json()


def bundle_vectors() -> list[dict]:
    good = signed(bundle())
    tampered = dict(good, payload=good["payload"].replace('"seq":3', '"seq":4'))
    return [
        {"name": "good", "bundle": good, "event_id": EVENT_ID, "min_seq": 0, "ok": True, "seq": 3},
        {
            "name": "signed by another root",
            "bundle": signed(bundle(), FOREIGN_ROOT),
            "event_id": EVENT_ID,
            "min_seq": 0,
            "ok": False,
            "reason": "bad_signature",
        },
        {
            "name": "payload changed after signing",
            "bundle": tampered,
            "event_id": EVENT_ID,
            "min_seq": 0,
            "ok": False,
            "reason": "bad_signature",
        },
        {
            "name": "for another event",
            "bundle": signed(bundle(OTHER_EVENT_ID)),
            "event_id": EVENT_ID,
            "min_seq": 0,
            "ok": False,
            "reason": "wrong_event",
        },
        {
            "name": "older than one already accepted",
            "bundle": good,
            "event_id": EVENT_ID,
            "min_seq": 4,
            "ok": False,
            "reason": "stale",
        },
        {
            "name": "signature not base64url",
            "bundle": dict(good, signature="not base64!"),
            "event_id": EVENT_ID,
            "min_seq": 0,
            "ok": False,
            "reason": "malformed",
        },
        {
            "name": "not an object",
            "bundle": "payload",
            "event_id": EVENT_ID,
            "min_seq": 0,
            "ok": False,
            "reason": "malformed",
        },
        {
            "name": "payload missing",
            "bundle": {"signature": good["signature"]},
            "event_id": EVENT_ID,
            "min_seq": 0,
            "ok": False,
            "reason": "malformed",
        },
    ] + [
        {
            "name": f"root-signed, but {name}",
            "bundle": root_signed(payload),
            "event_id": EVENT_ID,
            "min_seq": 0,
            **({"ok": True, "seq": 3} if reason == "ok" else {"ok": False, "reason": reason}),
        }
        for name, payload, reason in schema_breaks(good["payload"])
    ]


def root_signed(payload: str) -> dict:
    return {"payload": payload, "signature": b64url(ROOT.sign(bundle_message(payload)))}


def schema_breaks(payload: str) -> list[tuple[str, str, str]]:
    """Payloads signed by the right root that still must not be used (docs/token-format.md)."""
    body = json.loads(payload)
    small_order = b64url(bytes([1]) + bytes(31))  # the identity point
    weak = json.dumps({**body, "keys": body["keys"] + [{**body["keys"][0], "kid": 4, "public_key": small_order}]})
    twice = json.dumps({**body, "keys": body["keys"] + [body["keys"][0]]})
    return [
        ("a small-order public key", weak, "malformed"),
        ("a key id listed twice", twice, "malformed"),
        ("a float", payload.replace('"seq":3', '"seq":3.0'), "malformed"),
        ("an exponent", payload.replace('"format":1', '"format":1E0'), "malformed"),
        ("NaN", payload.replace('"seq":3', '"seq":NaN'), "malformed"),
        ("an integer past 2**53", payload.replace('"seq":3', '"seq":9007199254740993'), "malformed"),
        ("an empty event id", payload.replace(f'"event_id":"{EVENT_ID}"', '"event_id":""'), "malformed"),
        ("a boolean format", payload.replace('"format":1', '"format":true'), "malformed"),
        (
            "a policy that is a list",
            payload.replace(
                payload[payload.index('"policy":') : payload.index("}", payload.index('"policy":')) + 1], '"policy":[]'
            ),
            "malformed",
        ),
        ("a lone surrogate", payload.replace(f'"event_id":"{EVENT_ID}"', '"event_id":"\\ud800"'), "malformed"),
        ("an unknown policy field (ignored)", payload.replace('"policy":{', '"policy":{"future_s":5,'), "ok"),
    ]


def rotating_vectors() -> dict:
    rotation_key = hashlib.sha256(b"poppass vectors rotation key").digest()
    token_id = tokens.decode(issue(1)).token.token_id
    secret = rotating.voucher_secret(rotation_key, token_id)
    now = NOW + 7  # mid-step: step boundaries are multiples of 15 s
    step = rotating.step_at(now)
    at = lambda s: rotating.code_at(secret, s * rotating.STEP_SECONDS)  # noqa: E731
    codes = [{"time": t, "code": rotating.code_at(secret, t)} for t in (NOW, NOW + 14, NOW + 15, NOW + 29, NOW + 3600)]
    checks = [
        {"name": "current step", "code": at(step), "now": now, "last_step": None, "ok": True, "step": step},
        {"name": "one step behind", "code": at(step - 1), "now": now, "last_step": None, "ok": True, "step": step - 1},
        {"name": "one step ahead", "code": at(step + 1), "now": now, "last_step": None, "ok": True, "step": step + 1},
        {
            "name": "two steps behind",
            "code": at(step - 2),
            "now": now,
            "last_step": None,
            "ok": False,
            "reason": "bad_code",
        },
        {
            "name": "same step again",
            "code": at(step),
            "now": now,
            "last_step": step,
            "ok": False,
            "reason": "code_replayed",
        },
        {
            "name": "older than the last accepted",
            "code": at(step - 1),
            "now": now,
            "last_step": step,
            "ok": False,
            "reason": "code_replayed",
        },
        {
            "name": "newer than the last accepted",
            "code": at(step + 1),
            "now": now,
            "last_step": step,
            "ok": True,
            "step": step + 1,
        },
        {
            "name": "five digits",
            "code": "12345",
            "now": now,
            "last_step": None,
            "ok": False,
            "reason": "malformed_code",
        },
        {"name": "letters", "code": "12a456", "now": now, "last_step": None, "ok": False, "reason": "malformed_code"},
    ]
    return {
        "rotation_key": b64url(rotation_key),
        "token_id": tokens.decode(issue(1)).token.id,
        "secret": secret,
        "step_seconds": rotating.STEP_SECONDS,
        "digits": rotating.DIGITS,
        "codes": codes,
        "checks": checks,
    }


def rotation_epoch_vectors() -> dict:
    """The rule for rotation key epochs (rotating.check_voucher_code, token.js checkVoucherCode):
    a code made with a retired key is `rotation_key_retired`, never accepted; any other miss is
    still `bad_code`, and the current key's rules (window, replay) are unchanged."""
    current = hashlib.sha256(b"poppass vectors rotation key epoch 3").digest()
    retired = [hashlib.sha256(f"poppass vectors rotation key epoch {n}".encode()).digest() for n in (2, 1)]
    token_id = tokens.decode(issue(1)).token.token_id
    now = NOW + 7
    step = rotating.step_at(now)

    def code(rotation_key: bytes, s: int) -> str:
        return rotating.code_at(rotating.voucher_secret(rotation_key, token_id), s * rotating.STEP_SECONDS)

    everything = [current, *retired]
    stray = next(
        f"{n:06d}"
        for n in range(10**6)
        if all(f"{n:06d}" != code(k, s) for k in everything for s in range(step - 1, step + 2))
    )
    checks = [
        {"name": "current key, current step", "code": code(current, step), "last_step": None, "ok": True, "step": step},
        {
            "name": "current key, one step behind",
            "code": code(current, step - 1),
            "last_step": None,
            "ok": True,
            "step": step - 1,
        },
        {
            "name": "current key, replayed",
            "code": code(current, step),
            "last_step": step,
            "ok": False,
            "reason": "code_replayed",
        },
        {
            "name": "last retired key, current step",
            "code": code(retired[0], step),
            "last_step": None,
            "ok": False,
            "reason": "rotation_key_retired",
        },
        {
            "name": "last retired key, one step ahead",
            "code": code(retired[0], step + 1),
            "last_step": None,
            "ok": False,
            "reason": "rotation_key_retired",
        },
        {
            "name": "older retired key",
            "code": code(retired[1], step),
            "last_step": None,
            "ok": False,
            "reason": "rotation_key_retired",
        },
        {
            "name": "retired key, after a later step was accepted",
            "code": code(retired[0], step),
            "last_step": step + 5,
            "ok": False,
            "reason": "rotation_key_retired",
        },
        {
            "name": "retired key, two steps behind",
            "code": code(retired[0], step - 2),
            "last_step": None,
            "ok": False,
            "reason": "bad_code",
        },
        {"name": "no key's code", "code": stray, "last_step": None, "ok": False, "reason": "bad_code"},
        {"name": "five digits", "code": "12345", "last_step": None, "ok": False, "reason": "malformed_code"},
    ]
    for check in checks:
        check["now"] = now
    return {
        "token_id": tokens.decode(issue(1)).token.id,
        "rotation_key": b64url(current),
        "retired": [b64url(k) for k in retired],
        "checks": checks,
    }


def phone_search_vectors() -> dict:
    """What a tablet holds instead of a phone number (events/phone_search.py, ledger.js)."""
    key = hashlib.sha256(b"poppass vectors phone search key").digest()
    phones = [
        "+86 138 0013 8000",
        "8613800138000",
        "138-0013-8000",
        "１３８ ００１３ ８０００",
        "0013 8000",
        "12345678",
        "1234567",
        "8000",
        "800",
        "",
        "+1 (415) 555-0100",
    ]
    return {
        "key": b64url(key),
        "cases": [
            {"phone": p, "hash": phone_search.search_hash(key, p), "last4": phone_search.last_digits(p)} for p in phones
        ],
    }


# RFC 6238 appendix B, SHA-1 rows: 8 digits, 30-second steps, ASCII secret "12345678901234567890".
RFC6238 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def build() -> dict:
    return {
        "about": "Shared token vectors for events/tokens.py and web/static/js/token.js. Built by tests/vectors/build.py; do not edit by hand.",
        "event_id": EVENT_ID,
        "root_public_key": b64url(public_key_bytes(ROOT)),
        "bundle": signed(bundle()),
        "tokens": token_vectors(),
        "scans": scan_vectors(),
        "bundles": bundle_vectors(),
        "rotating": rotating_vectors(),
        "rotation_epochs": rotation_epoch_vectors(),
        "phone_search": phone_search_vectors(),
        "rfc6238": [
            {
                "secret": base64.b32encode(b"12345678901234567890").decode(),
                "time": t,
                "digits": 8,
                "step_seconds": 30,
                "code": code,
            }
            for t, code in RFC6238
        ],
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


# --- Typed codes (events/manual_entry.py, web/static/js/manual-entry.js) ---------------------


def with_id(id_text: str, n: int, **terms) -> str:
    """A voucher whose 16-character id is `id_text`: ids chosen so short codes collide or hold
    the letters a clerk mistypes."""
    return issue(n, token_id=base64.b32decode(id_text), **terms)


def manual_vectors() -> dict:
    vouchers = {
        "BOIL2345QQQQQQQQ": with_id("BOIL2345QQQQQQQQ", 101),  # O, I and B: typed as 0, 1 and 8
        "TWINTWINAAAAAAAA": with_id("TWINTWINAAAAAAAA", 102),  # two vouchers, one short code
        "TWINTWINBBBBBBBB": with_id("TWINTWINBBBBBBBB", 103),
        "PLAINVCHRZZZZZZZ": with_id("PLAINVCHRZZZZZZZ", 104, rotating=False),
    }
    passes = {
        "PASSPASSPASSPASS": with_id(
            "PASSPASSPASSPASS", 105, type=tokens.TokenType.PASS, campaign=0, max_uses=0, rotating=False
        )
    }
    boil, plain, pass_text = vouchers["BOIL2345QQQQQQQQ"], vouchers["PLAINVCHRZZZZZZZ"], passes["PASSPASSPASSPASS"]
    url = tokens.to_url(plain, "poppass.example")
    cases = [
        ("the short code as shown", "BOIL 2345", "", {"text": boil}),
        ("the short code and the digits as shown", "BOIL 2345", "123 456", {"text": boil + "-123456"}),
        ("lower case, no space", "boil2345", "123456", {"text": boil + "-123456"}),
        ("a dash between the halves", "BOIL-2345", "", {"text": boil}),
        ("an en dash and spaces around", "  BOIL \u2013 2345 ", "", {"text": boil}),
        ("0, 1 and 8 for O, I and B", "801l 2345", "", {"text": boil}),
        (
            "full width, from a Chinese keyboard",
            "\uff22\uff2f\uff29\uff2c\u3000\uff12\uff13\uff14\uff15",
            "\uff11\uff12\uff13\uff14\uff15\uff16",
            {"text": boil + "-123456"},
        ),
        ("digits with a dash", "BOIL2345", "123-456", {"text": boil + "-123456"}),
        ("five digits", "BOIL2345", "12345", {"reason": "malformed_code"}),
        ("digits with a letter", "BOIL2345", "12345a", {"reason": "malformed_code"}),
        ("seven digits", "BOIL2345", "1234567", {"reason": "malformed_code"}),
        ("a short code no voucher here has", "ZZZZ ZZZZ", "123456", {"reason": "unknown_short_code"}),
        ("a short code two vouchers share", "twin twin", "123456", {"reason": "ambiguous_short_code"}),
        (
            "the whole id settles it",
            "TWIN TWIN BBBB BBBB",
            "123456",
            {"text": vouchers["TWINTWINBBBBBBBB"] + "-123456"},
        ),
        ("a plain voucher by short code", "plainvch", "", {"text": plain}),
        ("a pass by its id", "pass pass pass pass", "", {"text": pass_text}),
        ("a pass is not found by a short code", "PASSPASS", "", {"reason": "unknown_short_code"}),
        ("an id this tablet has no token for", "ABCD EFGH IJKL MNOP", "", {"reason": "unknown_id"}),
        ("the whole code, lower case", plain.lower(), "", {"text": plain}),
        ("the whole code with a line break", plain[:70] + "\n" + plain[70:], "", {"text": plain}),
        ("the whole code and the digits", boil, "654321", {"text": boil + "-654321"}),
        ("the whole rotating form", boil.lower() + "-654321", "", {"text": boil + "-654321"}),
        ("the URL form, lower case", url.lower(), "", {"text": url}),
        ("seven characters", "BOIL234", "", {"text": "BOIL234"}),
        ("nine characters", "BOIL 2345 Q", "", {"text": "BOIL2345Q"}),
        ("a 9 is not in the alphabet", "BOIL 2349", "", {"text": "BOIL2349"}),
        ("nothing typed", "", "", {"text": ""}),
    ]
    return {
        "about": "Typed-code vectors for events/manual_entry.py and web/static/js/manual-entry.js. Built by tests/vectors/build.py; do not edit by hand.",
        "short_codes": [
            {"token_id": token_id, "short_code": manual_entry.short_code(token_id)}
            for token_id in [*vouchers, *passes, tokens.decode(issue(1)).token.id]
        ],
        "normalized": [
            {"typed": typed, "normalized": manual_entry.normalized(typed)}
            for typed in ["abcd efgh", "0O1I8B", "ＡＢＣＤ－ＥＦＧＨ", "a\u00a0b\u2212c\u2010d", "ß9ı"]
        ],
        "holds": {"vouchers": vouchers, "passes": passes},
        "entries": [
            {"name": name, "typed": typed, "digits": digits, "result": result} for name, typed, digits, result in cases
        ],
    }


def render_manual() -> str:
    return json.dumps(manual_vectors(), indent=1, ensure_ascii=False) + "\n"


# --- Hybrid logical clock (events/hlc.py, web/static/js/outbox.js nextStamp, receiveStamp) --------


def stamped(clock: hlc.HybridClock, step) -> dict:
    """What `step` (a send or receive of `clock`) gives, as the vectors say it; also the
    expected answer of the tests' random clocks."""
    try:
        ms, counter = step()
    except hlc.ClockDrift:
        return {"refused": True, "ms": clock.ms, "counter": clock.counter}
    return {"refused": False, "ms": ms, "counter": counter}


def hlc_vectors() -> dict:
    top = hlc.MAX_COUNTER
    sends = [  # (clock ms, counter, wall ms)
        (0, 0, NOW * 1000),
        (NOW * 1000, 0, NOW * 1000),
        (NOW * 1000, 5, NOW * 1000 - 10_000),
        (NOW * 1000, top - 1, NOW * 1000),
        (NOW * 1000, top, NOW * 1000),
        (NOW * 1000, top, NOW * 1000 + 1),
        (NOW * 1000 + 5, 2, NOW * 1000 + 6),
    ]
    receives = [  # (clock ms, counter, remote ms, remote counter, wall ms)
        (NOW * 1000, 3, NOW * 1000, 7, NOW * 1000),
        (NOW * 1000, 9, NOW * 1000, 7, NOW * 1000 - 5),
        (NOW * 1000, 3, NOW * 1000 + 20, 4, NOW * 1000),
        (NOW * 1000, 3, NOW * 1000 - 20, 4, NOW * 1000 + 50),
        (NOW * 1000, 3, NOW * 1000 + 60_000, 0, NOW * 1000),
        (NOW * 1000, 3, NOW * 1000 + 60_001, 0, NOW * 1000),
        (NOW * 1000, top, NOW * 1000, 2, NOW * 1000),
        (NOW * 1000, 2, NOW * 1000, top, NOW * 1000),
        (NOW * 1000, top - 1, NOW * 1000 - 1, top, NOW * 1000 - 2),
        (0, 0, NOW * 1000, 0, NOW * 1000 - 30_000),
    ]
    send_cases, receive_cases = [], []
    for ms, counter, wall in sends:
        clock = hlc.HybridClock(ms, counter)
        send_cases.append(
            {
                "clock": {"ms": ms, "counter": counter},
                "wall_ms": wall,
                "then": stamped(clock, lambda clock=clock, wall=wall: clock.now(wall)),
            }
        )
    for ms, counter, remote_ms, remote_counter, wall in receives:
        clock = hlc.HybridClock(ms, counter)
        receive_cases.append(
            {
                "clock": {"ms": ms, "counter": counter},
                "remote": {"ms": remote_ms, "counter": remote_counter},
                "wall_ms": wall,
                "max_drift_ms": clock.max_drift_ms,
                "then": stamped(
                    clock,
                    lambda clock=clock, remote=(remote_ms, remote_counter), wall=wall: clock.receive(remote, wall),
                ),
            }
        )
    return {
        "about": "Hybrid logical clock vectors for events/hlc.py and web/static/js/outbox.js (nextStamp, receiveStamp). "
        "Built by tests/vectors/build.py; do not edit by hand. `refused`: the stamp is not followed and the "
        "clock stays as it was.",
        "max_counter": top,
        "send": send_cases,
        "receive": receive_cases,
    }


def render_hlc() -> str:
    return json.dumps(hlc_vectors(), indent=1, ensure_ascii=False) + "\n"


# --- Words the tablet shows (server/reasons.py, web/static/js/reasons.js and station-app.js) ---


def words_vectors() -> dict:
    from server import reasons

    return {
        "about": "The reason and conflict words of the tablet, as server/reasons.py has them (English msgids: one "
        "translation serves both). Built by tests/vectors/build.py; do not edit by hand.",
        "reasons": reasons.VERDICT_WORDS,
        "reason_fallback": reasons.VERDICT_FALLBACK,
        "conflict_kinds": reasons.TABLET_CONFLICT_WORDS,
        "conflict_fallback": reasons.TABLET_CONFLICT_FALLBACK,
        "conflict_statuses": reasons.TABLET_CONFLICT_STATUSES,
    }


def render_words() -> str:
    return json.dumps(words_vectors(), indent=1, ensure_ascii=False) + "\n"


# --- Verdicts, uses and voids, the first registration and check-in -----------------------------
# (events/verdict.py and merge.py; web/static/js/verdict.js and ledger.js)

VERDICTS_PATH = Path(__file__).with_name("verdicts.json")
DEVICES = ("dvtablet0001", "dvtablet0002", "dvtablet0003")


class Ops:
    """Ops in the pull format, numbered in the order written (which is not their HLC order)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(
        self,
        kind: str,
        subject: str,
        data: dict,
        *,
        device: int = 0,
        hlc_s: float,
        counter: int = 0,
        corrected_s: float | None | str = "same",
    ) -> dict:
        self.n += 1
        hlc_ms = int(NOW * 1000 + hlc_s * 1000)
        corrected = (
            hlc_ms if corrected_s == "same" else None if corrected_s is None else int(NOW * 1000 + corrected_s * 1000)
        )
        return {
            "op_id": f"op{self.n:014d}",
            "device_id": DEVICES[device],
            "device_seq": self.n,
            "kind": kind,
            "subject": subject,
            "hlc_ms": hlc_ms,
            "hlc_counter": counter,
            "device_time_ms": hlc_ms,
            "corrected_time_ms": corrected,
            "clerk": "Bo",
            "data": data,
        }


def logged(op: dict):
    from events.merge import LoggedOp

    return LoggedOp(
        op["op_id"],
        op["device_id"],
        op["kind"],
        op["subject"],
        op["hlc_ms"],
        op["hlc_counter"],
        op["corrected_time_ms"],
        op["data"],
    )


def redeemed(text: str, *, step: int | None = None, outcome: str = "accepted") -> dict:
    data = {"token": text, "outcome": outcome, "shown": {"verdict": "green" if outcome == "accepted" else "red"}}
    return data | ({"code_step": step} if step is not None else {})


def voucher_state_of(text: str, ops: list[dict]) -> dict:
    from events import verdict

    state = verdict.voucher_state(text, [logged(op) for op in ops])
    return {
        "uses": [op.op_id for op in state.uses],
        "void": state.void.op_id if state.void else None,
        "last_step": state.last_step,
    }


def use_vectors(op: Ops) -> list[dict]:
    text = issue(30, max_uses=3)
    tid = tokens.decode(text).token.id
    forged = resigned(raw(text), signer=STRANGER)  # the same id, other bytes
    cases = {
        "uses count in HLC order, not by their clocks": [
            op("redeem", tid, redeemed(text, step=10), device=1, hlc_s=20, corrected_s=5),
            op("redeem", tid, redeemed(text, step=11), device=0, hlc_s=10, corrected_s=30),
        ],
        "a refused redemption is not a use": [
            op("redeem", tid, redeemed(text, outcome="refused"), hlc_s=1),
            op("redeem", tid, redeemed(text, step=12), hlc_s=2),
        ],
        "an undone redemption is not a use": [
            op("redeem", tid, redeemed(text, step=13), hlc_s=1),
            op("void", tid, {"reason": "mistake", "redeem_op_id": f"op{op.n:014d}"}, hlc_s=2),
            op("redeem", tid, redeemed(text, step=9), device=1, hlc_s=3),
        ],
        "another text under the same id is not a use of this voucher": [
            op("redeem", tid, redeemed(forged), device=2, hlc_s=1),
            op("redeem", tid, redeemed(text, step=14), hlc_s=2),
        ],
        "a use after a void of the whole voucher still counts": [
            op("void", tid, {"reason": "lost"}, device=1, hlc_s=1),
            op("redeem", tid, redeemed(text, step=15), hlc_s=2),
        ],
        "the first void is the earliest by HLC, not by its clock": [
            op("void", tid, {"reason": "late"}, device=0, hlc_s=5, corrected_s=1),
            op("void", tid, {"reason": "early"}, device=1, hlc_s=2, corrected_s=9),
        ],
        "a void with no time of its own is ordered by its HLC": [
            op("void", tid, {"reason": "b"}, device=0, hlc_s=4, corrected_s=None),
            op("void", tid, {"reason": "a"}, device=1, hlc_s=3, corrected_s=None),
        ],
        "equal HLC times: the counter, then the device decides": [
            op("redeem", tid, redeemed(text, step=20), device=1, hlc_s=7, counter=1),
            op("redeem", tid, redeemed(text, step=21), device=2, hlc_s=7, counter=0),
            op("redeem", tid, redeemed(text, step=22), device=0, hlc_s=7, counter=1),
        ],
        "only a void": [op("void", tid, {"reason": "pulled before its voucher"}, hlc_s=1)],
        "the issue is not a use": [op("issue", tid, {"token": text}, hlc_s=0)],
    }
    return [
        {"name": name, "text": text, "ops": ops, "expect": voucher_state_of(text, ops)} for name, ops in cases.items()
    ]


def first_of(ops: list[dict]) -> dict:
    from events import verdict

    out = {}
    for kind in ("register", "checkin"):
        chosen = verdict.first(logged(o) for o in ops if o["kind"] == kind)
        out[kind] = chosen.op_id if chosen else None
        out[kind + "_at_ms"] = chosen.acted_at_ms if chosen else None
    return out


def first_vectors(op: Ops) -> list[dict]:
    who = "ATTENDEE0000000" + "1"
    person = lambda name: {"name": name, "consent": True}  # noqa: E731
    cases = {
        "the earliest registration by HLC wins, whichever arrives first": [
            op("register", who, person("Late Lin"), device=0, hlc_s=50, corrected_s=1),
            op("register", who, person("Early Wu"), device=1, hlc_s=40, corrected_s=60),
        ],
        "equal HLC times: the counter decides": [
            op("register", who, person("Second"), device=0, hlc_s=3, counter=2),
            op("register", who, person("First"), device=1, hlc_s=3, counter=1),
        ],
        "equal HLC times and counters: the device id decides": [
            op("register", who, person("Tablet 3"), device=2, hlc_s=3, counter=0),
            op("register", who, person("Tablet 2"), device=1, hlc_s=3, counter=0),
        ],
        "a corrected time of zero is a time, not a missing one": [
            op("register", who, person("Zero"), hlc_s=3, corrected_s=-NOW),
        ],
        "no corrected time (a tablet that never synced): the HLC time": [
            op("register", who, person("Unsynced"), hlc_s=3, corrected_s=None),
        ],
        "the official check-in is the first by HLC; its time is that op's": [
            op("register", who, person("Ann"), hlc_s=0),
            op("checkin", who, {"method": "scan", "shown": {"verdict": "green"}}, device=0, hlc_s=30, corrected_s=10),
            op("checkin", who, {"method": "search", "shown": {"verdict": "green"}}, device=1, hlc_s=20, corrected_s=25),
        ],
        "registered, not in": [op("register", who, person("Bea"), hlc_s=0)],
        "checked in before the registration arrived": [
            op("checkin", who, {"method": "search", "shown": {"verdict": "green"}}, hlc_s=5)
        ],
    }
    return [{"name": name, "subject": who, "ops": ops, "expect": first_of(ops)} for name, ops in cases.items()]


VERDICT_ROTATION = hashlib.sha256(b"poppass vectors verdict rotation key").digest()
VERDICT_RETIRED = hashlib.sha256(b"poppass vectors verdict rotation key, retired").digest()


def judged(scan: str, ops: list[dict], *, now_ms: int, rotation: bool) -> tuple[dict, dict | None]:
    """What the tablet shows offline (`rotation`: whether it holds the event's rotation keys), and
    what the server, which always does, answers online (None: the server refuses such a request
    as invalid input, and the tablet decides alone)."""
    from events import verdict

    b = bundle()
    try:
        parsed = tokens.parse_scan(scan)
        token = tokens.decode(parsed.text).token
    except tokens.TokenError as error:
        return {"color": "red", "reason": str(error.reason), "uses_before": 0, "step": None}, None
    if token.type is tokens.TokenType.PASS:
        checkins = [logged(o) for o in ops if o["kind"] == "checkin" and o["subject"] == token.id]
        reason = verdict.judge_pass(parsed.text, bundle=b, checkins=checkins, now_ms=now_ms)
        return {"color": verdict.color(reason), "reason": reason or None, "uses_before": 0, "step": None}, None
    state = verdict.voucher_state(parsed.text, [logged(o) for o in ops if o["subject"] == token.id])

    def judge(keys: bool) -> verdict.Judgement:
        return verdict.judge_voucher(
            parsed.text,
            parsed.code,
            bundle=b,
            distrust="",
            state=state,
            current_key=VERDICT_ROTATION if keys else None,
            retired_keys=[VERDICT_RETIRED] if keys else [],
            now_ms=now_ms,
        )

    offline, online = judge(rotation), judge(True)
    return (
        {
            "color": verdict.color(offline.reason),
            "reason": offline.reason or None,
            "uses_before": len(state.uses),
            "step": offline.step,
        },
        {
            "outcome": "refused" if online.reason else "accepted",
            "reason": online.reason,
            "uses_before": len(state.uses),
        },
    )


def verdict_vectors(op: Ops) -> list[dict]:
    now_ms = (NOW + 7) * 1000  # mid-step of the rotating code
    step = rotating.step_at(now_ms / 1000)

    def code(text: str, s: int, key: bytes = VERDICT_ROTATION) -> str:
        token_id = tokens.decode(text).token.token_id
        return rotating.code_at(rotating.voucher_secret(key, token_id), s * rotating.STEP_SECONDS)

    once = issue(40, rotating=False)
    thrice = issue(41, rotating=False, max_uses=3)
    spinning = issue(42, max_uses=2)
    unlimited = issue(43, rotating=False, max_uses=0)
    expired = issue(44, rotating=False, issued_at=NOW - 5 * HOUR, valid_from=NOW - 5 * HOUR, valid_until=NOW - 2 * HOUR)
    not_yet = issue(45, rotating=False, valid_from=NOW + HOUR)
    revoked = issue(46, rotating=False, signer=REVOKED_TABLET, key_id=3)
    pass_ = tablet_pass(47)
    forged_once = resigned(raw(once), signer=STRANGER)
    idof = lambda text: tokens.decode(text).token.id  # noqa: E731
    use = lambda text, **kw: op("redeem", idof(text), redeemed(text, step=kw.pop("step", None)), **kw)  # noqa: E731
    cases = [
        ("a fresh voucher", once, []),
        ("a single-use voucher used on another tablet", once, [use(once, device=1, hlc_s=-60)]),
        (
            "a single-use voucher whose use was undone",
            once,
            [
                use(once, hlc_s=-60),
                op("void", idof(once), {"reason": "mistake", "redeem_op_id": f"op{op.n:014d}"}, hlc_s=-50),
            ],
        ),
        ("a single-use voucher 'used' under a forged text", once, [use(forged_once, device=2, hlc_s=-60)]),
        (
            "a refused redemption uses nothing",
            once,
            [op("redeem", idof(once), redeemed(once, outcome="refused"), hlc_s=-60)],
        ),
        ("three uses allowed, two made", thrice, [use(thrice, hlc_s=-90), use(thrice, device=1, hlc_s=-30)]),
        (
            "three uses allowed, three made",
            thrice,
            [use(thrice, hlc_s=-90), use(thrice, device=1, hlc_s=-30), use(thrice, device=2, hlc_s=-20)],
        ),
        ("no limit on uses", unlimited, [use(unlimited, hlc_s=-s) for s in (90, 80, 70, 60)]),
        (
            "voided, with a use honoured after the void",
            thrice,
            [op("void", idof(thrice), {"reason": "lost"}, device=1, hlc_s=-90), use(thrice, hlc_s=-30)],
        ),
        ("voided beats used up", once, [use(once, hlc_s=-90), op("void", idof(once), {"reason": "lost"}, hlc_s=-30)]),
        ("expired", expired, []),
        ("not valid yet", not_yet, []),
        ("signed by a revoked tablet key", revoked, []),
        ("rotating, the current code", f"{spinning}-{code(spinning, step)}", []),
        ("rotating, the code one step behind", f"{spinning}-{code(spinning, step - 1)}", []),
        (
            "rotating, a step already accepted",
            f"{spinning}-{code(spinning, step)}",
            [use(spinning, hlc_s=-3, step=step)],
        ),
        (
            "rotating, an older step than the last accepted",
            f"{spinning}-{code(spinning, step - 1)}",
            [use(spinning, hlc_s=-3, step=step)],
        ),
        (
            "rotating, the last accepted step was undone",
            f"{spinning}-{code(spinning, step)}",
            [
                use(spinning, hlc_s=-3, step=step),
                op("void", idof(spinning), {"reason": "mistake", "redeem_op_id": f"op{op.n:014d}"}, hlc_s=-2),
            ],
        ),
        (
            "rotating, used up before its code is read",
            f"{spinning}-{code(spinning, step)}",
            [use(spinning, hlc_s=-90, step=step - 8), use(spinning, device=1, hlc_s=-60, step=step - 4)],
        ),
        ("rotating, a code two steps behind", f"{spinning}-{code(spinning, step - 2)}", []),
        ("rotating, a code of the retired rotation key", f"{spinning}-{code(spinning, step, VERDICT_RETIRED)}", []),
        ("rotating, no code shown", spinning, []),
        ("rotating, on a tablet without the rotation key", f"{spinning}-{code(spinning, step)}", [], False),
        ("an attendee's pass, not checked in", pass_, []),
        (
            "an attendee's pass, already checked in",
            pass_,
            [op("checkin", idof(pass_), {"method": "scan", "shown": {"verdict": "green"}}, device=1, hlc_s=-600)],
        ),
        ("not a PopPass code", "HELLO", []),
        ("a token with its last character changed", once[:-1] + ("A" if once[-1] != "A" else "B"), []),
    ]
    vectors = []
    for name, scan, ops, *rest in cases:
        rotation = rest[0] if rest else True
        expect, online = judged(scan, ops, now_ms=now_ms, rotation=rotation)
        vectors.append(
            {
                "name": name,
                "scan": scan,
                "ops": ops,
                "now_ms": now_ms,
                "rotation": rotation,
                "expect": expect,
                "online": online,
            }
        )
    return vectors


def verdict_colors() -> dict[str, str]:
    """The colour of every reason a clerk may be shown, and of none ("")."""
    from events import verdict
    from server import reasons

    every = {"", verdict.ALREADY_CHECKED_IN, "no_bundle", *reasons.VERDICT_WORDS}
    return {reason: verdict.color(reason) for reason in sorted(every)}


def verdict_file() -> dict:
    op = Ops()
    return {
        "about": "The verdict on a scan, the uses and first void of a voucher, and the first registration and "
        "check-in of an attendee: events/verdict.py and merge.py, web/static/js/verdict.js and ledger.js. "
        "Ops are in the pull format and listed out of HLC order on purpose. Built by tests/vectors/build.py; "
        "do not edit by hand.",
        "event_id": EVENT_ID,
        "root_public_key": b64url(public_key_bytes(ROOT)),
        "bundle": signed(bundle()),
        "rotation_key": b64url(VERDICT_ROTATION),
        "retired_rotation_keys": [b64url(VERDICT_RETIRED)],
        "colors": verdict_colors(),
        "uses": use_vectors(op),
        "first": first_vectors(op),
        "verdicts": verdict_vectors(op),
    }


def render_verdicts() -> str:
    return json.dumps(verdict_file(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
    MANUAL_PATH.write_text(render_manual(), encoding="utf-8")
    HLC_PATH.write_text(render_hlc(), encoding="utf-8")
    WORDS_PATH.write_text(render_words(), encoding="utf-8")
    VERDICTS_PATH.write_text(render_verdicts(), encoding="utf-8")
    print(f"wrote {PATH}, {MANUAL_PATH}, {HLC_PATH}, {WORDS_PATH} and {VERDICTS_PATH}")

"""Property tests: the round trip, and that no single-bit change survives verification."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from events import keys, tokens
from events.keys import KeyRecord, KeyStatus
from events.tokens import TokenError, TokenType
from events.trust import TrustBundle

NOW = 1767261600
SERVER = keys.generate_private_key()

terms = st.fixed_dictionaries(
    {
        "type": st.sampled_from(TokenType),
        "key_id": st.integers(1, 0xFFFF),
        "event_id": st.text(min_size=1, max_size=60).filter(lambda s: len(s.encode()) <= 255),
        "issued_at": st.integers(1, 2**32 - 1),
        "campaign": st.integers(0, 255),
        "max_uses": st.integers(0, 255),
        "rotating": st.booleans(),
        "token_id": st.binary(min_size=10, max_size=10),
        "from_minutes": st.integers(0, 0xFFFFFE - 1),
        "span_minutes": st.one_of(st.none(), st.integers(1, 0xFFFF)),
    }
)


def bundle_for(event_id: str, key_id: int) -> TrustBundle:
    record = KeyRecord(key_id, keys.public_key_bytes(SERVER), None, KeyStatus.ACTIVE, NOW)
    return TrustBundle(event_id, 1, NOW, {key_id: record})


def issue(t: dict) -> str:
    base = t["issued_at"] - t["issued_at"] % 60
    valid_from = base + 60 * t["from_minutes"]
    span = t["span_minutes"]
    valid_until = None if span is None or t["from_minutes"] + span > 0xFFFFFE else valid_from + 60 * span
    return tokens.issue(
        signing_key=SERVER,
        key_id=t["key_id"],
        event_id=t["event_id"],
        type=t["type"],
        issued_at=t["issued_at"],
        valid_from=valid_from,
        valid_until=valid_until,
        campaign=t["campaign"],
        max_uses=t["max_uses"],
        rotating=t["rotating"],
        token_id=t["token_id"],
    )


@given(terms)
def test_round_trip(t: dict) -> None:
    text = issue(t)
    token = tokens.authenticate(text, bundle_for(t["event_id"], t["key_id"]))
    assert len(text) == tokens.TEXT_LEN
    assert token.type is t["type"] and token.key_id == t["key_id"] and token.token_id == t["token_id"]
    assert (token.campaign, token.max_uses, token.rotating) == (t["campaign"], t["max_uses"], t["rotating"])
    assert token.issued_at == t["issued_at"]
    assert token.valid_from == t["issued_at"] - t["issued_at"] % 60 + 60 * t["from_minutes"]
    # Re-encoding what was decoded gives the same text: one spelling per token.
    assert issue(t) == text


@given(terms, st.data())
def test_any_single_bit_flip_fails_verification(t: dict, data: st.DataObject) -> None:
    text = issue(t)
    decoded = tokens.decode(text)
    raw = bytearray(decoded.body + decoded.signature)
    bit = data.draw(st.integers(0, len(raw) * 8 - 1), label="bit")
    raw[bit // 8] ^= 0x80 >> (bit % 8)
    flipped = tokens.PREFIX + tokens._b32(bytes(raw))
    try:
        tokens.authenticate(flipped, bundle_for(t["event_id"], t["key_id"]))
    except TokenError:
        return
    raise AssertionError(f"bit {bit} flipped and the token still verified")


@given(st.text(max_size=300))
def test_arbitrary_text_never_escapes_as_anything_but_token_error(text: str) -> None:
    bundle = bundle_for("evtest", 1)
    for candidate in (text, "PP" + text, tokens.parse_scan(text).text):
        try:
            tokens.verify(candidate, bundle, now=NOW)
        except TokenError:
            pass

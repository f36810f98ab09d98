"""Property tests: the round trip, and that no single-bit change survives verification."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from events import keys, tokens
from events.keys import KeyRecord, KeyStatus
from events.tokens import TokenError, TokenType
from events.trust import TrustBundle
from tests.support.token_text import token_text

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
    flipped = token_text(bytes(raw))
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


# --- fuzzing the decoder: anything that is not a genuine token is refused, with the right reason --

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# Characters 0-43 of the base32 text carry the body (216 bits: character 43 holds its last bit
# and the signature's first four); 44-145 the signature, the last one with 2 zero padding bits.
SIGNATURE_FROM = 44
BODY_REASONS = {
    tokens.Reason.MALFORMED,
    tokens.Reason.UNSUPPORTED_VERSION,
    tokens.Reason.WRONG_EVENT,
    tokens.Reason.UNKNOWN_KEY,
    tokens.Reason.BAD_SIGNATURE,
}
junk = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=BASE32, max_size=300).map(lambda s: "PP" + s),  # right alphabet, any length
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.from_regex(r"HTTPS?://[A-Z0-9.:]{1,20}/V/[A-Z2-7]{0,200}(-[0-9]{6})?", fullmatch=True),
)


def refused(text: object, bundle: TrustBundle) -> tokens.Reason:
    """The reason `text` is refused: verification raises TokenError and nothing else."""
    try:
        tokens.verify(text, bundle, now=NOW)
    except TokenError as error:
        assert isinstance(error.reason, tokens.Reason)
        return error.reason
    raise AssertionError(f"accepted: {text!r}")


@given(junk)
def test_junk_is_refused_only_with_a_token_error(text: str) -> None:
    bundle = bundle_for("evtest", 1)
    for candidate in (text, tokens.parse_scan(text).text):
        refused(candidate, bundle)
    try:
        tokens.url_path(text)
    except TokenError:
        pass
    else:
        raise AssertionError("url_path of junk")


@given(
    st.one_of(
        st.binary(max_size=300),
        st.none(),
        st.integers(),
        st.lists(st.text(max_size=5), max_size=3),
        st.floats(allow_nan=True),
    )
)
def test_what_is_not_text_is_malformed(value: object) -> None:
    assert refused(value, bundle_for("evtest", 1)) is tokens.Reason.MALFORMED
    try:
        tokens.parse_scan(value)
    except TokenError as error:
        assert error.reason is tokens.Reason.MALFORMED
    else:
        raise AssertionError("parse_scan of something that is not text")


def _genuine(t: dict) -> tuple[str, TrustBundle]:
    return issue(t), bundle_for(t["event_id"], t["key_id"])


@given(terms, st.data())
def test_a_changed_character_is_refused_for_the_right_reason(t: dict, data: st.DataObject) -> None:
    text, bundle = _genuine(t)
    at = data.draw(st.integers(len(tokens.PREFIX), len(text) - 1), label="at")
    new = data.draw(st.sampled_from(BASE32).filter(lambda c: c != text[at]), label="new")
    changed = text[:at] + new + text[at + 1 :]
    reason = refused(changed, bundle)
    position = at - len(tokens.PREFIX)
    if position == tokens.ENCODED_LEN - 1 and BASE32.index(new) & 0b11:
        assert reason is tokens.Reason.MALFORMED  # the padding bits must stay zero: one spelling
    elif position >= SIGNATURE_FROM:
        assert reason is tokens.Reason.BAD_SIGNATURE
    else:
        assert reason in BODY_REASONS


@given(terms, st.data())
def test_a_cut_or_extended_token_is_malformed(t: dict, data: st.DataObject) -> None:
    text, bundle = _genuine(t)
    cut = data.draw(st.integers(0, len(text) - 1), label="cut")
    extra = data.draw(st.text(alphabet=BASE32, min_size=1, max_size=40), label="extra")
    assert refused(text[:cut], bundle) is tokens.Reason.MALFORMED
    assert refused(text + extra, bundle) is tokens.Reason.MALFORMED
    assert refused(extra + text, bundle) is tokens.Reason.MALFORMED


@given(terms, st.data())
def test_a_token_with_lower_case_or_foreign_characters_is_malformed(t: dict, data: st.DataObject) -> None:
    text, bundle = _genuine(t)
    at = data.draw(st.integers(0, len(text) - 1), label="at")
    lower = text[:at] + text[at].lower() + text[at + 1 :]
    if lower != text:  # digits have no lower case
        assert refused(lower, bundle) is tokens.Reason.MALFORMED
    assert refused(text.lower(), bundle) is tokens.Reason.MALFORMED
    foreign = data.draw(st.characters().filter(lambda c: c not in BASE32), label="foreign")
    assert refused(text[:at] + foreign + text[at + 1 :], bundle) is tokens.Reason.MALFORMED
    assert refused(text[:at] + foreign + text[at:], bundle) is tokens.Reason.MALFORMED

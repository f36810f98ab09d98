"""Tokens: encode, decode, verify, and every kind of bad input the issue names."""

from __future__ import annotations

import os

import pytest

from events import keys, tokens
from events.keys import KeyRecord, KeyStatus
from events.tokens import Reason, TokenError, TokenType
from events.trust import TrustBundle
from tests.support.clock import NOW
from tests.support.token_text import token_text


def voucher(server, *, event_id: str = "evtest", **terms) -> str:
    defaults = dict(type=TokenType.VOUCHER, issued_at=NOW, valid_until=NOW + 3600, campaign=3, max_uses=2)
    return tokens.issue(signing_key=server, key_id=1, event_id=event_id, **{**defaults, **terms})


def reason(text, bundle, now=NOW) -> Reason:
    with pytest.raises(TokenError) as raised:
        tokens.verify(text, bundle, now=now)
    return raised.value.reason


def test_a_token_is_148_characters_of_upper_case_base32(signer) -> None:
    _, server, _ = signer
    text = voucher(server)
    assert len(text) == tokens.TEXT_LEN == 148
    assert text.startswith("PP")
    assert set(text[2:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_verify_returns_what_was_signed(signer) -> None:
    _, server, bundle = signer
    token = tokens.verify(voucher(server, rotating=True), bundle, now=NOW + 60)
    assert token.type is TokenType.VOUCHER
    assert (token.key_id, token.campaign, token.max_uses, token.rotating) == (1, 3, 2, True)
    assert (token.issued_at, token.valid_from, token.valid_until) == (NOW, NOW, NOW + 3600)
    assert len(token.id) == 16


def test_each_token_gets_a_fresh_random_id(signer) -> None:
    _, server, bundle = signer
    ids = {tokens.verify(voucher(server), bundle, now=NOW).id for _ in range(50)}
    assert len(ids) == 50


def test_window_is_rounded_outwards_to_whole_minutes(signer) -> None:
    _, server, bundle = signer
    text = voucher(server, issued_at=NOW + 10, valid_from=NOW + 70, valid_until=NOW + 130)
    token = tokens.decode(text).token
    assert token.valid_from == NOW + 60 and token.valid_until == NOW + 180


def test_an_open_ended_pass(signer) -> None:
    _, server, bundle = signer
    text = tokens.issue(signing_key=server, key_id=1, event_id="evtest", type=TokenType.PASS, issued_at=NOW)
    token = tokens.verify(text, bundle, now=NOW + 10 * 365 * 86400)
    assert token.type is TokenType.PASS and token.valid_until is None


@pytest.mark.parametrize(
    "bad",
    [
        dict(valid_from=NOW + 100, valid_until=NOW + 50),
        dict(campaign=256),
        dict(max_uses=-1),
        dict(issued_at=0),
        dict(valid_until=NOW + 60 * 0xFFFFFF),
    ],
)
def test_issue_refuses_impossible_terms(signer, bad) -> None:
    _, server, _ = signer
    with pytest.raises(ValueError):
        voucher(server, **bad)


def test_validity_is_checked_with_tolerance(signer) -> None:
    _, server, bundle = signer
    text = voucher(server, valid_from=NOW + 600, valid_until=NOW + 1200)
    assert reason(text, bundle, now=NOW + 539) is Reason.NOT_YET_VALID
    tokens.verify(text, bundle, now=NOW + 540)  # 60 s early is forgiven
    tokens.verify(text, bundle, now=NOW + 1259)
    assert reason(text, bundle, now=NOW + 1260) is Reason.EXPIRED


def test_a_token_from_another_event(signer) -> None:
    _, server, bundle = signer
    assert reason(voucher(server, event_id="evother"), bundle) is Reason.WRONG_EVENT


def test_an_unknown_key(signer) -> None:
    _, _, bundle = signer
    text = tokens.issue(
        signing_key=keys.generate_private_key(), key_id=7, event_id="evtest", type=TokenType.PASS, issued_at=NOW
    )
    assert reason(text, bundle) is Reason.UNKNOWN_KEY


def test_a_forgery_under_a_known_key_id(signer) -> None:
    _, _, bundle = signer
    forged = voucher(keys.generate_private_key())
    assert reason(forged, bundle) is Reason.BAD_SIGNATURE


def test_a_revoked_key_keeps_only_its_allowlist(signer) -> None:
    _, server, bundle = signer
    kept, dropped = voucher(server), voucher(server)
    kept_id = tokens.decode(kept).token.id
    revoked = KeyRecord(1, keys.public_key_bytes(server), None, KeyStatus.REVOKED, NOW, NOW, frozenset({kept_id}))
    after = TrustBundle("evtest", 2, NOW, {1: revoked})
    assert tokens.verify(kept, after, now=NOW).id == kept_id
    assert reason(dropped, after) is Reason.REVOKED_KEY


# --- bad input: each gives its reason, and nothing but TokenError escapes ---------------


def test_lower_case_is_refused(signer) -> None:
    _, server, bundle = signer
    assert reason(voucher(server).lower(), bundle) is Reason.MALFORMED


def test_wrong_prefix(signer) -> None:
    _, server, bundle = signer
    assert reason("QQ" + voucher(server)[2:], bundle) is Reason.MALFORMED


@pytest.mark.parametrize("cut", [1, 2, 8, 74, 147])
def test_truncated(signer, cut) -> None:
    _, server, bundle = signer
    assert reason(voucher(server)[:-cut], bundle) is Reason.MALFORMED


@pytest.mark.parametrize("padding", ["=", "==", "A", "AAAAAAAA", " "])
def test_padded(signer, padding) -> None:
    _, server, bundle = signer
    assert reason(voucher(server) + padding, bundle) is Reason.MALFORMED


def test_a_megabyte_string_is_refused_at_once(signer) -> None:
    _, _, bundle = signer
    error = pytest.raises(TokenError, tokens.verify, "PP" + "A" * 1_000_000, bundle, now=NOW).value
    assert error.reason is Reason.MALFORMED and "too long" in error.detail


@pytest.mark.parametrize("value", [None, 42, b"PP", ["PP"], {"text": "PP"}])
def test_not_text(signer, value) -> None:
    _, _, bundle = signer
    assert reason(value, bundle) is Reason.MALFORMED


def test_random_bytes_as_text(signer) -> None:
    _, _, bundle = signer
    for _ in range(200):
        garbage = os.urandom(91)
        for text in (garbage.decode("latin-1"), token_text(garbage)):
            with pytest.raises(TokenError):
                tokens.verify(text, bundle, now=NOW)


def test_every_single_bit_flip_is_refused(signer) -> None:
    """Exhaustive over all 728 bits of one token (the property test samples other tokens)."""
    _, server, bundle = signer
    decoded = tokens.decode(voucher(server))
    raw = decoded.body + decoded.signature
    assert len(raw) == tokens.TOKEN_LEN
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(TokenError):
            tokens.verify(token_text(bytes(flipped)), bundle, now=NOW)


def test_unsupported_version_is_its_own_reason(signer) -> None:
    _, server, _ = signer
    raw = bytearray(tokens.decode(voucher(server)).body + bytes(64))
    raw[0] = (2 << 4) | 1
    error = pytest.raises(TokenError, tokens.decode, token_text(bytes(raw))).value
    assert error.reason is Reason.UNSUPPORTED_VERSION


# --- scanned forms ------------------------------------------------------------------------


def test_url_form_round_trip(signer) -> None:
    _, server, _ = signer
    text = voucher(server)
    url = tokens.to_url(text, "poppass.example")
    assert url == "HTTPS://POPPASS.EXAMPLE/V/" + text[2:]
    assert tokens.parse_scan(url) == tokens.Scan(text)


def test_rotating_form_is_split(signer) -> None:
    _, server, _ = signer
    text = voucher(server)
    assert tokens.parse_scan(text + "-004217") == tokens.Scan(text, "004217")


def test_parse_scan_refuses_huge_input() -> None:
    with pytest.raises(TokenError):
        tokens.parse_scan("x" * 2_000_000)

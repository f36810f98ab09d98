"""Signed tokens: the voucher or attendee pass that any enrolled tablet verifies offline.

The byte layout, the text and URL forms and the order of checks are specified in
docs/token-format.md; web/static/js/token.js implements the same rules and
tests/vectors/tokens.json keeps the two identical.
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import re
import secrets
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.keys import MAX_KEY_ID, SIGNATURE_LEN, KeyStatus, signature_is_valid
from events.refusal import Refusal
from events.trust import TrustBundle, check_event_id

FORMAT_VERSION = 1
PREFIX = "PP"
URL_PATH = "/V/"
SIGNING_CONTEXT = b"PopPass token v1\n"

BODY_LEN = 27
TOKEN_LEN = BODY_LEN + SIGNATURE_LEN  # 91 bytes
ENCODED_LEN = 146  # ceil(91 * 8 / 5) base32 characters, no padding
TEXT_LEN = len(PREFIX) + ENCODED_LEN
ID_LEN = 10  # 80 random bits
OPEN_ENDED = 0xFFFFFF  # "valid until" offset meaning: no expiry
MAX_OFFSET_MINUTES = OPEN_ENDED - 1
# Anything longer than a URL form with a generous host is garbage; refuse it before any work.
MAX_INPUT_CHARS = 1024

_HEADER_RESERVED = 0x08
_HEADER_ROTATING = 0x04
_HEADER_TYPE = 0x03
_BODY = struct.Struct(">BH2s10sBBI3s3s")
_BASE32 = re.compile(r"[A-Z2-7]+")
_URL = re.compile(r"HTTPS?://[A-Z0-9.\-:\[\]]+/V/([A-Z2-7]+)")
_ROTATING_SUFFIX = re.compile(r"(.*)-([0-9]{6})")

assert _BODY.size == BODY_LEN


class TokenType(enum.IntEnum):
    VOUCHER = 1
    PASS = 2


class Reason(enum.StrEnum):
    """Why a token was refused. The strings are a contract with the tablets and the docs."""

    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    WRONG_EVENT = "wrong_event"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    REVOKED_KEY = "revoked_key"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"


class TokenError(Refusal):
    """A token that must not be accepted. Never raised for anything but the token itself."""


@dataclass(frozen=True)
class Token:
    """What a token says, in plain values (times are Unix seconds)."""

    type: TokenType
    key_id: int
    token_id: bytes
    campaign: int
    max_uses: int
    issued_at: int
    valid_from: int
    valid_until: int | None
    rotating: bool

    @functools.cached_property
    def id(self) -> str:
        """The 80-bit id as 16 base32 characters: how logs, bundles and screens name a token."""
        return _id_text(self.token_id)


@dataclass(frozen=True)
class Decoded:
    """A token parsed from text but not yet verified."""

    token: Token
    event_tag: bytes
    body: bytes
    signature: bytes


@dataclass(frozen=True)
class Scan:
    """What a scanned QR or a typed code held: the token text and maybe a rotating code."""

    text: str
    code: str | None = None


def event_tag(event_id: str) -> bytes:
    return hashlib.sha256(event_id.encode("utf-8")).digest()[:2]


def signing_message(event_id: str, body: bytes) -> bytes:
    raw_id = check_event_id(event_id).encode("utf-8")
    return SIGNING_CONTEXT + bytes([len(raw_id)]) + raw_id + body


def new_token_id() -> bytes:
    return secrets.token_bytes(ID_LEN)


def issue(
    *,
    signing_key: Ed25519PrivateKey,
    key_id: int,
    event_id: str,
    type: TokenType,
    issued_at: int,
    valid_from: int | None = None,
    valid_until: int | None = None,
    campaign: int = 0,
    max_uses: int = 0,
    rotating: bool = False,
    token_id: bytes | None = None,
) -> str:
    """Sign a token and return its text form.

    The validity window is stored in whole minutes from the minute of issue and rounded
    outwards (opens up to 59 s early, closes up to 59 s late), never inwards.
    """
    token_id = new_token_id() if token_id is None else token_id
    if len(token_id) != ID_LEN:
        raise ValueError("a token id is 10 bytes")
    if not 1 <= key_id <= MAX_KEY_ID:
        raise ValueError("key id out of range")
    if not 0 < issued_at < 2**32:
        raise ValueError("issue time out of range")
    if not (0 <= campaign <= 0xFF and 0 <= max_uses <= 0xFF):
        raise ValueError("campaign and max uses are 0..255")
    base = issued_at - issued_at % 60
    from_minutes = 0 if valid_from is None else max(0, (valid_from - base) // 60)
    if valid_until is None:
        until_minutes = OPEN_ENDED
    else:
        until_minutes = -(-(valid_until - base) // 60)  # ceiling division
        if until_minutes <= from_minutes:
            raise ValueError("validity window is empty")
    if from_minutes > MAX_OFFSET_MINUTES or (valid_until is not None and until_minutes > MAX_OFFSET_MINUTES):
        raise ValueError("validity window too far from the issue time")
    header = (FORMAT_VERSION << 4) | (_HEADER_ROTATING if rotating else 0) | int(type)
    body = _BODY.pack(
        header,
        key_id,
        event_tag(event_id),
        token_id,
        campaign,
        max_uses,
        issued_at,
        from_minutes.to_bytes(3, "big"),
        until_minutes.to_bytes(3, "big"),
    )
    signature = signing_key.sign(signing_message(event_id, body))
    return PREFIX + _b32(body + signature)


def url_path(text: str) -> str:
    """The path of the URL form, `/V/<base32>`: the token without its prefix."""
    decode(text)
    return URL_PATH + text[len(PREFIX) :]


def to_url(text: str, host: str, *, scheme: str = "HTTPS") -> str:
    """The upper-case URL form a phone camera opens (upper case keeps QR alphanumeric mode)."""
    return f"{scheme.upper()}://{host.upper()}{url_path(text)}"


def parse_scan(raw: object) -> Scan:
    """Accept what a scanner or a clerk may hand over: text form, URL form, rotating form.

    Only shape is checked here; `decode` and `verify` do the rest.
    """
    if not isinstance(raw, str):
        raise TokenError(Reason.MALFORMED, "not text")
    if len(raw) > MAX_INPUT_CHARS:
        raise TokenError(Reason.MALFORMED, "far too long to be a token")
    code = None
    rotating = _ROTATING_SUFFIX.fullmatch(raw)
    if rotating:
        raw, code = rotating.group(1), rotating.group(2)
    url = _URL.fullmatch(raw)
    if url:
        raw = PREFIX + url.group(1)
    return Scan(raw, code)


def decode(text: object) -> Decoded:
    """Parse the text form. Raises TokenError(malformed | unsupported_version)."""
    if not isinstance(text, str):
        raise TokenError(Reason.MALFORMED, "not text")
    if len(text) > MAX_INPUT_CHARS:
        raise TokenError(Reason.MALFORMED, "far too long to be a token")
    if not text.startswith(PREFIX):
        raise TokenError(Reason.MALFORMED, f"does not start with {PREFIX}")
    encoded = text[len(PREFIX) :]
    if not _BASE32.fullmatch(encoded):
        raise TokenError(Reason.MALFORMED, "not upper-case base32")
    if len(encoded) != ENCODED_LEN:
        kind = "truncated" if len(encoded) < ENCODED_LEN else "too long"
        raise TokenError(Reason.MALFORMED, f"{kind}: {len(encoded)} of {ENCODED_LEN} characters")
    # 146 characters carry 730 bits: the 91 bytes and 2 unused bits, which must be zero so
    # that each token has one spelling. int(…, 32) is Python's fast path for base 32.
    bits = int(encoded.translate(_TO_INT_DIGITS), 32)
    if bits & 0b11:
        raise TokenError(Reason.MALFORMED, "not canonical base32")
    raw = (bits >> 2).to_bytes(TOKEN_LEN, "big")
    body, signature = raw[:BODY_LEN], raw[BODY_LEN:]
    (header, key_id, tag, token_id, campaign, max_uses, issued_at, from_raw, until_raw) = _BODY.unpack(body)
    if header >> 4 != FORMAT_VERSION:
        raise TokenError(Reason.UNSUPPORTED_VERSION, f"format version {header >> 4}")
    if header & _HEADER_RESERVED:
        raise TokenError(Reason.MALFORMED, "reserved header bit set")
    try:
        kind = TokenType(header & _HEADER_TYPE)
    except ValueError:
        raise TokenError(Reason.MALFORMED, "unknown token type") from None
    if key_id == 0:
        raise TokenError(Reason.MALFORMED, "key id 0")
    from_minutes = int.from_bytes(from_raw, "big")
    until_minutes = int.from_bytes(until_raw, "big")
    if until_minutes != OPEN_ENDED and until_minutes <= from_minutes:
        raise TokenError(Reason.MALFORMED, "empty validity window")
    base = issued_at - issued_at % 60
    token = Token(
        type=kind,
        key_id=key_id,
        token_id=token_id,
        campaign=campaign,
        max_uses=max_uses,
        issued_at=issued_at,
        valid_from=base + 60 * from_minutes,
        valid_until=None if until_minutes == OPEN_ENDED else base + 60 * until_minutes,
        rotating=bool(header & _HEADER_ROTATING),
    )
    # The id starts at bit 40 of the body, on a character boundary: its 16 base32 characters
    # are characters 8-24 of the text, so they need no encoding.
    token.__dict__["id"] = encoded[8:24]
    return Decoded(token, tag, body, signature)


def verify(text: object, bundle: TrustBundle, *, now: int) -> Token:
    """Decode and fully verify a token against a trust bundle at (corrected) time `now`.

    Checks run in the order of docs/token-format.md, so every implementation gives the
    same reason for the same token.
    """
    token = authenticate(text, bundle)
    check_time(token, now=now, tolerance=bundle.policy.validity_tolerance_s)
    return token


def authenticate(text: object, bundle: TrustBundle) -> Token:
    """Everything but the clock: is this a genuine token of this event from a trusted key?"""
    decoded = decode(text)
    token = decoded.token
    if decoded.event_tag != event_tag(bundle.event_id):
        raise TokenError(Reason.WRONG_EVENT, "issued for another event")
    key = bundle.keys.get(token.key_id)
    if key is None:
        raise TokenError(Reason.UNKNOWN_KEY, f"key {token.key_id} is not in the trust bundle")
    message = signing_message(bundle.event_id, decoded.body)
    if not signature_is_valid(key.public_key, decoded.signature, message):
        raise TokenError(Reason.BAD_SIGNATURE, "signature does not match")
    if key.status is KeyStatus.REVOKED and token.id not in key.allowlist:
        raise TokenError(Reason.REVOKED_KEY, f"key {token.key_id} was revoked")
    return token


def check_time(token: Token, *, now: int, tolerance: int) -> None:
    """Raise not_yet_valid or expired; `tolerance` seconds forgive a slightly wrong clock."""
    if now + tolerance < token.valid_from:
        raise TokenError(Reason.NOT_YET_VALID, f"valid from {token.valid_from}")
    if token.valid_until is not None and now - tolerance >= token.valid_until:
        raise TokenError(Reason.EXPIRED, f"expired at {token.valid_until}")


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# RFC 4648 base32 letters to the digits int() reads in base 32 (0-9, a-v).
_TO_INT_DIGITS = str.maketrans(_ALPHABET, "0123456789abcdefghijklmnopqrstuv")


def _id_text(token_id: bytes) -> str:
    """16 base32 characters for 10 bytes (80 bits: no padding)."""
    n = int.from_bytes(token_id, "big")
    return "".join(_ALPHABET[(n >> shift) & 31] for shift in range(75, -1, -5))

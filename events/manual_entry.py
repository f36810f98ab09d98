"""What a clerk types when the camera cannot read a phone: the short voucher code and digits.

A rotating voucher's QR is useless on a cracked or glaring screen, so the wallet also shows
its **short code** (the first 8 characters of the token id, "ABCD EFGH") and the current
6-digit code ("123 456"); the station's manual entry takes them, or the 16-character id, or
the whole code, and turns them into the text a scan would have given. The tablet then judges
that text exactly as it judges a scan (web/static/js/verdict.js).

This is the rule on both sides: web/static/js/manual-entry.js implements it for the station,
and tests/vectors/manual.json keeps the two identical (docs/token-format.md, "Typed codes").
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from events.refusal import Refusal
from events.rotating import DIGITS

SHORT_CODE_LEN = 8  # 40 of the id's 80 random bits: one voucher in a trillion shares a prefix
TOKEN_ID_LEN = 16
# Removed anywhere in what is typed: spaces (NFKC turns the ideographic and no-break spaces into
# U+0020) and every dash a keyboard or a phone's autocorrect may produce.
SEPARATORS = " \t\r\n-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
# Characters outside RFC 4648's base32 alphabet that a clerk types for the letter they look like.
# The alphabet has no 0, 1 or 8, so reading them as O, I and B never changes a valid code.
CONFUSABLES = {"0": "O", "1": "I", "8": "B"}
WHITESPACE = " \t\r\n"

_DROP_SEPARATORS = str.maketrans("", "", SEPARATORS)
_DROP_WHITESPACE = str.maketrans("", "", WHITESPACE)
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_READ_CONFUSABLES = str.maketrans(CONFUSABLES)
_BASE32 = re.compile(r"[A-Z2-7]+")
_CODE = re.compile(rf"[0-9]{{{DIGITS}}}")


class Reason(enum.StrEnum):
    """Why a typed entry names no token on this tablet. Never sent over the wire."""

    MALFORMED_CODE = "malformed_code"  # the digits are not 6 digits (the rotating refusal's word)
    UNKNOWN_SHORT_CODE = "unknown_short_code"  # no voucher the tablet holds starts like this
    AMBIGUOUS_SHORT_CODE = "ambiguous_short_code"  # several do
    UNKNOWN_ID = "unknown_id"  # a 16-character id the tablet holds no token for


class EntryError(Refusal):
    """A typed entry that cannot be turned into a token's text; `reason` is a Reason."""


class Kind(enum.StrEnum):
    SHORT = "short"  # a short voucher code, 8 characters
    ID = "id"  # a token id, 16 characters
    TEXT = "text"  # anything else: the whole code (text, URL or rotating form), for parse_scan


@dataclass(frozen=True)
class Entry:
    kind: Kind
    value: str
    code: str | None  # the 6 digits typed beside it, or None


def short_code(token_id: str) -> str:
    """The short voucher code of a token id: its first 8 characters (upper-case base32)."""
    if len(token_id) != TOKEN_ID_LEN or not _BASE32.fullmatch(token_id):
        raise ValueError("a token id is 16 characters of A-Z 2-7")
    return token_id[:SHORT_CODE_LEN]


def grouped(code: str) -> str:
    """How a code is shown to be read aloud: halves split by a space ("ABCD EFGH", "123 456")."""
    half = len(code) // 2
    return f"{code[:half]} {code[half:]}"


def normalized(typed: str) -> str:
    """What a clerk typed, read as a short code or id would be: width folded (NFKC), separators
    dropped, a-z upper-cased, 0/1/8 read as O/I/B. The result may still not be base32."""
    folded = unicodedata.normalize("NFKC", typed).translate(_DROP_SEPARATORS).translate(_ASCII_UPPER)
    return folded.translate(_READ_CONFUSABLES)


def parse(typed: object, digits: object = "") -> Entry:
    """Read the two fields of the manual form. Raises EntryError(malformed_code) for digits
    that are neither empty nor 6 digits once separators are dropped."""
    typed = typed if isinstance(typed, str) else ""
    digits = digits if isinstance(digits, str) else ""
    code = unicodedata.normalize("NFKC", digits).translate(_DROP_SEPARATORS) or None
    if code is not None and not _CODE.fullmatch(code):
        raise EntryError(Reason.MALFORMED_CODE, "the rotating code is 6 digits")
    candidate = normalized(typed)
    if _BASE32.fullmatch(candidate):
        if len(candidate) == SHORT_CODE_LEN:
            return Entry(Kind.SHORT, candidate, code)
        if len(candidate) == TOKEN_ID_LEN:
            return Entry(Kind.ID, candidate, code)
    # The whole code: only whitespace is dropped (a hyphen may start the rotating suffix, a URL
    # holds digits) and a-z upper-cased; parse_scan and decode judge the rest, as for a scan.
    whole = unicodedata.normalize("NFKC", typed).translate(_DROP_WHITESPACE).translate(_ASCII_UPPER)
    return Entry(Kind.TEXT, whole, code)


def resolve(entry: Entry, *, vouchers: Mapping[str, str], passes: Mapping[str, str]) -> str:
    """The text a scan would have given for `entry`, from the tokens this tablet holds:
    `vouchers` and `passes` map token ids to token texts. A short code names vouchers only.
    Raises EntryError(unknown_short_code | ambiguous_short_code | unknown_id)."""
    if entry.kind is Kind.SHORT:
        found = [text for token_id, text in vouchers.items() if token_id.startswith(entry.value)]
        if not found:
            raise EntryError(Reason.UNKNOWN_SHORT_CODE, f"no voucher here starts with {entry.value}")
        if len(found) > 1:
            raise EntryError(Reason.AMBIGUOUS_SHORT_CODE, f"{len(found)} vouchers start with {entry.value}")
        text = found[0]
    elif entry.kind is Kind.ID:
        text = vouchers.get(entry.value) or passes.get(entry.value)
        if not text:
            raise EntryError(Reason.UNKNOWN_ID, f"no token here has the id {entry.value}")
    else:
        text = entry.value
    return f"{text}-{entry.code}" if entry.code else text

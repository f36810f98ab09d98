"""The rotating anti-screenshot code shown next to a voucher on the attendee's phone.

Each voucher gets its own TOTP secret, derived from the event's rotation key, so tablets
(which hold the rotation key) can check any voucher while a phone holds only its own
secret. 6 digits, 15-second steps, HMAC-SHA1 (RFC 6238), ±1 step accepted, and a step is
never accepted twice for one voucher: the verifier keeps the last step it accepted.

The rotation key has epochs: revoking a tablet retires the key it held and makes a new one
(events/registry.py). Verifiers keep the retired keys, only to tell a code made with one
(`rotation_key_retired`: a stolen tablet's, or a phone that has not fetched its new secret)
from a wrong one (`bad_code`); such a code is never accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pyotp

from events.refusal import Refusal

DIGITS = 6
STEP_SECONDS = 15
WINDOW = 1
DERIVATION_CONTEXT = b"PopPass rotating code v1\n"
ROTATION_KEY_LEN = 32
_CODE = re.compile(r"[0-9]{6}")


class CodeError(Refusal):
    """A rotating code that must not be accepted; `reason` is machine-readable."""


@dataclass(frozen=True)
class Accepted:
    step: int


def voucher_secret(rotation_key: bytes, token_id: bytes) -> str:
    """The voucher's TOTP secret in base32 (32 characters, 160 bits: pyotp wants >= 112)."""
    if len(rotation_key) != ROTATION_KEY_LEN:
        raise ValueError("the rotation key is 32 bytes")
    digest = hmac.new(rotation_key, DERIVATION_CONTEXT + token_id, hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode("ascii")


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def step_at(now: float) -> int:
    return int(now) // STEP_SECONDS


def code_at(secret: str, now: float) -> str:
    return _totp(secret).at(int(now))


def seconds_left(now: float) -> int:
    """How long the code shown at `now` stays current (for the phone's countdown)."""
    return STEP_SECONDS - int(now) % STEP_SECONDS


def check_code(
    secret: str,
    code: object,
    *,
    now: float,
    last_step: int | None = None,
    window: int = WINDOW,
) -> Accepted:
    """Accept `code` if it matches a step within ±`window` of `now` newer than `last_step`.

    Raises CodeError with reason `malformed_code`, `bad_code` or `code_replayed`. A code
    for a step at or before the last accepted one is a replay (an old screenshot), even
    if that exact step was never shown to this tablet.
    """
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise CodeError("malformed_code", "a rotating code is 6 digits")
    totp = _totp(secret)
    current = step_at(now)
    # Nearest step first; on a tie (a code matching both neighbours) the earlier step wins.
    # Steps before the Unix epoch do not exist.
    steps = sorted(range(max(0, current - window), current + window + 1), key=lambda s: (abs(s - current), s))
    for step in steps:
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            if last_step is not None and step <= last_step:
                raise CodeError("code_replayed", f"step {step} is not after {last_step}")
            return Accepted(step)
    raise CodeError("bad_code", "does not match the current code")


def check_voucher_code(
    rotation_key: bytes,
    retired_keys: Sequence[bytes],
    token_id: bytes,
    code: object,
    *,
    now: float,
    last_step: int | None = None,
) -> Accepted:
    """`check_code` with the voucher's secret under the current rotation key; a code that does
    not match it but matches the voucher's secret under a retired key (within the same window,
    whatever the last step) is refused as `rotation_key_retired`, so the clerk can tell the
    attendee what to do (open the wallet with network) instead of "wrong code"."""
    try:
        return check_code(voucher_secret(rotation_key, token_id), code, now=now, last_step=last_step)
    except CodeError as error:
        if error.reason != "bad_code":
            raise
        for retired in retired_keys:
            try:
                check_code(voucher_secret(retired, token_id), code, now=now)
            except CodeError:
                continue
            raise CodeError("rotation_key_retired", "made with a rotation key retired by a revocation") from None
        raise

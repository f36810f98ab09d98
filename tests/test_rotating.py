"""The rotating anti-screenshot code: per-voucher secrets, ±1 step, no step accepted twice."""

from __future__ import annotations

import base64

import pyotp
import pytest

from events import rotating
from events.rotating import CodeError

KEY = bytes(range(32))
NOW = 1767261607  # 7 s into a 15 s step


def secret(token_id: bytes = b"0123456789") -> str:
    return rotating.voucher_secret(KEY, token_id)


def test_secrets_differ_per_voucher_and_satisfy_pyotp() -> None:
    a, b = secret(b"0123456789"), secret(b"0123456780")
    assert a != b and len(a) == 32
    pyotp.TOTP(a).now()  # pyotp refuses secrets under 112 bits


def test_code_changes_every_15_seconds() -> None:
    start = NOW - NOW % 15
    assert rotating.code_at(secret(), start) == rotating.code_at(secret(), start + 14)
    assert rotating.code_at(secret(), start) != rotating.code_at(secret(), start + 15)
    assert rotating.seconds_left(start + 4) == 11


@pytest.mark.parametrize("offset", [-15, 0, 15])
def test_one_step_either_side_is_accepted(offset: int) -> None:
    code = rotating.code_at(secret(), NOW + offset)
    assert rotating.check_code(secret(), code, now=NOW).step == rotating.step_at(NOW + offset)


@pytest.mark.parametrize("offset", [-30, 30, -3600])
def test_further_away_is_refused(offset: int) -> None:
    with pytest.raises(CodeError) as raised:
        rotating.check_code(secret(), rotating.code_at(secret(), NOW + offset), now=NOW)
    assert raised.value.reason == "bad_code"


def test_a_step_is_never_accepted_twice_nor_an_older_one() -> None:
    code = rotating.code_at(secret(), NOW)
    accepted = rotating.check_code(secret(), code, now=NOW)
    for replay in (code, rotating.code_at(secret(), NOW - 15)):
        with pytest.raises(CodeError) as raised:
            rotating.check_code(secret(), replay, now=NOW + 5, last_step=accepted.step)
        assert raised.value.reason == "code_replayed"
    later = rotating.code_at(secret(), NOW + 15)
    assert rotating.check_code(secret(), later, now=NOW + 15, last_step=accepted.step).step == accepted.step + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", None, 123456, " 123456"])
def test_malformed_codes(code) -> None:
    with pytest.raises(CodeError) as raised:
        rotating.check_code(secret(), code, now=NOW)
    assert raised.value.reason == "malformed_code"


@pytest.mark.parametrize(
    "time, expected",
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_pyotp_matches_rfc_6238_sha1(time: int, expected: str) -> None:
    totp = pyotp.TOTP(base64.b32encode(b"12345678901234567890").decode(), digits=8, interval=30)
    assert totp.at(time) == expected


def test_no_step_before_the_epoch() -> None:
    accepted = rotating.check_code(secret(), rotating.code_at(secret(), 0), now=3)
    assert accepted.step == 0

"""The typed-code rule (events/manual_entry.py): the shared vectors, and properties of what a
clerk may type for a short code. web/static/js/manual-entry.js passes the same vectors in
Chromium (e2e/test_manual_entry_js.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import manual_entry, tokens
from events.manual_entry import EntryError, Kind
from tests.vectors import build

VECTORS = json.loads(build.MANUAL_PATH.read_text(encoding="utf-8"))
HOLDS = VECTORS["holds"]
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

token_ids = st.binary(min_size=tokens.ID_LEN, max_size=tokens.ID_LEN).map(
    lambda raw: tokens.Token(tokens.TokenType.VOUCHER, 1, raw, 0, 0, 0, 0, None, False).id
)


def outcome(typed: str, digits: str, holds: dict = HOLDS) -> dict:
    try:
        return {"text": manual_entry.resolve(manual_entry.parse(typed, digits), **holds)}
    except EntryError as error:
        return {"reason": str(error.reason)}


def test_committed_vectors_match_the_implementation() -> None:
    assert build.MANUAL_PATH.read_text(encoding="utf-8") == build.render_manual(), "run: python -m tests.vectors.build"


@pytest.mark.parametrize("vector", VECTORS["entries"], ids=lambda v: v["name"])
def test_entry(vector: dict) -> None:
    assert outcome(vector["typed"], vector["digits"]) == vector["result"]


def test_short_codes_and_normalization() -> None:
    for v in VECTORS["short_codes"]:
        assert manual_entry.short_code(v["token_id"]) == v["short_code"]
    for v in VECTORS["normalized"]:
        assert manual_entry.normalized(v["typed"]) == v["normalized"]


def test_every_refusal_has_a_vector() -> None:
    reasons = {v["result"]["reason"] for v in VECTORS["entries"] if "reason" in v["result"]}
    assert reasons == {str(r) for r in manual_entry.Reason}


@given(token_ids)
def test_the_short_code_is_the_start_of_the_id_and_shown_in_two_groups(token_id: str) -> None:
    short = manual_entry.short_code(token_id)
    assert token_id.startswith(short) and len(short) == manual_entry.SHORT_CODE_LEN
    assert manual_entry.grouped(short) == f"{short[:4]} {short[4:]}"


# How a clerk may mistype a short code that is shown as "ABCD EFGH": case, spaces or dashes
# anywhere, full-width characters, and a digit for the letter it looks like.
def mistyped(short: str) -> st.SearchStrategy[str]:
    look_alike = {"O": "0", "I": "1", "B": "8"}

    def char(c: str) -> st.SearchStrategy[str]:
        options = [c, c.lower(), chr(ord(c) + 0xFEE0)]  # ASCII to its full-width form
        if c in look_alike:
            options.append(look_alike[c])
        return st.sampled_from(options)

    separator = st.sampled_from(["", "", " ", "-", "\u3000", "\u2013", "  "])
    parts = [st.tuples(separator, char(c)) for c in short]
    return st.tuples(*parts, separator).map(lambda ps: "".join(a + b for a, b in ps[:-1]) + ps[-1])


@given(st.data(), token_ids, token_ids)
def test_a_mistyped_short_code_finds_its_voucher_and_no_other(data, token_id: str, other: str) -> None:
    short = manual_entry.short_code(token_id)
    typed = data.draw(mistyped(short))
    entry = manual_entry.parse(typed, "")
    assert entry == manual_entry.Entry(Kind.SHORT, short, None)
    held = {token_id: "PP" + token_id}
    if not other.startswith(short):
        held[other] = "PP" + other
    assert manual_entry.resolve(entry, vouchers=held, passes={}) == "PP" + token_id


@given(token_ids, st.text(alphabet="0123456789", min_size=6, max_size=6), st.sampled_from(["", " ", "-"]))
def test_digits_are_read_with_or_without_a_separator(token_id: str, code: str, sep: str) -> None:
    entry = manual_entry.parse(manual_entry.short_code(token_id), code[:3] + sep + code[3:])
    assert entry.code == code
    assert manual_entry.resolve(entry, vouchers={token_id: "PPX"}, passes={}) == f"PPX-{code}"


@given(st.text(max_size=40), st.text(max_size=10))
def test_anything_typed_gives_an_entry_or_a_typed_refusal(typed: str, digits: str) -> None:
    try:
        entry = manual_entry.parse(typed, digits)
    except EntryError as error:
        assert error.reason == manual_entry.Reason.MALFORMED_CODE
        return
    if entry.kind is not Kind.TEXT:
        assert all(c in BASE32 for c in entry.value)
    assert entry.code is None or (len(entry.code) == 6 and entry.code.isascii() and entry.code.isdigit())


def test_a_short_code_shared_by_two_vouchers_is_ambiguous_and_the_id_settles_it() -> None:
    held = {"TWINTWINAAAAAAAA": "PPA", "TWINTWINBBBBBBBB": "PPB"}
    with pytest.raises(EntryError) as raised:
        manual_entry.resolve(manual_entry.parse("twin-twin"), vouchers=held, passes={})
    assert raised.value.reason == "ambiguous_short_code"
    assert manual_entry.resolve(manual_entry.parse("TWIN TWIN BBBB BBBB"), vouchers=held, passes={}) == "PPB"


def test_short_code_refuses_what_is_not_a_token_id() -> None:
    for bad in ["ABCDEFGH", "abcdefghabcdefgh", "ABCDEFGHABCDEFG1"]:
        with pytest.raises(ValueError):
            manual_entry.short_code(bad)

"""web/static/js/manual-entry.js in real Chromium: every shared typed-code vector
(tests/vectors/manual.json), then a differential batch of random typing where Python's answer
(events/manual_entry.py) is the expected one. One page.evaluate per batch."""

from __future__ import annotations

import json
import random

import pytest
from playwright.sync_api import Page

from e2e.js_runner import Run, runner
from events import manual_entry
from events.manual_entry import EntryError
from tests.vectors import build

VECTORS = json.loads(build.MANUAL_PATH.read_text(encoding="utf-8"))

PRELUDE = """
const m = await import('/static/js/manual-entry.js');
const holds = {
  vouchersStartingWith: (prefix) => Object.entries(arg.vectors.holds.vouchers)
    .filter(([id]) => id.startsWith(prefix)).map(([, text]) => text),
  token: (id) => arg.vectors.holds.vouchers[id] ?? arg.vectors.holds.passes[id] ?? null,
};
const outcome = (typed, digits) => m.resolve(m.parse(typed, digits), holds);
"""


@pytest.fixture
def run(page: Page, live_server) -> Run:
    return runner(page, live_server.url, PRELUDE, {"vectors": VECTORS})


def python_outcome(typed: str, digits: str) -> dict:
    try:
        return {"text": manual_entry.resolve(manual_entry.parse(typed, digits), **VECTORS["holds"])}
    except EntryError as error:
        return {"reason": str(error.reason)}


def test_every_typed_code_vector(run: Run) -> None:
    results = run(
        """
        return {
          entries: arg.vectors.entries.map((v) => outcome(v.typed, v.digits)),
          short: arg.vectors.short_codes.map((v) => m.shortCode(v.token_id)),
          normalized: arg.vectors.normalized.map((v) => m.normalized(v.typed)),
          grouped: [m.grouped("ABCDEFGH"), m.grouped("123456")],
        };
        """,
        {},
    )
    assert results["entries"] == [v["result"] for v in VECTORS["entries"]]
    assert results["short"] == [v["short_code"] for v in VECTORS["short_codes"]]
    assert results["normalized"] == [v["normalized"] for v in VECTORS["normalized"]]
    assert (
        results["grouped"]
        == [manual_entry.grouped("ABCDEFGH"), manual_entry.grouped("123456")]
        == ["ABCD EFGH", "123 456"]
    )


def test_random_typing_is_read_as_python_reads_it(run: Run) -> None:
    rng = random.Random(14)
    pieces = [
        "BOIL",
        "2345",
        "boil",
        "TWIN",
        "twin",
        "PASS",
        "0",
        "1",
        "8",
        "9",
        " ",
        "-",
        "\u3000",
        "\u2013",
        "\uff22",
        "\uff2f",
        "Q",
        "q",
        "ß",
        "ı",
        "\n",
        "PLAINVCH",
        "ZZZZ",
    ]
    digit_pieces = ["1", "2", "3", "4", "5", "6", " ", "-", "\uff11", "a"]
    cases = []
    for _ in range(400):
        typed = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        digits = "".join(rng.choice(digit_pieces) for _ in range(rng.choice([0, 0, 6, 7, rng.randint(1, 9)])))
        cases.append([typed, digits])
    got = run("return arg.cases.map(([typed, digits]) => outcome(typed, digits));", {"cases": cases})
    expected = [python_outcome(typed, digits) for typed, digits in cases]
    assert got == expected
    assert any("text" in e for e in expected) and any("reason" in e for e in expected)

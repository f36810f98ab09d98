"""The tablet's reason and conflict words (web/static/js/reasons.js, station-app.js) in real
Chromium are the server's (server/reasons.py), by the shared vectors in tests/vectors/words.json:
the same English msgids, so one translation serves both (docs/adr/0008)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

from e2e.js_runner import Run, runner
from tests.vectors import build

WORDS = json.loads(build.WORDS_PATH.read_text(encoding="utf-8"))

PRELUDE = """
const r = await import('/static/js/reasons.js');
const s = await import('/static/js/station-app.js');
const each = (table, words) => Object.fromEntries(Object.keys(table).map((key) => [key, words(key)]));
"""


@pytest.fixture
def run(page: Page, live_server) -> Run:
    return runner(page, live_server.url, PRELUDE, {"words": WORDS})


def test_the_tablets_words_are_the_servers(run: Run) -> None:
    shown = run(
        """
      return {
        reasons: each(arg.words.reasons, r.reasonWords),
        reason_fallback: r.reasonWords('no_such_reason'),
        conflict_kinds: each(arg.words.conflict_kinds, s.conflictWords),
        conflict_fallback: s.conflictWords('no_such_kind'),
        conflict_statuses: each(arg.words.conflict_statuses, s.conflictStatusWords),
      };
    """,
        {},
    )
    assert shown == {key: value for key, value in WORDS.items() if key != "about"}

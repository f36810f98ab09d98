"""web/static/js/outbox.js's hybrid logical clock (nextStamp, receiveStamp) in real Chromium:
every shared vector of tests/vectors/hlc.json, which events/hlc.py passes too (tests/test_hlc.py),
then a differential batch of random clocks where Python's answer is the expected one."""

from __future__ import annotations

import json
import random

import pytest
from playwright.sync_api import Page

from e2e.js_runner import Run, runner
from events import hlc
from tests.vectors import build

VECTORS = json.loads(build.HLC_PATH.read_text(encoding="utf-8"))

PRELUDE = """
const o = await import('/static/js/outbox.js');
const send = (v) => ({ refused: false, ...o.nextStamp(v.clock, v.wall_ms) });
const receive = (v) => {
  const next = o.receiveStamp(v.clock, v.remote, v.wall_ms, v.max_drift_ms);
  return next === null ? { refused: true, ...v.clock } : { refused: false, ...next };
};
"""


@pytest.fixture
def run(page: Page, live_server) -> Run:
    return runner(page, live_server.url, PRELUDE, {"vectors": VECTORS})


def test_every_hlc_vector(run: Run) -> None:
    results = run("return { send: arg.vectors.send.map(send), receive: arg.vectors.receive.map(receive) };", {})
    assert results["send"] == [v["then"] for v in VECTORS["send"]]
    assert results["receive"] == [v["then"] for v in VECTORS["receive"]]
    assert VECTORS["max_counter"] == hlc.MAX_COUNTER


def python(case: dict) -> dict:
    clock = hlc.HybridClock(
        case["clock"]["ms"], case["clock"]["counter"], max_drift_ms=case.get("max_drift_ms", 60_000)
    )
    if "remote" in case:
        return build.stamped(
            clock, lambda: clock.receive((case["remote"]["ms"], case["remote"]["counter"]), case["wall_ms"])
        )
    return build.stamped(clock, lambda: clock.now(case["wall_ms"]))


def test_random_clocks_agree_with_python(run: Run) -> None:
    rng = random.Random(16)
    base = 1_767_261_600_000
    near = lambda: base + rng.choice([0, 0, 1, -1, rng.randint(-70_000, 70_000)])  # noqa: E731
    counter = lambda: rng.choice([0, 1, hlc.MAX_COUNTER - 1, hlc.MAX_COUNTER, rng.randint(0, hlc.MAX_COUNTER)])  # noqa: E731
    sends = [{"clock": {"ms": near(), "counter": counter()}, "wall_ms": near()} for _ in range(300)]
    receives = [
        {
            "clock": {"ms": near(), "counter": counter()},
            "remote": {"ms": near(), "counter": counter()},
            "wall_ms": near(),
            "max_drift_ms": 60_000,
        }
        for _ in range(300)
    ]
    results = run(
        "return { send: arg.sends.map(send), receive: arg.receives.map(receive) };",
        {"sends": sends, "receives": receives},
    )
    assert results["send"] == [python(case) for case in sends]
    assert results["receive"] == [python(case) for case in receives]

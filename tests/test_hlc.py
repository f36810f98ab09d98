"""Hybrid logical clocks and the clock checks."""

from __future__ import annotations

import pytest

from events import hlc
from events.trust import ClockPolicy


def test_local_events_move_forward_even_when_the_wall_clock_does_not() -> None:
    clock = hlc.HybridClock()
    assert clock.now(1000) == (1000, 0)
    assert clock.now(1000) == (1000, 1)
    assert clock.now(999) == (1000, 2)  # the wall clock stepped back: order is kept
    assert clock.now(1001) == (1001, 0)


def test_receiving_a_later_stamp_moves_past_it() -> None:
    clock = hlc.HybridClock()
    clock.now(1000)
    assert clock.receive((5000, 3), wall_ms=1200) == (5000, 4)
    assert clock.now(1300) > (5000, 4)


def test_the_drift_guard_refuses_a_stamp_far_in_the_future() -> None:
    clock = hlc.HybridClock(max_drift_ms=60_000)
    with pytest.raises(hlc.ClockDrift):
        clock.receive((1000 + 60_001, 0), wall_ms=1000)
    assert clock.ms == 0  # unchanged


def test_counter_overflow_moves_the_clock_on() -> None:
    clock = hlc.HybridClock(ms=1000, counter=hlc.MAX_COUNTER)
    assert clock.now(1000) == (1001, 0)


def test_order_is_total_with_device_id() -> None:
    assert sorted([hlc.order_key(5, 0, "b"), hlc.order_key(5, 0, "a"), hlc.order_key(4, 9, "z")]) == [
        (4, 9, "z"),
        (5, 0, "a"),
        (5, 0, "b"),
    ]


POLICY = ClockPolicy()


@pytest.mark.parametrize(
    "hlc_ms, device_ms, corrected, offset, expected",
    [
        (1_000_000, 1_000_000, 1_000_000, 0, []),
        (1_000_000, 400_000, 1_000_000, 600_000, []),  # a slow clock, corrected by the offset measured now
        (1_000_000, 1_000_000, None, 0, ["never_synced"]),
        (1_121_000, 1_121_000, 1_121_000, 0, ["from_the_future"]),
        (1_000_000, 1_000_000, 1_000_000, 601_000, ["stale_correction"]),  # corrected by an old offset
        (1_601_000, 1_000_000, 1_000_000, 0, ["hlc_far_from_clock"]),
    ],
)
def test_suspect_reasons(hlc_ms, device_ms, corrected, offset, expected) -> None:
    reasons = hlc.suspect_reasons(
        hlc_ms=hlc_ms,
        device_time_ms=device_ms,
        corrected_time_ms=corrected,
        received_at_ms=1_000_000,
        offset_ms=offset,
        policy=POLICY,
    )
    assert reasons == expected


# --- The shared vectors (web/static/js/outbox.js passes them in e2e/test_hlc_js.py) ----------

import json  # noqa: E402

from tests.vectors import build  # noqa: E402

HLC_VECTORS = json.loads(build.HLC_PATH.read_text(encoding="utf-8"))


def test_committed_hlc_vectors_match_the_implementation() -> None:
    assert build.HLC_PATH.read_text(encoding="utf-8") == build.render_hlc(), "run: python -m tests.vectors.build"


@pytest.mark.parametrize("vector", HLC_VECTORS["send"], ids=lambda v: f"{v['clock']}@{v['wall_ms']}")
def test_send_vector(vector: dict) -> None:
    clock = hlc.HybridClock(vector["clock"]["ms"], vector["clock"]["counter"])
    assert build.stamped(clock, lambda: clock.now(vector["wall_ms"])) == vector["then"]


@pytest.mark.parametrize("vector", HLC_VECTORS["receive"], ids=lambda v: f"{v['clock']}<{v['remote']}@{v['wall_ms']}")
def test_receive_vector(vector: dict) -> None:
    clock = hlc.HybridClock(vector["clock"]["ms"], vector["clock"]["counter"], max_drift_ms=vector["max_drift_ms"])
    remote = (vector["remote"]["ms"], vector["remote"]["counter"])
    assert build.stamped(clock, lambda: clock.receive(remote, vector["wall_ms"])) == vector["then"]
    assert clock.counter <= hlc.MAX_COUNTER  # never a stamp the push schema refuses


def test_a_full_counter_received_moves_the_clock_on_past_the_remote_stamp() -> None:
    clock = hlc.HybridClock(ms=1000, counter=3)
    assert clock.receive((1000, hlc.MAX_COUNTER), wall_ms=1000) == (1001, 0)

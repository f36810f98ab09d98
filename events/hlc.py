"""Hybrid logical clocks: an order across devices that respects causality and stays close to
real time, and the clock checks that decide when a device's time is suspect.

A stamp is (ms, counter); ties between devices are broken by device id, so the order of all
ops in an event is total and the same wherever it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.trust import ClockPolicy

MAX_COUNTER = 0xFFFF


class ClockDrift(Exception):
    """A remote stamp too far ahead of our wall clock: following it would drag our clock along."""


@dataclass
class HybridClock:
    """One device's HLC. `max_drift_ms` bounds how far ahead of the wall clock a received
    stamp may pull this clock (the drift guard)."""

    ms: int = 0
    counter: int = 0
    max_drift_ms: int = 60_000

    def now(self, wall_ms: int) -> tuple[int, int]:
        """Stamp a local event."""
        if wall_ms > self.ms:
            self.ms, self.counter = wall_ms, 0
        else:
            self._tick()
        return self.ms, self.counter

    def receive(self, remote: tuple[int, int], wall_ms: int) -> tuple[int, int]:
        """Merge a stamp seen from elsewhere (a pulled op), refusing one beyond the drift guard."""
        remote_ms, remote_counter = remote
        if remote_ms - wall_ms > self.max_drift_ms:
            raise ClockDrift(f"remote clock {remote_ms - wall_ms} ms ahead")
        top = max(self.ms, remote_ms, wall_ms)
        if top == self.ms == remote_ms:
            self.counter = max(self.counter, remote_counter) + 1
        elif top == self.ms:
            self.counter += 1
        elif top == remote_ms:
            self.counter = remote_counter + 1
        else:
            self.counter = 0
        self.ms = top
        if self.counter > MAX_COUNTER:
            # As in `now`: move the clock on rather than overflow. Still after the remote stamp,
            # and a counter past 65,535 would be refused by the push schema (docs/adr/0008).
            self.ms, self.counter = top + 1, 0
        return self.ms, self.counter

    def _tick(self) -> None:
        self.counter += 1
        if self.counter > MAX_COUNTER:
            # 65,536 events in one millisecond: move the clock on rather than overflow.
            self.ms, self.counter = self.ms + 1, 0


def order_key(hlc_ms: int, hlc_counter: int, device_id: str) -> tuple[int, int, str]:
    """The total order of ops across devices: HLC, then device id."""
    return hlc_ms, hlc_counter, device_id


def measured_offset_ms(server_now_ms: int, device_sent_at_ms: int) -> int:
    """How far the device clock is behind server time (positive: the device is slow).

    Measured at push, ignoring the one-way network delay: good to well under a second, which
    is far finer than the minutes the clock policy cares about."""
    return server_now_ms - device_sent_at_ms


def suspect_reasons(
    *,
    hlc_ms: int,
    device_time_ms: int,
    corrected_time_ms: int | None,
    received_at_ms: int,
    offset_ms: int,
    policy: ClockPolicy,
) -> list[str]:
    """Why an op's time cannot be trusted, if it cannot: it is flagged, never refused."""
    warn_ms, refuse_ms = policy.skew_warn_s * 1000, policy.skew_refuse_issue_s * 1000
    reasons = []
    if corrected_time_ms is None:
        reasons.append("never_synced")
    elif corrected_time_ms > received_at_ms + warn_ms:
        reasons.append("from_the_future")
    elif abs((corrected_time_ms - device_time_ms) - offset_ms) > warn_ms:
        # The correction the device applied is not the offset measured now: its clock jumped
        # since it last synced, so its idea of server time was wrong when it acted.
        reasons.append("stale_correction")
    if corrected_time_ms is not None and abs(hlc_ms - corrected_time_ms) > refuse_ms:
        reasons.append("hlc_far_from_clock")
    return reasons

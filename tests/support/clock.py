"""The tests' fixed "now", and a clock the app reads that a test can move."""

from __future__ import annotations

NOW = 1767261600  # 2026-01-01 10:00 UTC


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

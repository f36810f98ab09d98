"""How many examples a property test runs: its own count, or at most FAST_EXAMPLES in the inner
loop (`scripts/test --fast` sets POPPASS_FAST=1; docs/testing.md). CI never sets it, so there every
property test runs its full count. A test with its own count writes
`@settings(max_examples=examples(200))`; the others follow the profile tests/conftest.py loads."""

from __future__ import annotations

import os

FAST = os.environ.get("POPPASS_FAST", "") == "1"
FAST_EXAMPLES = 10


def examples(count: int) -> int:
    return min(count, FAST_EXAMPLES) if FAST else count

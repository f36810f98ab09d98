"""Which Chromium the end-to-end tests and the browser benchmarks drive, and how it is started.

Debian's package where there is one (POPPASS_CHROMIUM overrides the path); elsewhere Playwright's
own download (`playwright install chromium`) is the fallback.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
# The machine has no network but the loopback: stop Chromium from trying to phone home.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
]


def chromium_executable() -> str | None:
    """Debian's Chromium if present; None means Playwright's own browser."""
    override = os.environ.get("POPPASS_CHROMIUM")
    if override:
        return override
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")

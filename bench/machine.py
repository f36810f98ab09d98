"""What every benchmark prints beside its figures: the machine, and the same percentile rule."""

from __future__ import annotations

import platform
from pathlib import Path


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def finish_browser_run(chromium_version: str, elapsed_s: float, problems: list[str]) -> None:
    """Print the closing lines of a browser benchmark's report (run time, machine, load); a run
    whose checks found problems exits non-zero, so its figures are not taken."""
    print(browser_run_footer(chromium_version, elapsed_s))
    if problems:
        raise SystemExit(1)


def browser_run_footer(chromium_version: str, elapsed_s: float) -> str:
    """The closing lines of a browser benchmark's report: run time, machine, load."""
    import os
    from datetime import datetime, timezone

    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"- Total run {elapsed_s:.0f} s.\n"
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical cores; Python {platform.python_version()}, "
        f"Chromium {chromium_version}; {platform.system()} {platform.release()} {platform.machine()}; "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n"
        f"- Load average when the measurements ended: {load} (1 / 5 / 15 min)"
    )

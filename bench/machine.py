"""What every benchmark prints beside its figures: the machine, and the same percentile rule."""

from __future__ import annotations

import platform
from datetime import UTC
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


def browser_run_footer(chromium_version: str, elapsed_s: float) -> str:
    """The closing lines of a browser benchmark's report: run time, machine, load."""
    import os
    from datetime import datetime

    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"- Total run {elapsed_s:.0f} s.\n"
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical cores; Python {platform.python_version()}, "
        f"Chromium {chromium_version}; {platform.system()} {platform.release()} {platform.machine()}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
        f"- Load average when the measurements ended: {load} (1 / 5 / 15 min)"
    )


def ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                name = line.split("=", 1)[1].strip('"')
                return f"{name}, {platform.system()} {platform.release()} {platform.machine()}"
    except OSError:
        pass
    return f"{platform.system()} {platform.release()} {platform.machine()}"


def chromium_version() -> str:
    """The version of the Chromium the browser benchmarks drive (e2e/browser.py finds it)."""
    import subprocess

    from e2e.browser import chromium_executable

    executable = chromium_executable()
    if executable is None:
        return "Playwright's own Chromium"
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"unknown ({executable})"
    return out or f"unknown ({executable})"


PACKAGES = ("litestar", "uvicorn", "msgspec", "sqlite-utils", "cryptography", "httpx", "playwright")


def package_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def load_average() -> str:
    import os

    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"


def machine_table() -> str:
    """The doc's header: the machine and the versions every figure was measured with."""
    import os
    import sqlite3

    rows = [
        ("CPU", f"{cpu_model()}, {os.cpu_count()} logical cores"),
        ("RAM", ram()),
        ("OS", os_name()),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("Chromium", chromium_version()),
        ("Packages", package_versions()),
    ]
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"

"""The benchmark runner cannot rot: `python -m bench --quick` runs every benchmark on small inputs
(the real server, real Chromium) into a temporary file, and its summary names every figure
docs/benchmarks.md reports. Timings are never asserted, not even as a time limit on the run: only that each figure is
there, with a number, and that no benchmark's own checks failed. docs/benchmarks.md is left alone.

The run has its own session (and so its own process group): however it ends (finished, failed,
or the test interrupted), the group is killed in a `finally`, and the test fails if anything of it
outlived the run (a uvicorn child a benchmark forgot to stop), after killing it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# It drives Chromium like the e2e tests (the browser benchmarks), so it carries their marker.
pytestmark = pytest.mark.e2e

# Every figure docs/benchmarks.md reports, as the summary table's "figure" column starts.
REQUIRED = [
    r"push ingest, engine, batches of 100",
    r"push ingest, engine, batches of 1,000",
    r"online redeem, concurrency 1: requests/s",
    r"online redeem, concurrency 1: p50 latency",
    r"online redeem, concurrency 1: p99 latency",
    r"online redeem, concurrency 8: requests/s",
    r"online redeem, concurrency 8: p50 latency",
    r"online redeem, concurrency 8: p99 latency",
    r"online redeem, double redemptions",
    r"pull bootstrap, [\d,]+ attendees, HTTP gzip",
    r"pull bootstrap, [\d,]+ attendees, bytes sent, gzip",
    r"check-in → wall, demo event: p50",
    r"check-in → wall, demo event: p99",
    r"check-in → wall, [\d,]+ attendees already registered: p99",
    r"scan to verdict, offline, median",
    r"scan to verdict, offline, p99",
    r"station JS, the \d+ files /station/scan loads, gzip -6",
    r"scan to verdict, offline, p95, from the camera's decoder",
    r"scan to verdict, offline, p95, typed and tapped",
    r"station precache, the \d+ \.js files, gzip -6",
    r"station precache, all \d+ URLs, gzip -6",
    r"verify one token, Python",
    r"verify one token, browser",
    r"wallet, time to first QR",
    r"wallet, live flip",
    r"CSV import, [\d,]+ rows, domain",
    r"import load: push p99 during a CSV import",
    r"import load: server memory growth during a CSV import",
]


def summary_rows(doc: str) -> list[list[str]]:
    summary = doc.split("## Summary", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in summary.splitlines() if line.startswith("| [")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in rows]


def session_members(session: int) -> list[int]:
    """The live processes of a session (zombies are dead: their parent only has to reap them)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The fields after the command's ")": state, ppid, pgrp, session (proc(5)).
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        if int(fields[3]) == session and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def kill_session(session: int) -> None:
    try:
        os.killpg(session, signal.SIGKILL)  # the leader started the session, so its pid is the group's
    except ProcessLookupError:
        pass


def test_quick_run_writes_every_figure(tmp_path: Path) -> None:
    doc_before = (ROOT / "docs" / "benchmarks.md").read_bytes()
    out = tmp_path / "benchmarks.md"
    log = tmp_path / "bench.log"
    with log.open("wb") as output:  # a file, not a pipe: a child still holding a pipe would hang the read
        process = subprocess.Popen(
            [
                sys.executable,
                "-W",
                "error",
                "-m",
                "bench",
                "--quick",
                "--out",
                str(out),
            ],  # warnings are errors here too
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        returncode = process.wait()  # no time limit: how long it takes is the benchmarks' business
        left = session_members(process.pid)
    finally:
        kill_session(process.pid)
        if process.poll() is None:
            process.wait()
    assert left == [], f"processes of the bench run still running after it ended: {left}"
    assert returncode == 0, log.read_text(errors="replace")[-4000:]
    assert (ROOT / "docs" / "benchmarks.md").read_bytes() == doc_before, "--quick --out must not touch the doc"

    doc = out.read_text(encoding="utf-8")
    assert "--quick" in doc.split("## Machine", 1)[0]
    for label in ("CPU", "RAM", "OS", "Python", "SQLite", "Chromium", "Packages"):
        assert f"| {label} |" in doc, label
    assert "Load average" in doc

    rows = summary_rows(doc)
    names = [row[1] for row in rows]
    for pattern in REQUIRED:
        assert any(re.match(pattern, name) for name in names), f"no figure matches {pattern!r}; figures: {names}"
    for row in rows:
        benchmark, name, median, spread, target, baseline, ratio, met = row
        assert re.match(r"\*\*-?[\d,]+(\.\d+)?\*\* \S+", median), row
        assert target, row
        assert met in ("met", "**missed**", "—"), row  # "run had problems" would mean a check failed
    # Where there is a baseline, the ratio measured in the same run is beside it.
    push = [row for row in rows if row[1].startswith("push ingest, engine")]
    assert all("executemany" in row[5] and "%" in row[6] for row in push), push
    assert "**Problems**" not in doc


def test_a_process_left_behind_is_seen_and_killed(tmp_path: Path) -> None:
    """The check above is real: a child that outlives its parent (as a forgotten server would) is found."""
    # `sleep` stands in for the forgotten server: something that would run on after its parent.
    process = subprocess.Popen(
        ["sh", "-c", "sleep 600 & echo $!"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        orphan = int(process.stdout.readline())
        process.wait()
        assert session_members(process.pid) == [orphan]
    finally:
        kill_session(process.pid)
        process.stdout.close()

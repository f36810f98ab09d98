"""Benchmark, not a test: online redemption (POST /api/v1/redeem) through the real server.

    .venv/bin/python -m bench.online_redeem [--runs 5] [--requests 200] [--doubles 200] [--quick]

Setup (untimed): one event in a temporary SQLite file (WAL), a non-rotating single-use campaign,
and as many distinct server-signed vouchers as there are requests (signed and stored as
events.campaigns.issue_voucher does, in one insert); eight tablets enrolled with one-time codes
(events/tablet.py keys). The real server (uvicorn on loopback, as tests/support/live.py starts it, one
process) serves that file.

Measured, at concurrency 1 and 8: `--runs` runs of `--requests` requests per worker. Each
worker is a thread playing one tablet with its own keep-alive httpx client and its own vouchers,
so every request redeems a voucher nobody has redeemed: every answer must be `200 accepted` (the
server verifies the token, judges, stores a `redeem` op, re-merges the voucher's conflicts and
commits, then announces the change to live wallets). Latency: perf_counter around one request,
sent to answer read (the body is built before). Requests/s: requests of the run / wall time of
the run, from the first request sent to the last answer read. The first requests of each worker
in each run (10; 2 with --quick) warm its fresh client up and are not counted.

Then, separately: `--doubles` double redemptions — vouchers accepted above, redeemed again by
another tablet with a fresh op_id, at concurrency 8 — each must be `200 refused used_up`.

The client runs on the same machine (two cores here): its threads share the CPU with the server,
so requests/s at concurrency 8 is a floor for what the server alone could do.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec

from bench.machine import percentile
from bench.report import NONE_SET, Figure, Lines, Section, print_section, ranged, sampled
from bench.sync_fixture import machine_lines, start_live_server, stop
from events import campaigns, registry
from events.db import open_database
from events.tablet import Tablet, enroll, new_id

LEVELS = (1, 8)
WARMUP = 10
TABLETS = max(LEVELS)
TARGET = NONE_SET


@dataclass
class Level:
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)  # every counted request
    run_rates: list[float] = field(default_factory=list)  # requests/s per run
    run_p99s: list[float] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)


def setup(db_path: Path, vouchers: int) -> tuple[list[tuple[str, str]], list[Tablet]]:
    """(token id, text) of `vouchers` distinct single-use vouchers, and the enrolled tablets."""
    db = open_database(db_path)
    try:
        now = int(time.time())
        event = registry.create_event(
            db, name="Bench redeem", venue="Hall 2", starts_at=now - 3600, ends_at=now + 8 * 3600, now=now
        )
        campaign = campaigns.create_campaign(db, event.id, title="Tote bag", max_uses=1, rotating=False, now=now)
        issued = campaigns.issue_vouchers(db, event.id, campaign.number, vouchers, now=now)
        tablets = [enroll(db, event.id, f"Tablet {i + 1}", now=now) for i in range(TABLETS)]
        return [(v.id, v.text) for v in issued], tablets
    finally:
        db.close()


def body(tablet: Tablet, voucher: tuple[str, str]) -> bytes:
    now_ms = int(time.time() * 1000)
    return msgspec.json.encode(
        {
            "protocol": 1,
            "device_id": tablet.device_id,
            "sent_at_ms": now_ms,
            "op_id": new_id(),
            "subject": voucher[0],
            "hlc_ms": now_ms,
            "hlc_counter": 0,
            "device_time_ms": now_ms,
            "corrected_time_ms": now_ms,
            "clerk": tablet.clerk,
            "token": voucher[1],
        }
    )


def worker(
    client: httpx.Client,
    tablet: Tablet,
    vouchers: list[tuple[str, str]],
    start: threading.Barrier,
    latencies: list[float],
    answers: list[str],
    warmup: int,
) -> None:
    for voucher in vouchers[:warmup]:
        client.post("/api/v1/redeem", content=body(tablet, voucher)).read()
    start.wait()
    for voucher in vouchers[warmup:]:
        content = body(tablet, voucher)
        before = time.perf_counter_ns()
        response = client.post("/api/v1/redeem", content=content)
        response.read()
        latencies.append((time.perf_counter_ns() - before) / 1e6)
        answer = response.json() if response.status_code == 200 else {}
        answers.append(
            f"{response.status_code} {answer.get('outcome', response.text[:80])}"
            + (f" {answer['reason']}" if answer.get("reason") else "")
        )


def one_run(
    url: str, tablets: list[Tablet], shares: list[list[tuple[str, str]]], warmup: int
) -> tuple[list[float], float, list[str]]:
    """Every worker redeems its share; returns latencies, requests/s over the run, answers."""
    concurrency = len(shares)
    start = threading.Barrier(concurrency + 1)
    latencies: list[list[float]] = [[] for _ in shares]
    answers: list[list[str]] = [[] for _ in shares]
    clients = [
        httpx.Client(base_url=url, headers={**t.headers, "Content-Type": "application/json"}, timeout=30)
        for t in tablets[:concurrency]
    ]
    try:
        threads = [
            threading.Thread(
                target=worker, args=(clients[i], tablets[i], shares[i], start, latencies[i], answers[i], warmup)
            )
            for i in range(concurrency)
        ]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    finally:
        for client in clients:
            client.close()
    flat = [x for part in latencies for x in part]
    return flat, len(flat) / elapsed, [a for part in answers for a in part]


def measure(
    quick: bool = False,
    *,
    runs: int | None = None,
    requests: int | None = None,
    doubles: int | None = None,
    directory: Path | None = None,
) -> Section:
    runs = runs if runs is not None else (1 if quick else 5)
    requests = requests if requests is not None else (30 if quick else 200)
    doubles = doubles if doubles is not None else (40 if quick else 200)
    warmup = 2 if quick else WARMUP
    begun = time.perf_counter()
    per_level = {c: c * runs * (warmup + requests) for c in LEVELS}  # each run warms its fresh clients
    out = Lines()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(dir=directory) as name:
        directory = Path(name)
        db_path = directory / "redeem.db"
        vouchers, tablets = setup(db_path, sum(per_level.values()))
        setup_s = time.perf_counter() - begun
        process, url = start_live_server(db_path, directory)
        levels: dict[int, Level] = {}
        accepted: list[tuple[str, str]] = []
        double = Level(TABLETS)
        try:
            pool = iter(vouchers)
            for concurrency in LEVELS:
                level = levels[concurrency] = Level(concurrency)
                for _ in range(runs):
                    shares = [[next(pool) for _ in range(requests + warmup)] for _ in range(concurrency)]
                    latencies, rate, answers = one_run(url, tablets, shares, warmup)
                    level.latencies_ms += latencies
                    level.run_rates.append(rate)
                    level.run_p99s.append(percentile(latencies, 0.99))
                    for answer in answers:
                        level.answers[answer] = level.answers.get(answer, 0) + 1
                    accepted += [v for share in shares for v in share[warmup:]]
                if set(level.answers) != {"200 accepted"}:
                    problems.append(f"concurrency {concurrency}: answers {level.answers}, expected only 200 accepted")
            # Double redemptions: each voucher again, from another tablet than the one that redeemed it.
            again = accepted[:doubles]
            shares = [again[i::TABLETS] for i in range(TABLETS)]
            shares = [s for s in shares if s]
            rotated = tablets[1:] + tablets[:1]
            latencies, rate, answers = one_run(url, rotated, shares, 0)
            double.latencies_ms, double.run_rates, double.run_p99s = latencies, [rate], [percentile(latencies, 0.99)]
            for answer in answers:
                double.answers[answer] = double.answers.get(answer, 0) + 1
            if set(double.answers) != {"200 refused used_up"}:
                problems.append(f"double redemptions: answers {double.answers}, expected only 200 refused used_up")
        finally:
            stop(process)
        stored = open_database(db_path)
        try:
            ops = dict(
                stored.execute(
                    "select json_extract(data, '$.outcome'), count(*) from ops where kind = 'redeem' group by 1"
                ).fetchall()
            )
        finally:
            stored.close()
        measure_s = time.perf_counter() - begun - setup_s

        out(__doc__.split("\n\n", 2)[2].strip())
        out()
        out(
            f"This run: {runs} run(s) of {requests} requests per worker at each concurrency, after {warmup} untimed "
            f"per worker; {len(vouchers):,} distinct vouchers; then {len(double.latencies_ms)} double redemptions "
            f"at concurrency {len(shares)}.\n"
        )
        out(
            "| concurrency | requests | requests/s, median (min–max of runs) | p50 ms | p90 ms | p99 ms | max ms | answers |"
        )
        out("|---:|---:|---:|---:|---:|---:|---:|---|")
        for level in [*levels.values(), double]:
            label = f"{level.concurrency}" if level is not double else f"{level.concurrency}, **double redemptions**"
            lat = level.latencies_ms
            out(
                f"| {label} | {len(lat):,} | {statistics.median(level.run_rates):,.0f} ({min(level.run_rates):,.0f}–"
                f"{max(level.run_rates):,.0f}) | {percentile(lat, 0.5):.1f} | {percentile(lat, 0.9):.1f} | "
                f"{percentile(lat, 0.99):.1f} | {max(lat):.1f} | "
                + ", ".join(f"{n:,}× {a}" for a, n in sorted(level.answers.items()))
                + " |"
            )
        out()
        out(
            "No target is set for online redemption itself. For scale: the clerk's verdict must come "
            '"in under a second", and the tablet decides offline when the server takes over about 1.5 s '
            "(docs/sync-protocol.md)."
        )
        out()
        out(
            "- Redeem ops stored by the server (warm-up included): "
            + ", ".join(f"{n:,} {outcome}" for outcome, n in sorted(ops.items()))
            + "."
        )
        out(f"- Setup {setup_s:.0f} s (issuing the vouchers), measurement {measure_s:.0f} s.")
        for line in machine_lines(directory):
            out(line)

    figures: list[Figure] = []
    for concurrency, level in levels.items():
        figures.append(
            ranged(
                f"online redeem, concurrency {concurrency}: requests/s",
                "req/s",
                level.run_rates,
                spread="min–max of runs",
                target=TARGET,
            )
        )
        figures.append(
            Figure(
                f"online redeem, concurrency {concurrency}: p50 latency",
                "ms",
                percentile(level.latencies_ms, 0.5),
                percentile(level.latencies_ms, 0.1),
                percentile(level.latencies_ms, 0.9),
                "p10–p90 of requests",
                target=TARGET,
                digits=1,
            )
        )
        p99 = Figure(
            f"online redeem, concurrency {concurrency}: p99 latency",
            "ms",
            percentile(level.latencies_ms, 0.99),
            target=TARGET,
            digits=1,
        )
        if len(level.run_p99s) > 1:
            p99.low, p99.high, p99.spread = min(level.run_p99s), max(level.run_p99s), "min–max of the runs' p99"
        figures.append(p99)
    figures.append(
        sampled(
            f"online redeem, double redemptions (refused used_up), concurrency {len(shares)}: latency",
            "ms",
            double.latencies_ms,
            digits=1,
            target=TARGET,
        )
    )
    return Section(
        "online_redeem",
        "Online redemption",
        "`.venv/bin/python -m bench.online_redeem [--runs 5] [--requests 200] [--doubles 200]`",
        out.text(),
        figures,
        problems,
        seconds=time.perf_counter() - begun,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per concurrency level (default 5)")
    parser.add_argument("--requests", type=int, default=None, help="requests per worker per run (default 200)")
    parser.add_argument("--doubles", type=int, default=None, help="double redemptions (default 200)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one short run per level")
    parser.add_argument("--dir", type=Path, default=None, help="where the database file goes (default: a temp dir)")
    args = parser.parse_args()
    print_section(measure(args.quick, runs=args.runs, requests=args.requests, doubles=args.doubles, directory=args.dir))


if __name__ == "__main__":
    main()

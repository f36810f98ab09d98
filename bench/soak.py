"""Soak, not a benchmark: the crash-recovery check of tests/test_crash_recovery.py over many seeds.

    .venv/bin/python -m bench.soak --seeds 1000 [--first 1000] [--jobs 2] [--size 40] [--cli] [--online]

For each seed (tests/support/faults.py): a fresh event and 3-4 tablets, a deterministic workload of
`--size` ops, a reference run through events.sync, and a faulty run against the real server
SIGKILLed 2-4 times (restarted by a fork server, or with `--cli` by the real command line) while
the tablets push over HTTP; then every op must be stored exactly once and the projections and
conflicts must equal the reference. Seeds run `--jobs` at a time. Prints a summary: seeds run,
kills by moment, ops checked, pushes, answers lost after a commit, failures with their seeds and
what failed, wall time and the machine. Exits non-zero if any seed failed.

`--online`: the online mode instead (tests.support.faults.run_online_seed): beside the pushes, online
redemptions retried with the same op_id and a tablet pulling through the kills, each killed at
least once; every answered redemption stored once with its answer, the puller's ops exactly the log's.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.machine import cpu_model
from tests.support.faults import SeedResult, Zygote, run_online_seed, run_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--first", type=int, default=1000, help="the first seed (CI uses 1-5)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--size", type=int, default=40, help="ops per seed, across all tablets")
    parser.add_argument("--cli", action="store_true", help="restart with `python -m server.cli serve` (slow)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and server logs of failed seeds")
    parser.add_argument(
        "--online", action="store_true", help="online redemptions and a pulling tablet beside the pushes"
    )
    args = parser.parse_args()

    local = threading.local()
    zygotes: list[Zygote] = []
    lock = threading.Lock()
    base = Path(tempfile.mkdtemp(prefix="poppass-soak-"))
    results: list[SeedResult] = []
    started = time.monotonic()

    def one(seed: int) -> SeedResult:
        if not args.cli and not hasattr(local, "zygote"):
            local.zygote = Zygote()
            with lock:
                zygotes.append(local.zygote)
        directory = base / str(seed)
        run = run_online_seed if args.online else run_seed
        result = run(seed, directory, zygote=None if args.cli else local.zygote, size=args.size)
        if not result.problems or not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
        with lock:
            results.append(result)
            done = len(results)
            if result.problems:
                print(f"seed {seed} FAILED:\n  " + "\n  ".join(result.problems), flush=True)
            if done % 50 == 0 or done == args.seeds:
                failed = sum(1 for r in results if r.problems)
                print(f"{done}/{args.seeds} seeds, {failed} failed, {time.monotonic() - started:.0f} s", flush=True)
        return result

    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(one, range(args.first, args.first + args.seeds)))
    finally:
        for zygote in zygotes:
            zygote.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    wall = time.monotonic() - started

    kills = Counter()
    for result in results:
        kills.update(result.stats.kills)
    failed = sorted((r for r in results if r.problems), key=lambda r: r.seed)
    print()
    print(
        f"seeds run: {len(results)} ({args.first}..{args.first + args.seeds - 1}), {args.jobs} at a time, "
        f"restarts by {'the command line' if args.cli else 'a fork server'}"
    )
    print(f"kills: {sum(kills.values())} ({', '.join(f'{mode} {n}' for mode, n in sorted(kills.items()))})")
    print(f"ops checked: {sum(r.ops for r in results)} (each stored exactly once, device_seq contiguous)")
    print(
        f"pushes: {sum(r.stats.pushes for r in results)}, without answer: "
        f"{sum(r.stats.refused_connections for r in results)}, gaps: {sum(r.stats.gaps for r in results)}, "
        f"ops whose answer was lost after the server stored them: {sum(r.stats.lost_answers for r in results)}"
    )
    if args.online:
        print(
            f"online redemptions answered: {sum(r.ops for r in results) - sum(args.size for _ in results)}, requests: "
            f"{sum(r.stats.redeems for r in results)}, resent after no answer: {sum(r.stats.redeem_retries for r in results)}, "
            f"answers lost after the server stored the decision: {sum(r.stats.lost_redeem_answers for r in results)}, "
            f"asked again after an answer: {sum(r.stats.repeats for r in results)}; pulls: {sum(r.stats.pulls for r in results)}"
        )
    print(f"failures: {len(failed)}" + (f" (seeds {', '.join(str(r.seed) for r in failed)})" if failed else ""))
    print(f"wall time: {wall:.0f} s ({wall / max(1, len(results)):.2f} s a seed)")
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}"
    )
    if args.keep and failed:
        print(f"kept in {base}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

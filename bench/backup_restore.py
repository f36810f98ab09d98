"""Benchmark, not a test: `poppass backup` and `poppass restore` of an event with 20,000 attendees.

    .venv/bin/python -m bench.backup_restore [--runs 5] [--quick]

Setup (untimed): one event in a SQLite file (WAL), three tablets that push, through
events.sync.push in batches of 1,000, 20,000 registrations, 6,000 vouchers, 8,000 check-ins and
2,000 redemptions (bench/sync_fixture.py), then a checkpoint.

Measured, each run on the same file: the baseline, a plain copy of the file (`shutil.copyfile`,
what `cp` does: not consistent while a server writes, but the floor for moving those bytes);
`events.backup.backup` (SQLite's online backup API in one step, `PRAGMA quick_check` of the copy,
fsync, rename); `events.backup.restore` of that backup over the database (checks, a staged copy,
migrations, the new log history, the comparison with the replaced file, renames). The ratio is
each against the plain copy of the same run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench import sync_fixture as fx
from bench.machine import cpu_model, load_average
from bench.report import Lines, Section, print_section, ranged
from events import backup
from events.db import open_database

ABOUT = __doc__.split("\n\n", 2)[2].strip()


def build(directory: Path, attendees: int) -> Path:
    path = directory / "event.db"
    db = open_database(path)
    now = int(time.time())
    event = fx.create_event(db, now=now)
    tablets = [fx.enroll_tablet(db, event.id, name=f"Tablet {i}", now=now) for i in range(3)]
    fx.preload(
        db,
        tablets,
        registrations=attendees,
        issues=attendees * 3 // 10,
        checkins=attendees * 4 // 10,
        redeems=attendees // 10,
    )
    fx.checkpoint(db)
    db.close()
    return path


def measure(quick: bool = False, *, runs: int | None = None) -> Section:
    attendees = 2_000 if quick else 20_000
    runs = runs if runs is not None else (1 if quick else 5)
    begun = time.perf_counter()
    out = Lines()
    out(ABOUT)
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        path = build(directory, attendees)
        size = path.stat().st_size
        copies, backups, restores = [], [], []
        for run in range(runs):
            started = time.perf_counter()
            shutil.copyfile(path, directory / f"plain{run}.db")
            copies.append(time.perf_counter() - started)
            started = time.perf_counter()
            backup.backup(path, directory / f"backup{run}.db")
            backups.append(time.perf_counter() - started)
            started = time.perf_counter()
            backup.restore(directory / f"backup{run}.db", path, now=int(time.time()) + run)
            restores.append(time.perf_counter() - started)
    copy = statistics.median(copies)
    out(f"\nThis run: {attendees:,} attendees, a {size / 1024 / 1024:.1f} MiB file; {runs} runs.\n")
    out("| step | median | min–max | against the plain copy |")
    out("|---|---:|---:|---:|")
    for label, times in (("plain copy (baseline)", copies), ("backup", backups), ("restore", restores)):
        median = statistics.median(times)
        out(
            f"| {label} | {median * 1000:.0f} ms | {min(times) * 1000:.0f}–{max(times) * 1000:.0f} ms | {median / copy:.1f}× |"
        )
    out()
    out(
        f"- Machine: {cpu_model()}; load average {load_average()}; {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC"
    )
    baseline = f"plain copy {copy * 1000:.0f} ms"
    figures = [
        ranged(
            f"backup, {attendees:,} attendees",
            "ms",
            [t * 1000 for t in backups],
            baseline=baseline,
            ratio=f"{statistics.median(backups) / copy:.1f}×",
        ),
        ranged(
            f"restore, {attendees:,} attendees",
            "ms",
            [t * 1000 for t in restores],
            baseline=baseline,
            ratio=f"{statistics.median(restores) / copy:.1f}×",
        ),
    ]
    return Section(
        "backup_restore",
        "Backup and restore",
        "`.venv/bin/python -m bench.backup_restore [--runs 5]`",
        out.text(),
        figures,
        seconds=time.perf_counter() - begun,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=None, help="default 5")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 attendees, one run")
    args = parser.parse_args()
    print_section(measure(args.quick, runs=args.runs))


if __name__ == "__main__":
    main()

"""Benchmark, not a test: check-in → live wall latency, with the real server and a real wall.

    .venv/bin/python -m bench.wall_latency [--check-ins 200] [--tablets 5] [--runs 3]

Setup (untimed): the demo event (events.demo.ensure_demo) in a temporary SQLite file; the real
server (uvicorn on loopback, as tests/support/live.py starts it); `--tablets` tablets enrolled through
HTTP (one-time codes, POST /api/v1/enroll with events/tablet.py keys); an organizer created in the
database and signed in through the pages (password, then a TOTP code from pyotp) in Debian's
Chromium, whose 1920×1080 context opens the event's wall (web/templates/wall/wall.html) and waits until its
socket is live.

With `--preload N`, the event is already under way: N attendees registered by an earlier tablet
and half of them checked in (events.sync.push, untimed), so each snapshot reads a larger log.

Measured, `--runs` times: `--check-ins` people, spread round-robin over the tablets, each
registered and checked in by one tablet in one push (POST /api/v1/push: a register op and a checkin
op, as the station pushes right after recording). The tablets push from their own threads at once,
each check-in after a random pause of 0–200 ms (five clerks at a busy door: about 25 check-ins a
second in all). Python notes `time.time()` just before each push; web/static/js/wall.js notes
`Date.now()` when the check-in's op first appears in the wall's feed (window.poppassWall.seenAt).
Latency = the wall's time − the push's start (same machine, same wall clock). p50, p99 and max over
all check-ins of a run; a check-in the wall never showed is a problem and fails the run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bench.machine import browser_run_footer, percentile
from bench.report import Figure, Lines, Section, print_section
from bench.sync_fixture import start_live_server, stop
from e2e.browser import CHROMIUM_ARGS, chromium_executable
from e2e.console import new_organizer, sign_in
from events import devices
from events.db import open_database
from events.demo import ensure_demo
from events.tablet import Tablet, push
from events.tablet import enroll as enroll_in_db

TARGET_P99_MS = 100  # at 50,000 attendees already registered
PAUSE_S = (0.0, 0.2)


@dataclass
class Server:
    """What e2e/console.py's helpers need of a live server."""

    url: str
    db_path: Path


def post_json(url: str, payload: dict, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def enroll(url: str, db_path: Path, event_id: str, name: str) -> Tablet:
    db = open_database(db_path)
    try:
        code = devices.create_enrollment_code(db, event_id, name=name, now=int(time.time()))
    finally:
        db.close()
    tablet = Tablet(event_id, clerk=f"Clerk of {name}")
    status, body = post_json(url + "/api/v1/enroll", {"protocol": 1, "code": code, "public_key": tablet.public_key})
    if status != 201:
        raise SystemExit(f"enrollment refused: {status} {body}")
    return tablet.enrolled(body)


def work_the_door(url: str, tablet: Tablet, people: list[str], started: dict[str, float], seed: int) -> None:
    pause = random.Random(seed)
    for name in people:
        time.sleep(pause.uniform(*PAUSE_S))
        now_ms = int(time.time() * 1000)
        person = tablet.register(name, now_ms=now_ms, phone=f"13{pause.randrange(10**9):09d}")
        op = tablet.checkin(person["subject"], now_ms=now_ms)
        started[op["op_id"]] = time.time() * 1000
        status, body = post_json(url + "/api/v1/push", tablet.batch(now_ms=now_ms), tablet.headers)
        if status != 200 or body.get("rejected"):
            raise SystemExit(f"push refused: {status} {body}")
        tablet.outbox.clear()


def preload(db, event_id: str, attendees: int) -> None:
    """An event already under way: `attendees` registered by an earlier tablet, half checked in."""
    tablet = enroll_in_db(db, event_id, "Earlier tablet", now=int(time.time()))
    now_ms = int(time.time() * 1000) - 3_600_000
    for start in range(0, attendees, 250):
        for n in range(start, min(start + 250, attendees)):
            person = tablet.register(f"Earlier Guest{n}", now_ms=now_ms + n, phone=f"1370{n:07d}")
            if n % 2 == 0:
                tablet.checkin(person["subject"], now_ms=now_ms + n)
        push(db, tablet, now_ms + start)


def one_run(url: str, tablets: list[Tablet], wall, check_ins: int, run: int) -> tuple[list[float], int]:
    started: dict[str, float] = {}
    shares = [[f"Run{run} Guest{n} Person" for n in range(i, check_ins, len(tablets))] for i in range(len(tablets))]
    threads = [
        threading.Thread(target=work_the_door, args=(url, tablet, share, started, run * 100 + i))
        for i, (tablet, share) in enumerate(zip(tablets, shares, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Give the wall a moment for the last snapshot, then read when each op showed.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen = wall.evaluate("(ids) => ids.map((id) => window.poppassWall.seenAt.get(id) ?? null)", list(started))
        if all(at is not None for at in seen):
            break
        time.sleep(0.1)
    latencies = [at - started[op] for op, at in zip(started, seen, strict=True) if at is not None]
    return latencies, sum(at is None for at in seen)


ABOUT = """\
The real server (uvicorn on loopback) and a real wall: Debian's Chromium at 1920×1080, signed in
as an organizer, showing `/organizer/events/<id>/wall` with its socket live. Five simulated
tablets (`events/tablet.py`, enrolled over HTTP) push from their own threads at once. Each
check-in is a register op and a checkin op in one `POST /api/v1/push`, as the station pushes
right after recording, with a random pause of 0–200 ms between them: about 25 check-ins a second
in all, more than five clerks at one door manage. Latency runs from just before the push to when
`wall.js` first shows the op in the feed (`Date.now()`, same machine and clock). 200 check-ins a
run, 3 runs, twice: on the demo event (a few dozen ops), and on an event under way
(`--preload 50000`: 50,000 attendees already registered by an earlier tablet, 25,000 checked in),
where each snapshot reads a larger log. A check-in the wall never shows fails the run.

Target: p99 < 100 ms at 50,000 attendees (the first target was < 250 ms at 20,000). In the summary, p50 is over every check-in of the case (spread
p10–p90), p99 too (spread: the lowest and highest p99 of its runs).
"""

HISTORY = """\
The target then became p99 < 100 ms at 50,000 attendees. Before: p99
135 ms at 20,000, and a snapshot at 50,000 took 95–180 ms, two thirds of it re-reading every
attendee to tell people apart (phone/email de-duplication) and walking every arrival for the
chart. `events.figures.People` now keeps who is who, each person's arrival and arrivals per
minute between snapshots and takes in only the register and check-in ops logged since (rebuilt
only when a duplicate is dismissed or a record rewritten): a snapshot at 50,000 takes under 1 ms
once warm (the first, cold, about 0.6 s). No index was added: the tail reads use the existing
`ops(event_id, kind, seq)`. Measured in-process on one 50,000-attendee database, one push then
one snapshot, 50 times, on a loaded 2-core machine (load average 12): the snapshot went from a
median of 614 ms to 1.7 ms; the push itself takes about 5 ms.

Earlier: a snapshot at 20,000 attendees took about 27 ms to read (`events.projections.Reading`) when
last profiled. Announcements that arrive while one is read are merged into the next, so the wall
gets fewer snapshots than there are check-ins.

The first version missed the target badly at 20,000 attendees: **p50 866 ms, p99 3,690 ms**. Each
snapshot took 270 ms, because the counters, the funnel and the chart each re-read the attendees
(for de-duplication), the first check-ins (a window query over every op of the event) and the
redemptions. Three changes fixed it:

- Reading those sets once per snapshot brought it to p99 258 ms.
- Keeping the official check-ins between snapshots and adding only the log's new check-ins
  (a snapshot now takes 27 ms) helped next.
- The last was a tablet-state query that sorted all of a device's ops to find its latest clerk.
"""


def run_case(args, out: Lines) -> tuple[list[Figure], list[str]]:
    """One event (demo, or with --preload): the runs' table into `out`; the figures and problems."""
    began = time.monotonic()
    problems: list[str] = []
    runs_p99: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        db_path = directory / "bench.db"
        db = open_database(db_path)
        event_id = ensure_demo(db, now=int(time.time())).event.id
        preload(db, event_id, args.preload)
        db.close()
        process, url = start_live_server(db_path, directory)
        try:
            server = Server(url, db_path)
            tablets = [enroll(url, db_path, event_id, f"Tablet {n}") for n in range(args.tablets)]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="en-US")
                wall = context.new_page()
                sign_in(wall, server, new_organizer(server))
                wall.goto(f"{url}/organizer/events/{event_id}/wall")
                expect(wall.locator("#wall")).to_have_attribute("data-state", "live")
                already = (
                    f"{args.preload:,} attendees already registered (half of them checked in)"
                    if args.preload
                    else "nothing preloaded"
                )
                out(
                    f"**{case_name(args.preload)}**: {args.check_ins} check-ins from {args.tablets} tablets, "
                    f"{args.runs} run{'s' if args.runs != 1 else ''}, {already}\n"
                )
                out("| run | p50 ms | p99 ms | max ms | mean ms | missed |")
                out("|---|---|---|---|---|---|")
                every: list[float] = []
                for n in range(args.runs):
                    latencies, missed = one_run(url, tablets, wall, args.check_ins, n)
                    every += latencies
                    if missed:
                        problems.append(f"run {n + 1}: {missed} check-ins never showed on the wall")
                    runs_p99.append(percentile(latencies, 0.99))
                    out(
                        f"| {n + 1} | {percentile(latencies, 0.5):.0f} | {percentile(latencies, 0.99):.0f} | "
                        f"{max(latencies):.0f} | {statistics.fmean(latencies):.0f} | {missed} |"
                    )
                p99 = percentile(every, 0.99)
                out(
                    f"\nAll runs: p50 {percentile(every, 0.5):.0f} ms, p99 {p99:.0f} ms, max {max(every):.0f} ms "
                    f"over {len(every)} check-ins; target p99 < {TARGET_P99_MS} ms: {'met' if p99 < TARGET_P99_MS else 'MISSED'}."
                )
                snapshots = wall.evaluate("window.poppassWall.snapshots")
                out(f"The wall applied {snapshots} snapshots for {len(every)} check-ins (announcements coalesce).")
                version = browser.version
                browser.close()
        finally:
            stop(process)
    for problem in problems:
        out(f"- PROBLEM: {problem}")
    out(browser_run_footer(version, time.monotonic() - began))
    out()
    name = case_name(args.preload)
    target = f"p99 < {TARGET_P99_MS} ms at 50,000 attendees"
    figures = [
        Figure(
            f"check-in → wall, {name}: p50",
            "ms",
            percentile(every, 0.5),
            percentile(every, 0.1),
            percentile(every, 0.9),
            target=target,
        ),
        Figure(
            f"check-in → wall, {name}: p99",
            "ms",
            p99,
            min(runs_p99),
            max(runs_p99),
            "min–max of the runs' p99",
            target=target,
            met=p99 < TARGET_P99_MS,
        ),
    ]
    return figures, problems


def case_name(preload_count: int) -> str:
    return f"{preload_count:,} attendees already registered" if preload_count else "demo event"


def run(args) -> Section:
    """One case, as the script always ran it."""
    begun = time.monotonic()
    out = Lines()
    out(ABOUT)
    figures, problems = run_case(args, out)
    out(HISTORY)
    return Section(
        "wall_latency",
        "Check-in → live wall latency",
        COMMAND,
        out.text(),
        figures,
        problems,
        seconds=time.monotonic() - begun,
    )


COMMAND = "`.venv/bin/python -m bench.wall_latency --runs 3` (the demo event) and `… --runs 3 --preload 50000` (an event under way)"


def measure(quick: bool = False) -> Section:
    """Both cases: the demo event, and an event under way (50,000 attendees; 2,000 when quick)."""
    import types

    begun = time.monotonic()
    out = Lines()
    out(ABOUT)
    figures: list[Figure] = []
    problems: list[str] = []
    for preload_count in (0, 2_000 if quick else 50_000):
        args = types.SimpleNamespace(
            check_ins=20 if quick else 200, tablets=5, runs=1 if quick else 3, preload=preload_count
        )
        case_figures, case_problems = run_case(args, out)
        figures += case_figures
        problems += case_problems
    out(HISTORY)
    return Section(
        "wall_latency",
        "Check-in → live wall latency",
        COMMAND,
        out.text(),
        figures,
        problems,
        seconds=time.monotonic() - begun,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check-ins", type=int, default=200)
    parser.add_argument("--tablets", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preload", type=int, default=0, help="attendees registered before the runs (half checked in)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of both cases: 20 check-ins, 2,000 preloaded")
    args = parser.parse_args()
    print_section(measure(True) if args.quick else run(args))


if __name__ == "__main__":
    main()

"""A backup restored under two real station tablets: nothing either recorded is lost or doubled.

Its own server (the restore replaces the database file under it): a backup is taken while it
runs; then one tablet records online (a walk-in pushed, a voucher decided by the server) and the
other offline (a walk-in and a redemption); the server is stopped, the backup restored with
`poppass restore`, and the server started again. The tablets see the log's new history
(docs/sync-protocol.md, "After a restore"), send again what they kept and pull from the start.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import expect

from e2e.station import using_db
from events import campaigns, devices, wall
from events.db import open_database
from events.demo import ensure_demo
from tests.support.live import ROOT, free_port, start_server, stop, wait_until_up

LEDGER = """async () => {
  const { openOutbox } = await import('/static/js/outbox.js');
  const { Ledger } = await import('/static/js/ledger.js');
  const ledger = await Ledger.open(await openOutbox());
  const attendees = [...ledger.attendees.values()].map((a) => [a.id, Object.keys(a.checkins).length]);
  const vouchers = [...ledger.vouchers.values()].map((v) => [v.id, Object.keys(v.uses).length]);
  return { attendees, vouchers };
}"""


def op_ids(db_path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("select op_id, device_id from ops where device_id not like 'web-%' order by seq").fetchall()
    finally:
        conn.close()


def outbox_ids(station) -> set[str]:
    return {op["op_id"] for op in station.outbox()}


def server_projection(db_path: Path, event_id: str) -> dict:
    conn = sqlite3.connect(db_path)
    try:
        attendees = {
            row[0]: row[1]
            for row in conn.execute(
                "select a.id, (select count(*) from ops o where o.kind = 'checkin' and o.subject = a.id) "
                "from attendees a where a.event_id = ?",
                [event_id],
            )
        }
        uses = {
            row[0]: row[1]
            for row in conn.execute(
                "select subject, count(*) from ops where event_id = ? and kind = 'redeem' "
                "and json_extract(data, '$.outcome') = 'accepted' group by subject",
                [event_id],
            )
        }
    finally:
        conn.close()
    return {"attendees": attendees, "uses": uses}


def test_a_restore_under_two_tablets_loses_and_doubles_nothing(new_station, tmp_path: Path) -> None:
    db_path = tmp_path / "event.db"
    db = open_database(db_path)
    now = int(time.time())
    event = ensure_demo(db, now=now).event
    coffee = next(c for c in campaigns.list_campaigns(db, event.id) if not c.rotating)
    online_voucher = campaigns.issue_voucher(db, event.id, coffee.number, now=now)
    offline_voucher = campaigns.issue_voucher(db, event.id, coffee.number, now=now)
    codes = [devices.create_enrollment_code(db, event.id, name=name, now=now) for name in ("Door", "Bar")]
    db.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    process = start_server(db_path, port, log)
    try:
        wait_until_up(url, process)
        door = new_station("Door", "Ana", base_url=url, code=codes[0])
        bar = new_station("Bar", "Ben", base_url=url, code=codes[1])
        door.register(url, "Li Wei", "138 0013 8000")
        expect(door.page.locator("#registered")).to_contain_text("Registered: Li Wei")
        expect(door.badge()).to_contain_text("Online · 0 waiting", timeout=15_000)

        made = subprocess.run(
            [sys.executable, "-m", "server.cli", "backup", str(tmp_path / "before.db"), "--db", str(db_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert made.returncode == 0, made.stderr

        # After the backup. Door, online: a walk-in pushed, a voucher the server decides.
        door.register(url, "Chen Jing", "139 0000 1111")
        expect(door.page.locator("#registered")).to_contain_text("Registered: Chen Jing")
        door.go(url + "/station/scan")
        door.type_code(online_voucher.text)
        expect(door.verdict()).to_have_attribute("data-color", "green", timeout=10_000)
        door.next()
        expect(door.badge()).to_contain_text("Online · 0 waiting", timeout=15_000)
        # Bar, offline: a walk-in and a redemption, still in its outbox at the restore.
        bar.offline()
        bar.register(url, "Wang Fang", "137 2222 3333")
        expect(bar.page.locator("#registered")).to_contain_text("Registered: Wang Fang")
        bar.go(url + "/station/scan")
        bar.type_code(offline_voucher.text)
        expect(bar.verdict()).to_have_attribute("data-color", "green", timeout=10_000)
        bar.next()
        expect(bar.badge()).to_contain_text("Offline")

        acknowledged = {op_id for op_id, _ in op_ids(db_path)}
        recorded = acknowledged | outbox_ids(bar)
        before = using_db(db_path, lambda db: wall.snapshot(db, event.id, now=int(time.time())).counters)
        stop(process)
        restored = subprocess.run(
            [sys.executable, "-m", "server.cli", "restore", str(tmp_path / "before.db"), "--db", str(db_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert restored.returncode == 0, restored.stderr
        assert "Door:" in restored.stdout and "Lost: 0 op(s)" in restored.stdout, restored.stdout
        process = start_server(db_path, port, log)
        wait_until_up(url, process)

        bar.offline(False)
        for station in (door, bar):
            station.go(url + "/station/checkin")  # a page load syncs
        for station in (door, bar):
            expect(station.badge()).to_contain_text("Online · 0 waiting", timeout=20_000)
        # "0 waiting": every op was acknowledged, and the server acknowledges only what it committed.
        stored = op_ids(db_path)
        assert len(stored) == len({op_id for op_id, _ in stored}), "an op stored twice"
        assert {op_id for op_id, _ in stored} == recorded
        kept_by_backup = {op_id for op_id, _ in op_ids(tmp_path / "before.db")}
        print(
            f"restore scenario: {len(recorded)} tablet ops in all, {len(kept_by_backup)} in the backup, "
            f"{len(acknowledged - kept_by_backup)} acknowledged after it and sent again, "
            f"{len(recorded - acknowledged)} never sent before the restore; {len(stored)} stored after, each once"
        )

        # Each tablet's ledger is the server's projection.
        for station in (door, bar):
            station.go(url + "/station/checkin")
            expect(station.badge()).to_contain_text("Online · 0 waiting", timeout=20_000)
        projection = server_projection(db_path, event.id)
        for station in (door, bar):
            held = station.page.evaluate(LEDGER)
            assert dict(held["attendees"]) == projection["attendees"]
            assert {k: v for k, v in held["vouchers"] if v} == projection["uses"]
        after = using_db(db_path, lambda db: wall.snapshot(db, event.id, now=int(time.time())).counters)
        # What the wall shows: the figures before the restore, plus Bar's offline walk-in
        # (registered and checked in) and redemption, which reached the server only after it.
        assert after.unique_attendees == before.unique_attendees + 1
        assert after.checked_in == before.checked_in + 1
        assert after.redemptions == before.redemptions + 1 == 2
        assert after.vouchers_redeemed == before.vouchers_redeemed + 1
        assert after.open_conflicts == before.open_conflicts == 0
    finally:
        stop(process)

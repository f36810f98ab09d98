"""`poppass demo --live` against the real server on a real port: the simulated tablets' check-ins
arrive through the sync API, and SIGTERM stops the server and the tablets cleanly."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from events import demo_seed, devices, projections
from events.db import open_database
from tests.support.live import ROOT, free_port, wait_until_up

# The demo's simulated tablets against a real server: seconds a test. The inner loop
# (`scripts/test --fast`) deselects it; it is never skipped, and CI runs it.
pytestmark = pytest.mark.slow

POLL_DEADLINE_S = 60  # for the server to start: generous, two cores shared with other work


def until(process: subprocess.Popen, db, probe) -> None:
    """Until `probe()` holds. The demo's tablets write through the server, another process, and
    SQLite tells no other process of a commit: a reader sees one by its `data_version` moving, so
    `probe` is asked again only then. No clock: it waits while the demo runs, and fails the moment
    it has exited."""
    seen = None
    while True:
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version != seen:
            seen = version
            if probe():
                return
        assert process.poll() is None, f"the demo exited with {process.returncode}"
        time.sleep(0.05)  # between two looks at data_version: SQLite has nothing to wait on


def test_live_tablets_check_people_in_through_the_sync_api_and_stop_on_sigterm(tmp_path) -> None:
    db_path, port = tmp_path / "live.db", free_port()
    # Seeded here, with the gift counter revoked (as from the console): it must stop, the rest go on.
    db = open_database(db_path)
    event_id = demo_seed.ensure_seeded(db, now=int(time.time())).event.id
    identities = demo_seed.tablet_identities(db, event_id)
    [revoked] = [i["device_id"] for i in identities if i["name"] == "Gift counter"]
    devices.revoke_device(db, revoked, now=int(time.time()))
    db.close()
    with (tmp_path / "demo.log").open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "demo",
                "--live",
                "--pace",
                "0.2",
                "--port",
                str(port),
                "--db",
                str(db_path),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process, timeout=POLL_DEADLINE_S)
        db = open_database(db_path, migrate=False)
        try:
            tablets = {identity["device_id"] for identity in identities} - {revoked}
            seeded = len(projections.checked_in(db, event_id))
            seeded_at = db.execute("select max(received_at_ms) from ops").fetchone()[0]
            until(process, db, lambda: len(projections.checked_in(db, event_id)) >= seeded + 3)
            live = {
                row[0]
                for row in db.execute(
                    "select device_id from ops where kind = 'checkin' and received_at_ms > ?", [seeded_at]
                )
            }
            assert live and live <= tablets  # the seeded tablets, enrolled with their own keys
            # Redemptions still happen (the counter's share goes to the others), none by the revoked one.
            until(
                process,
                db,
                lambda: db.execute(
                    "select 1 from ops where kind = 'redeem' and received_at_ms > ?", [seeded_at]
                ).fetchone(),
            )
            redeemers = {
                row[0]
                for row in db.execute(
                    "select device_id from ops where kind = 'redeem' and received_at_ms > ?", [seeded_at]
                )
            }
            assert redeemers and redeemers <= tablets
        finally:
            db.close()
        process.terminate()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = (tmp_path / "demo.log").read_text()
    assert "PopPass demo stopped" in output and "Traceback" not in output
    assert "refused Gift counter (403)" in output

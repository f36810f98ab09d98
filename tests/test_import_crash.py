"""The real server (`poppass serve`) SIGKILLed in the middle of a console import of 20,000
attendees, then started again on the same database file: the import goes on from its last
committed batch by itself and every row is imported exactly once."""

from __future__ import annotations

import contextlib
import csv
import sqlite3
import stat
import time
from pathlib import Path

import httpx
import pytest

from bench.import_load import make_world, sign_in, upload_and_start
from tests.support.faults import CliServer
from tests.support.live import free_port

# A real server killed in a 20,000-row import: seconds a test. The inner loop
# (`scripts/test --fast`) deselects it; it is never skipped, and CI runs it.
pytestmark = pytest.mark.slow

ROWS = 20_000


def attendee_file(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Name", "Phone", "Email"])
        for i in range(ROWS):
            writer.writerow([f"Person {i}", f"139{i:08d}", f"p{i}@example.com" if i % 3 else ""])
    return path


def job_state(db_path: Path, job_id: str) -> tuple[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)) as db:
        return db.execute("select state, rows_done from import_jobs where id = ?", [job_id]).fetchone()


def wait_until(server: CliServer, job_id: str, done) -> tuple[str, int]:
    """The job's (state, rows_done) once `done` holds. The server commits it from another process,
    and SQLite tells no other process of a commit: a reader sees one by its `data_version`
    moving, so the job is read again only then. No clock: it waits while the server runs, and
    fails the moment the server has exited."""
    with contextlib.closing(sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True, timeout=5)) as db:
        seen = None
        while True:
            version = db.execute("PRAGMA data_version").fetchone()[0]
            if version != seen:
                seen = version
                state = db.execute("select state, rows_done from import_jobs where id = ?", [job_id]).fetchone()
                if done(state):
                    return state
            assert server.process is not None and server.process.poll() is None, f"the server exited at {state}"
            time.sleep(0.02)  # between two looks at data_version: SQLite has nothing to wait on


def test_a_killed_server_resumes_the_import_and_imports_every_row_once(tmp_path: Path) -> None:
    world = make_world(tmp_path, vouchers=0)
    source = attendee_file(tmp_path / "attendees.csv")
    server = CliServer(world.db_path, free_port(), tmp_path / "server.log")
    server.spawn()
    try:
        server.wait_until_up()
        url = f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=url, timeout=120) as client:
            token = sign_in(client, world.db_path, world.organizer_id)
            job_id = upload_and_start(client, token, world.event_id, source)
        uploads = Path(f"{world.db_path}.imports")
        assert stat.S_IMODE(uploads.stat().st_mode) == 0o700
        [stored] = uploads.glob("*.csv")
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        # Part way: some batches committed, not all.
        state, done = wait_until(server, job_id, lambda s: s[1] >= 2_000)
        server.kill()
        state, done = job_state(world.db_path, job_id)
        assert state == "running" and 0 < done < ROWS, (state, done)
        server.spawn()  # the same file, the same port: the start takes the job up
        server.wait_until_up()
        state, done = wait_until(server, job_id, lambda s: s[0] != "running")
        assert (state, done) == ("done", ROWS)
    finally:
        server.stop()
    with contextlib.closing(sqlite3.connect(world.db_path)) as db:
        assert db.execute(
            "select count(*), count(distinct phone_key) from attendees where event_id = ?", [world.event_id]
        ).fetchone() == (ROWS, ROWS)
        assert db.execute(
            "select count(*), count(distinct subject) from ops where kind = 'register' and device_id = ?",
            ["web-" + world.event_id],
        ).fetchone() == (ROWS, ROWS)
        assert db.execute("select created, duplicates, errors from import_jobs where id = ?", [job_id]).fetchone() == (
            ROWS,
            0,
            0,
        )
        outcomes = [
            row[0]
            for row in db.execute(
                "select json_extract(detail, '$.outcome') from organizer_actions where action = 'attendees.import' order by id"
            )
        ]
        assert outcomes == ["interrupted", "done"]
    assert list(uploads.glob("*.csv")) == []  # the file went when the job was done

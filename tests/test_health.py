"""A server that knows when it is unwell (docs/operations.md: "Health checks", "When the disk
fills", "A damaged database file").

Real parts only: a real full disk (a small tmpfs filled to its last byte, tests/support/small_disk.py)
under the real server on a real port; real damaged database files (pages overwritten in the
middle, a garbage header); a database file moved away under a running server. The 503 mapping
through the TestClient uses SQLite's own "database or disk is full" (PRAGMA max_page_count).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from events import campaigns, devices, registry, sealed
from events.db import DamagedDatabase, open_database
from tests.support.clock import NOW
from tests.support.live import ROOT, free_port, start_server, stop, wait_until_up
from tests.support.small_disk import SmallDisk
from tests.support.tablet import Tablet, enroll

M = NOW * 1000
DISK_FULL_WORDS = "The server's disk is full, so what you sent was not saved"
DISK_FULL_WORDS_ZH = "服务器的磁盘已满"


# --- through the TestClient ------------------------------------------------------------------


def test_healthz_is_ok_on_a_well_server(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["problems"] == [] and body["disk_free_bytes"] > 0
    assert "retry-after" not in response.headers


def test_healthz_says_so_when_the_database_file_is_moved_away(client, tmp_path: Path) -> None:
    # The server's own connection still answers (it holds the old file open), but it would be
    # writing into a file nobody will open again.
    (tmp_path / "test.db").rename(tmp_path / "elsewhere.db")
    response = client.get("/healthz")
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    body = response.json()
    assert body["status"] == "unwell" and body["problems"] == ["database_unreachable"]
    assert "unable to open database file" in body["detail"]["database_unreachable"]
    (tmp_path / "elsewhere.db").rename(tmp_path / "test.db")
    assert client.get("/healthz").json()["status"] == "ok"


def test_a_full_database_is_a_documented_503_that_writes_nothing_and_passes(client, db, event) -> None:
    tablet = Tablet(event.id)
    code = devices.create_enrollment_code(db, event.id, name="Desk", now=NOW)
    tablet.enrolled(
        client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": tablet.public_key}).json()
    )
    for i in range(200):
        tablet.register(f"Guest {i} " + "x" * 80, now_ms=M)
    body = tablet.batch(now_ms=M)
    # SQLite's own SQLITE_FULL: the file may not grow by one page.
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    response = client.post("/api/v1/push", json=body, headers=tablet.headers)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "disk_full" and response.headers["retry-after"] == "30"
    assert db["ops"].count == 0 and not db.conn.in_transaction  # rolled back, nothing half-written
    db.execute("PRAGMA max_page_count = 1073741823")  # room again: no restart
    response = client.post("/api/v1/push", json=body, headers=tablet.headers)
    assert response.status_code == 200 and response.json()["last_seq"] == 200
    assert {r["status"] for r in response.json()["results"]} == {"applied"} and db["ops"].count == 200


# --- damaged files -----------------------------------------------------------------------------


def damaged_database(directory: Path, how: str) -> Path:
    """A real database with a few hundred ops, then damaged on disk."""
    path = directory / "poppass.db"
    db = open_database(path)
    event = registry.create_event(db, name="Pop-up", venue="Hall", starts_at=NOW - 3600, ends_at=NOW + 3600, now=NOW)
    tablet = enroll(db, event.id, "Desk", now=NOW)
    for i in range(400):
        tablet.register(f"Guest {i} " + "y" * 60, now_ms=M, phone=f"1380013{i:04d}")
    from tests.support.tablet import push

    push(db, tablet, M)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with path.open("r+b") as file:
        if how == "pages":  # four pages in the middle overwritten, as a failing disk or a bad copy might
            file.seek(page_size * (pages // 2))
            file.write(os.urandom(page_size * 4))
        else:  # the header: not an SQLite file any more
            file.write(b"this is no database, just bytes" * 4)
    return path


@pytest.mark.parametrize("how", ["pages", "header"])
def test_a_damaged_file_is_refused_where_the_app_is_built(tmp_path: Path, how: str) -> None:
    path = damaged_database(tmp_path, how)
    with pytest.raises(DamagedDatabase) as refused:
        open_database(path, check_pages=True)
    assert "poppass restore" in str(refused.value) and ".recover" in str(refused.value)
    from server.app import create_app

    with pytest.raises(DamagedDatabase):
        create_app(path)


@pytest.mark.slow  # seconds: a real server, or a hundred sockets (deselected by scripts/test --fast)
@pytest.mark.parametrize("how", ["pages", "header"])
def test_poppass_serve_refuses_a_damaged_file_and_serves_nothing(tmp_path: Path, how: str) -> None:
    path = damaged_database(tmp_path, how)
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--db", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert f"the database {path} is damaged" in done.stderr
    assert "poppass restore FILE" in done.stderr and f'sqlite3 {path} ".recover"' in done.stderr
    assert "Traceback" not in done.stderr and "Uvicorn running" not in done.stderr + done.stdout


# --- the real server ---------------------------------------------------------------------------


def call(url: str, *, data: bytes | None = None, headers: dict | None = None, opener=None):
    """(status, headers, text) of one request; an error status is an answer too."""
    request = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def person(base: str, event_id: str, name: str, *, language: str = "en"):
    """A browser: the event page, then its sign-up form posted with the page's CSRF token."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    headers = {"Accept": "text/html", "Accept-Language": language}
    status, _, text = call(f"{base}/events/{event_id}", headers=headers, opener=opener)
    assert status == 200, text
    token = re.findall(r'name="_csrf_token" value="([^"]+)"', text)[-1]
    form = urllib.parse.urlencode({"_csrf_token": token, "name": name, "phone": "13900001111", "consent": "yes"})
    return call(
        f"{base}/events/{event_id}/signup",
        data=form.encode(),
        opener=opener,
        headers=headers | {"Content-Type": "application/x-www-form-urlencoded"},
    )


def push(base: str, tablet: Tablet, body: bytes):
    status, headers, text = call(
        f"{base}/api/v1/push",
        data=body,
        headers={**tablet.headers, "Content-Type": "application/json", "Accept": "application/json"},
    )
    return status, headers, json.loads(text)


def pulled(base: str, tablet: Tablet) -> list[dict]:
    """Every op the server holds from other devices, page after page."""
    found, after = [], 0
    while True:
        status, _, text = call(
            f"{base}/api/v1/pull?after={after}", headers={**tablet.headers, "Accept": "application/json"}
        )
        assert status == 200, text
        page = json.loads(text)
        found += page["ops"]
        after = page["cursor"]
        if not page["more"]:
            return found


def health(base: str) -> tuple[int, str | None, dict]:
    status, headers, text = call(f"{base}/healthz")
    return status, headers.get("Retry-After"), json.loads(text)


@pytest.mark.slow  # seconds: a real server, or a hundred sockets (deselected by scripts/test --fast)
def test_a_full_disk_is_a_503_for_tablets_and_people_and_passes_without_a_restart(tmp_path: Path) -> None:
    now = int(time.time())  # the real server reads the real clock: the event is on now
    prepared = tmp_path / "prepared" / "poppass.db"
    prepared.parent.mkdir()
    db = open_database(prepared)
    event = registry.create_event(
        db, name="Pop-up", venue="Hall", starts_at=now - 3600, ends_at=now + 8 * 3600, now=now
    )
    campaigns.create_campaign(db, event.id, title="Welcome", welcome=True, rotating=False, now=now)
    writer, reader = enroll(db, event.id, "Desk A", now=now), enroll(db, event.id, "Desk B", now=now)
    registry.phone_search_key(db, event.id)  # made at enrollment, as the enroll endpoint does
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one file, no WAL: every later write must find room
    db.close()
    for _ in range(300):
        writer.register("Guest " + "z" * 80, now_ms=now * 1000)
    batch = json.dumps(writer.batch(now_ms=now * 1000)).encode()
    sent = [op["op_id"] for op in writer.outbox]
    port, log = free_port(), tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    # 80 MiB: room above the 64 MiB "disk_low" line, so healthz starts ok.
    with SmallDisk(tmp_path / "disk", 80) as disk:
        shutil.copyfile(prepared, disk.path / "poppass.db")
        shutil.copyfile(sealed.key_path(prepared), sealed.key_path(disk.path / "poppass.db"))
        server = start_server(disk.server_path / "poppass.db", port, log, prefix=disk.server_prefix)
        try:
            wait_until_up(base, server, timeout=60)
            assert health(base)[0] == 200

            disk.fill()
            assert disk.free_bytes() == 0
            status, retry_after, body = health(base)
            assert (status, retry_after, body["status"], body["problems"]) == (503, "30", "unwell", ["disk_full"])

            # A person signing up: the clear page, in their language, and nothing stored.
            for language, words in (("en", DISK_FULL_WORDS), ("zh-CN", DISK_FULL_WORDS_ZH)):
                status, headers, text = person(base, event.id, "Li Wei", language=language)
                assert status == 503 and headers["Retry-After"] == "30", text
                assert words in text.replace("&#39;", "'")
            # A tablet's push: 503, Retry-After, disk_full; nothing stored.
            status, headers, reply = push(base, writer, batch)
            assert (status, headers["Retry-After"], reply["error"]) == (503, "30", "disk_full")
            assert pulled(base, reader) == []

            disk.make_room()
            assert health(base)[:2] == (200, None)
            # The same server process, the very same push: every op stored, once.
            status, _, reply = push(base, writer, batch)
            assert status == 200 and reply["last_seq"] == 300
            assert [r["status"] for r in reply["results"]] == ["applied"] * 300
            status, _, reply = push(base, writer, batch)
            assert [r["status"] for r in reply["results"]] == ["duplicate"] * 300
            status, headers, _ = person(base, event.id, "Li Wei")
            assert status == 303 and headers["Location"].startswith("/wallet/")
            mine = [op["op_id"] for op in pulled(base, reader) if op["device_id"] == writer.device_id]
            assert mine == sent
            assert server.poll() is None  # never restarted
        finally:
            stop(server)
    assert "disk full on POST /api/v1/push" in log.read_text()


@pytest.mark.slow  # seconds: a real server, or a hundred sockets (deselected by scripts/test --fast)
def test_healthz_on_a_file_damaged_under_the_running_server_then_the_refusal(tmp_path: Path) -> None:
    path = tmp_path / "poppass.db"
    db = open_database(path)
    registry.create_event(db, name="Pop-up", venue="Hall", starts_at=NOW - 3600, ends_at=NOW + 3600, now=NOW)
    db.close()
    port, log = free_port(), tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    server = start_server(path, port, log)
    try:
        wait_until_up(base, server)
        assert health(base)[0] == 200
        with sqlite3.connect(path) as other:  # page 1 back in the file, then its header overwritten
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        other.close()
        with path.open("r+b") as file:
            file.write(b"\xff" * 100)
        status, retry_after, body = health(base)
        assert (status, retry_after, body["problems"]) == (503, "30", ["database_damaged"])
        assert "file is not a database" in body["detail"]["database_damaged"]
    finally:
        stop(server)
    again = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--db", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode != 0 and "is damaged (file is not a database)" in again.stderr

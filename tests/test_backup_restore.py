"""Backups while the server runs, and restores that lose nothing a tablet still holds.

The tablets here follow only docs/sync-protocol.md ("After a restore"): they keep what the
server acknowledged, name the log's history in every push and pull, and on `409 log_changed`
send again what they kept after `last_seq` and pull again from `fork`. The server is the real
one (`poppass serve` on a real port), and backup and restore are the real commands.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from events import backup, devices, log_identity, signup
from events.db import open_database, write_transaction
from events.demo import ensure_demo
from events.tablet import Tablet, new_id
from tests.support.live import ROOT, free_port, start_server, stop, wait_until_up

PROTOCOL = 3


def poppass(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, capture_output=True, text=True)


def call(url: str, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class DocTablet:
    """A tablet written from docs/sync-protocol.md alone (ops made by events.tablet.Tablet)."""

    def __init__(self, url: str, event_id: str, code: str, name: str) -> None:
        self.url, self.maker = url, Tablet(event_id, clerk=name)
        status, body = call(
            url, "POST", "/api/v1/enroll", "", {"protocol": PROTOCOL, "code": code, "public_key": self.maker.public_key}
        )
        assert status == 201, body
        self.maker.enrolled(body)
        self.log_id = body["log_id"]
        self.kept: list[dict] = []  # acknowledged ops, kept for a restore
        self.online: list[dict] = []  # online redemptions the server decided, kept likewise
        self.cursor = 0
        self.pulled: dict[str, dict] = {}  # op_id -> the op as pulled (other devices' ops)
        self.recorded: list[str] = []  # op_ids of every op this tablet made
        self.restores_seen = 0

    @property
    def token(self) -> str:
        return self.maker.token

    def record(self, op: dict) -> dict:
        self.recorded.append(op["op_id"])
        return op

    def redeem_online(self, text: str) -> dict:
        body = self.maker.online_redeem(text, now_ms=int(time.time() * 1000)) | {
            "protocol": PROTOCOL,
            "log_id": self.log_id,
        }
        status, answer = call(self.url, "POST", "/api/v1/redeem", self.token, body)
        assert status == 200, answer
        self.recorded.append(body["op_id"])
        self.online.append(
            {
                "kind": "redeem",
                "op_id": body["op_id"],
                "subject": body["subject"],
                **{k: body[k] for k in ("hlc_ms", "hlc_counter", "device_time_ms", "corrected_time_ms", "clerk")},
                "data": {
                    "token": text,
                    "outcome": answer["outcome"],
                    "shown": {"verdict": "green" if answer["outcome"] == "accepted" else "red"},
                },
            }
        )
        return answer

    def _recover(self, reply: dict) -> None:
        """`409 log_changed`: what was kept after last_seq goes out again, in order, then the
        online decisions as ordinary redeem ops; pull again from the fork."""
        self.restores_seen += 1
        last_seq = reply["last_seq"]
        again = sorted((op for op in self.kept if op["device_seq"] > last_seq), key=lambda op: op["device_seq"])
        queue = again + self.maker.outbox
        queue += [op | {"device_seq": 0} for op in self.online]
        for index, op in enumerate(queue):
            op["device_seq"] = last_seq + 1 + index
        self.maker.outbox, self.maker.seq = queue, last_seq + len(queue)
        self.kept = [op for op in self.kept if op["device_seq"] <= last_seq]
        self.online = []
        self.cursor = min(self.cursor, reply["fork"])
        self.pulled = {op_id: op for op_id, op in self.pulled.items() if op["seq"] <= reply["fork"]}
        self.log_id = reply["log_id"]

    def sync(self) -> None:
        for _ in range(10):
            status, reply = call(
                self.url,
                "POST",
                "/api/v1/push",
                self.token,
                {
                    "protocol": PROTOCOL,
                    "device_id": self.maker.device_id,
                    "sent_at_ms": int(time.time() * 1000),
                    "ops": self.maker.outbox,
                    "log_id": self.log_id,
                },
            )
            if status == 409 and reply["error"] == "log_changed":
                self._recover(reply)
                continue
            assert status == 200, reply
            acknowledged = [op for op in self.maker.outbox if op["device_seq"] <= reply["last_seq"]]
            self.kept += acknowledged
            self.maker.pushed(reply["last_seq"], reply["clock_offset_ms"])
            status, page = call(self.url, "GET", f"/api/v1/pull?after={self.cursor}&log={self.log_id}", self.token)
            if status == 409 and page["error"] == "log_changed":
                self._recover(page)
                continue
            assert status == 200, page
            while True:
                self.pulled |= {op["op_id"]: op for op in page["ops"]}
                self.cursor = page["cursor"]
                if not page["more"]:
                    return
                status, page = call(self.url, "GET", f"/api/v1/pull?after={self.cursor}&log={self.log_id}", self.token)
                assert status == 200, page
        raise AssertionError("sync did not settle")


@pytest.fixture
def served(tmp_path: Path):
    db_path = tmp_path / "event.db"
    db = open_database(db_path)
    event = ensure_demo(db, now=int(time.time())).event
    db.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = {"process": start_server(db_path, port, tmp_path / "server.log")}
    wait_until_up(url, state["process"])

    def restart() -> None:
        state["process"] = start_server(db_path, port, tmp_path / "server.log")
        wait_until_up(url, state["process"])

    def halt() -> None:
        stop(state["process"])

    try:
        yield url, db_path, event, halt, restart
    finally:
        stop(state["process"])


def enrollment_code(db_path: Path, event_id: str, name: str) -> str:
    db = open_database(db_path)
    try:
        return devices.create_enrollment_code(db, event_id, name=name, now=int(time.time()))
    finally:
        db.close()


def server_ops(db_path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("select op_id, device_id from ops order by seq").fetchall()
    finally:
        conn.close()


def walk_in(tablet: DocTablet, name: str) -> None:
    now = int(time.time() * 1000)
    registered = tablet.record(tablet.maker.register(name, now_ms=now, phone=f"+86 139 {abs(hash(name)) % 10**8:08d}"))
    tablet.record(tablet.maker.checkin(registered["subject"], now_ms=now + 1))


@pytest.mark.slow  # seconds: a real server, or a hundred sockets (deselected by scripts/test --fast)
def test_after_a_restore_every_op_a_tablet_recorded_is_on_the_server_once(served, tmp_path) -> None:
    url, db_path, event, halt, restart = served
    door = DocTablet(url, event.id, enrollment_code(db_path, event.id, "Door"), "Ana")
    bar = DocTablet(url, event.id, enrollment_code(db_path, event.id, "Bar"), "Ben")
    now = int(time.time() * 1000)
    for name in ("Li Wei", "Chen Jing"):
        walk_in(door, name)
    single, issued = door.maker.issue_voucher(now_ms=now, max_uses=1)
    door.record(issued)
    double, issued = door.maker.issue_voucher(now_ms=now, max_uses=2)
    door.record(issued)
    door.sync()
    bar.sync()

    made = poppass("backup", str(tmp_path / "before.db"), "--db", str(db_path))  # while the server runs
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "before.db").st_mode) == 0o600

    # After the backup: pushed (so acknowledged, then lost by the restore) and decided online.
    walk_in(door, "Wang Fang")
    door.record(door.maker.redeem(single, now_ms=now + 10))
    door.sync()
    assert bar.redeem_online(double)["outcome"] == "accepted"
    walk_in(bar, "Zhao Lei")
    bar.sync()
    walk_in(door, "Sun Mei")  # recorded offline: still in the outbox at the restore
    before_restore = server_ops(db_path)

    halt()
    refused = poppass("restore", str(tmp_path / "before.db"), "--db", str(db_path))
    assert refused.returncode == 0, refused.stderr
    assert "sends again" in refused.stdout and "Lost: 0 op(s)" in refused.stdout, refused.stdout
    restart()

    for _ in range(2):
        door.sync()
        bar.sync()
    stored = server_ops(db_path)
    op_ids = [op_id for op_id, _ in stored]
    assert len(op_ids) == len(set(op_ids)), "an op stored twice"
    everything = set(door.recorded) | set(bar.recorded)
    web = {op_id for op_id, device in stored if device.startswith("web-")}
    assert set(op_ids) - web == everything
    assert {op_id for op_id, _ in before_restore} <= set(op_ids)
    assert door.restores_seen == 1 and bar.restores_seen == 1
    # Each tablet holds exactly the server's ops of every other device.
    for tablet in (door, bar):
        others = {op_id for op_id, device in stored if device != tablet.maker.device_id}
        assert set(tablet.pulled) == others
    # The single-use voucher redeemed once, the double one once.
    conn = sqlite3.connect(db_path)
    uses = dict(conn.execute("select subject, count(*) from ops where kind = 'redeem' group by subject").fetchall())
    conn.close()
    assert sorted(uses.values()) == [1, 1]


@pytest.mark.slow  # seconds: a real server, or a hundred sockets (deselected by scripts/test --fast)
def test_a_restore_while_the_server_runs_is_refused_and_changes_nothing(served, tmp_path) -> None:
    url, db_path, event, halt, restart = served
    assert poppass("backup", str(tmp_path / "copy.db"), "--db", str(db_path)).returncode == 0
    before = db_path.read_bytes()
    refused = poppass("restore", str(tmp_path / "copy.db"), "--db", str(db_path))
    assert refused.returncode == 2 and "already serving" in refused.stderr
    assert db_path.read_bytes() == before
    second = start_server(db_path, free_port(), tmp_path / "second.log")
    assert second.wait(timeout=20) == 2  # and a second server on the same file is refused too
    assert "already serving" in (tmp_path / "second.log").read_text()


def test_the_restore_says_which_sign_ups_and_organizer_actions_it_lost(tmp_path) -> None:
    db_path = tmp_path / "event.db"
    db = open_database(db_path)
    event = ensure_demo(db, now=1_767_261_600).event
    early = signup.sign_up(
        db, event.id, signup.Applicant("Early Bird", "+86 138 0000 0001", "", consent=True), now_ms=1_767_261_600_000
    )
    db.close()
    backup.backup(db_path, tmp_path / "b.db")
    db = open_database(db_path)
    signup.sign_up(
        db,
        event.id,
        signup.Applicant("<b>Late</b> Comer", "+86 138 0000 0002", "", consent=True),
        now_ms=1_767_261_700_000,
    )
    with write_transaction(db):
        from events import audit

        audit.record(db, audit.CLI, "campaign.create", event.id, {}, now=1_767_261_700)
    db.close()
    report = backup.restore(tmp_path / "b.db", db_path, now=1_767_262_000)
    assert [op["name"] for op in report.lost_web_ops if op["kind"] == "register"] == ["<b>Late</b> Comer"]
    assert [action["action"] for action in report.organizer_actions_lost] == ["campaign.create"]
    assert report.replaced_as and Path(report.replaced_as).is_file()
    db = open_database(db_path)
    assert db["attendees"].count == 1 and early
    assert log_identity.current(db) == report.log_id
    db.close()


def test_a_revocation_after_the_backup_is_made_again_and_bundles_move_on(tmp_path) -> None:
    db_path = tmp_path / "event.db"
    db = open_database(db_path)
    event = ensure_demo(db, now=1_767_261_600).event
    from events.tablet import enroll

    stolen = enroll(db, event.id, "Stolen", now=1_767_261_600)
    db.close()
    backup.backup(db_path, tmp_path / "b.db")
    db = open_database(db_path)
    devices.revoke_device(db, stolen.device_id, now=1_767_261_700)
    seen_seq = db["events"].get(event.id)["bundle_seq"]
    db.close()
    report = backup.restore(tmp_path / "b.db", db_path, now=1_767_262_000)
    assert report.revoked_again == ["Stolen"]
    db = open_database(db_path)
    assert devices.get_device(db, stolen.device_id).revoked_at is not None
    assert db["events"].get(event.id)["bundle_seq"] > seen_seq
    db.close()


def test_a_backup_refuses_to_overwrite_and_a_scheduled_one_keeps_the_newest(tmp_path) -> None:
    db_path = tmp_path / "event.db"
    open_database(db_path).close()
    (tmp_path / "taken.db").write_text("mine")
    refused = poppass("backup", str(tmp_path / "taken.db"), "--db", str(db_path))
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert (tmp_path / "taken.db").read_text() == "mine"
    for at in range(3):
        backup.backup_into(db_path, tmp_path / "kept", keep=2, now=1_767_261_600 + at)
    kept = sorted(p.name for p in (tmp_path / "kept").iterdir())
    assert kept == ["event.db.20260101-100001.backup", "event.db.20260101-100002.backup"]
    assert stat.S_IMODE(os.stat(tmp_path / "kept").st_mode) == 0o700


def test_a_damaged_backup_is_refused_and_the_database_is_left_alone(tmp_path) -> None:
    db_path = tmp_path / "event.db"
    db = open_database(db_path)
    ensure_demo(db, now=1_767_261_600)
    db.close()
    backup.backup(db_path, tmp_path / "b.db")
    damaged = bytearray((tmp_path / "b.db").read_bytes())
    damaged[4096 * 3 : 4096 * 5] = os.urandom(4096 * 2)
    (tmp_path / "b.db").write_bytes(bytes(damaged))
    before = db_path.read_bytes()
    with pytest.raises(backup.BackupError):
        backup.restore(tmp_path / "b.db", db_path, now=1_767_262_000)
    assert db_path.read_bytes() == before
    assert not list(tmp_path.glob("*.restoring*"))


def test_the_fork_of_each_history(tmp_path) -> None:
    db = open_database(tmp_path / "event.db")
    first = log_identity.current(db)
    db.execute("insert into log_counter (name, value) values ('log', 50)")
    with write_transaction(db):
        second = log_identity.begin(db, at_seq=40, now=1, reason="restored")
        third = log_identity.begin(db, at_seq=30, now=2, reason="restored")
    assert log_identity.current(db) == third
    assert log_identity.fork(db, first) == 30 and log_identity.fork(db, second) == 30
    assert log_identity.fork(db, third) == 50  # the current one: everything
    assert log_identity.fork(db, new_id("lg")) == 0  # never known here: pull it all again


def test_a_restore_onto_a_new_machine_needs_the_key_and_then_works(tmp_path) -> None:
    db_path = tmp_path / "event.db"
    db = open_database(db_path)
    event = ensure_demo(db, now=1_767_261_600).event
    db.close()
    backup.backup(db_path, tmp_path / "b.db")
    elsewhere = tmp_path / "new" / "poppass.db"
    elsewhere.parent.mkdir()
    with pytest.raises(Exception, match="key"):
        backup.restore(tmp_path / "b.db", elsewhere, now=1_767_262_000)
    assert not elsewhere.exists()
    (tmp_path / "new" / "poppass.db.key").write_bytes((tmp_path / "event.db.key").read_bytes())
    report = backup.restore(tmp_path / "b.db", elsewhere, now=1_767_262_000)
    assert report.replaced_as is None and report.restored.events == 1
    db = open_database(elsewhere)
    assert db["events"].get(event.id)["name"] == event.name
    db.close()


@pytest.mark.parametrize("step", ["copy2", "unlink", "replace"])
def test_a_restore_stopped_at_any_step_leaves_a_whole_database_and_can_be_run_again(
    tmp_path, monkeypatch, step
) -> None:
    db_path = tmp_path / "event.db"
    db = open_database(db_path)
    ensure_demo(db, now=1_767_261_600)
    db.close()
    backup.backup(db_path, tmp_path / "b.db")
    db = open_database(db_path)  # a change after the backup, still in the -wal while "the server" runs
    signup.sign_up(
        db,
        db["events"].rows.__next__()["id"],
        signup.Applicant("Late", "+86 138 0000 0002", "", consent=True),
        now_ms=1_767_261_700_000,
    )
    real = {"copy2": backup.shutil.copy2, "unlink": Path.unlink, "replace": backup.os.replace}[step]

    calls = []

    def stop_here(*args, **kwargs):
        calls.append(args)
        # The moments that matter: the replaced file copied but not its WAL; its WAL removed
        # but not its -shm; the restored file not yet renamed.
        if step == "unlink" and Path(args[0]).name != "event.db-shm" or step == "copy2" and len(calls) < 2:
            return real(*args, **kwargs)
        raise KeyboardInterrupt(f"stopped at {step}")

    target = {"copy2": (backup.shutil, "copy2"), "unlink": (Path, "unlink"), "replace": (backup.os, "replace")}[step]
    monkeypatch.setattr(*target, stop_here)
    with pytest.raises(KeyboardInterrupt):  # the "server" was killed: its -wal and -shm are still there
        backup.restore(tmp_path / "b.db", db_path, now=1_767_262_000)
    monkeypatch.setattr(*target, real)
    db.close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert conn.execute("select count(*) from attendees").fetchone()[0] in (0, 1)  # the backup's or the replaced
    conn.close()
    report = backup.restore(tmp_path / "b.db", db_path, now=1_767_262_100)
    assert [op["name"] for op in report.lost_web_ops if op["kind"] == "register"] in (["Late"], [])
    assert sqlite3.connect(db_path).execute("select count(*) from attendees").fetchone()[0] == 0

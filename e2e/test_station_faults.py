"""The server dies under a tablet that is pushing, then comes back: nothing is lost or doubled.

Each test runs its own server (a subprocess on its own SQLite file) so that it may kill it with
SIGKILL and start it again on the same port and file; the session's `live_server` is left alone.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Response, Route, expect

from e2e.station import Station, using_db
from events import devices
from events.db import open_database
from events.demo import ensure_demo
from tests.support.live import free_port, start_server, stop, wait_until_up

PUSH = "**/api/v1/push"
WALK_INS = ["Ana Fault", "Bo Fault", "Chen Fault", "Dee Fault", "Eli Fault"]


@dataclass
class OwnServer:
    """A server this test may kill: same port and same database file on every start."""

    db_path: Path
    port: int
    log: Path
    event_id: str
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start_server(self.db_path, self.port, self.log)
        wait_until_up(self.url, self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush: only what SQLite committed survives."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def db(self, body):
        return using_db(self.db_path, body)

    def enrollment_code(self, name: str) -> str:
        return self.db(lambda db: devices.create_enrollment_code(db, self.event_id, name=name, now=int(time.time())))


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[OwnServer]:
    db_path = tmp_path / "faults.db"
    db = open_database(db_path)
    demo = ensure_demo(db, now=int(time.time()))
    db.close()
    server = OwnServer(db_path, free_port(), tmp_path / "server.log", demo.event.id)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            stop(server.process)


def enroll(new_station, server: OwnServer, name: str) -> Station:
    return new_station(name, "Fay", base_url=server.url, code=server.enrollment_code(name))


def register_offline(station: Station, server: OwnServer, names: list[str]) -> None:
    station.go(server.url + "/station/register")
    page = station.page
    for index, name in enumerate(names):
        page.get_by_label("Name").fill(name)
        page.get_by_label("Phone").fill(f"138 0013 80{index:02d}")
        page.get_by_label("They agree").check()
        page.get_by_role("button", name="Register").click()
        expect(page.locator("#registered-name")).to_have_text(name)
        page.get_by_role("button", name="Register someone else").click()
        expect(page.get_by_label("Name")).to_be_visible()


def device_id(station: Station) -> str:
    return station.page.evaluate(
        "async () => (await (await import('/static/js/outbox.js')).openOutbox()).device().then((d) => d.device_id)"
    )


def watch_pushes(station: Station) -> list[Response]:
    """The push answers the tablet gets from now on."""
    answers: list[Response] = []
    station.page.on("response", lambda response: answers.append(response) if "/api/v1/push" in response.url else None)
    return answers


def op_statuses(answers: list[Response]) -> dict[str, list[str]]:
    """op_id → the statuses the server gave it across the watched push answers."""
    seen: dict[str, list[str]] = {}
    for answer in answers:
        assert answer.status == 200, answer.status
        for result in answer.json()["results"]:
            seen.setdefault(result["op_id"], []).append(result["status"])
    return seen


def wait_for(station: Station, probe) -> None:
    """Until `probe()` holds, woken by each push that fails (aborted, or refused by a dead server):
    the events the probes here count. Playwright runs the route handlers and listeners while it
    waits for the event; no clock, and none missed (the sync API delivers events only inside
    its own calls, so one that came between two looks is delivered to the next wait)."""
    while not probe():
        station.page.wait_for_event("requestfailed", predicate=lambda request: "/api/v1/push" in request.url)


def assert_stored_once(server: OwnServer, device: str, recorded: list[dict], names: list[str]) -> None:
    def read(db):
        counts = {r["op_id"]: r["n"] for r in db.query("select op_id, count(*) as n from ops group by op_id")}
        seqs = [
            r["device_seq"]
            for r in db.query("select device_seq from ops where device_id = ? order by device_seq", [device])
        ]
        people = [r["name"] for r in db.query("select name from attendees")]
        return counts, seqs, people

    counts, seqs, people = server.db(read)
    mine = {op["op_id"] for op in recorded}
    assert len(mine) == len(recorded)
    assert {op_id: counts.get(op_id) for op_id in mine} == dict.fromkeys(mine, 1)  # each once, none lost
    assert all(n == 1 for n in counts.values())  # and nothing anywhere doubled
    assert seqs == list(range(1, len(seqs) + 1))  # contiguous 1..N for this tablet
    assert len(seqs) == len(recorded)
    for name in names:
        assert people.count(name) == 1


def walk_ins_waiting(new_station, own_server, name: str) -> tuple[Station, str, list[dict]]:
    """A tablet that registered the walk-ins offline: ten ops waiting in its outbox."""
    station = enroll(new_station, own_server, name)
    device = device_id(station)
    station.offline()
    register_offline(station, own_server, WALK_INS)
    expect(station.badge()).to_contain_text("Offline · 10 waiting")
    return station, device, station.outbox()


def test_server_killed_after_applying_a_push_but_before_answering(new_station, own_server) -> None:
    station, device, recorded = walk_ins_waiting(new_station, own_server, "Tablet Faults 1")
    assert [op["kind"] for op in recorded] == ["register", "checkin"] * len(WALK_INS)

    pushes: list[str] = []

    def handler(route: Route) -> None:
        if not pushes:
            # Forward the first push: the server applies and commits it, then dies before the
            # tablet can read the answer.
            response = route.fetch()
            pushes.append(f"forwarded {response.status}")
            own_server.kill()
            route.abort()
        else:
            pushes.append("retry")  # the server is down: connection refused
            route.continue_()

    station.page.route(PUSH, handler)
    station.offline(False)
    wait_for(station, lambda: len(pushes) >= 2)  # the first push, then a retry while down
    assert pushes[0] == "forwarded 200"
    # The network is up, the server is not: the badge says which, and nothing is "lost".
    expect(station.badge()).to_contain_text("Server unreachable · 10 waiting")
    assert len(station.outbox()) == 10  # nothing dropped without an acknowledgement

    # The server did apply it: all ten are there already, the tablet just never heard.
    assert (
        own_server.db(lambda db: db.execute("select count(*) from ops where device_id = ?", [device]).fetchone()[0])
        == 10
    )

    answers = watch_pushes(station)
    own_server.start()
    station.page.unroute(PUSH, handler)
    expect(station.badge()).to_contain_text("Online · 0 waiting", timeout=20_000)
    # The tablet sent the whole batch again by itself; the server knew every op already.
    assert op_statuses(answers) == {op["op_id"]: ["duplicate"] for op in recorded}
    assert station.outbox() == []
    assert_stored_once(own_server, device, recorded, WALK_INS)


def test_server_killed_before_the_tablet_pushes(new_station, own_server) -> None:
    station, device, recorded = walk_ins_waiting(new_station, own_server, "Tablet Faults 2")

    failed: list[str] = []
    station.page.on(
        "requestfailed", lambda request: failed.append(request.url) if "/api/v1/push" in request.url else None
    )
    own_server.kill()
    station.offline(False)
    wait_for(station, lambda: len(failed) >= 1)  # connection refused
    # The context is online (navigator.onLine), the server is down: not "Offline".
    expect(station.badge()).to_contain_text("Server unreachable · 10 waiting")
    expect(station.badge()).to_have_attribute("data-state", "unreachable")
    assert len(station.outbox()) == 10
    assert (
        own_server.db(lambda db: db.execute("select count(*) from ops where device_id = ?", [device]).fetchone()[0])
        == 0
    )

    answers = watch_pushes(station)
    own_server.start()
    expect(station.badge()).to_contain_text("Online · 0 waiting", timeout=20_000)
    assert op_statuses(answers) == {op["op_id"]: ["applied"] for op in recorded}
    assert station.outbox() == []
    assert_stored_once(own_server, device, recorded, WALK_INS)

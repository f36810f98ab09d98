"""web/static/js/outbox.js and sync-client.js in real Chromium against the real server process.

One server per module (its own SQLite file and port, restartable on both for the crash test);
each test gets a fresh browser context, so a fresh IndexedDB, and enrolls its tablet from the
page with a WebCrypto Ed25519 key, as the station page will. What the server stored is read
from the SQLite file with a separate connection.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from events import campaigns, devices, registry
from events.db import open_database
from tests.support.live import free_port, start_server, stop, wait_until_up
from tests.support.tablet import Tablet, enroll

# Imports the modules the way the app does; `window.T` keeps the store and client between calls.
SETUP = """
async ({code}) => {
  const o = await import('/static/js/outbox.js');
  const s = await import('/static/js/sync-client.js');
  const store = await o.openOutbox();
  let deviceId = (await store.device())?.device_id ?? null;
  if (code) {
    const keys = await crypto.subtle.generateKey({name: 'Ed25519'}, false, ['sign', 'verify']);
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
    const publicKey = btoa(String.fromCharCode(...raw)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
    deviceId = (await s.enroll(store, {code, publicKey, privateKey: keys.privateKey})).device_id;
  }
  const pages = [];
  const client = new s.SyncClient({
    store, onPull: async (page) => { pages.push(page); }, intervalMs: 3600000, retryMinMs: 100, retryMaxMs: 300,
  });
  window.T = {o, s, store, client, pages};
  return deviceId;
}
"""

# Records `n` ops through the store only (no sync), a register then check-ins of that attendee.
RECORD = """
async ({n, viaClient}) => {
  const subject = 'at' + crypto.getRandomValues(new Uint32Array(2)).join('').slice(0, 16);
  const made = [];
  for (let i = 0; i < n; i++) {
    const op = i === 0
      ? {kind: 'register', subject, clerk: 'Web', data: {name: 'Walk-in ' + i, consent: true}}
      : {kind: 'checkin', subject, clerk: 'Web', data: {method: 'search', shown: {verdict: 'green'}}};
    made.push(await (viaClient ? T.client.record(op) : T.store.record(op)));
  }
  return made;
}
"""


@dataclass
class Server:
    url: str
    port: int
    db_path: Path
    log: Path
    event_id: str
    voucher_text: str
    voucher_id: str
    other: Tablet
    process: Popen
    codes: list[str] = field(default_factory=list)

    def restart(self) -> None:
        self.process = start_server(self.db_path, self.port, self.log)
        wait_until_up(self.url, self.process)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def ops(self, device_id: str) -> list[tuple[int, str, str]]:
        with sqlite3.connect(self.db_path) as db:
            return db.execute(
                "select device_seq, op_id, kind from ops where device_id = ? order by device_seq", [device_id]
            ).fetchall()

    def device(self, device_id: str) -> dict[str, Any]:
        with sqlite3.connect(self.db_path) as db:
            db.row_factory = sqlite3.Row
            return dict(db.execute("select * from devices where id = ?", [device_id]).fetchone())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("sync_client")
    db_path = directory / "sync.db"
    now = int(time.time())
    db = open_database(db_path)
    event = registry.create_event(db, name="Sync", venue="", starts_at=now - 60, ends_at=now + 3600, now=now)
    campaign = campaigns.create_campaign(db, event.id, title="Tote bag", max_uses=1, rotating=False, now=now)
    voucher = campaigns.issue_voucher(db, event.id, campaign.number, now=now)
    codes = [devices.create_enrollment_code(db, event.id, name=f"Web {i}", now=now) for i in range(12)]
    other = enroll(db, event.id, "Other", now=now)
    db.close()
    port = free_port()
    log = directory / "server.log"
    url = f"http://127.0.0.1:{port}"
    instance = Server(
        url, port, db_path, log, event.id, voucher.text, voucher.id, other, start_server(db_path, port, log), codes
    )
    try:
        wait_until_up(url, instance.process)
        yield instance
    finally:
        stop(instance.process)


@pytest.fixture
def tablet(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:
    """A page of the live server with a freshly enrolled browser tablet: (page, device_id)."""
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(server.url + "/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    device_id = page.evaluate(SETUP, {"code": server.codes.pop()})
    yield page, device_id
    context.close()
    assert errors == []


def push_from_python(server: Server, tablet: Tablet) -> dict:
    body = json.dumps(tablet.batch(now_ms=int(time.time() * 1000))).encode()
    request = urllib.request.Request(
        server.url + "/api/v1/push",
        data=body,
        method="POST",
        headers={**tablet.headers, "Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = json.loads(response.read())
    tablet.outbox.clear()
    return answer


def sync(page: Page) -> dict:
    return page.evaluate("() => T.client.sync()")


def pending(page: Page) -> list[int]:
    return page.evaluate("async () => (await T.store.pending()).map((op) => op.device_seq)")


def test_offline_ops_wait_in_the_outbox_then_sync_exactly_once(tablet, server: Server) -> None:
    page, device_id = tablet
    page.context.set_offline(True)
    page.evaluate("() => T.client.start()")
    made = page.evaluate(RECORD, {"n": 3, "viaClient": True})
    redeem = page.evaluate(
        "(arg) => T.client.record({kind: 'redeem', subject: arg.id, clerk: 'Web',"
        " data: {token: arg.text, outcome: 'accepted', shown: {verdict: 'green'}}})",
        {"id": server.voucher_id, "text": server.voucher_text},
    )
    made.append(redeem)
    assert [op["device_seq"] for op in made] == [1, 2, 3, 4]
    # HLC stamps never go backwards, and follow the corrected clock (enrollment gave an offset).
    stamps = [(op["hlc_ms"], op["hlc_counter"]) for op in made]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    assert all(op["corrected_time_ms"] is not None for op in made)
    page.wait_for_function("() => T.client.status.state === 'offline' && T.client.status.online === false")
    assert pending(page) == [1, 2, 3, 4]
    assert server.ops(device_id) == []

    # Another tablet's ops, which the pull must bring.
    other = server.other
    other.register("Someone else", now_ms=int(time.time() * 1000))
    theirs = [op["op_id"] for op in other.outbox]
    assert push_from_python(server, other)["results"][0]["status"] == "applied"

    page.context.set_offline(False)  # the `online` event alone must bring the sync
    page.wait_for_function("() => T.client.status.state === 'idle' && T.client.status.lastSyncAt !== null")
    status = page.evaluate("() => T.client.status")
    assert status["pending"] == 0 and status["online"] is True and status["lastError"] is None
    assert isinstance(status["clockOffsetMs"], int) and abs(status["clockOffsetMs"]) < 5_000
    assert pending(page) == []
    assert server.ops(device_id) == [(op["device_seq"], op["op_id"], op["kind"]) for op in made]
    pulled = page.evaluate("() => T.pages.flatMap((p) => p.ops.map((op) => op.op_id))")
    assert set(theirs) <= set(pulled)
    assert not {op["op_id"] for op in made} & set(pulled)  # never its own
    cursor = page.evaluate("() => T.store.cursor()")
    assert cursor >= 1 and cursor == page.evaluate("() => T.pages.at(-1).cursor")
    record = server.device(device_id)
    assert record["last_seq"] == 4 and record["pending"] == 0

    # A second sync pushes nothing, and pulls from the saved cursor.
    page.evaluate("() => { T.pages.length = 0; return T.client.sync(); }")
    assert page.evaluate("() => T.pages.map((p) => p.ops.length)") == [0]
    assert len(server.ops(device_id)) == 4


def test_outbox_survives_a_reload_and_seq_continues(tablet, server: Server) -> None:
    page, device_id = tablet
    page.evaluate(RECORD, {"n": 2, "viaClient": False})
    page.reload()
    assert page.evaluate(SETUP, {"code": None}) == device_id
    assert pending(page) == [1, 2]
    assert page.evaluate(RECORD, {"n": 2, "viaClient": False})[-1]["device_seq"] == 4
    sync(page)
    page.reload()
    page.evaluate(SETUP, {"code": None})
    assert pending(page) == []
    assert page.evaluate(RECORD, {"n": 1, "viaClient": False})[0]["device_seq"] == 5
    assert sync(page)["state"] == "idle"
    assert [row[0] for row in server.ops(device_id)] == [1, 2, 3, 4, 5]


def test_concurrent_syncs_run_one_at_a_time(tablet, server: Server) -> None:
    page, device_id = tablet
    page.evaluate(RECORD, {"n": 5, "viaClient": False})
    pushes = page.evaluate(
        """async () => {
          const real = window.fetch;
          let pushes = 0, inFlight = 0, most = 0;
          window.fetch = async (...args) => {
            if (String(args[0]).includes('/push')) pushes++;
            most = Math.max(most, ++inFlight);
            try { return await real(...args); } finally { inFlight--; }
          };
          await Promise.all([T.client.sync(), T.client.sync(), T.client.sync()]);
          window.fetch = real;
          return {pushes, most};
        }"""
    )
    assert pushes["most"] == 1  # never two requests at once
    assert pushes["pushes"] == 1  # the re-run found the outbox empty
    assert [row[0] for row in server.ops(device_id)] == [1, 2, 3, 4, 5]


def test_server_killed_mid_sync_loses_nothing_and_doubles_nothing(tablet, server: Server) -> None:
    page, device_id = tablet
    page.evaluate("() => { T.client.batchSize = T.client.maxBatch = 40; }")
    made = page.evaluate(RECORD, {"n": 400, "viaClient": False})
    # The third push is in flight when the server dies: it reaches the server, which may commit it,
    # but its answer never reaches the tablet (the worst case: did it land or not?).
    page.evaluate(
        """() => {
          const real = window.fetch;
          let pushes = 0;
          T.killed = false;
          window.fetch = async (...args) => {
            if (!String(args[0]).includes('/push') || ++pushes !== 3) return real(...args);
            T.inFlight = true;
            real(...args).catch(() => {});
            while (!T.killed) await new Promise((ok) => setTimeout(ok, 10));
            throw new TypeError('Failed to fetch');
          };
          T.client.sync();  // not awaited
        }"""
    )
    page.wait_for_function("() => T.inFlight === true")
    # A moment for the server to take the request, or not: either way is the case under test (the
    # tablet cannot know which), so this sleep is the point, and nothing depends on its length.
    time.sleep(0.05)
    server.kill()
    page.evaluate("() => { T.killed = true; }")
    # The network is up, the server is not: "unreachable", not "offline".
    page.wait_for_function("() => T.client.status.state === 'unreachable' && T.client.status.online === true")
    assert len(pending(page)) >= 400 - 3 * 40  # the unanswered batch stays in the outbox
    page.evaluate(RECORD, {"n": 1, "viaClient": False})  # recorded while the server is down
    # A few retries against the dead port (its own backoff timer), each seen failing.
    failures = page.evaluate("() => T.client.failures")
    page.wait_for_function("(before) => T.client.failures >= before + 2", arg=failures)
    assert page.evaluate("() => T.client.status.lastError") is not None
    server.restart()  # returns once the server answers
    status = sync(page)  # a sync begun after the restart: it pushes the whole outbox
    assert status["state"] == "idle" and status["pending"] == 0, status
    stored = server.ops(device_id)
    assert [row[0] for row in stored] == list(range(1, 402))
    assert [row[1] for row in stored[:400]] == [op["op_id"] for op in made]
    assert pending(page) == []


def test_gap_and_seq_reused_are_recovered(tablet, server: Server) -> None:
    page, device_id = tablet
    made = page.evaluate(RECORD, {"n": 3, "viaClient": False})
    # Lose op 1 from the outbox: the server answers 409 gap, resend_from 1, which the client no
    # longer holds; it renumbers what it has rather than wedge.
    page.evaluate(
        "() => new Promise((ok, fail) => { const tx = T.store.db.transaction('outbox', 'readwrite');"
        " tx.objectStore('outbox').delete(1); tx.oncomplete = ok; tx.onerror = fail; })"
    )
    status = sync(page)
    assert status["state"] == "idle" and "gap" in status["warning"]
    assert server.ops(device_id) == [(1, made[1]["op_id"], "checkin"), (2, made[2]["op_id"], "checkin")]

    # The counter goes backwards (say, meta restored from an old copy): 409 seq_reused.
    page.evaluate(
        "() => new Promise((ok, fail) => { const tx = T.store.db.transaction('meta', 'readwrite');"
        " tx.objectStore('meta').put(1, 'next_seq'); tx.oncomplete = ok; tx.onerror = fail; })"
    )
    reused = page.evaluate(RECORD, {"n": 1, "viaClient": False})[0]
    assert reused["device_seq"] == 1
    assert sync(page)["state"] == "idle"
    assert server.ops(device_id)[-1] == (3, reused["op_id"], "register")
    assert page.evaluate("() => T.store.nextSeq()") == 4
    assert page.evaluate(RECORD, {"n": 1, "viaClient": False})[0]["device_seq"] == 4


def test_revoked_device_wipes_its_store(tablet, server: Server) -> None:
    page, device_id = tablet
    page.evaluate(RECORD, {"n": 1, "viaClient": False})
    assert sync(page)["state"] == "idle"
    db = open_database(server.db_path)
    devices.revoke_device(db, device_id, now=int(time.time()))
    db.close()
    page.evaluate(RECORD, {"n": 1, "viaClient": False})
    status = sync(page)
    assert status["state"] == "revoked" and status["lastError"] == "device_revoked" and status["pending"] == 0
    assert page.evaluate("async () => [await T.store.device(), await T.store.count(), await T.store.cursor()]") == [
        None,
        0,
        0,
    ]
    # Stopped for good: a later sync sends nothing.
    assert page.evaluate("() => T.client.sync().then((s) => s.state)") == "revoked"
    assert len(server.ops(device_id)) == 1


def test_unknown_device_keeps_its_outbox(tablet, server: Server) -> None:
    page, device_id = tablet
    page.evaluate(RECORD, {"n": 2, "viaClient": False})
    page.evaluate(
        "async () => { const d = await T.store.device(); d.device_token = 'x'.repeat(43);"
        " await new Promise((ok) => { const tx = T.store.db.transaction('meta', 'readwrite');"
        " tx.objectStore('meta').put(d, 'device'); tx.oncomplete = ok; }); }"
    )
    status = sync(page)
    assert status["state"] == "not_enrolled" and status["lastError"] == "unknown_device"
    assert pending(page) == [1, 2]
    assert server.ops(device_id) == []


def test_acknowledged_ops_are_kept_for_a_restore_then_forgotten(tablet, server: Server) -> None:
    page, device_id = tablet
    made = page.evaluate(RECORD, {"n": 2, "viaClient": False})
    assert sync(page)["state"] == "idle" and pending(page) == []
    assert page.evaluate("async () => (await T.store.kept()).map((op) => op.op_id)") == [op["op_id"] for op in made]
    unsent = page.evaluate(RECORD, {"n": 1, "viaClient": False})[0]
    # Three days later the kept ops go; a restore to before them can then no longer get them.
    page.evaluate("() => T.store.acknowledge(0, null, {now: Date.now() + T.o.KEEP_SENT_MS + 1000})")
    assert page.evaluate("async () => (await T.store.kept()).length") == 0
    outcome = page.evaluate("() => T.store.recover({lastSeq: 0, logId: 'lgrestored0000001'})")
    assert outcome == {"requeued": 0, "lost": 2}
    assert [op["op_id"] for op in page.evaluate("() => T.store.pending()")] == [unsent["op_id"]]
    assert pending(page) == [1] and page.evaluate("() => T.store.nextSeq()") == 2
    assert page.evaluate("() => T.store.logId()") == "lgrestored0000001"
    assert page.evaluate("() => T.store.cursor()") == 0


def test_enrolled_again_the_tablet_sends_what_it_kept_under_its_new_id(tablet, server: Server) -> None:
    # The server's database went back to a backup older than this tablet's enrollment: it is
    # unknown there, is enrolled again, and must send everything it holds.
    page, device_id = tablet
    kept = page.evaluate(RECORD, {"n": 2, "viaClient": False})
    assert sync(page)["state"] == "idle" and pending(page) == []
    unsent = page.evaluate(RECORD, {"n": 1, "viaClient": False})
    new_id = page.evaluate(SETUP, {"code": server.codes.pop()})
    assert new_id != device_id
    queued = page.evaluate("() => T.store.pending()")
    assert [op["op_id"] for op in queued] == [op["op_id"] for op in kept + unsent]
    assert [op["device_seq"] for op in queued] == [1, 2, 3]
    assert page.evaluate("async () => (await T.store.kept()).length") == 0
    assert sync(page)["state"] == "idle"
    # This server still has the first two (under the old id): stored once, the third is new.
    assert [op_id for _, op_id, _ in server.ops(new_id)] == [unsent[0]["op_id"]]


def test_a_503_with_retry_after_waits_that_long_and_keeps_the_ops(tablet, server: Server) -> None:
    """The server's answer on a full disk (server/errors.py storage_error, byte for byte; a real
    full disk under this module's server is tests/test_health.py's job): the client keeps its
    ops and schedules the next sync no sooner than Retry-After, though its backoff is 0.1 s."""
    page, device_id = tablet
    page.evaluate(RECORD, {"n": 2, "viaClient": False})
    refused = []

    def disk_full(route) -> None:
        refused.append(route.request.url)
        route.fulfill(
            status=503,
            headers={"Retry-After": "2", "Cache-Control": "no-store"},
            content_type="application/json",
            body=json.dumps(
                {
                    "error": "disk_full",
                    "detail": "the server's disk is full; nothing was written: resend after Retry-After",
                }
            ),
        )

    page.route("**/api/v1/push", disk_full)
    page.evaluate(
        "() => { T.delays = []; const real = window.setTimeout.bind(window);"
        " window.setTimeout = (fn, ms, ...rest) => { T.delays.push(ms); return real(fn, ms, ...rest); }; }"
    )
    status = sync(page)
    assert status["state"] == "unreachable" and status["lastError"] == "server: 503 disk_full", status
    assert 2000 in page.evaluate("() => T.delays")  # not the 75-125 ms its backoff would give
    assert pending(page) == [1, 2] and server.ops(device_id) == [] and len(refused) == 1
    page.unroute("**/api/v1/push")
    page.wait_for_function("() => T.client.status.state === 'idle' && T.client.status.pending === 0", timeout=20_000)
    assert [row[0] for row in server.ops(device_id)] == [1, 2]

"""Fault injection: the real server SIGKILLed at random moments while simulated tablets push.

For one seed: an event with enrolled tablets (the *template* database file), and a
deterministic workload of ops the tablets make offline (registrations sharing phones, check-ins,
vouchers issued by tablets and by the server, redemptions of the same voucher on several
tablets, refusals, voids, undos, a tablet whose clock is off). Then two runs on copies of the
template:

- the **reference**: every op pushed once, in the order made, through `events.sync.push`;
- the **faulty** run: the real server (uvicorn on a loopback port over the copied SQLite file)
  with one thread per tablet pushing over HTTP while a killer SIGKILLs the server (at a random
  time, a few milliseconds into a request, right after a commit lands, or while it starts up),
  restarts it on the same file and port, and the tablets retry with backoff as the station's
  sync client does (`web/static/js/sync-client.js`). Tablets also replay acknowledged batches,
  reorder ops inside a batch and skip ahead (a gap the server refuses).

Once every outbox is acknowledged the faulty database must hold every op exactly once with
contiguous `device_seq`s, the same attendees and tokens, and the same standing conflicts as
the reference; `PRAGMA integrity_check` must say ok and re-merging every subject must change
nothing. Used by tests/test_crash_recovery.py (a few seeds) and bench/soak.py (many).

The seed fixes the workload and the kill plan; the exact interleaving of threads, requests and
kills is real timing, so a failing seed is re-run a few times to reproduce.

`run_online_seed` is a second mode: online redemptions and a pulling tablet beside the pushes,
with kills aimed at both (its own section below).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

import msgspec

from events import campaigns, conflicts, devices, keys, merge, ops, registry, sealed, sync, tokens
from events.db import open_database
from tests.support.live import ROOT, free_port, start_server, stop, wait_until_up
from tests.support.log_state import state
from tests.support.tablet import Tablet

MINUTE_MS = 60_000
KILL_MODES = ("random", "mid_request", "after_commit", "at_start")
# What a tablet does next, weighted: redemptions dominate so vouchers collect uses and conflicts.
ACTIONS = ("register",) * 3 + ("checkin",) * 2 + ("issue",) * 2 + ("redeem",) * 4 + ("void", "undo")
PHONES = ("", "13800138000", "+86 138 0013 8000", "13911112222", "")  # shared: possible duplicates
TIME_STEPS_MS = (0, 1, 500, 5_000, 30_000, 90_000)
SETTLE_TIMEOUT_S = 120  # generous: a loaded CI box restarts a server in well under a second


# --- the world: one event, its campaigns, enrolled tablets --------------------------------------


@dataclass
class World:
    template: Path  # the database file before any push, copied for each run
    event_id: str
    now: int  # seconds: when the event's server vouchers were issued
    tablets: list[tuple[str, int, str, bytes]]  # (device id, key id, device token, private key bytes)
    server_vouchers: list[str]


def make_world(directory: Path, rng: random.Random, *, tablet_count: int) -> World:
    now = int(time.time()) - 600
    template = directory / "template.db"
    db = open_database(template)
    try:
        event = registry.create_event(
            db, name="Fault pop-up", venue="Hall", starts_at=now - 3600, ends_at=now + 8 * 3600, now=now
        )
        welcome = campaigns.create_campaign(db, event.id, title="Welcome", max_uses=1, rotating=False, now=now)
        coffees = campaigns.create_campaign(
            db, event.id, title="Two coffees", max_uses=2, valid_minutes=20, rotating=False, now=now
        )
        # A cap the tablets can overrun while offline (over_cap).
        campaigns.create_campaign(db, event.id, title="Tote bag", max_uses=1, cap=2, rotating=False, now=now)
        vouchers = [campaigns.issue_voucher(db, event.id, c.number, now=now).text for c in (welcome, welcome, coffees)]
        enrolled = []
        for index in range(tablet_count):
            private = rng.randbytes(32)
            code = devices.create_enrollment_code(db, event.id, name=f"Tablet {index}", now=now)
            enrollment = devices.enroll(
                db, code, public_key=keys.public_key_bytes(keys.private_key_from_bytes(private)), now=now
            )
            enrolled.append((enrollment.device.id, enrollment.device.key_id, enrollment.token, private))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the template is one self-contained file
    finally:
        db.close()
    return World(template, event.id, now, enrolled, vouchers)


def copy_template(world: World, target: Path) -> Path:
    shutil.copyfile(world.template, target)
    # Its secrets are sealed: the copy needs the template's data key beside it (unless
    # POPPASS_DATA_KEY holds it).
    if sealed.key_path(world.template).exists():
        shutil.copyfile(sealed.key_path(world.template), sealed.key_path(target))
    return target


# --- the workload: ops the tablets make offline ---------------------------------------------------


class FaultTablet(Tablet):
    """The test tablet with ids drawn from the seed's generator, so a seed replays its ops."""

    index: int = 0
    rng: random.Random

    def made(self, op: dict, *, subject: str | None = None) -> dict:
        op["op_id"] = f"op{self.rng.getrandbits(64):016x}"
        if subject is not None:
            op["subject"] = subject
        return op

    def issue_with(
        self, *, now_ms: int, max_uses: int, minutes: int, campaign: int, attendee_id: str | None
    ) -> tuple[str, dict]:
        issued_at = (now_ms + self.skew_ms + self.offset_ms) // 1000
        text = tokens.issue(
            signing_key=self.private_key,
            key_id=self.key_id,
            event_id=self.event_id,
            type=tokens.TokenType.VOUCHER,
            issued_at=issued_at,
            valid_from=issued_at,
            valid_until=issued_at + 60 * minutes,
            campaign=campaign,
            max_uses=max_uses,
            token_id=self.rng.randbytes(tokens.ID_LEN),
        )
        data = {"token": text}
        if attendee_id:
            data["attendee_id"] = attendee_id
        return text, self.made(self._op("issue", tokens.decode(text).token.id, data, now_ms))


@dataclass
class Workload:
    tablets: list[FaultTablet]
    timeline: list[tuple[int, dict]]  # (tablet index, op) in the order made
    texts: dict[str, str]  # token id -> text of every voucher in play
    phone_keys: set[str]


def make_workload(world: World, rng: random.Random, *, size: int) -> Workload:
    tablets = []
    for index, (device_id, key_id, token, private) in enumerate(world.tablets):
        tablet = FaultTablet(
            event_id=world.event_id, clerk=f"Clerk {index}", private_key=keys.private_key_from_bytes(private)
        )
        tablet.index, tablet.rng = index, rng
        tablet.enrolled({"device_id": device_id, "key_id": key_id, "device_token": token})
        tablets.append(tablet)
    # One tablet's clock is off; it corrects for it (it synced once) or does not, so its
    # redemptions may land outside a voucher's window and its vouchers' windows are shifted.
    skewed = tablets[0]
    skewed.skew_ms = rng.choice((4, -15, 40)) * MINUTE_MS
    skewed.offset_ms = rng.choice((0, -skewed.skew_ms))

    timeline: list[tuple[int, dict]] = []
    vouchers = list(world.server_vouchers)
    attendees: list[str] = []
    redeems: dict[int, list[dict]] = {i: [] for i in range(len(tablets))}
    wall = world.now * 1000
    for _ in range(size):
        wall += rng.choice(TIME_STEPS_MS)
        index = rng.randrange(len(tablets))
        tablet = tablets[index]
        action = rng.choice(ACTIONS)
        if action == "checkin" and not attendees or action == "undo" and not redeems[index]:
            action = "register"
        if action == "register":
            op = tablet.register(f"Guest {len(attendees)}", now_ms=wall, phone=rng.choice(PHONES))
            op = tablet.made(op, subject=f"at{rng.getrandbits(64):016x}")
            attendees.append(op["subject"])
        elif action == "checkin":
            op = tablet.made(tablet.checkin(rng.choice(attendees), now_ms=wall))
        elif action == "issue":
            holder = rng.choice(attendees) if attendees and rng.random() < 0.5 else None
            text, op = tablet.issue_with(
                now_ms=wall,
                max_uses=rng.choice((1, 1, 2)),
                minutes=rng.choice((2, 10, 240)),
                campaign=rng.choice((1, 3)),
                attendee_id=holder,
            )
            vouchers.append(text)
        elif action == "redeem":
            # Often the first welcome voucher: several tablets redeem it offline (over_redemption).
            text = vouchers[0] if rng.random() < 0.35 else rng.choice(vouchers)
            outcome = "refused" if rng.random() < 0.1 else "accepted"
            op = tablet.made(tablet.redeem(text, now_ms=wall, outcome=outcome, seen=rng.randrange(2)))
            redeems[index].append(op)
        elif action == "void":
            op = tablet.made(tablet.void(rng.choice(vouchers), now_ms=wall, reason="lost"))
        else:  # undo one of this tablet's own redemptions
            target = rng.choice(redeems[index])
            op = tablet.made(tablet.void(target["data"]["token"], now_ms=wall, redeem_op_id=target["op_id"]))
        timeline.append((index, op))
    texts = {tokens.decode(text).token.id: text for text in vouchers}
    phone_keys = {key for _, op in timeline if op["kind"] == "register" for key in merge.dedup_keys(op["data"])}
    return Workload(tablets, timeline, texts, phone_keys)


def body(tablet: Tablet, op_list: list[dict], *, pending: int = 0) -> bytes:
    return msgspec.json.encode(
        {
            "protocol": 1,
            "device_id": tablet.device_id,
            "sent_at_ms": int(time.time() * 1000) + tablet.skew_ms,
            "ops": op_list,
            "pending": pending,
        }
    )


# --- the reference: each op pushed once -----------------------------------------------------------


def run_reference(world: World, workload: Workload, path: Path) -> dict:
    db = open_database(copy_template(world, path))
    try:
        for index, op in workload.timeline:
            tablet = workload.tablets[index]
            now_ms = int(time.time() * 1000)
            result = sync.push(db, tablet.device_id, ops.decode_batch(body(tablet, [op])), now_ms=now_ms)
            if [r.status for r in result.results] != ["applied"]:
                raise AssertionError(f"reference push of {op['op_id']} was {result.results}")
        return state(db, world.event_id)
    finally:
        db.close()


# --- servers that can be killed -------------------------------------------------------------------


class CliServer:
    """`python -m server.cli serve`, exactly as tests/support/live.py starts it (about 0.5 s a start)."""

    name = "cli"

    def __init__(self, db_path: Path, port: int, log: Path) -> None:
        self.db_path, self.port, self.log = db_path, port, log
        self.process: subprocess.Popen | None = None

    def spawn(self) -> None:
        self.process = start_server(self.db_path, self.port, self.log)

    def wait_until_up(self) -> None:
        assert self.process is not None
        wait_until_up(f"http://127.0.0.1:{self.port}", self.process, timeout=60)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; only what SQLite committed survives."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def close(self) -> None:
        self.kill()


class Zygote:
    """A process that has already imported the server and forks a fresh server on request,
    so a restart costs tens of milliseconds instead of half a second: what lets the soak run
    1,000 seeds. Each child opens the database itself, after the fork; nothing but imported
    modules is shared. The zygote reaps the children the test kills. One per thread."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.faults", "zygote"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def ask(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if not answer:
            raise RuntimeError(f"the zygote died (exit {self.process.poll()})")
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


class ForkServer:
    """The server forked by a Zygote: same app, same uvicorn, same file and port."""

    name = "fork"

    def __init__(self, db_path: Path, port: int, log: Path, zygote: Zygote) -> None:
        self.db_path, self.port, self.log, self.zygote = db_path, port, log, zygote
        self.pid: int | None = None

    def spawn(self) -> None:
        self.pid = int(self.zygote.ask(f"start {self.port} {self.db_path} {self.log}"))

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        url = f"http://127.0.0.1:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.zygote.ask(f"alive {self.pid}") != "yes":
                raise RuntimeError("server exited while starting")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    response.read()
                return
            except urllib.error.HTTPError as error:  # it answers: up, though unwell (a 503 on a low disk)
                error.close()
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("server did not come up in 60 s")

    def _end(self, sig: int) -> None:
        if self.pid is not None:
            if self.zygote.ask(f"alive {self.pid}") == "yes":  # (not reaped, so the pid is still its own)
                os.kill(self.pid, sig)
            self.zygote.ask(f"reap {self.pid}")
            self.pid = None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; only what SQLite committed survives."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def close(self) -> None:
        self.kill()


def zygote() -> None:
    """The fork server's loop (`python -m tests.support.faults zygote`): one command per line."""
    import uvicorn

    from server.app import create_app

    for line in sys.stdin:
        command, *args = line.split()
        if command == "start":
            port, db_path, log = args
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    null = os.open(os.devnull, os.O_RDONLY)
                    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                    os.dup2(null, 0)
                    os.dup2(out, 1)
                    os.dup2(out, 2)
                    uvicorn.run(create_app(db_path), host="127.0.0.1", port=int(port), log_level="warning")
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            print(pid, flush=True)
        elif command == "alive":
            try:
                done, _ = os.waitpid(int(args[0]), os.WNOHANG)
            except ChildProcessError:
                done = 1
            print("no" if done else "yes", flush=True)
        elif command == "reap":
            try:
                os.waitpid(int(args[0]), 0)
            except ChildProcessError:
                pass  # already reaped by "alive"
            print("reaped", flush=True)


# --- the faulty run ---------------------------------------------------------------------------


@dataclass
class FaultStats:
    kills: Counter = field(default_factory=Counter)  # by mode
    pushes: int = 0
    refused_connections: int = 0  # requests that got no answer (server down or killed under it)
    gaps: int = 0
    replays: int = 0
    lost_answers: int = 0  # ops the server stored whose answer never reached the tablet
    server_errors: int = 0
    problems: list[str] = field(default_factory=list)


class Traffic:
    """What the killer watches: how many requests the tablets have sent, in all and by kind
    (push, redeem, pull)."""

    def __init__(self) -> None:
        self.sent: Counter = Counter()
        self.changed = threading.Condition()

    def request(self, kind: str = "push") -> None:
        with self.changed:
            self.sent[kind] += 1
            self.sent["any"] += 1
            self.changed.notify_all()

    def wait_for_next(self, stop: threading.Event, kind: str = "any") -> bool:
        with self.changed:
            seen = self.sent[kind]
            while self.sent[kind] == seen and not stop.is_set():
                self.changed.wait(0.05)
            return not stop.is_set()


def post_push(url: str, tablet: Tablet, payload: bytes) -> tuple[int, dict] | None:
    """One push over HTTP: (status, reply), or None when no answer came back (refused, reset,
    cut off mid-answer: the station treats all alike)."""
    return post_json(url, "/api/v1/push", tablet, payload)


def drive_tablet(
    tablet: FaultTablet,
    url: str,
    rng: random.Random,
    traffic: Traffic,
    stats: FaultStats,
    lock: threading.Lock,
    killer_done: threading.Event,
) -> None:
    """Push the tablet's outbox until the server has acknowledged all of it.

    Ops become pending a few at a time (the clerk keeps working), the last one only once the
    killer is through, so that every planned kill finds traffic. Like sync-client.js: send up
    to `batch_size` pending ops; on 200 drop everything up to `last_seq`; on `409 gap` drop
    what precedes `resend_from`; on no answer or a 5xx back off (doubling, jittered) and resend.
    On top, the network misbehaves: old batches are replayed, ops reordered, a slice skipped."""
    outbox = tablet.outbox
    total = len(outbox)
    batch_size = rng.randint(1, 8)
    acked = 0  # the tablet's belief: the server has every op up to here
    released = 0
    failures = 0
    sent: list[list[dict]] = []
    deadline = time.monotonic() + SETTLE_TIMEOUT_S

    def problem(text: str) -> None:
        with lock:
            stats.problems.append(f"tablet {tablet.index}: {text}")

    while acked < total:
        if time.monotonic() > deadline:
            problem(f"did not settle in {SETTLE_TIMEOUT_S} s (acknowledged {acked} of {total})")
            return
        if released < total - 1 or killer_done.is_set():
            released = min(total if killer_done.is_set() else total - 1, released + rng.randint(0, 3))
        pending = outbox[acked:released]
        chaos = rng.random()
        if chaos < 0.08 and sent:
            op_list, why = list(rng.choice(sent)), "replay"
        elif chaos < 0.12 and len(pending) >= 2:
            op_list, why = pending[1 : 1 + batch_size], "skip"  # a slice past the acknowledged position
        elif pending:
            op_list, why = pending[:batch_size], "next"
        else:
            # Nothing new: the station's timer still syncs now and then; resending what the
            # server acknowledged is harmless (duplicates) and keeps requests coming.
            op_list, why = (list(sent[-1]) if sent else []), "idle"
            time.sleep(rng.uniform(0.002, 0.02))
        if rng.random() < 0.2:
            op_list = rng.sample(op_list, len(op_list))
        traffic.request()
        answer = post_push(url, tablet, body(tablet, op_list, pending=max(0, released - acked - len(op_list))))
        with lock:
            stats.pushes += 1
            stats.replays += why in ("replay", "idle")
        if answer is None or answer[0] >= 500:
            with lock:
                stats.refused_connections += answer is None
                stats.server_errors += answer is not None
            if answer is not None:
                problem(f"server error {answer}")
            failures += 1
            delay = min(0.2, 0.01 * 2 ** (failures - 1))
            time.sleep(delay * rng.uniform(0.75, 1.25))
            continue
        failures = 0
        status, reply = answer
        if status == 200:
            if op_list:
                sent.append(op_list)
            highest = max((op["device_seq"] for op in op_list), default=0)
            if reply["last_seq"] < max(highest, acked):
                problem(f"server acknowledged up to {reply['last_seq']}, below {max(highest, acked)}")
            # Ops the tablet never saw acknowledged but the server already had: an answer was lost.
            lost = sum(1 for r in reply["results"] if r["status"] == "duplicate" and r["device_seq"] > acked)
            with lock:
                stats.lost_answers += lost
            acked = max(acked, min(reply["last_seq"], total))
        elif status == 409 and reply.get("error") == "gap":
            resend_from = reply["resend_from"]
            with lock:
                stats.gaps += 1
                stats.lost_answers += max(0, resend_from - 1 - acked)
            if resend_from - 1 < acked:
                problem(f"server asks to resend from {resend_from} after acknowledging up to {acked}: ops were lost")
                return
            if why != "skip" and resend_from - 1 == acked:
                problem(f"gap on a contiguous batch {[op['device_seq'] for op in op_list]} (acknowledged {acked})")
            acked = resend_from - 1
        else:
            problem(f"unexpected answer {status} {reply} to {why} batch {[op['device_seq'] for op in op_list]}")
            return


def kill_now(server, mode: str, stats: FaultStats) -> None:
    server.kill()
    stats.kills[mode] += 1


def run_killer(
    server,
    db_path: Path,
    plan: list[str],
    rng: random.Random,
    traffic: Traffic,
    stats: FaultStats,
    tablets_done: threading.Event,
    killer_done: threading.Event,
) -> None:
    """Carry out the kill plan, restarting the server after each kill."""
    monitor = sqlite3.connect(db_path, timeout=30)  # a reader, to see a commit land
    try:
        for mode in plan:
            if tablets_done.is_set():
                break
            if mode == "random":
                time.sleep(rng.uniform(0, 0.3))
            elif mode in ("mid_request", "mid_redeem", "mid_pull"):
                # A few milliseconds after a request (of that kind) leaves: before the server
                # reads it, inside its write transaction, or while it encodes the answer.
                if not traffic.wait_for_next(
                    tablets_done, {"mid_redeem": "redeem", "mid_pull": "pull"}.get(mode, "any")
                ):
                    break
                time.sleep(rng.uniform(0, 0.008))
            elif mode == "after_commit":
                # Kill the moment a push that stored new ops has committed: usually before its
                # answer has left the server, so the tablet must resend and be told "duplicate".
                # (data_version moves at every commit of another connection; cheap to poll.)
                # Once the tablets have sent all they may before the last kill, only resends
                # commit: after a second of those, any commit will do.
                stored = monitor.execute("select coalesce(max(seq), 0) from ops").fetchone()[0]
                version = monitor.execute("PRAGMA data_version").fetchone()[0]
                patience = time.monotonic() + 1
                while not tablets_done.is_set():
                    now_version = monitor.execute("PRAGMA data_version").fetchone()[0]
                    if now_version != version:
                        version = now_version
                        if time.monotonic() > patience:
                            break
                        if monitor.execute("select coalesce(max(seq), 0) from ops").fetchone()[0] > stored:
                            break
            if tablets_done.is_set():
                break
            if mode == "at_start":
                # Killed again while starting up: opening the database, recovering the WAL.
                kill_now(server, "random", stats)
                server.spawn()
                time.sleep(rng.uniform(0, 0.4))
            kill_now(server, mode, stats)
            time.sleep(rng.uniform(0, 0.1))  # down for a moment: tablets get refused connections
            server.spawn()
            server.wait_until_up()
    finally:
        monitor.close()
        killer_done.set()


def kill_plan(rng: random.Random, kills: int) -> list[str]:
    return [rng.choice(KILL_MODES) for _ in range(kills)]


def reported(stats: FaultStats, lock: threading.Lock, target, *args) -> None:
    """Run a thread's work; an exception becomes a problem of the run, not a stray traceback."""
    try:
        target(*args)
    except Exception as error:
        with lock:
            stats.problems.append(f"{target.__name__}: {type(error).__name__}: {error}")


def run_with_faults(
    world: World, workload: Workload, path: Path, *, plan: list[str], rng: random.Random, zygote: Zygote | None
) -> FaultStats:
    """The tablets push over HTTP to a server the killer keeps killing; `zygote` None starts
    it with the real command line (CliServer), otherwise forks it (ForkServer)."""
    db_path = copy_template(world, path)
    port = free_port()
    log = path.with_suffix(".log")
    server = CliServer(db_path, port, log) if zygote is None else ForkServer(db_path, port, log, zygote)
    stats = FaultStats()
    url = f"http://127.0.0.1:{port}"
    try:
        server.spawn()
        server.wait_until_up()
        traffic, lock = Traffic(), threading.Lock()
        tablets_done, killer_done = threading.Event(), threading.Event()
        tablet_rngs = [random.Random(rng.getrandbits(64)) for _ in workload.tablets]
        killer = threading.Thread(
            target=reported,
            args=(
                stats,
                lock,
                run_killer,
                server,
                db_path,
                plan,
                random.Random(rng.getrandbits(64)),
                traffic,
                stats,
                tablets_done,
                killer_done,
            ),
        )
        threads = [
            threading.Thread(
                target=reported,
                args=(stats, lock, drive_tablet, tablet, url, tablet_rng, traffic, stats, lock, killer_done),
            )
            for tablet, tablet_rng in zip(workload.tablets, tablet_rngs, strict=True)
        ]
        killer.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        tablets_done.set()
        killer.join()
        server.stop()
    finally:
        server.close()
    return stats


# --- what is compared -----------------------------------------------------------------------------


def differences(name: str, got, wanted) -> list[str]:
    if got == wanted:
        return []
    if isinstance(got, Counter):
        missing, extra = wanted - got, got - wanted
        return [
            f"{name}: {len(missing)} missing {sorted(op[0] for op in missing)[:5]}, "
            f"{len(extra)} extra {sorted(op[0] for op in extra)[:5]}"
        ]
    if isinstance(got, dict):
        keys_ = sorted(set(got) | set(wanted), key=str)
        return [
            f"{name} differ at {key}: got {got.get(key)!r}, wanted {wanted.get(key)!r}"
            for key in keys_
            if got.get(key) != wanted.get(key)
        ][:5]
    return [f"{name} differ"]


def check_faulty(path: Path, world: World, workload: Workload, wanted: dict) -> list[str]:
    problems = []
    db = open_database(path, migrate=False)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchall()
        if integrity != [("ok",)]:
            problems.append(f"integrity_check: {integrity[:5]}")
        twice = db.execute("select op_id, count(*) from ops group by op_id having count(*) > 1").fetchall()
        if twice:
            problems.append(f"ops stored twice: {twice[:5]}")
        for tablet in workload.tablets:
            seqs = [
                row[0]
                for row in db.execute(
                    "select device_seq from ops where device_id = ? order by device_seq", [tablet.device_id]
                )
            ]
            if seqs != list(range(1, len(tablet.outbox) + 1)):
                problems.append(f"tablet {tablet.index}: device_seq {seqs} is not 1..{len(tablet.outbox)}")
        got = state(db, world.event_id)
        for name in ("ops", "attendees", "tokens", "device_positions", "conflicts"):
            problems += differences(name, got[name], wanted[name])
        # Nothing left stale by a crash between arrivals: re-merging from scratch changes nothing.
        later = int(time.time() * 1000)
        changed = conflicts.recompute_vouchers(db, world.event_id, workload.texts, now_ms=later)
        changed += conflicts.recompute_duplicates(db, world.event_id, workload.phone_keys, now_ms=later)
        changed += conflicts.recompute_caps(db, world.event_id, [1, 2, 3], now_ms=later)
        if changed:
            problems.append(f"re-merging changed conflicts {changed}")
    finally:
        db.close()
    return problems


# --- one seed, start to end -----------------------------------------------------------------------


@dataclass
class SeedResult:
    seed: int
    ops: int
    stats: FaultStats
    problems: list[str]
    seconds: float


def run_seed(
    seed: int, directory: Path, *, zygote: Zygote | None = None, size: int = 60, kills: tuple[int, int] = (2, 4)
) -> SeedResult:
    """Everything for one seed: world, workload, reference, faulty run, comparison. Without a
    zygote the server is started with the real command line each time (slower)."""
    started = time.monotonic()
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    world = make_world(directory, rng, tablet_count=rng.randint(3, 4))
    workload = make_workload(world, rng, size=size)
    plan = kill_plan(rng, rng.randint(*kills))
    wanted = run_reference(world, workload, directory / "reference.db")
    stats = run_with_faults(world, workload, directory / "faulty.db", plan=plan, rng=rng, zygote=zygote)
    problems = list(stats.problems)
    if sum(stats.kills.values()) < len(plan) and not stats.problems:
        problems.append(f"only {sum(stats.kills.values())} of {len(plan)} planned kills happened")
    problems += check_faulty(directory / "faulty.db", world, workload, wanted)
    return SeedResult(seed, len(workload.timeline), stats, problems, time.monotonic() - started)


# --- online redemptions and pulls through the kills -----------------------------------------------
#
# The same world and pushes, and beside them each tablet asks the server to decide redemptions
# (POST /api/v1/redeem) while one tablet pulls the log page by page; the killer also aims at
# those requests (`mid_redeem`, `mid_pull`). A redemption left without an answer is asked again
# with the same op_id until one comes, as the station does within its 1.5 s, and some answered
# ones are asked again (a lost answer seen from the server's side). Outcomes depend on arrival
# order, so there is no reference run; instead, at the end:
#   - every answered redemption is stored exactly once, as a server-decided redeem op of its
#     tablet with the outcome the tablet was told, and a repeated op_id got the same answer;
#   - no voucher was accepted online beyond its allowance;
#   - the puller's ops are exactly the server's ops of other devices, in log order: no gap, no
#     duplicate;
#   - and what the push-only mode checks of the log itself (integrity, each op once, device_seqs
#     contiguous, every pushed op stored, re-merging changes nothing).

ONLINE_KILL_MODES = ("mid_redeem", "mid_pull", "after_commit", "random", "mid_request")
PULL_PAGE = 7  # small pages: a pull through the kills takes many requests


@dataclass
class OnlineStats(FaultStats):
    lost_redeem_answers: int = 0  # stored before the request that got the answer: an answer was lost
    redeems: int = 0
    redeem_retries: int = 0  # asked again after no answer, same op_id
    repeats: int = 0  # asked again after an answer: must get the same answer
    pulls: int = 0


def post_json(url: str, path: str, tablet: Tablet, payload: bytes | None) -> tuple[int, dict] | None:
    """One request over HTTP (POST with a body, else GET): (status, reply), or None without an answer."""
    request = urllib.request.Request(
        url + path,
        data=payload,
        method="POST" if payload is not None else "GET",
        headers={**tablet.headers, "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            try:
                return error.code, json.loads(error.read())
            except (OSError, HTTPException, ValueError):
                return None
    except (OSError, HTTPException, ValueError):
        return None


def online_requests(
    world: World, workload: Workload, texts: list[str], rng: random.Random, *, per_tablet: int
) -> dict[int, list[dict]]:
    """Each tablet's online redemption bodies, op ids from the seed; a third of them of the same
    single-use voucher (one yes, the rest used_up)."""
    plan: dict[int, list[dict]] = {}
    for tablet in workload.tablets:
        bodies = []
        for _ in range(per_tablet):
            text = texts[0] if rng.random() < 0.35 else rng.choice(texts)
            body = tablet.online_redeem(text, now_ms=world.now * 1000 + rng.randrange(600_000))
            body["op_id"] = f"on{rng.getrandbits(64):016x}"
            body["clerk"] = tablet.clerk
            bodies.append(body)
        plan[tablet.index] = bodies
    return plan


def drive_redeems(
    tablet: FaultTablet,
    url: str,
    bodies: list[dict],
    rng: random.Random,
    traffic: Traffic,
    stats: OnlineStats,
    lock: threading.Lock,
    answers: dict[str, dict],
    killer_done: threading.Event,
) -> None:
    """Ask for each redemption until an answer comes (same op_id each time); then, until the
    killer is through, ask answered ones again and check the answer does not change."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S

    def problem(text: str) -> None:
        with lock:
            stats.problems.append(f"tablet {tablet.index} online: {text}")

    def ask(body: dict) -> dict | None:
        failures = 0
        while time.monotonic() < deadline:
            body["sent_at_ms"] = int(time.time() * 1000) + tablet.skew_ms
            asked_at_ms = int(time.time() * 1000)
            traffic.request("redeem")
            answer = post_json(url, "/api/v1/redeem", tablet, msgspec.json.encode(body))
            with lock:
                stats.redeems += 1
            if answer is not None and answer[0] == 200:
                return answer[1] | {"asked_at_ms": asked_at_ms, "tries": failures + 1}
            if answer is not None and answer[0] < 500:
                problem(f"unexpected answer {answer} to {body['op_id']}")
                return None
            if answer is not None:
                problem(f"server error {answer}")
            with lock:
                stats.redeem_retries += 1
                stats.refused_connections += answer is None
            failures += 1
            time.sleep(min(0.2, 0.01 * 2 ** (failures - 1)) * rng.uniform(0.75, 1.25))
        problem(f"no answer to {body['op_id']} in {SETTLE_TIMEOUT_S} s")
        return None

    def same(first: dict, again: dict) -> bool:
        return all(first[key] == again[key] for key in ("op_id", "outcome", "reason", "uses_before", "max_uses"))

    for body in bodies:
        reply = ask(body)
        if reply is None:
            return
        with lock:
            answers[body["op_id"]] = {"device_id": tablet.device_id, "subject": body["subject"], **reply}
        time.sleep(rng.uniform(0, 0.03))
    while not killer_done.is_set() and time.monotonic() < deadline:
        body = rng.choice(bodies)
        reply = ask(body)
        if reply is None:
            return
        with lock:
            stats.repeats += 1
        if not same(answers[body["op_id"]], reply):
            problem(f"asked again, {body['op_id']} was answered {reply}, first {answers[body['op_id']]}")
        time.sleep(rng.uniform(0, 0.03))


def drive_pulls(
    tablet: FaultTablet,
    url: str,
    rng: random.Random,
    traffic: Traffic,
    stats: OnlineStats,
    lock: threading.Lock,
    pulled: list[dict],
    everyone_done: threading.Event,
) -> None:
    """Pull page after page, as the station does, through the kills; once everyone is done, to
    the end of the log. What it gathered is compared with the log afterwards."""
    cursor, failures = 0, 0
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        finishing = everyone_done.is_set()  # read before the request: its answer covers all
        traffic.request("pull")
        answer = post_json(url, f"/api/v1/pull?after={cursor}&limit={PULL_PAGE}", tablet, None)
        with lock:
            stats.pulls += 1
        if answer is None or answer[0] >= 500:
            with lock:
                stats.refused_connections += answer is None
                if answer is not None:
                    stats.problems.append(f"puller: server error {answer}")
            failures += 1
            time.sleep(min(0.2, 0.01 * 2 ** (failures - 1)) * rng.uniform(0.75, 1.25))
            continue
        failures = 0
        status, reply = answer
        if status != 200:
            with lock:
                stats.problems.append(f"puller: unexpected answer {status} {reply}")
            return
        pulled.extend(reply["ops"])
        if reply["cursor"] < cursor:
            with lock:
                stats.problems.append(f"puller: cursor went back from {cursor} to {reply['cursor']}")
        cursor = reply["cursor"]
        if not reply["more"]:
            if finishing:
                return
            time.sleep(rng.uniform(0.005, 0.03))
    with lock:
        stats.problems.append(f"puller: not done in {SETTLE_TIMEOUT_S} s")


def online_world(directory: Path, rng: random.Random) -> tuple[World, list[str]]:
    """The push mode's world, plus vouchers for the online redemptions: single-use welcome
    ones and two-use coffees (the tablets' offline ops redeem the world's own three)."""
    world = make_world(directory, rng, tablet_count=rng.randint(3, 4))
    db = open_database(world.template)
    try:
        texts = [campaigns.issue_voucher(db, world.event_id, rng.choice((1, 2)), now=world.now).text for _ in range(6)]
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return world, texts


def check_online(
    path: Path,
    world: World,
    workload: Workload,
    answers: dict[str, dict],
    puller: FaultTablet,
    pulled: list[dict],
    texts: list[str],
    stats: OnlineStats,
) -> list[str]:
    problems = []
    db = open_database(path, migrate=False)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchall()
        if integrity != [("ok",)]:
            problems.append(f"integrity_check: {integrity[:5]}")
        twice = db.execute("select op_id, count(*) from ops group by op_id having count(*) > 1").fetchall()
        if twice:
            problems.append(f"ops stored twice: {twice[:5]}")
        for tablet in workload.tablets:
            stored = [
                row
                for row in db.execute(
                    "select device_seq, op_id from ops where device_id = ? and device_seq is not null order by device_seq",
                    [tablet.device_id],
                )
            ]
            if stored != [(op["device_seq"], op["op_id"]) for op in tablet.outbox]:
                problems.append(
                    f"tablet {tablet.index}: pushed ops stored as {[s for s, _ in stored]}, not 1..{len(tablet.outbox)}"
                )
        online = {
            op_id: (device_id, subject, json.loads(data))
            for op_id, device_id, subject, data in db.execute(
                "select op_id, device_id, subject, data from ops where kind = 'redeem' and device_seq is null"
            )
        }
        received = dict(db.execute("select op_id, received_at_ms from ops where device_seq is null").fetchall())
        # Stored before the request that got the answer was sent: an earlier one's answer was lost.
        stats.lost_redeem_answers = sum(
            1 for op_id, answer in answers.items() if op_id in received and received[op_id] < answer["asked_at_ms"]
        )
        for op_id, answer in answers.items():
            if op_id not in online:
                problems.append(f"online redemption {op_id} answered {answer['outcome']} but not stored")
                continue
            device_id, subject, data = online[op_id]
            if (device_id, subject, data["outcome"], data["decided_by"]) != (
                answer["device_id"],
                answer["subject"],
                answer["outcome"],
                "server",
            ):
                problems.append(
                    f"online redemption {op_id} stored as {(device_id, subject, data['outcome'])}, answered {answer}"
                )
        if set(online) - set(answers):
            problems.append(
                f"online redemptions stored that nobody was answered: {sorted(set(online) - set(answers))[:5]}"
            )
        accepted = Counter(subject for _, subject, data in online.values() if data["outcome"] == "accepted")
        allowance = {tokens.decode(text).token.id: tokens.decode(text).token.max_uses for text in texts}
        beyond = {
            subject: n for subject, n in accepted.items() if allowance.get(subject, 1) and n > allowance.get(subject, 1)
        }
        if beyond:
            problems.append(f"accepted online beyond the allowance: {beyond}")
        wanted = [
            row[0]
            for row in db.execute(
                "select op_id from ops where event_id = ? and device_id != ? order by seq",
                [world.event_id, puller.device_id],
            )
        ]
        got = [op["op_id"] for op in pulled]
        if got != wanted:
            counts = Counter(got)
            problems.append(
                f"puller got {len(got)} ops, the log holds {len(wanted)} of other devices: missing "
                f"{[o for o in wanted if o not in counts][:5]}, twice {[o for o, n in counts.items() if n > 1][:5]}"
            )
        later = int(time.time() * 1000)
        every_text = workload.texts | {tokens.decode(text).token.id: text for text in texts}
        changed = conflicts.recompute_vouchers(db, world.event_id, every_text, now_ms=later)
        changed += conflicts.recompute_duplicates(db, world.event_id, workload.phone_keys, now_ms=later)
        changed += conflicts.recompute_caps(db, world.event_id, [1, 2, 3], now_ms=later)
        if changed:
            problems.append(f"re-merging changed conflicts {changed}")
    finally:
        db.close()
    return problems


def run_online_seed(
    seed: int, directory: Path, *, zygote: Zygote | None = None, size: int = 30, per_tablet: int = 5
) -> SeedResult:
    """One seed of the online mode: pushes, online redemptions and a pulling tablet, all over
    HTTP, while the server is killed at least once in a redemption and once in a pull."""
    started = time.monotonic()
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    world, texts = online_world(directory, rng)
    workload = make_workload(world, rng, size=size)
    bodies = online_requests(world, workload, texts, rng, per_tablet=per_tablet)
    plan = ["mid_redeem", "mid_pull"] + [rng.choice(ONLINE_KILL_MODES) for _ in range(rng.randint(0, 2))]
    rng.shuffle(plan)
    db_path = copy_template(world, directory / "faulty.db")
    port = free_port()
    log = db_path.with_suffix(".log")
    server = CliServer(db_path, port, log) if zygote is None else ForkServer(db_path, port, log, zygote)
    stats = OnlineStats()
    url = f"http://127.0.0.1:{port}"
    answers: dict[str, dict] = {}
    pulled: list[dict] = []
    puller = workload.tablets[-1]
    try:
        server.spawn()
        server.wait_until_up()
        traffic, lock = Traffic(), threading.Lock()
        tablets_done, killer_done = threading.Event(), threading.Event()
        killer = threading.Thread(
            target=reported,
            args=(
                stats,
                lock,
                run_killer,
                server,
                db_path,
                plan,
                random.Random(rng.getrandbits(64)),
                traffic,
                stats,
                tablets_done,
                killer_done,
            ),
        )
        workers = [
            threading.Thread(
                target=reported,
                args=(
                    stats,
                    lock,
                    drive_tablet,
                    tablet,
                    url,
                    random.Random(rng.getrandbits(64)),
                    traffic,
                    stats,
                    lock,
                    killer_done,
                ),
            )
            for tablet in workload.tablets
        ] + [
            threading.Thread(
                target=reported,
                args=(
                    stats,
                    lock,
                    drive_redeems,
                    tablet,
                    url,
                    bodies[tablet.index],
                    random.Random(rng.getrandbits(64)),
                    traffic,
                    stats,
                    lock,
                    answers,
                    killer_done,
                ),
            )
            for tablet in workload.tablets
        ]
        pulling = threading.Thread(
            target=reported,
            args=(
                stats,
                lock,
                drive_pulls,
                puller,
                url,
                random.Random(rng.getrandbits(64)),
                traffic,
                stats,
                lock,
                pulled,
                tablets_done,
            ),
        )
        killer.start()
        pulling.start()
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        # Every write is in: the killer stops at its next step, and the puller's next request
        # after this reads to the end of the log (with the server up).
        tablets_done.set()
        killer.join()
        pulling.join()
        server.stop()
    finally:
        server.close()
    problems = list(stats.problems)
    if stats.kills["mid_redeem"] + stats.kills["mid_pull"] < 2 and not stats.problems:
        problems.append(f"the kills in a redemption and in a pull did not both happen: {dict(stats.kills)}")
    problems += check_online(db_path, world, workload, answers, puller, pulled, texts, stats)
    return SeedResult(seed, len(workload.timeline) + len(answers), stats, problems, time.monotonic() - started)


if __name__ == "__main__" and sys.argv[1:] == ["zygote"]:
    zygote()

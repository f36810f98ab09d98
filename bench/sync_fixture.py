"""Shared by bench/push_ingest.py and bench/pull_bootstrap.py (not a benchmark itself).

Builds a realistic event through the real engine: enrolled tablets (events/tablet.py makes their
ops in the wire format), attendees with plausible names, phones and emails, welcome vouchers
issued and some redeemed, check-ins; every op enters through events.sync.push from the bytes
of a batch, exactly as a request would hand it over. Also the machine description the
benchmarks print, and starting the real server (tests/support/live.py).
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from sqlite_utils import Database

from bench.machine import cpu_model, percentile  # noqa: F401 (the scripts use them from here)
from events import campaigns, devices, ops, registry, sealed, sync
from events.keys import public_key_bytes
from events.tablet import Tablet
from tests.support.live import free_port, start_server, stop, wait_until_up

HOUR = 3600

GIVEN = (
    "Wei",
    "Fang",
    "Jing",
    "Lei",
    "Min",
    "Yan",
    "Jie",
    "Tao",
    "Xin",
    "Hui",
    "Ying",
    "Hao",
    "Lin",
    "Yu",
    "Chen",
    "Mei",
    "Qiang",
    "Xiaoming",
    "Li Na",
    "Zihan",
    "Yichen",
    "Haoran",
    "Ruoxi",
    "Anna",
    "David",
    "Emma",
    "Lucas",
    "Sofia",
    "Mateo",
    "Olivia",
    "Noah",
    "Chloé",
    "Léa",
    "Hugo",
    "Yuki",
    "Haruto",
    "Sakura",
    "Minjun",
    "Seoyeon",
    "Aarav",
    "Priya",
    "Fatima",
    "Omar",
    "Lena",
    "Jonas",
    "Marta",
    "Pedro",
    "Ana",
    "Tomás",
    "Ingrid",
)
FAMILY = (
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Luo",
    "Gao",
    "Smith",
    "Müller",
    "García",
    "Rossi",
    "Dubois",
    "Tanaka",
    "Sato",
    "Kim",
    "Park",
    "Nguyen",
    "Singh",
    "Patel",
    "Kowalski",
    "Novák",
    "Silva",
    "Santos",
    "O'Brien",
    "van der Berg",
)
MAIL_DOMAINS = ("qq.com", "163.com", "gmail.com", "outlook.com", "126.com", "icloud.com", "foxmail.com", "yahoo.com")


@dataclass
class Person:
    name: str
    phone: str
    email: str


def people(count: int, rng: random.Random, *, duplicate_share: float = 0.01) -> list[Person]:
    """Plausible registrants: most give a phone, about two thirds an email; about 1 % come back
    and register again at another tablet with the same phone (possible_duplicate conflicts)."""
    made: list[Person] = []
    for _ in range(count):
        if made and rng.random() < duplicate_share:
            again = rng.choice(made)
            made.append(Person(again.name, again.phone, ""))
            continue
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        name = f"{family} {given}" if rng.random() < 0.6 else f"{given} {family}"
        phone = ""
        if rng.random() < 0.9:
            number = f"1{rng.choice('3578')}{rng.randrange(10)}{rng.randrange(10**8):08d}"
            spelled = rng.choice((number, f"+86 {number[:3]} {number[3:7]} {number[7:]}", f"+86{number}"))
            phone = spelled
        email = ""
        if rng.random() < 0.65:
            local = f"{given}.{family}".lower().replace(" ", "").replace("'", "") + str(rng.randrange(1000))
            email = f"{local}@{rng.choice(MAIL_DOMAINS)}"
        made.append(Person(name, phone, email))
    return made


def now_ms() -> int:
    return int(time.time() * 1000)


def create_event(db: Database, *, now: int) -> registry.Event:
    event = registry.create_event(
        db, name="Bench pop-up", venue="Hall 2, booth 14", starts_at=now - HOUR, ends_at=now + 8 * HOUR, now=now
    )
    campaigns.create_campaign(
        db,
        event.id,
        title="Welcome gift",
        terms="One per person.",
        max_uses=1,
        valid_minutes=8 * 60,
        rotating=False,
        welcome=True,
        now=now,
    )
    return event


def enroll_tablet(db: Database, event_id: str, *, name: str, now: int) -> Tablet:
    """A tablet enrolled the way the API does it (one-time code, then its public key)."""
    tablet = Tablet(event_id, clerk=f"Clerk at {name}")
    code = devices.create_enrollment_code(db, event_id, name=name, now=now)
    enrollment = devices.enroll(db, code, public_key=public_key_bytes(tablet.private_key), now=now)
    tablet.device_id, tablet.key_id, tablet.token = enrollment.device.id, enrollment.device.key_id, enrollment.token
    return tablet


def body(tablet: Tablet, batch_ops: list[dict]) -> bytes:
    """The request body a tablet sends for these ops."""
    return msgspec.json.encode(tablet.batch(batch_ops, now_ms=now_ms()))


def push(db: Database, tablet: Tablet, batch_ops: list[dict]) -> sync.PushResult:
    """What POST /api/v1/push does with a body, minus HTTP: decode, validate, push."""
    result = sync.push(db, tablet.device_id, ops.decode_batch(body(tablet, batch_ops)), now_ms=now_ms())
    applied = sum(r.status == "applied" for r in result.results)
    if applied != len(batch_ops):
        raise RuntimeError(f"only {applied} of {len(batch_ops)} ops applied")
    return result


def push_all(db: Database, tablet: Tablet, batch_ops: list[dict], *, batch: int = 1000) -> None:
    for start in range(0, len(batch_ops), batch):
        push(db, tablet, batch_ops[start : start + batch])
    tablet.outbox.clear()


@dataclass
class Population:
    """What a preloaded event holds, for making further ops against it."""

    attendees: list[str] = field(default_factory=list)  # attendee ids
    unredeemed: list[str] = field(default_factory=list)  # token texts of vouchers issued, not redeemed
    redeemed: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def preload(
    db: Database, tablets: list[Tablet], *, registrations: int, issues: int, checkins: int, redeems: int, seed: int = 7
) -> Population:
    """Push `registrations + issues + checkins + redeems` ops from the tablets, 1,000 per batch.

    First each tablet registers its share of attendees and issues welcome vouchers to the first
    `issues` of them (register, issue, register, issue, ...); once those are all on the server,
    the tablets check attendees in and redeem vouchers, often ones another tablet issued."""
    rng = random.Random(seed)
    population = Population()
    persons = people(registrations, rng)
    vouchers: list[str] = []
    streams: list[list[dict]] = [[] for _ in tablets]
    for i, person in enumerate(persons):
        index = i % len(tablets)
        tablet, stream = tablets[index], streams[index]
        register = tablet.register(person.name, now_ms=now_ms(), phone=person.phone, email=person.email)
        stream.append(register)
        population.attendees.append(register["subject"])
        if i < issues:
            text, issue = tablet.issue_voucher(now_ms=now_ms(), minutes=8 * 60, attendee_id=register["subject"])
            stream.append(issue)
            vouchers.append(text)
    for tablet, stream in zip(tablets, streams, strict=True):
        push_all(db, tablet, stream)

    rng.shuffle(vouchers)
    population.redeemed, population.unredeemed = vouchers[:redeems], vouchers[redeems:]
    streams = [[] for _ in tablets]
    kinds = ["checkin"] * checkins + ["redeem"] * redeems
    rng.shuffle(kinds)
    to_redeem = iter(population.redeemed)
    for kind in kinds:
        index = rng.randrange(len(tablets))
        tablet = tablets[index]
        if kind == "checkin":
            streams[index].append(tablet.checkin(rng.choice(population.attendees), now_ms=now_ms()))
        else:
            streams[index].append(tablet.redeem(next(to_redeem), now_ms=now_ms()))
    for tablet, stream in zip(tablets, streams, strict=True):
        push_all(db, tablet, stream)
    population.counts = {
        kind: count for kind, count in db.execute("select kind, count(*) from ops group by kind order by kind")
    }
    return population


def checkpoint(db: Database) -> None:
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def copy_database(source: Path, target: Path) -> None:
    """An identical copy of a closed (checkpointed) database file, flushed to disk so its
    write-back cannot land inside a timed commit."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    dst.close()
    src.close()
    # Its secrets are sealed: the copy needs the source's data key beside it (unless
    # POPPASS_DATA_KEY holds it).
    if sealed.key_path(source).exists():
        shutil.copyfile(sealed.key_path(source), sealed.key_path(target))
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pragmas(conn: sqlite3.Connection) -> str:
    values = {
        name: conn.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "synchronous", "foreign_keys", "cache_size", "page_size")
    }
    return ", ".join(f"{k}={v}" for k, v in values.items())


def filesystem(path: Path) -> str:
    """The mount holding `path`, as /proc/mounts names it (device, type)."""
    best = ("?", "?", "")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            if str(path.resolve()).startswith(mount) and len(mount) >= len(best[2]):
                best = (device, kind, mount)
    except OSError:
        pass
    return f"{best[1]} ({best[0]} on {best[2]})"


def machine_lines(directory: Path) -> list[str]:
    from importlib.metadata import version

    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, msgspec {version('msgspec')}, "
        f"sqlite-utils {version('sqlite-utils')}, {platform.system()} {platform.release()} {platform.machine()}",
        f"- Database files on {filesystem(directory)}",
        "- Load average when the measurements ended: "
        + " / ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (1 / 5 / 15 min; anything else running shows here)",
    ]


def start_live_server(db_path: Path, directory: Path) -> tuple[subprocess.Popen, str]:
    """The real server (uvicorn on loopback) over `db_path`, as the tests start it."""
    port = free_port()
    process = start_server(db_path, port, directory / "server.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
    except BaseException:
        stop(process)
        raise
    return process, url

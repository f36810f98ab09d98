"""Running the real server (uvicorn, a real port, a real SQLite file) in a subprocess."""

from __future__ import annotations

import contextlib
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from events import tokens
from events.demo import Demo

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    db_path: Path,
    port: int,
    log: Path,
    *,
    log_level: str = "warning",
    options: Sequence[str] = (),
    prefix: Sequence[str] = (),
) -> subprocess.Popen:
    """`poppass serve` as an operator runs it; "info" writes the access log to `log` too.
    `prefix` runs it through another command (tests/support/small_disk.py: `nsenter` into a namespace)."""
    command = [
        *prefix,
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        "--port",
        str(port),
        "--db",
        str(db_path),
        "--log-level",
        log_level,
        *options,
    ]
    with log.open("ab") as output:  # the child keeps its own descriptor
        return subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)


@dataclass
class LiveServer:
    """What the end-to-end tests' `live_server` fixture (e2e/conftest.py) hands them."""

    url: str
    db_path: Path
    demo: Demo
    process: subprocess.Popen

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return response.read()


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            return
        except urllib.error.HTTPError as error:  # it answers: up, though unwell (a 503 on a low disk)
            error.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server at {url} did not come up in {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_FINGERPRINT = r"\[[0-9a-f]{8}\]"
# What a credential looks like in a logged URL when it was not replaced by its fingerprint
# (server/access_log.py), and an enrollment code's shape anywhere.
_UNREDACTED = re.compile(
    rf"/+(?:wallet|V)/+(?!{_FINGERPRINT})[^/\s\"?]+"
    rf"|[?&](?:claim|code|token|capability)=(?!{_FINGERPRINT})[^&\s\"]+"
    r"|(?-i:\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b)",
    re.IGNORECASE,
)


def leaked_secrets(log_text: str, db_path: Path) -> list[str]:
    """The credentials a server's log shows: unredacted capability URLs, token URLs, claim and
    enrollment codes, and the text of any token the database holds (a pass or voucher)."""
    leaks = [found.group(0) for found in _UNREDACTED.finditer(log_text)]
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        # A token's URL (/V/…) holds its text without the prefix: look for that part.
        leaks += [
            text for (text,) in db.execute("select text from tokens") if text.removeprefix(tokens.PREFIX) in log_text
        ]
    return leaks

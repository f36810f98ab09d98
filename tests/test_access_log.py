"""The server's log never shows a capability, a token or a code: the redaction over every
secret-bearing route of the route table, then the real server's log after real requests."""

from __future__ import annotations

import logging
import re
import time
import urllib.request

import pytest
from uvicorn.logging import AccessFormatter
from websockets.sync.client import connect

from events import campaigns, devices, registry, signup, tokens
from events.db import open_database
from server import access_log
from server.access_log import RedactSecrets, fingerprint, redact
from tests.support.live import free_port, leaked_secrets, start_server, stop, wait_until_up
from tests.support.routes import HTTP_ROUTES, SOCKET_ROUTES

CAPABILITY = "q3Jx-7vK_0aZ9mB2cD4eF6gH8iJ1kL5n"  # 32 URL-safe characters, as signup makes them
TOKEN = "P" * 148  # a pass's or voucher's text: 148 base32 characters
CODE = "ABCD-EFGH-JKLM"  # an enrollment code
# Path parameters that are credentials: whoever reads the URL holds the wallet or the token.
SECRET_PARAMETERS = {"capability": CAPABILITY, "code": TOKEN, "token": TOKEN}
ROUTES = sorted({path for path, _, _ in HTTP_ROUTES} | {path for path, _ in SOCKET_ROUTES})


def _parameters(path: str) -> list[str]:
    return re.findall(r"\{(\w+):\w+\}", path)


def _with_secrets(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", lambda m: SECRET_PARAMETERS.get(m.group(1), "ev1234"), path)


SECRET_ROUTES = [path for path in ROUTES if set(_parameters(path)) & set(SECRET_PARAMETERS)]


def test_the_secret_routes_are_the_ones_the_filter_knows() -> None:
    prefixes = {path.split("{", 1)[0] for path in SECRET_ROUTES}
    assert prefixes == {route.split("{", 1)[0] for route in access_log.SECRET_ROUTES}
    assert len(SECRET_ROUTES) >= 5  # the wallet, its claim and live socket, a token and its QR


@pytest.mark.parametrize("path", SECRET_ROUTES)
@pytest.mark.parametrize("query", ["", "?claim_refused=taken", "?code=ABCD-EFGH-JKLM"])
def test_every_secret_bearing_route_is_redacted(path, query) -> None:
    target = _with_secrets(path) + query
    shown = redact(target)
    assert CAPABILITY not in shown and TOKEN not in shown and CODE not in shown, shown
    secret = CAPABILITY if "{capability:" in path else TOKEN
    assert fingerprint(secret) in shown
    # Everything else is left as it was, so a line still says what was asked.
    assert shown == target.replace(secret, fingerprint(secret)).replace(CODE, fingerprint(CODE))
    if "claim_refused" in query:
        assert shown.endswith("?claim_refused=taken")


@pytest.mark.parametrize("path", [p for p in ROUTES if p not in SECRET_ROUTES])
def test_routes_without_a_secret_are_left_alone(path) -> None:
    target = _with_secrets(path) + "?theme=light&after=5"
    assert redact(target) == target


@pytest.mark.parametrize(
    "target, secret",
    [
        (f"/events/ev1?claim={TOKEN}", TOKEN),
        (f"/station?code={CODE}", CODE),
        (f"/station?code={CODE.replace('-', '%2D')}", CODE),
        (f"/events/ev1?lang=en&claim={TOKEN}&x=1", TOKEN),
        (f"/WALLET/{CAPABILITY}", CAPABILITY),  # no route, but the capability all the same
        (f"//wallet//{CAPABILITY}/live", CAPABILITY),
        (f"/V/{TOKEN}/qr.svg", TOKEN),
    ],
)
def test_secret_query_values_and_odd_spellings_are_redacted(target, secret) -> None:
    shown = redact(target)
    assert secret not in shown and fingerprint(secret) in shown, shown


def test_the_fingerprint_of_a_wallet_is_the_start_of_its_stored_hash() -> None:
    assert fingerprint(CAPABILITY) == f"[{signup.capability_hash(CAPABILITY)[:8]}]"


def test_the_filter_redacts_uvicorns_access_and_websocket_records() -> None:
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.7:5123", "GET", f"/wallet/{CAPABILITY}", "1.1", 200),
        None,
    )
    socket = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("10.0.0.7:5123", f"/wallet/{CAPABILITY}/live"),
        None,
    )
    for record in (access, socket):
        assert RedactSecrets().filter(record) is True
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(access)
    assert line == f'10.0.0.7:5123 - "GET /wallet/{fingerprint(CAPABILITY)} HTTP/1.1" 200 OK'
    assert CAPABILITY not in socket.getMessage() and "10.0.0.7:5123" in socket.getMessage()


def test_the_logging_config_puts_the_filter_on_every_logger_that_names_paths() -> None:
    config = access_log.logging_config()
    for name in access_log.LOGGERS:
        assert "redact_secrets" in config["loggers"][name]["filters"], name
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["access"]  # uvicorn's own, otherwise


@pytest.mark.slow  # seconds: a real server, or a hundred sockets (deselected by scripts/test --fast)
def test_the_real_servers_log_shows_no_credential(tmp_path) -> None:
    """`poppass serve` at the info level, asked for a wallet, its socket, a voucher, a claim and
    an enrollment code: its log names each by fingerprint only."""
    db_path = tmp_path / "log.db"
    db = open_database(db_path)
    now = int(time.time())
    event = registry.create_event(db, name="Log pop-up", venue="1F", starts_at=now - 3600, ends_at=now + 3600, now=now)
    campaign = campaigns.create_campaign(db, event.id, title="Coffee", rotating=False, now=now)
    voucher = campaigns.issue_voucher(db, event.id, campaign.number, now=now)
    me = signup.sign_up(db, event.id, signup.Applicant("Zhang San", "13900139000", "", True), now_ms=now * 1000)
    code = devices.create_enrollment_code(db, event.id, name="Door", now=now)
    db.close()
    port, log = free_port(), tmp_path / "server.log"
    process = start_server(db_path, port, log, log_level="info")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        voucher_path = tokens.url_path(voucher.text)
        for path in (
            f"/wallet/{me.capability}",
            voucher_path,
            f"{voucher_path}/qr.svg",
            f"/events/{event.id}?claim={voucher.text}",
            f"/station?code={code}",
        ):
            with urllib.request.urlopen(url + path, timeout=5) as response:
                assert response.status == 200, path
        with connect(f"ws://127.0.0.1:{port}/wallet/{me.capability}/live") as socket:
            assert '"state"' in socket.recv(timeout=5)
    finally:
        stop(process)
    text = log.read_text()
    assert leaked_secrets(text, db_path) == []
    body = voucher.text.removeprefix(tokens.PREFIX)
    assert me.capability not in text and body not in text and code not in text
    for secret in (me.capability, body, code):
        assert fingerprint(secret) in text, secret
    assert f'"WebSocket /wallet/{fingerprint(me.capability)}/live" [accepted]' in text
    assert f"/events/{event.id}?claim={fingerprint(voucher.text)}" in text

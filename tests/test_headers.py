"""Security headers on every answer: each route of the route table as an organizer, a tablet and
an anonymous browser, then the answers no handler writes (404, 405, 413, 500) and static files;
HSTS and Secure cookies only over https."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from events import registry
from events.db import open_database
from server.app import MAX_BODY_BYTES, SIGN_UPS_PER_MINUTE, create_app
from server.cli import main
from server.security_headers import HEADERS, HSTS, PERMISSIONS_POLICY, STATION_PERMISSIONS_POLICY
from tests.support.clock import Clock
from tests.support.live import free_port, start_server, stop, wait_until_up
from tests.support.routes import HTTP_ROUTES, World, as_caller, concrete, matrix_world

CALLERS = ("organizer", "device", "anonymous")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    with matrix_world(tmp_path_factory.mktemp("authz")) as built:
        yield built


def assert_secured(response, path: str, *, https: bool = False) -> None:
    where = f"{response.status_code} {path}"
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (where, name)
    station = path == "/station" or path.startswith("/station/")
    assert response.headers.get("permissions-policy") == (
        STATION_PERMISSIONS_POLICY if station else PERMISSIONS_POLICY
    ), where
    assert response.headers.get("strict-transport-security") == (HSTS if https else None), where


def test_only_the_station_may_ask_for_the_camera() -> None:
    assert "camera=(self)" in STATION_PERMISSIONS_POLICY and "camera=()" in PERMISSIONS_POLICY
    for policy in (PERMISSIONS_POLICY, STATION_PERMISSIONS_POLICY):
        assert "microphone=()" in policy and "geolocation=()" in policy


STATUSES_SEEN: set[int] = set()


@pytest.mark.parametrize("path, method, owner", HTTP_ROUTES, ids=[f"{m} {p}" for p, m, _ in HTTP_ROUTES])
def test_every_route_answers_with_the_headers(world, path, method, owner) -> None:
    url = concrete(path, world)
    for caller in CALLERS:
        response = world.client.request(method, url, headers=as_caller(world, caller), follow_redirects=False)
        STATUSES_SEEN.add(response.status_code)
        assert_secured(response, url.split("?", 1)[0])


def test_the_route_walk_met_redirects_refusals_and_misses() -> None:
    # Run after the walk above (pytest keeps a module's order): what it saw is not only 200s.
    assert {200, 303, 401, 404} <= STATUSES_SEEN, STATUSES_SEEN


@pytest.fixture
def plain(db, clock) -> TestClient:
    with TestClient(create_app(db, clock=clock)) as client:
        yield client


def test_answers_no_handler_writes_carry_them_too(plain, event) -> None:
    html = {"Accept": "text/html"}
    too_big = {
        "content": b"x=" + b"a" * MAX_BODY_BYTES,
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }
    for path, response, status in [
        ("/no/such/page", plain.get("/no/such/page", headers=html), 404),
        ("/no/such/page", plain.get("/no/such/page"), 404),
        ("/", plain.delete("/"), 405),
        ("/organizer", plain.get("/organizer", headers=html, follow_redirects=False), 303),  # to the sign-in
        ("/organizer", plain.get("/organizer", follow_redirects=False), 401),
        ("/api/v1/pull", plain.get("/api/v1/pull"), 401),  # no bearer token
        (f"/events/{event.id}/signup", plain.post(f"/events/{event.id}/signup", **too_big), 413),
        (f"/events/{event.id}/signup", plain.post(f"/events/{event.id}/signup", data={"name": "x"}), 403),  # no CSRF
        ("/static/css/app.css", plain.get("/static/css/app.css"), 200),
        ("/static/js/station-app.js", plain.get("/static/js/station-app.js"), 200),
        ("/static/nothing.css", plain.get("/static/nothing.css"), 404),
    ]:
        assert response.status_code == status, (path, response.status_code)
        assert_secured(response, path)


def test_the_500_page_carries_them(tmp_path) -> None:
    db = open_database(tmp_path / "broken.db")
    with TestClient(create_app(db, clock=Clock()), raise_server_exceptions=False) as client:
        db.conn.close()  # every read now fails: the handler raises, the 500 page answers
        response = client.get("/", headers={"Accept": "text/html"})
        assert response.status_code == 500
        assert_secured(response, "/")


def test_station_screens_may_use_the_camera(plain) -> None:
    for path in ("/station", "/station/scan", "/station/checkin", "/station/register", "/station/issue"):
        response = plain.get(path)
        assert response.status_code == 200, path
        assert "camera=(self)" in response.headers["permissions-policy"], path
    for path in ("/", "/stationery", "/organizer/login"):
        assert "camera=()" in plain.get(path).headers["permissions-policy"], path


def _set_cookies(response) -> list[str]:
    return response.headers.get_list("set-cookie")


def test_over_https_hsts_and_every_cookie_is_secure(db, clock, event) -> None:
    with TestClient(create_app(db, clock=clock), base_url="https://poppass.example") as client:
        page = client.get("/organizer/login")
        assert_secured(page, "/organizer/login", https=True)
        missing = client.get("/no/such/page", follow_redirects=False)
        assert_secured(missing, "/no/such/page", https=True)
        cookies = _set_cookies(page)
        language = client.post(
            "/language",
            data={"lang": "zh-CN", "next": "/"},
            headers={"x-csrftoken": client.cookies["csrftoken"]},
            follow_redirects=False,
        )
        cookies += _set_cookies(language)
        assert {c.split("=", 1)[0] for c in cookies} >= {"csrftoken", "lang"}
        for cookie in cookies:
            assert "secure" in [part.strip().lower() for part in cookie.split(";")], cookie
            assert cookie.lower().count("secure") == 1, cookie  # never said twice


def test_over_http_no_hsts_and_no_secure_cookie(plain) -> None:
    page = plain.get("/organizer/login")
    assert "strict-transport-security" not in page.headers
    (cookie,) = _set_cookies(page)
    assert cookie.startswith("csrftoken=") and "secure" not in cookie.lower()


# --- behind a TLS proxy: the real server, with and without --forwarded-allow-ips ----------------


def _proxied_server(tmp_path, options: list[str]):
    db_path = tmp_path / "proxy.db"
    db = open_database(db_path)
    now = int(time.time())
    event = registry.create_event(
        db, name="Proxy pop-up", venue="1F", starts_at=now - 3600, ends_at=now + 3600, now=now
    )
    db.close()
    port = free_port()
    process = start_server(db_path, port, tmp_path / "server.log", log_level="info", options=options)
    wait_until_up(f"http://127.0.0.1:{port}", process)
    return process, port, event


def _ask(port: int, method: str, path: str, headers: dict[str, str], body: str = ""):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body.encode() or None, headers=headers)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def _sign_ups(port: int, event, client: str, count: int) -> list[int]:
    """`count` sign-ups (empty forms: the limit counts before the form is read) as `client`."""
    forwarded = {"X-Forwarded-For": client, "X-Forwarded-Proto": "https"}
    page = _ask(port, "GET", f"/events/{event.id}", forwarded)
    token = page.getheader("set-cookie").split(";", 1)[0].split("=", 1)[1]  # csrftoken, Secure or not
    headers = {
        **forwarded,
        "Cookie": f"csrftoken={token}",
        "x-csrftoken": token,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return [_ask(port, "POST", f"/events/{event.id}/signup", headers, "name=").status for _ in range(count)]


@pytest.mark.slow  # seconds: a real server, or a hundred sockets (deselected by scripts/test --fast)
def test_behind_a_trusted_proxy_the_app_sees_https_and_the_real_client(tmp_path) -> None:
    process, port, event = _proxied_server(tmp_path, ["--forwarded-allow-ips", "127.0.0.1"])
    try:
        page = _ask(port, "GET", "/organizer/login", {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
        assert page.getheader("strict-transport-security") == HSTS
        assert "; secure" in page.getheader("set-cookie").lower()
        limit = SIGN_UPS_PER_MINUTE
        assert _sign_ups(port, event, "203.0.113.7", limit + 1)[-1] == 429
        assert 429 not in _sign_ups(port, event, "203.0.113.8", 1)  # another person behind the same proxy
    finally:
        stop(process)
    assert '203.0.113.7:0 - "GET /organizer/login HTTP/1.1" 200' in (tmp_path / "server.log").read_text()


@pytest.mark.slow  # seconds: a real server, or a hundred sockets (deselected by scripts/test --fast)
def test_without_the_flag_forwarded_headers_are_ignored(tmp_path) -> None:
    process, port, event = _proxied_server(tmp_path, [])
    try:
        page = _ask(port, "GET", "/organizer/login", {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
        assert page.getheader("strict-transport-security") is None
        assert "secure" not in page.getheader("set-cookie").lower()
        assert 429 not in _sign_ups(port, event, "203.0.113.7", SIGN_UPS_PER_MINUTE)
        assert _sign_ups(port, event, "203.0.113.8", 1) == [429]  # a made-up address is no new bucket
    finally:
        stop(process)
    assert "203.0.113.7" not in (tmp_path / "server.log").read_text()


@pytest.mark.parametrize("value", ["proxy.lan", "10.0.0.1/8", "*,10.0.0.1", "10.0.0.300"])
def test_serve_refuses_a_proxy_it_could_not_trust(value, capsys) -> None:
    # uvicorn would quietly take each of these as a name no connection ever has: trusting nobody.
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--forwarded-allow-ips", value])
    assert exited.value.code == 2 and "--forwarded-allow-ips" in capsys.readouterr().err

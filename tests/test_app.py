"""The server through Litestar's TestClient."""

from __future__ import annotations

import pytest

from events import campaigns, keys, registry, tokens
from server.app import MAX_BODY_BYTES, create_app
from server.owners import ATTENDEE, OWNERS, PUBLIC
from tests.support.clock import NOW


def csrf(client) -> str:
    client.get("/")
    return client.cookies["csrftoken"]


def test_home_is_a_full_page_with_security_headers(client, event) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.text.startswith("<!doctype html>")
    assert '<html lang="en">' in response.text and "Spring pop-up" in response.text
    assert "HX-Request" in response.headers["vary"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_htmx_gets_the_fragment(client, event) -> None:
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text and "Spring pop-up" in response.text
    boosted = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.text


@pytest.mark.parametrize(
    "header, expected",
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("en-GB,zh;q=0.5", "en"),
        ("fr", "en"),
        ("", "en"),
        ("garbage;;q=x", "en"),
    ],
)
def test_language_follows_accept_language(client, header, expected) -> None:
    response = client.get("/", headers={"Accept-Language": header})
    assert f'<html lang="{expected}">' in response.text
    assert ("活动" in response.text) is (expected == "zh-CN")


def test_the_switch_needs_csrf_then_sets_a_cookie_that_wins(client) -> None:
    assert client.post("/language", data={"lang": "zh-CN", "next": "/"}).status_code == 403
    token = csrf(client)
    response = client.post(
        "/language", data={"lang": "zh-CN", "next": "/", "_csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert response.cookies["lang"] == "zh-CN"
    assert '<html lang="zh-CN">' in client.get("/", headers={"Accept-Language": "en"}).text


def test_htmx_can_post_with_the_csrf_header(client) -> None:
    token = csrf(client)
    response = client.post("/language", data={"lang": "en"}, headers={"x-csrftoken": token}, follow_redirects=False)
    assert response.status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "\\\\evil", "javascript:alert(1)"])
def test_the_switch_never_redirects_off_site(client, target) -> None:
    response = client.post(
        "/language", data={"lang": "en", "next": target, "_csrf_token": csrf(client)}, follow_redirects=False
    )
    assert response.headers["location"] == "/"


def test_an_unknown_language_sets_nothing(client) -> None:
    response = client.post("/language", data={"lang": "xx", "_csrf_token": csrf(client)}, follow_redirects=False)
    assert response.status_code == 303 and "lang" not in response.cookies


def test_html_in_names_is_escaped(client, db) -> None:
    registry.create_event(
        db, name="<script>alert('x')</script>", venue="<b>1F</b>", starts_at=NOW, ends_at=NOW + 60, now=NOW
    )
    text = client.get("/").text
    assert "<script>alert" not in text and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert "&lt;b&gt;1F&lt;/b&gt;" in text


def test_the_browser_catalogue(client) -> None:
    assert isinstance(client.get("/i18n/zh-CN.json").json(), dict)
    assert client.get("/i18n/en.json").status_code == 200
    assert client.get("/i18n/xx.json").status_code == 404
    assert client.get("/i18n/zh-CN").status_code == 404


def test_static_files_and_vendored_htmx(client) -> None:
    assert client.get("/static/css/app.css").status_code == 200
    assert "htmx" in client.get("/static/vendor/htmx-2.0.11.min.js").text
    assert client.get("/static/../server/app.py").status_code == 404


def test_a_huge_body_is_refused(client) -> None:
    response = client.post(
        "/language",
        content=b"lang=en&x=" + b"a" * (MAX_BODY_BYTES + 1),
        headers={"content-type": "application/x-www-form-urlencoded", "x-csrftoken": csrf(client)},
    )
    assert response.status_code == 413


# --- the attendee's capability page -----------------------------------------------------------


def test_a_voucher_page_shows_the_voucher_and_its_qr(client, db, event) -> None:
    campaign = campaigns.create_campaign(
        db, event.id, title="<i>¥50</i> off", terms="Over ¥200", valid_minutes=30, rotating=False, now=NOW
    )  # a rotating one shows no QR (tests/test_wallet.py)
    issued = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)
    response = client.get(tokens.url_path(issued.text))
    assert response.status_code == 200
    assert "&lt;i&gt;¥50&lt;/i&gt; off" in response.text and "verdict-green" in response.text
    assert "<svg" in response.text and issued.id in response.text
    svg = client.get(tokens.url_path(issued.text) + "/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")


def test_an_expired_voucher_is_shown_as_expired(client, db, event, clock) -> None:
    campaign = campaigns.create_campaign(db, event.id, title="Coffee", valid_minutes=10, now=NOW)
    issued = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)
    clock.now = NOW + 3600
    response = client.get(tokens.url_path(issued.text), headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 200 and "此券已过期。" in response.text


def test_a_forged_voucher_is_refused_with_its_reason(client, db, event) -> None:
    forged = tokens.issue(
        signing_key=keys.generate_private_key(),
        key_id=1,
        event_id=event.id,
        type=tokens.TokenType.VOUCHER,
        issued_at=NOW,
    )
    response = client.get(tokens.url_path(forged))
    assert response.status_code == 404 and "altered or forged" in response.text
    assert client.get(tokens.url_path(forged) + "/qr.svg").status_code == 404


@pytest.mark.parametrize("path", ["/V/AAAA", "/V/" + "a" * 146, "/V/" + "A" * 4000, "/V/%3Cscript%3E"])
def test_garbage_capabilities_are_404_not_500(client, event, path) -> None:
    response = client.get(path)
    assert response.status_code == 404 and "<script>" not in response.text


# --- every route has an owner --------------------------------------------------------------


def test_every_route_declares_an_owner(db) -> None:
    app = create_app(db)
    owners = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            owners[route.path] = handler.opt.get("owner")
    assert all(owner in OWNERS for owner in owners.values()), owners
    assert owners["/V/{code:str}"] == ATTENDEE and owners["/"] == PUBLIC


# --- errors --------------------------------------------------------------------------------


def test_people_get_a_translated_error_page_and_programs_get_json(client) -> None:
    page = client.get("/nowhere", headers={"Accept": "text/html", "Accept-Language": "zh-CN"})
    assert page.status_code == 404 and "此地址没有内容。" in page.text
    api = client.get("/nowhere")
    assert api.status_code == 404 and api.json()["error"] == "not_found"


def test_a_crash_is_a_500_page_without_a_traceback(db, clock, monkeypatch) -> None:
    from litestar.testing import TestClient

    from server.controllers import home

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(home.registry, "list_events", explode)
    with TestClient(create_app(db, clock=clock)) as crashing:
        response = crashing.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 500 and "secret internals" not in response.text and "Traceback" not in response.text

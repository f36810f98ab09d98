"""The installable, offline-capable app: service worker, manifest, icons, installability."""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, Playwright, expect

from e2e.browser import CHROMIUM_ARGS, chromium_executable
from server.controllers.pwa import precache_lists, shell_version
from tests.support.live import ROOT

SW_SOURCE = (ROOT / "web" / "static" / "sw.js").read_text()


def _shell() -> list[str]:
    lists = precache_lists()
    return lists["COMMON_SHELL"] + lists["PUBLIC_SHELL"] + lists["STATION_SHELL"]


def _fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _wait_for_control(page: Page) -> None:
    """The page is controlled only once the SW installed (every precache entry answered 200)
    and activated with clients.claim()."""
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)


def test_every_precached_url_answers_200(live_server) -> None:
    """cache.addAll() is atomic: one failing entry and the worker silently never installs."""
    shell = _shell()
    assert "/" in shell and "/station" in shell and "/manifest.webmanifest" in shell
    failures = {path: status for path in shell if (status := _fetch(live_server.url + path)[0]) != 200}
    assert failures == {}


def test_service_worker_headers(live_server) -> None:
    status, headers, body = _fetch(live_server.url + "/sw.js")
    assert status == 200
    assert headers["content-type"].startswith("application/javascript")
    assert headers["service-worker-allowed"] == "/"
    assert headers["cache-control"] == "no-cache"
    # The source, with its cache version filled in from a hash of the static files.
    assert body == SW_SOURCE.replace("__SHELL_VERSION__", shell_version()).encode()
    assert "http://" not in SW_SOURCE and "https://" not in SW_SOURCE  # no external URLs


def test_the_shell_version_follows_the_static_files(tmp_path, monkeypatch) -> None:
    from server.controllers import pwa

    (tmp_path / "static").mkdir()
    (tmp_path / "locale").mkdir()
    (tmp_path / "static" / "app.css").write_text("a {}")
    monkeypatch.setattr(pwa, "STATIC", tmp_path / "static")
    monkeypatch.setattr(pwa, "LOCALE", tmp_path / "locale")
    before = pwa.shell_version()
    (tmp_path / "static" / "app.css").write_text("a { color: red }")
    assert pwa.shell_version() != before


def test_manifest_and_its_icons(live_server) -> None:
    status, headers, body = _fetch(live_server.url + "/manifest.webmanifest")
    assert status == 200
    assert headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(body)
    assert manifest["name"] == manifest["short_name"] == "PopPass"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/station", "/", "standalone")
    css = (ROOT / "web" / "static" / "css" / "app.css").read_text()
    assert f"--accent: {manifest['theme_color']}" in css
    assert f"--bg: {manifest['background_color']}" in css
    html = live_server.get("/").decode()
    assert f'<meta name="theme-color" content="{manifest["theme_color"]}">' in html
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    purposes = set()
    for icon in manifest["icons"]:
        status, headers, data = _fetch(live_server.url + icon["src"])
        assert status == 200, icon["src"]
        assert headers["content-type"] == icon["type"] == "image/png"
        width, height = Image.open(io.BytesIO(data)).size
        assert icon["sizes"] == f"{width}x{height}"
        assert len(data) < 20_000
        purposes.add((icon["purpose"], width))
    assert {("any", 192), ("any", 512), ("maskable", 512)} <= purposes


def _cached_paths(page: Page) -> set[str]:
    return set(
        page.evaluate(
            "async () => (await (await caches.open((await caches.keys()).find((n) => n.startsWith('poppass-shell-')))).keys())"
            ".map((r) => new URL(r.url).pathname)"
        )
    )


def test_reload_offline_is_served_by_the_service_worker(context: BrowserContext, page: Page, live_server) -> None:
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("requestfailed", lambda request: errors.append(f"{request.url}: {request.failure}"))
    page.goto(live_server.url + "/")
    _wait_for_control(page)
    # A visitor who is not a tablet (an attendee's phone) gets the common and public shells, not the station.
    lists = precache_lists()
    assert _cached_paths(page) == set(lists["COMMON_SHELL"] + lists["PUBLIC_SHELL"])
    served = live_server.get("/sw.js").decode()
    version = re.search(r'const VERSION = "([0-9a-f]{16})"', served)  # filled in by the server
    assert version and page.evaluate("caches.keys()") == [f"poppass-shell-{version.group(1)}"]
    # A station page asks the worker for the rest.
    page.goto(live_server.url + "/station")
    page.locator("html[data-station-precached=true]").wait_for(state="attached")
    assert _cached_paths(page) >= set(_shell())

    context.set_offline(True)
    try:
        response = page.goto(live_server.url + "/")
        assert response is not None and response.ok and response.from_service_worker
        expect(page.get_by_role("heading", name="PopPass demo pop-up")).to_be_visible()
        # The stylesheet applied (body margin 0 comes from app.css) and both catalogues load.
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
        sizes = page.evaluate(
            """async () => Promise.all(['en', 'zh-CN'].map(async (lang) => {
                const response = await fetch(`/i18n/${lang}.json`);
                return response.ok ? Object.keys(await response.json()).length : -1;
            }))"""
        )
        assert sizes[0] >= 0 and sizes[1] > 0  # English is the source language: its catalogue may be empty
        assert page.evaluate("typeof htmx") == "object"
        # A station screen never visited online still comes from the precache.
        station = page.goto(live_server.url + "/station/register")
        assert station is not None and station.ok and station.from_service_worker
    finally:
        context.set_offline(False)
    assert errors == []


def test_a_tablet_installing_the_worker_from_the_station_gets_the_station_at_once(
    context: BrowserContext, page: Page, live_server
) -> None:
    page.goto(live_server.url + "/station")
    _wait_for_control(page)  # installed: every entry of both lists answered
    lists = precache_lists()
    # The attendees' pages (htmx, wallet.js, public.css) are not the tablet's to carry.
    assert _cached_paths(page) == set(lists["COMMON_SHELL"] + lists["STATION_SHELL"])
    assert page.evaluate("typeof htmx") == "undefined"  # the station's pages do not load it


def test_htmx_fragment_request_offline_is_not_a_cached_page(context: BrowserContext, page: Page, live_server) -> None:
    page.goto(live_server.url + "/")
    _wait_for_control(page)
    context.set_offline(True)
    try:
        outcome = page.evaluate(
            """async () => {
                const attempt = async (headers) => {
                    try {
                        const response = await fetch('/', { headers });
                        return (await response.text()).includes('<html') ? 'full page' : 'fragment';
                    } catch (error) {
                        return 'failed';
                    }
                };
                return [await attempt({}), await attempt({ 'HX-Request': 'true' })];
            }"""
        )
    finally:
        context.set_offline(False)
    # The same URL without the header is the cached page: the header alone makes the difference.
    assert outcome == ["full page", "failed"]


def test_installable_in_a_persistent_context(playwright: Playwright, live_server, tmp_path: Path) -> None:
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=chromium_executable(), args=CHROMIUM_ARGS, locale="en-US"
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(live_server.url + "/")
        _wait_for_control(page)
        cdp = context.new_cdp_session(page)
        errors: list = [None]
        # The browser fetches the manifest and icons in the background, and the DevTools protocol
        # has no event for "installable", only this question: asked again until the answer settles.
        for _ in range(50):
            errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
            if errors == []:
                break
            page.wait_for_timeout(100)
        assert errors == []
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["url"] == live_server.url + "/manifest.webmanifest"
        assert manifest.get("errors", []) == []
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/static/icons/icon-192.png", "/static/icons/icon-512.png"])
def test_icons_are_commit_ready(path: str) -> None:
    data = (ROOT / "web" / path.lstrip("/")).read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) < 20_000


def test_every_minified_script_parses_in_chromium(page: Page, live_server) -> None:
    """What the server sends is rJSmin's output, not the source (server/controllers/scripts.py):
    Chromium parses every module of it, and every classic script (the QR worker, the report's
    print button) run as a page script (the worker then fails at importScripts, which is no
    SyntaxError). The rest of e2e runs all of it too."""
    page.goto(live_server.url + "/")
    names = sorted(path.name for path in (ROOT / "web" / "static" / "js").glob("*.js"))
    errors = page.evaluate(
        """async (names) => {
      const errors = {};
      const syntax = (name) => (event) => {
        if (event.error instanceof SyntaxError && event.filename.endsWith(`/${name}`)) errors[name] = event.message;
      };
      for (const name of names) {
        const url = `/static/js/${name}`;
        const text = await (await fetch(url)).text();
        if (/^\\s*(import|export)\\b/m.test(text)) {
          await import(url).catch((error) => { if (error instanceof SyntaxError) errors[name] = String(error); });
          continue;
        }
        const listener = syntax(name);
        window.addEventListener("error", listener);
        const script = Object.assign(document.createElement("script"), { src: url });
        await new Promise((resolve) => { script.onload = resolve; script.onerror = resolve; document.head.append(script); });
        window.removeEventListener("error", listener);
      }
      return errors;
    }""",
        names,
    )
    assert len(names) > 20
    assert errors == {}

"""The installable-app plumbing: the service worker from the root and the web app manifest."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from litestar import Controller, Response, get

from server.owners import PUBLIC

STATIC = Path(__file__).resolve().parent.parent.parent / "web" / "static"

LOCALE = STATIC.parent / "locale"


def shell_version() -> str:
    """A hash of every static file and translation catalogue: what the worker precaches."""
    digest = hashlib.sha256()
    for path in sorted([*STATIC.rglob("*"), *LOCALE.rglob("*.po")]):
        if path.is_file() and path.name != "sw.js":
            digest.update(str(path.relative_to(STATIC.parent)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def precache_lists() -> dict[str, list[str]]:
    """The worker's precache lists as sw.js declares them: COMMON_SHELL (every browser),
    PUBLIC_SHELL (attendees' browsers) and STATION_SHELL (tablets). Tests and benchmarks read
    them from here."""
    source = (STATIC / "sw.js").read_text()
    lists = {
        name: re.findall(r'"([^"]+)"', body)
        for name, body in re.findall(r"const (\w+_SHELL) = \[(.*?)\];", source, re.S)
    }
    if set(lists) != {"COMMON_SHELL", "PUBLIC_SHELL", "STATION_SHELL"}:
        raise RuntimeError(f"sw.js must declare COMMON_SHELL, PUBLIC_SHELL and STATION_SHELL, found {sorted(lists)}")
    return lists


# Built once at start-up: a changed asset needs a restart, and then changes the worker itself.
SERVICE_WORKER = (STATIC / "sw.js").read_bytes().replace(b"__SHELL_VERSION__", shell_version().encode())

# Colours from web/static/css/app.css: --accent for the theme, --bg for the splash screen.
THEME_COLOR = "#1f4fd1"
BACKGROUND_COLOR = "#fafaf7"

MANIFEST = json.dumps(
    {
        "id": "/station",
        "name": "PopPass",
        "short_name": "PopPass",
        "description": "Offline-first vouchers for pop-up events.",
        "lang": "en",
        "start_url": "/station",
        "scope": "/",
        "display": "standalone",
        "background_color": BACKGROUND_COLOR,
        "theme_color": THEME_COLOR,
        "icons": [
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {
                "src": "/static/icons/icon-maskable-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    },
    ensure_ascii=False,
    indent=2,
).encode()


class PwaController(Controller):
    path = "/"
    opt = {"owner": PUBLIC}

    @get("/sw.js", sync_to_thread=False, name="service_worker", opt={"owner": PUBLIC})
    def service_worker(self) -> Response[bytes]:
        return Response(
            SERVICE_WORKER,
            media_type="application/javascript",
            headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
        )

    @get("/manifest.webmanifest", sync_to_thread=False, name="manifest", opt={"owner": PUBLIC})
    def manifest(self) -> Response[bytes]:
        return Response(
            MANIFEST,
            media_type="application/manifest+json",
            headers={"Cache-Control": "no-cache"},
        )

"""Translations: Babel catalogues for the pages and a small JSON catalogue for the browser.

The .po files in web/locale are the single source: they are compiled in memory at
start-up (no .mo files to forget), and the strings whose source is a JS file are also
served as JSON so offline screens translate without the server.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "web" / "locale"
DEFAULT = "en"
# Web tags (BCP 47) to Babel's catalogue directory names.
SUPPORTED = {"en": "en", "zh-CN": "zh_CN"}
COOKIE = "lang"


@dataclass(frozen=True)
class Catalogue:
    tag: str
    translations: Translations
    browser: dict[str, str]
    locale: Locale


@functools.cache
def load_catalogues(locale_dir: Path = LOCALE_DIR) -> dict[str, Catalogue]:
    """The shipped catalogues, read once a process: they do not change while it runs (every app
    the tests build shares them; parsing them was a quarter of create_app's time)."""
    catalogues = {}
    for tag, directory in SUPPORTED.items():
        with open(locale_dir / directory / "LC_MESSAGES" / "messages.po", "rb") as po:
            catalog = read_po(po, locale=directory)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        browser = {
            str(message.id): str(message.string)
            for message in catalog
            if message.id
            and message.string
            and isinstance(message.id, str)
            and any(path.endswith(".js") for path, _ in message.locations)
        }
        catalogues[tag] = Catalogue(tag, Translations(compiled), browser, Locale.parse(directory))
    return catalogues


def negotiate(accept_language: str | None, cookie: str | None) -> str:
    """The chosen language: the visible switch (cookie) wins, then Accept-Language."""
    if cookie in SUPPORTED:
        return cookie
    for tag in _ranked(accept_language or ""):
        match = _match(tag)
        if match:
            return match
    return DEFAULT


def _ranked(header: str) -> list[str]:
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def _match(tag: str) -> str | None:
    lowered = tag.lower().replace("_", "-")
    if lowered == "*":
        return None
    for supported in SUPPORTED:
        if lowered == supported.lower():
            return supported
    language = lowered.split("-")[0]
    if language == "zh":
        # Simplified Chinese is the only Chinese shipped; Traditional readers get it
        # rather than English only when they did not ask for English first.
        return "zh-CN"
    return language if language in SUPPORTED else None

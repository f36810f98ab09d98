"""The Jinja2 environment: autoescaping, the i18n extension bound to each request's language,
and the filters pages use to show times in the event's time zone and the reader's language."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from litestar.connection import ASGIConnection
from litestar.plugins.jinja import JinjaTemplateEngine

from events.wall import mask_name
from server.i18n import COOKIE, Catalogue, negotiate

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


def catalogue(connection: ASGIConnection) -> Catalogue:
    """The request's catalogue, negotiated once per request."""
    state = connection.scope.setdefault("state", {})
    if "catalogue" not in state:
        catalogues: dict[str, Catalogue] = connection.app.state.catalogues
        tag = negotiate(connection.headers.get("accept-language"), connection.cookies.get(COOKIE))
        state["catalogue"] = catalogues[tag]
    return state["catalogue"]


def use_event_languages(connection: ASGIConnection, languages: list[str]) -> None:
    """On an event's public pages, speak one of its languages: the reader's if the event has it,
    else the event's first."""
    current = catalogue(connection)
    if current.tag not in languages and languages[0] in connection.app.state.catalogues:
        connection.scope["state"]["catalogue"] = connection.app.state.catalogues[languages[0]]


def translate(connection: ASGIConnection, message: str) -> str:
    return catalogue(connection).translations.gettext(message)


def date_and_time(connection: ASGIConnection, timestamp: int, timezone: str) -> str:
    """Date and time to the minute, in the event's zone, spelled the reader's way."""
    moment = datetime.fromtimestamp(timestamp, ZoneInfo(timezone))
    locale = catalogue(connection).locale
    pattern = get_datetime_format("medium", locale=locale)  # e.g. "{1}, {0}"
    date, time = format_date(moment, "medium", locale=locale), format_time(moment, "short", locale=locale)
    return pattern.replace("{1}", date).replace("{0}", time)


def date_and_time_range(connection: ASGIConnection, start: int, end: int, timezone: str) -> str:
    """From-to in the event's zone, the reader's way; a same-day span names its date once
    ("3 Dec 2026, 10:00–18:00", "2026年12月3日 10:00–18:00"), a longer one names both."""
    zone = ZoneInfo(timezone)
    starts, ends = datetime.fromtimestamp(start, zone), datetime.fromtimestamp(end, zone)
    if starts.date() != ends.date():
        return f"{date_and_time(connection, start, timezone)} – {date_and_time(connection, end, timezone)}"
    locale = catalogue(connection).locale
    hours = f"{format_time(starts, 'short', locale=locale)}–{format_time(ends, 'short', locale=locale)}"
    pattern = get_datetime_format("medium", locale=locale)
    return pattern.replace("{1}", format_date(starts, "medium", locale=locale)).replace("{0}", hours)


def time_of_day(connection: ASGIConnection, timestamp: int, timezone: str) -> str:
    """Just the time ("14:02"), in the event's zone: for things that happen during the event."""
    return format_time(
        datetime.fromtimestamp(timestamp, ZoneInfo(timezone)), "short", locale=catalogue(connection).locale
    )


def make_engine() -> JinjaTemplateEngine:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )

    @pass_context
    def _gettext(context: Any, message: str) -> str:
        return translate(context["request"], message)

    @pass_context
    def _ngettext(context: Any, singular: str, plural: str, n: int) -> str:
        return catalogue(context["request"]).translations.ngettext(singular, plural, n)

    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]

    @pass_context
    def when(context: Any, timestamp: int | None, timezone: str = "UTC") -> str:
        """Date and time to the minute, in the event's zone, spelled the reader's way."""
        return "" if timestamp is None else date_and_time(context["request"], timestamp, timezone)

    @pass_context
    def when_range(context: Any, start: int, end: int, timezone: str = "UTC") -> str:
        """An event's from-to: `event.starts_at | when_range(event.ends_at, event.timezone)`."""
        return date_and_time_range(context["request"], start, end, timezone)

    @pass_context
    def clock_time(context: Any, timestamp: int | None, timezone: str = "UTC") -> str:
        """Just the time ("14:02"), in the event's zone, for what happens during the event."""
        return "" if timestamp is None else time_of_day(context["request"], timestamp, timezone)

    @pass_context
    def language(context: Any) -> str:
        return catalogue(context["request"]).tag

    env.filters["when"] = when
    env.filters["when_range"] = when_range
    env.filters["time_of_day"] = clock_time
    env.filters["masked"] = mask_name
    env.globals["language"] = language
    return JinjaTemplateEngine.from_environment(env)

"""What the console's forms share: finding the event in the URL, and times typed in the event's
own time zone (datetime-local fields) turned into Unix seconds and back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.exceptions import NotFoundException

from events import registry

T = TypeVar("T")

# Each language named in itself, so an organizer finds it whatever the console speaks.
LANGUAGE_NAMES = {"en": "English", "zh-CN": "简体中文"}


class BadTime(ValueError):
    """A date-and-time field that is not one; `field` names it."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def event_or_404(request: Request, event_id: str) -> registry.Event:
    """The event in the URL, as the organizer guard found it in the caller's organization
    (server/auth.py): an unknown event and another organization's are the same 404 there."""
    event = getattr(request.state, "event", None)
    if event is None or event.id != event_id:  # a route that forgot its role owner: nothing is shown
        raise NotFoundException(f"no event {event_id!r}")
    return event


def in_event_or_404(event: registry.Event, lookup: Callable[[], T], what: str) -> T:
    """`lookup()`'s record (a tablet, a conflict, a draw) if it belongs to `event`: another
    event's is as absent as an unknown one."""
    try:
        found = lookup()
    except LookupError:
        raise NotFoundException(f"no {what}") from None
    if found.event_id != event.id:
        raise NotFoundException(f"no {what} in this event")
    return found


def local_input(timestamp: int, timezone: str) -> str:
    """The value of a datetime-local field showing `timestamp` in `timezone`."""
    return datetime.fromtimestamp(timestamp, ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def timestamp_of(text: str, timezone: str, field: str) -> int:
    """A datetime-local value read in `timezone`; BadTime(field) if it is not one."""
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")  # the time zone's own check reports it
    try:
        return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp())
    except (ValueError, TypeError):
        raise BadTime(field) from None

"""Live updates: after each merge the server announces which subjects changed, on one channel
per event; listeners (an attendee's wallet, later the wall) re-read what concerns them.

An announcement carries ids only, never data: each listener reads its own view from the
database, so what it sends is filtered by who it is, not by what was published.
"""

from __future__ import annotations

from collections.abc import Iterable

from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend

# A slow listener loses its oldest announcements, never the server's memory: each one only
# says "re-read", and the next one (or a reconnect's snapshot) brings it up to date.
SUBSCRIBER_BACKLOG = 64


def channels_plugin() -> ChannelsPlugin:
    return ChannelsPlugin(
        backend=MemoryChannelsBackend(),
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=SUBSCRIBER_BACKLOG,
        subscriber_backlog_strategy="dropleft",
    )


def event_channel(event_id: str) -> str:
    return f"event:{event_id}"


def announce(app: Litestar, event_id: str, subjects: Iterable[str]) -> None:
    """Tell listeners that these attendees or tokens changed (from the event loop's thread)."""
    changed = sorted({s for s in subjects if s})
    if changed:
        app.plugins.get(ChannelsPlugin).publish({"subjects": changed}, event_channel(event_id))

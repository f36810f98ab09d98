"""Live updates: after each merge the server announces which subjects changed, on one channel
per event; listeners (an attendee's wallet, the organizer's live wall) re-read what concerns them.

An announcement carries ids only, never data: each listener reads its own view from the
database, so what it sends is filtered by who it is, not by what was published.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterable

import anyio
from litestar import Litestar, WebSocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.exceptions import HTTPException, WebSocketDisconnect, WebSocketException

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


# Announced when the event's rotation key is retired (a tablet revoked from the console): every
# open wallet's rotating secrets changed. Not an id: no attendee or token is named like this.
ROTATION_KEYS = "rotation-keys"


def event_channel(event_id: str) -> str:
    return f"event:{event_id}"


def announce(app: Litestar, event_id: str, subjects: Iterable[str]) -> None:
    """Tell listeners that these attendees or tokens changed (from the event loop's thread)."""
    changed = sorted({s for s in subjects if s})
    if changed:
        app.plugins.get(ChannelsPlugin).publish({"subjects": changed}, event_channel(event_id))


async def cancel_when_closed(socket: WebSocket, scope: anyio.CancelScope) -> None:
    """Read the socket until its client closes it (nothing is expected from it), then cancel
    `scope`: the live socket's other tasks end with the connection."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_text()
    scope.cancel()


async def refusal(socket: WebSocket) -> int | None:
    """The close code for a socket whose caller its route would now refuse, or None.

    A route's guards run once, when the socket opens; a wall left on a projector would go on
    streaming after its organizer signed out or the session expired. Run again before each
    send, the same guards that let it in (the session, and whatever a route adds) end it."""
    handler = socket.route_handler
    for guard in handler.resolve_guards():
        try:
            checked = guard(socket, handler)
            if inspect.isawaitable(checked):
                await checked
        except WebSocketException as refused:
            return refused.code
        except HTTPException as refused:  # a guard written for pages: 4000 + its status
            return 4000 + refused.status_code
    return None

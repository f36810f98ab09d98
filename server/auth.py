"""Who is calling: guards that establish the caller before a handler runs."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import WebSocketException
from litestar.handlers.base import BaseRouteHandler

from events import devices, organizers

SESSION_COOKIE = "poppass_organizer"
PENDING_COOKIE = "poppass_login"  # the password was right; the code is still to come
WS_SIGN_IN_REQUIRED = 4401  # a websocket close code: 4000 + HTTP 401


class SignInRequired(Exception):
    """An organizer page asked for without a session: people are sent to sign in."""


def bearer(connection: ASGIConnection) -> str | None:
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def device_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """An enrolled, unrevoked tablet: raises DeviceRefused (401, or 403 with wipe) otherwise."""
    connection.state.device = devices.authenticate(connection.app.state.db, bearer(connection))


def organizer_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A signed-in organizer (password and code): raises SignInRequired otherwise."""
    organizer = organizers.session_organizer(
        connection.app.state.db, connection.cookies.get(SESSION_COOKIE), now=int(connection.app.state.clock())
    )
    if organizer is None:
        if connection.scope["type"] == "websocket":  # closed with a code the wall's script knows
            raise WebSocketException(detail="sign in required", code=WS_SIGN_IN_REQUIRED)
        raise SignInRequired()
    connection.state.organizer = organizer

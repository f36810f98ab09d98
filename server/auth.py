"""Who is calling: guards that establish the caller before a handler runs."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from events import devices


def bearer(connection: ASGIConnection) -> str | None:
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def device_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """An enrolled, unrevoked tablet: raises DeviceRefused (401, or 403 with wipe) otherwise."""
    connection.state.device = devices.authenticate(connection.app.state.db, bearer(connection))

"""Who is calling: guards that establish the caller before a handler runs."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException, WebSocketException
from litestar.handlers.base import BaseRouteHandler

from events import devices, organizations, organizers, registry
from server.owners import REQUIRED_ROLE

SESSION_COOKIE = "poppass_organizer"
PENDING_COOKIE = "poppass_login"  # the password was right; the code is still to come
WS_SIGN_IN_REQUIRED = 4401  # a websocket close code: 4000 + HTTP 401
WS_ROLE_REQUIRED = 4403
WS_NOT_FOUND = 4404


class SignInRequired(Exception):
    """An organizer page asked for without a session: people are sent to sign in."""


class PasswordChangeRequired(Exception):
    """An account whose password was handed over (an owner's reset) asked for anything but its
    Account page: people are sent there to choose their own first."""


# A route's opt flag: open to an account that must change its password (the Account page, signing out).
BEFORE_NEW_PASSWORD = "before_new_password"


class RoleRequired(Exception):
    """A member of the organization whose role does not allow this route (403)."""

    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


def bearer(connection: ASGIConnection) -> str | None:
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


# Both guards are coroutines though nothing in them awaits: Litestar runs a plain function guard
# in a worker thread, and these read the one shared connection, which must only be used on the
# event-loop thread (docs/adr/0002). From a thread they ran beside a handler's transaction on the
# same connection; the crash-recovery harness's pulling tablet hung a server that way (a pull's
# SQL function waiting for the GIL, the guard's query in a thread holding it, waiting for SQLite).


async def device_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """An enrolled, unrevoked tablet: raises DeviceRefused (401, or 403 with wipe) otherwise."""
    connection.state.device = devices.authenticate(connection.app.state.db, bearer(connection))


async def organizer_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A signed-in organizer (password and code), or SignInRequired; then, on a route owned by a
    role (server/owners.py), a member of the organization with that role at least."""
    organizer = organizers.session_organizer(
        connection.app.state.db, connection.cookies.get(SESSION_COOKIE), now=int(connection.app.state.clock())
    )
    if organizer is None:
        if connection.scope["type"] == "websocket":  # closed with a code the wall's script knows
            raise WebSocketException(detail="sign in required", code=WS_SIGN_IN_REQUIRED)
        raise SignInRequired()
    connection.state.organizer = organizer
    if organizer.must_change_password and not handler.opt.get(BEFORE_NEW_PASSWORD):
        if connection.scope["type"] == "websocket":  # the wall reloads, and its page sends them on
            raise WebSocketException(detail="password change required", code=WS_SIGN_IN_REQUIRED)
        raise PasswordChangeRequired()
    needed = REQUIRED_ROLE.get(handler.opt["owner"])
    if needed is None:  # any account: the console's home says what the caller's organization holds
        held = organizations.membership(connection.app.state.db, organizer.id)
        connection.state.organization = held.organization if held else None
        connection.state.role = held.role if held else None
        return
    _check_role(connection, organizer, needed)


def _check_role(connection: ASGIConnection, organizer: organizers.Organizer, needed: str) -> None:
    """The one place the console's organizations are kept apart. An event named in the path must
    be in the caller's organization, or it is a 404 like an unknown one (its existence is not
    confirmed); the caller's role there must allow the route, or it is a 403; a member named in
    the path must be of the caller's organization, or it is a 404.
    Membership is read on every request, so removing a member takes effect at once."""
    db = connection.app.state.db
    websocket = connection.scope["type"] == "websocket"

    def not_found(what: str) -> Exception:
        if websocket:
            return WebSocketException(detail=what, code=WS_NOT_FOUND)
        return NotFoundException(what)

    held = organizations.membership(db, organizer.id)
    event_id = connection.path_params.get("event_id")
    if event_id is not None:
        role = organizations.role_in_event(db, organizer.id, event_id)
        if role is None:
            raise not_found(f"no event {event_id!r}")  # the words of an unknown event's 404
        connection.state.event = registry.get_event(db, event_id)
    else:
        role = held.role if held else None
    if not organizations.allows(role, needed):
        if websocket:
            raise WebSocketException(detail="role required", code=WS_ROLE_REQUIRED)
        raise RoleRequired(needed)
    member_id = connection.path_params.get("organizer_id")  # the caller's role allows: now whom it names
    if member_id is not None and organizations.member(db, held.organization.id, member_id) is None:
        raise not_found(f"no member {member_id!r}")
    connection.state.organization = held.organization
    connection.state.role = role

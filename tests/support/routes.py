"""The app's route table, and a world to call every route in: something behind every path
parameter (an event, a device, a conflict, a draw, a wallet…) and a caller of every kind (an
organizer, staff, another organization's owner, a tablet, a revoked tablet, an attendee, anyone).
The authorization matrix (tests/test_authorization.py) and the headers check (tests/test_headers.py)
walk it; tests/test_organizations.py and tests/test_access_log.py read the route table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
from litestar.testing import TestClient

from events import campaigns, conflicts, devices, draws, organizations, organizers, registry, signup
from events.db import open_database
from server.app import create_app
from server.auth import SESSION_COOKIE
from tests.support.clock import NOW, Clock
from tests.support.organizer import PASSWORD
from tests.support.tablet import enroll, push

# The signed-in callers: their email, and their role in the organization holding the event
# (None: they are in another one, as its owner).
ACCOUNTS = {
    "organizer": ("mei@example.com", organizations.OWNER),
    "staff": ("sam@example.com", organizations.STAFF),
    "other_organization": ("olu@example.com", None),
}
MS = NOW * 1000


@dataclass
class World:
    client: TestClient
    clock: Clock
    db: object
    event: registry.Event
    organizer: organizers.Organizer
    totp_secrets: dict[str, str]
    device_token: str
    revoked_token: str
    capability: str
    values: dict[str, str]
    sessions: dict[str, str] = field(default_factory=dict)  # email → the session token last made


def http_routes(app) -> list[tuple[str, str, str]]:
    return sorted(
        (route.path, method, handler.opt["owner"])
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in handler.http_methods
    )


def socket_routes(app) -> list[tuple[str, str]]:
    return sorted(
        (route.path, route.route_handler.opt["owner"]) for route in app.routes if hasattr(route, "route_handler")
    )


_APP = create_app(open_database(":memory:"))
HTTP_ROUTES = http_routes(_APP)
SOCKET_ROUTES = socket_routes(_APP)


@contextmanager
def matrix_world(directory: Path) -> Iterator[World]:
    """A world with something behind every id a route takes, and the app over it in a TestClient."""
    db = open_database(directory / "authz.db")
    clock = Clock()
    event = registry.create_event(
        db, name="Matrix pop-up", venue="1F", starts_at=NOW - 3600, ends_at=NOW + 8 * 3600, now=NOW
    )
    campaign = campaigns.create_campaign(db, event.id, title="Coffee", rotating=False, now=NOW)
    voucher = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)
    mei = organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)
    shop, elsewhere = (
        organizations.create_organization(db, name=name, now=NOW) for name in ("Matrix shop", "Elsewhere")
    )
    organizations.place_event(db, event.id, shop.id)
    organizations.add_member(db, shop.id, mei.id, organizations.OWNER, now=NOW)
    # Kai is whom the member routes name (a route may remove him); Olu owns another organization
    # with its own event, so what he reaches there is no proof of anything here.
    for email, name, organization, role in (
        ("sam@example.com", "Sam", shop, organizations.STAFF),
        ("kai@example.com", "Kai", shop, organizations.MANAGER),
        ("olu@example.com", "Olu", elsewhere, organizations.OWNER),
    ):
        account = organizers.create_organizer(db, email=email, name=name, password=PASSWORD, now=NOW)
        organizations.add_member(db, organization.id, account.id, role, now=NOW)
    theirs = registry.create_event(db, name="Their pop-up", venue="2F", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    organizations.place_event(db, theirs.id, elsewhere.id)
    secrets = {
        email: organizers.check_password(db, email, PASSWORD, now=NOW).totp_secret for email, _ in ACCOUNTS.values()
    }
    door, bar, lost, victim = (enroll(db, event.id, name, now=NOW) for name in ("Door", "Bar", "Lost", "Victim"))
    devices.revoke_device(db, lost.device_id, now=NOW)
    # Something behind every id a route takes: a conflict (two tablets over one use), a draw.
    text, _ = door.issue_voucher(now_ms=MS + 1)
    door.redeem(text, now_ms=MS + 2)
    bar.redeem(text, now_ms=MS + 3)
    attendee = door.register("Li Wei", now_ms=MS + 4, phone="13800138000")["subject"]
    door.checkin(attendee, now_ms=MS + 5)
    push(db, door, MS + 10)
    push(db, bar, MS + 11)
    (conflict,) = conflicts.list_conflicts(db, event.id, status="open")
    draw = draws.draw(db, event.id, drawn_by=mei.id, wanted=1, now=NOW)
    me = signup.sign_up(db, event.id, signup.Applicant("Zhang San", "13900139000", "", True), now_ms=MS)
    values = {
        "event_id": event.id,
        "device_id": victim.device_id,
        "number": str(campaign.number),
        "import_id": "unknown",
        "draw_id": str(draw.id),
        "conflict_id": str(conflict.id),
        "name": "attendees.csv",
        "code": voucher.text,
        "capability": me.capability,
        "filename": "en.json",
        "file_path": "css/app.css",
        "path": "openapi.json",
        "session_id": "0" * organizers.SESSION_ID_LEN,
        "organizer_id": organizations.find_account(db, "kai@example.com"),
    }
    with TestClient(create_app(db, clock=clock)) as client:
        yield World(client, clock, db, event, mei, secrets, bar.token, lost.token, me.capability, values)
    db.close()


def session(world: World, email: str) -> str:
    """The caller's organizer session: the last one while it is still good, else a new sign-in (a
    route may have signed the last one out, reset or disabled the account). Each sign-in uses the
    next 30-second step: a code is never accepted twice. Reusing a good session spares a scrypt
    hash a call: the matrix makes about a thousand."""
    held = world.sessions.get(email)
    if held is not None and organizers.session_organizer(world.db, held, now=int(world.clock.now)) is not None:
        return held
    world.clock.now += 30
    now = int(world.clock.now)
    pending = organizers.check_password(world.db, email, PASSWORD, now=now)
    world.sessions[email] = organizers.check_code(
        world.db, pending.token, pyotp.TOTP(world.totp_secrets[email]).at(now), now=now
    )
    return world.sessions[email]


def concrete(path: str, world: World) -> str:
    """The path with the world's value in each parameter."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        assert name in world.values, f"PATH_VALUES has nothing for the new path parameter {name!r} ({path})"
        return world.values[name]

    return re.sub(r"\{(\w+):\w+\}", value, path)


def as_caller(world: World, caller: str) -> dict[str, str]:
    """The headers a caller sends; sets (or clears) its cookies on the shared client."""
    client = world.client
    client.cookies.clear()
    kai = world.values["organizer_id"]
    if organizations.membership(world.db, kai) is None:  # a member route removed him: back, for the next call
        shop = organizations.membership(world.db, world.organizer.id).organization
        organizations.add_member(world.db, shop.id, kai, organizations.MANAGER, now=NOW)
    client.get("/organizer/login")  # a CSRF cookie, as any browser gets
    csrf = client.cookies["csrftoken"]
    headers = {"Accept": "application/json", "x-csrftoken": csrf}
    if caller in ACCOUNTS:
        client.cookies[SESSION_COOKIE] = session(world, ACCOUNTS[caller][0])
    elif caller == "device":
        headers["Authorization"] = f"Bearer {world.device_token}"
    elif caller == "revoked_device":
        headers["Authorization"] = f"Bearer {world.revoked_token}"
    elif caller == "attendee":
        client.get(f"/wallet/{world.capability}")  # the browser now holds its wallet cookie
    return headers

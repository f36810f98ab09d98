"""The authorization matrix: every route of the app's route table, called as each kind of caller.

Callers: a signed-in organizer (an owner of the organization holding the event), a staff member
of that organization, an owner of ANOTHER organization, an enrolled tablet, a revoked tablet, an
attendee (a browser holding a wallet) and an anonymous browser. What each may reach follows from
the route's owner (server/owners.py) — for the console's routes, the role it asks — so a new route
is in the matrix the moment it exists; a new path parameter fails until PATH_VALUES says what to
put in it.

"Reached" means the route's handler answered (any status but 401 and 403, and no sign-in
redirect); "refused" is 401 or 403; "wiped" is a revoked tablet's 403 with `"wipe": true`;
"hidden" is the organizer guard's 404 for an event or member of another organization, in the
very words of an unknown one's.
Every request carries a valid CSRF token, so a refusal is about who is calling, not the form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyotp
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from events import campaigns, conflicts, devices, draws, organizations, organizers, registry, signup
from events.db import open_database
from server.app import create_app
from server.auth import SESSION_COOKIE
from server.owners import ATTENDEE, DEVICE, PUBLIC, REQUIRED_ROLE, SIGNED_IN
from tests.conftest import NOW, Clock
from tests.tablet import enroll, push

CALLERS = ("organizer", "staff", "other_organization", "device", "revoked_device", "attendee", "anonymous")
# The signed-in callers: their email, and their role in the organization holding the event
# (None: they are in another one, as its owner).
ACCOUNTS = {"organizer": ("mei@example.com", organizations.OWNER), "staff": ("sam@example.com", organizations.STAFF),
            "other_organization": ("olu@example.com", None)}
PASSWORD = "correct horse battery"
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


def _http_routes(app) -> list[tuple[str, str, str]]:
    return sorted(
        (route.path, method, handler.opt["owner"])
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in handler.http_methods
    )


def _socket_routes(app) -> list[tuple[str, str]]:
    return sorted((route.path, route.route_handler.opt["owner"]) for route in app.routes if hasattr(route, "route_handler"))


_APP = create_app(open_database(":memory:"))
HTTP_ROUTES = _http_routes(_APP)
SOCKET_ROUTES = _socket_routes(_APP)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    db = open_database(tmp_path_factory.mktemp("authz") / "authz.db")
    clock = Clock()
    event = registry.create_event(db, name="Matrix pop-up", venue="1F", starts_at=NOW - 3600, ends_at=NOW + 8 * 3600, now=NOW)
    campaign = campaigns.create_campaign(db, event.id, title="Coffee", rotating=False, now=NOW)
    voucher = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)
    mei = organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)
    shop, elsewhere = (organizations.create_organization(db, name=name, now=NOW) for name in ("Matrix shop", "Elsewhere"))
    organizations.place_event(db, event.id, shop.id)
    organizations.add_member(db, shop.id, mei.id, organizations.OWNER, now=NOW)
    # Kai is whom the member routes name (a route may remove him); Olu owns another organization
    # with its own event, so what he reaches there is no proof of anything here.
    for email, name, organization, role in (("sam@example.com", "Sam", shop, organizations.STAFF),
                                             ("kai@example.com", "Kai", shop, organizations.MANAGER),
                                             ("olu@example.com", "Olu", elsewhere, organizations.OWNER)):
        account = organizers.create_organizer(db, email=email, name=name, password=PASSWORD, now=NOW)
        organizations.add_member(db, organization.id, account.id, role, now=NOW)
    theirs = registry.create_event(db, name="Their pop-up", venue="2F", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    organizations.place_event(db, theirs.id, elsewhere.id)
    secrets = {email: organizers.check_password(db, email, PASSWORD, now=NOW).totp_secret for email, _ in ACCOUNTS.values()}
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
        "event_id": event.id, "device_id": victim.device_id, "number": str(campaign.number), "import_id": "unknown",
        "draw_id": str(draw.id), "conflict_id": str(conflict.id), "name": "attendees.csv", "code": voucher.text,
        "capability": me.capability, "filename": "en.json", "file_path": "css/app.css", "path": "openapi.json",
        "session_id": "0" * organizers.SESSION_ID_LEN,
        "organizer_id": organizations.find_account(db, "kai@example.com"),
    }
    with TestClient(create_app(db, clock=clock)) as client:
        yield World(client, clock, db, event, mei, secrets, bar.token, lost.token, me.capability, values)
    db.close()


def _session(world: World, email: str) -> str:
    """A fresh organizer session (a route may have signed the last one out). Each sign-in uses
    the next 30-second step: a code is never accepted twice."""
    world.clock.now += 30
    now = int(world.clock.now)
    pending = organizers.check_password(world.db, email, PASSWORD, now=now)
    return organizers.check_code(world.db, pending.token, pyotp.TOTP(world.totp_secrets[email]).at(now), now=now)


def _concrete(path: str, world: World) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        assert name in world.values, f"PATH_VALUES has nothing for the new path parameter {name!r} ({path})"
        return world.values[name]

    return re.sub(r"\{(\w+):\w+\}", value, path)


def _as(world: World, caller: str) -> dict[str, str]:
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
        client.cookies[SESSION_COOKIE] = _session(world, ACCOUNTS[caller][0])
    elif caller == "device":
        headers["Authorization"] = f"Bearer {world.device_token}"
    elif caller == "revoked_device":
        headers["Authorization"] = f"Bearer {world.revoked_token}"
    elif caller == "attendee":
        client.get(f"/wallet/{world.capability}")  # the browser now holds its wallet cookie
    return headers


def expected(owner: str, caller: str, path: str) -> str:
    if owner in (PUBLIC, ATTENDEE):  # an attendee route's credential is the capability in its URL
        return "reached"
    if owner in SIGNED_IN:
        if caller not in ACCOUNTS:
            return "refused"
        needed = REQUIRED_ROLE.get(owner)
        if needed is None:  # any account: the console's home, signing out
            return "reached"
        role = ACCOUNTS[caller][1]
        if role is None:  # an owner, of another organization
            if "{event_id:" in path or "{organizer_id:" in path:
                return "hidden"
            role = organizations.OWNER  # a route of one's own organization: their own
        return "reached" if organizations.allows(role, needed) else "refused"
    assert owner == DEVICE, owner
    return {"device": "reached", "revoked_device": "wiped"}.get(caller, "refused")


# What the guards answer (server/auth.py, server/errors.py). A handler's own 401 or 403 (a wrong
# password on the sign-in form, a spent enrollment code) is an answer, not a refusal.
GUARD_REFUSALS = {"sign_in_required", "role_required", "no_device_token", "unknown_device"}
# The organizer guard's 404 for another organization's event or member: an unknown one's words.
HIDDEN = re.compile(r"no (event|member) '")


def outcome(response) -> str:
    json = response.headers.get("content-type", "").startswith("application/json")
    if response.status_code == 404 and json and HIDDEN.match(response.json().get("detail", "")):
        return "hidden"
    if response.status_code == 303 and response.headers.get("location", "").startswith("/organizer/login?next="):
        return "refused"  # the organizer guard sends a person to sign in
    if response.status_code in (401, 403) and response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if body.get("error") == "device_revoked" and body.get("wipe") is True:
            return "wiped"
        if body.get("error") in GUARD_REFUSALS:
            return "refused"
    assert response.status_code not in (401, 403) or "login" in str(response.url) or "enroll" in str(response.url), (
        f"a 401/403 that is not a guard's: {response.status_code} {response.text[:200]}")
    return "reached"


def test_the_matrix_covers_every_owner() -> None:
    owners = {owner for _, _, owner in HTTP_ROUTES} | {owner for _, owner in SOCKET_ROUTES}
    assert owners == {PUBLIC, ATTENDEE, DEVICE, *SIGNED_IN}
    assert len(HTTP_ROUTES) > 80


@pytest.mark.parametrize("path, method, owner", HTTP_ROUTES, ids=[f"{m} {p}" for p, m, _ in HTTP_ROUTES])
def test_every_route_answers_only_its_owner(world, path, method, owner) -> None:
    url = _concrete(path, world)
    seen = {}
    for caller in CALLERS:
        headers = _as(world, caller)
        response = world.client.request(method, url, headers=headers, follow_redirects=False)
        seen[caller] = outcome(response)
        assert response.status_code < 500, (caller, response.status_code, response.text[:300])
    assert seen == {caller: expected(owner, caller, path) for caller in CALLERS}


# OPTIONS answers with the allowed methods whatever the capability: it holds nothing.
@pytest.mark.parametrize("path, method, owner", [r for r in HTTP_ROUTES if "{capability:" in r[0] and r[1] != "OPTIONS"],
                         ids=lambda value: value if isinstance(value, str) else "")
def test_without_the_capability_nobody_reaches_an_attendee_route(world, path, method, owner) -> None:
    url = _concrete(path, world).replace(world.capability, "A" * len(world.capability))
    for caller in CALLERS:
        response = world.client.request(method, url, headers=_as(world, caller), follow_redirects=False)
        assert response.status_code in (404, 405), (caller, response.status_code)


@pytest.mark.parametrize("path, owner", SOCKET_ROUTES, ids=[p for p, _ in SOCKET_ROUTES])
def test_every_socket_answers_only_its_owner(world, path, owner) -> None:
    url = _concrete(path, world)
    seen = {}
    for caller in CALLERS:
        headers = _as(world, caller)
        try:
            with world.client.websocket_connect(url, headers=headers) as socket:
                socket.receive_json()
                seen[caller] = "reached"
        except WebSocketDisconnect as closed:
            seen[caller] = {4401: "refused", 4403: "refused", 4404: "hidden"}.get(closed.code, f"closed {closed.code}")
    assert seen == {caller: expected(owner, caller, path) for caller in CALLERS}

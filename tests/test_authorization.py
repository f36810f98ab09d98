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

import pytest
from litestar.exceptions import WebSocketDisconnect

from events import organizations
from server.owners import ATTENDEE, DEVICE, PUBLIC, REQUIRED_ROLE, SIGNED_IN
from tests.support.routes import ACCOUNTS, HTTP_ROUTES, SOCKET_ROUTES, World, as_caller, concrete, matrix_world

CALLERS = ("organizer", "staff", "other_organization", "device", "revoked_device", "attendee", "anonymous")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    with matrix_world(tmp_path_factory.mktemp("authz")) as built:
        yield built


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
        f"a 401/403 that is not a guard's: {response.status_code} {response.text[:200]}"
    )
    return "reached"


def test_the_matrix_covers_every_owner() -> None:
    owners = {owner for _, _, owner in HTTP_ROUTES} | {owner for _, owner in SOCKET_ROUTES}
    assert owners == {PUBLIC, ATTENDEE, DEVICE, *SIGNED_IN}
    assert len(HTTP_ROUTES) > 80


@pytest.mark.parametrize("path, method, owner", HTTP_ROUTES, ids=[f"{m} {p}" for p, m, _ in HTTP_ROUTES])
def test_every_route_answers_only_its_owner(world, path, method, owner) -> None:
    url = concrete(path, world)
    seen = {}
    for caller in CALLERS:
        headers = as_caller(world, caller)
        response = world.client.request(method, url, headers=headers, follow_redirects=False)
        seen[caller] = outcome(response)
        assert response.status_code < 500, (caller, response.status_code, response.text[:300])
    assert seen == {caller: expected(owner, caller, path) for caller in CALLERS}


# OPTIONS answers with the allowed methods whatever the capability: it holds nothing.
@pytest.mark.parametrize(
    "path, method, owner",
    [r for r in HTTP_ROUTES if "{capability:" in r[0] and r[1] != "OPTIONS"],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_without_the_capability_nobody_reaches_an_attendee_route(world, path, method, owner) -> None:
    url = concrete(path, world).replace(world.capability, "A" * len(world.capability))
    for caller in CALLERS:
        response = world.client.request(method, url, headers=as_caller(world, caller), follow_redirects=False)
        assert response.status_code in (404, 405), (caller, response.status_code)


@pytest.mark.parametrize("path, owner", SOCKET_ROUTES, ids=[p for p, _ in SOCKET_ROUTES])
def test_every_socket_answers_only_its_owner(world, path, owner) -> None:
    url = concrete(path, world)
    seen = {}
    for caller in CALLERS:
        headers = as_caller(world, caller)
        try:
            with world.client.websocket_connect(url, headers=headers) as socket:
                socket.receive_json()
                seen[caller] = "reached"
        except WebSocketDisconnect as closed:
            seen[caller] = {4401: "refused", 4403: "refused", 4404: "hidden"}.get(closed.code, f"closed {closed.code}")
    assert seen == {caller: expected(owner, caller, path) for caller in CALLERS}

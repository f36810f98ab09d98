"""An organizer signed in through the console's own pages: password, then a TOTP code."""

from __future__ import annotations

import pyotp

from events import organizations, organizers
from tests.support.clock import NOW

PASSWORD = "correct horse battery"


def totp(db, organizer_id: str) -> pyotp.TOTP:
    secret = organizers.totp_secret(db, organizer_id)
    return pyotp.TOTP(secret, digits=organizers.TOTP_DIGITS, interval=organizers.TOTP_STEP_S)


def csrf(client, path: str = "/organizer/login") -> str:
    client.get(path)
    return client.cookies["csrftoken"]


def sign_in(client, db, organizer_id: str, *, password: str = PASSWORD, at: int = NOW, email: str = "mei@example.com"):
    token = csrf(client)
    response = client.post(
        "/organizer/login/",
        data={"email": email, "password": password, "next": "/organizer", "_csrf_token": token},
        follow_redirects=False,
    )
    if response.status_code != 303:
        return response
    code_page = client.get(response.headers["location"])
    assert code_page.status_code == 200
    return client.post(
        "/organizer/login/code",
        data={"code": totp(db, organizer_id).at(at), "next": "/organizer", "_csrf_token": token},
        follow_redirects=False,
    )


def signed_in_owner(client, db) -> organizers.Organizer:
    """Mei, owner of her shop, which holds every event made so far; signed in on `client`."""
    mei = organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)
    shop = organizations.create_organization(db, name="Mei's shop", now=NOW)
    organizations.add_member(db, shop.id, mei.id, organizations.OWNER, now=NOW)
    organizations.adopt_unheld_events(db, shop.id)  # the `event` fixture's, made before her
    assert sign_in(client, db, mei.id).status_code == 200  # enrolled: the recovery codes, then the console
    return mei


def hold_new_events(db, organizer) -> None:
    """Events made behind the console's back (registry.create_event) belong to no organization:
    give them the organizer's, as the console would have."""
    organizations.adopt_unheld_events(db, organizations.membership(db, organizer.id).organization.id)

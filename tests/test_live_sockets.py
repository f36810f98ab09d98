"""Live sockets end with the credential that opened them: the wall's with its organizer's
session (signed out, expired), the wallet's with its capability."""

from __future__ import annotations

import queue

import pytest
from litestar.exceptions import WebSocketDisconnect

from events import campaigns, organizers
from events.signup import capability_hash
from server.auth import SESSION_COOKIE, WS_SIGN_IN_REQUIRED
from server.controllers import console_wall
from server.controllers import wallet as wallet_controller
from tests.support.clock import NOW
from tests.support.device_api import code_for, enroll, online
from tests.support.tablet import enroll as enroll_tablet
from tests.support.wallet import held_tokens, sign_up

WAIT_S = 5  # far longer than a check's interval below: a socket that never closes fails, not hangs


def wall_socket(event) -> str:
    return f"/organizer/events/{event.id}/wall/socket"


def closed_code(socket) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_json(timeout=WAIT_S)  # queue.Empty instead: it stayed open
    return closed.value.code


@pytest.fixture
def quick_tick(monkeypatch):
    monkeypatch.setattr(console_wall, "TICK_S", 0.05)


def test_a_wall_left_open_stays_open_while_its_organizer_is_signed_in(client, event, signed_in, quick_tick) -> None:
    with client.websocket_connect(wall_socket(event)) as socket:
        socket.receive_json(timeout=WAIT_S)
        with pytest.raises(queue.Empty):  # many ticks, nothing new: nothing sent, nothing closed
            socket.receive_json(timeout=0.5)


def test_signing_out_closes_the_wall(client, event, signed_in, quick_tick) -> None:
    with client.websocket_connect(wall_socket(event)) as socket:
        socket.receive_json(timeout=WAIT_S)
        response = client.post(
            "/organizer/logout", data={"_csrf_token": client.cookies["csrftoken"]}, follow_redirects=False
        )
        assert response.status_code == 303
        assert closed_code(socket) == WS_SIGN_IN_REQUIRED


def test_an_expired_session_closes_the_wall(client, clock, event, signed_in, quick_tick) -> None:
    with client.websocket_connect(wall_socket(event)) as socket:
        socket.receive_json(timeout=WAIT_S)
        clock.now += organizers.SESSION_S
        assert closed_code(socket) == WS_SIGN_IN_REQUIRED


def test_news_after_a_sign_out_is_not_sent_to_the_wall(client, db, event, signed_in) -> None:
    """At the usual tick: the announcement wakes the socket, which checks before it sends."""
    tablet = enroll_tablet(db, event.id, "Door", now=NOW)
    with client.websocket_connect(wall_socket(event)) as socket:
        socket.receive_json(timeout=WAIT_S)
        organizers.sign_out(db, client.cookies[SESSION_COOKIE])
        tablet.checkin(tablet.register("Li Wei", now_ms=NOW * 1000)["subject"], now_ms=NOW * 1000 + 1)
        response = client.post("/api/v1/push", json=tablet.batch(now_ms=NOW * 1000 + 2), headers=tablet.headers)
        assert response.status_code == 200
        assert closed_code(socket) == WS_SIGN_IN_REQUIRED


@pytest.fixture
def welcome(db, event):
    return campaigns.create_campaign(db, event.id, title="Welcome", max_uses=1, rotating=True, welcome=True, now=NOW)


def _forget_wallet(db, capability: str) -> None:
    # Nothing in PopPass revokes a wallet yet: its row going is what ending it means.
    db.execute("delete from wallets where capability_hash = ?", [capability_hash(capability)])
    db.conn.commit()


def test_a_wallet_whose_capability_ended_gets_no_more_news(client, db, event, welcome) -> None:
    me = sign_up(db, event)
    (text,) = [t for k, t in held_tokens(db, me.attendee_id).items() if k != "pass"]
    tablet = enroll(client, db, event)
    with client.websocket_connect(f"/wallet/{me.capability}/live") as socket:
        assert socket.receive_json(timeout=WAIT_S)["type"] == "state"
        _forget_wallet(db, me.capability)
        # This wallet's voucher redeemed: the news that would have been sent ends the socket.
        assert online(client, tablet, text, code=code_for(db, event, text, NOW)).json()["outcome"] == "accepted"
        assert closed_code(socket) == 4404


def test_an_idle_wallet_socket_notices_its_capability_ended(client, db, event, welcome, monkeypatch) -> None:
    monkeypatch.setattr(wallet_controller, "CAPABILITY_CHECK_S", 0.05)
    me = sign_up(db, event)
    with client.websocket_connect(f"/wallet/{me.capability}/live") as socket:
        socket.receive_json(timeout=WAIT_S)
        with pytest.raises(queue.Empty):  # while it opens the wallet, the socket stays
            socket.receive_json(timeout=0.3)
        _forget_wallet(db, me.capability)
        assert closed_code(socket) == 4404


def test_a_member_removed_while_the_wall_is_open_stops_getting_it(client, db, event, signed_in, quick_tick) -> None:
    from events import organizations

    shop = organizations.membership(db, signed_in.id).organization
    kai = organizers.create_organizer(
        db, email="kai@example.com", name="Kai", password="correct horse battery", now=NOW
    )
    organizations.add_member(db, shop.id, kai.id, organizations.OWNER, now=NOW)
    with client.websocket_connect(wall_socket(event)) as socket:
        socket.receive_json(timeout=WAIT_S)
        organizations.remove_member(db, shop.id, signed_in.id)
        assert closed_code(socket) == 4404  # the event is now another organization's: unknown to her

"""The attendee's wallet: /wallet/<capability>, the page, its claim form and its live channel.

The capability in the URL is the only credential: whoever holds it sees this attendee's pass and
vouchers and nothing else. The page carries each rotating voucher's own TOTP secret, so the
phone computes its codes offline; it never carries the event's rotation key.
"""

from __future__ import annotations

import contextlib

import anyio
import msgspec
from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.channels import ChannelsPlugin
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException, WebSocketDisconnect
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from events import registry, signup, wallet
from events.registry import Event
from server import live, qr, wallet_cookie
from server.owners import ATTENDEE
from server.pages import page
from server.reasons import N_, claim_words
from server.templating import catalogue, time_of_day, translate, use_event_languages

# What the phone shows for each state; the same words on the page and in live updates.
STATE_WORDS = {
    "valid": N_("Valid"),
    "not_yet_valid": N_("Not valid yet"),
    "expired": N_("Expired"),
    "voided": N_("Voided by the organizer"),
    "checked_in": N_("Checked in at %(time)s"),
    "redeemed": N_("Redeemed at %(time)s"),
}
USED_SO_FAR = N_("Valid · used %(uses)s of %(max)s")
# How often an idle wallet socket checks that its capability still opens the wallet.
CAPABILITY_CHECK_S = 10.0


class ClaimForm(Struct):
    token: str = ""


def state_label(connection: ASGIConnection, event: Event, item: wallet.Item) -> str:
    state = item.state
    words = translate(connection, STATE_WORDS[state.state])
    if state.state in ("redeemed", "checked_in") and state.last_used_ms is not None:
        return words % {"time": time_of_day(connection, state.last_used_ms // 1000, event.timezone)}
    if state.state == "valid" and item.type == "voucher" and state.uses and item.max_uses != 1:
        return translate(connection, USED_SO_FAR) % {"uses": state.uses, "max": item.max_uses or "∞"}
    return words


def _opened(request: ASGIConnection, capability: str) -> tuple[str, str]:
    opened = signup.open_capability(request.app.state.db, capability)
    if opened is None:
        raise NotFoundException("no wallet at this address")
    return opened


def _snapshot(connection: ASGIConnection, event_id: str, attendee_id: str) -> dict:
    """Every item's state, in the reader's words: what the live channel sends the phone."""
    now_ms = int(connection.app.state.clock() * 1000)
    held = wallet.open_wallet(connection.app.state.db, event_id, attendee_id, now_ms=now_ms)
    use_event_languages(connection, held.event.language_list)
    return {
        "type": "state",
        "server_time_ms": now_ms,
        # The phone compares it with its page's: another epoch means new secrets to fetch.
        "rotation_epoch": held.rotation_epoch,
        "items": [
            {"id": item.id, "state": item.state.state, "label": state_label(connection, held.event, item)}
            for item in held.items
        ],
    }


class WalletController(Controller):
    path = "/wallet"
    opt = {"owner": ATTENDEE}

    @get("/{capability:str}", sync_to_thread=False, name="wallet")
    def show(self, request: Request, capability: FromPath[str], claim_refused: FromQuery[str] = "") -> Template:
        event_id, attendee_id = _opened(request, capability)
        db, now_ms = request.app.state.db, int(request.app.state.clock() * 1000)
        # The page's language first: the wallet's campaign titles are read in it.
        use_event_languages(request, registry.get_event(db, event_id).language_list)
        held = wallet.open_wallet(db, event_id, attendee_id, now_ms=now_ms, language=catalogue(request).tag)
        response = page(
            request,
            "wallet/wallet",
            wallet=held,
            capability=capability,
            labels={item.id: state_label(request, held.event, item) for item in held.items},
            # Static codes are drawn here; rotating ones need the time, so the phone draws them.
            qr_svgs={item.id: qr.svg(item.text, title=item.id) for item in held.items if not item.rotating},
            server_time_ms=now_ms,
            claim_refused=claim_words(claim_refused) if claim_refused else "",
        )
        response.headers["Cache-Control"] = "private, no-cache"
        wallet_cookie.give(request, response, event_id, capability)
        return response

    @post("/{capability:str}/claim", sync_to_thread=False, name="wallet_claim", status_code=303)
    def claim(self, request: Request, capability: FromPath[str], data: URLEncodedBody[ClaimForm]) -> Redirect:
        event_id, attendee_id = _opened(request, capability)
        try:
            token_id = wallet.claim(
                request.app.state.db, event_id, attendee_id, data.token, now=int(request.app.state.clock())
            )
        except wallet.ClaimRefused as refused:
            return Redirect(path=f"/wallet/{capability}?claim_refused={refused.reason}", status_code=303)
        live.announce(request.app, event_id, [token_id, attendee_id])  # the attendee: a new item
        return Redirect(path=f"/wallet/{capability}#item-{token_id}", status_code=303)

    @websocket("/{capability:str}/live", name="wallet_live")
    async def live(self, socket: WebSocket, capability: FromPath[str]) -> None:
        """A snapshot of the wallet's states at once, then a fresh one whenever a merge touches
        one of its items. The phone reconnects after any drop and gets a snapshot again. Once
        the capability no longer opens this wallet (checked before each send and every
        CAPABILITY_CHECK_S), the socket closes with 4404 and the phone stops asking."""
        db = socket.app.state.db
        opened = signup.open_capability(db, capability)
        await socket.accept()
        if opened is None:
            await socket.close(code=4404, reason="no wallet at this address")
            return
        event_id, attendee_id = opened
        channels = socket.app.plugins.get(ChannelsPlugin)
        mine: set[str] = set()
        ended = anyio.Event()

        def still_opens() -> bool:
            return signup.open_capability(db, capability) == opened

        epoch = registry.rotation_epoch(db, event_id)

        async def send_snapshot() -> None:
            nonlocal mine, epoch
            fresh = _snapshot(socket, event_id, attendee_id)
            mine = {item["id"] for item in fresh["items"]} | {attendee_id, live.ROTATION_KEYS}
            epoch = fresh["rotation_epoch"]
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # the phone left meanwhile
                await socket.send_json(fresh)

        async def on_announcement(message: bytes) -> None:
            if mine.isdisjoint(msgspec.json.decode(message)["subjects"]):
                return
            if not still_opens():
                ended.set()
                return
            await send_snapshot()

        # Subscribed before the snapshot is read: a merge in between is announced, not missed.
        async with channels.start_subscription(live.event_channel(event_id)) as subscriber:
            await send_snapshot()
            # join=False: once the phone has gone, what is still queued for it is dropped.
            async with subscriber.run_in_background(on_announcement, join=False), anyio.create_task_group() as tasks:
                tasks.start_soon(live.cancel_when_closed, socket, tasks.cancel_scope)
                while not ended.is_set() and still_opens():
                    with anyio.move_on_after(CAPABILITY_CHECK_S):
                        await ended.wait()
                    # A revocation from the command line is another process: no announcement
                    # reaches this one, so the epoch is looked at here too.
                    if not ended.is_set() and registry.rotation_epoch(db, event_id) != epoch:
                        await send_snapshot()
                with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # the phone left meanwhile
                    await socket.close(code=4404, reason="no wallet at this address")
                tasks.cancel_scope.cancel()

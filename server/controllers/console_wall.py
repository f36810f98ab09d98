"""The live wall: what the projector shows, pushed over a websocket, and the lucky draw.

The page is whole without JavaScript (a reload shows the present). With it, web/static/js/wall.js
opens the socket below, which sends the wall's live part as HTML rendered here (one renderer,
Jinja's escaping) on connect and again after every announcement on the event's channel.
"""

from __future__ import annotations

import contextlib

import anyio
from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.channels import ChannelsPlugin
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Response, Template
from msgspec import Struct

from events import audit, draws, registry, wall
from server import live
from server.auth import organizer_guard
from server.console_forms import event_or_404, in_event_or_404
from server.owners import MANAGER, STAFF
from server.pages import page
from server.reasons import N_

THEMES = ("dark", "light")
# Without announcements the wall still re-reads this often: tablets go offline by silence.
TICK_S = 5.0
DRAW_WORDS = {
    "bad_count": N_("Draw between 1 and 100 winners at a time."),
    "no_candidates": N_("No one is left to draw: everyone checked in has already won, or no one has checked in yet."),
}


class DrawForm(Struct):
    winners: int = 1


def _theme(theme: str) -> str:
    return theme if theme in THEMES else THEMES[0]


def _context(connection: Request | WebSocket, event_id: str) -> dict:
    now = int(connection.app.state.clock())
    return {"snapshot": wall.snapshot(connection.app.state.db, event_id, now=now), "now": now}


def _wall_page(
    request: Request,
    event: registry.Event,
    *,
    theme: str = "dark",
    status_code: int = 200,
    draw_error: str = "",
    wanted: int = 1,
) -> Template:
    return page(
        request,
        "wall/wall",
        status_code=status_code,
        event=event,
        theme=_theme(theme),
        draw_error=draw_error,
        wanted=wanted,
        max_winners=draws.MAX_WINNERS,
        **_context(request, event.id),
    )


def _same_origin(socket: WebSocket) -> bool:
    """A browser always sends Origin on a websocket; another site's page must not open ours
    with the organizer's cookie (SameSite=Strict already stops it; this is the second lock)."""
    origin = socket.headers.get("origin")
    return origin is None or origin.split("://", 1)[-1] == socket.headers.get("host")


class ConsoleWallController(Controller):
    path = "/organizer/events/{event_id:str}/wall"
    guards = [organizer_guard]
    opt = {"owner": STAFF}  # the projector is staff's; drawing prizes is a manager's

    @get("/", sync_to_thread=False, name="console_wall")
    def show(self, request: Request, event_id: FromPath[str], theme: FromQuery[str] = "dark") -> Template:
        return _wall_page(request, event_or_404(request, event_id), theme=theme)

    @post("/draws", sync_to_thread=False, name="console_wall_draw", status_code=303, opt={"owner": MANAGER})
    def draw(
        self, request: Request, event_id: FromPath[str], data: URLEncodedBody[DrawForm], theme: FromQuery[str] = "dark"
    ) -> Redirect | Template | Response:
        db, now = request.app.state.db, int(request.app.state.clock())
        event = event_or_404(request, event_id)
        try:
            found = draws.draw(db, event.id, drawn_by=request.state.organizer.id, wanted=data.winners, now=now)
        except draws.DrawRefused as refused:
            return _wall_page(
                request, event, theme=theme, status_code=422, draw_error=DRAW_WORDS[refused.reason], wanted=data.winners
            )
        audit.record(
            db,
            request.state.organizer.id,
            "draw",
            event.id,
            {"draw": found.id, "seed": found.seed, "candidates": len(found.candidates), "winners": found.winners},
            now=now,
        )
        live.announce(request.app, event.id, [f"draw:{found.id}"])
        if request.headers.get("hx-request") == "true":
            return Response(content=b"", status_code=204)  # the socket brings the draw to every wall
        return Redirect(path=f"/organizer/events/{event.id}/wall?theme={_theme(theme)}", status_code=303)

    @get("/draws/{draw_id:int}", sync_to_thread=False, name="console_wall_draw_record")
    def draw_record(self, request: Request, event_id: FromPath[str], draw_id: FromPath[int]) -> Template:
        db = request.app.state.db
        event = event_or_404(request, event_id)
        found = in_event_or_404(event, lambda: draws.get_draw(db, draw_id), f"draw {draw_id}")
        return page(
            request,
            "console/draw",
            event=event,
            draw=found,
            winners=draws.winners(db, found),
            replayed=draws.replay(found) == found.winners,
        )

    @websocket("/socket", name="console_wall_socket")
    async def socket(self, socket: WebSocket, event_id: FromPath[str]) -> None:
        """The wall's live part on connect, then after every announcement (all those queued
        meanwhile make one), and every TICK_S when nothing is announced; each time only while
        the organizer is still signed in and a member (closed with 4401 otherwise)."""
        await socket.accept()  # the organizer guard found the event in the caller's organization
        if not _same_origin(socket):
            await socket.close(code=4403, reason="another site")
            return
        template = socket.app.template_engine.engine.get_template("wall/_live.html")
        changed = anyio.Event()
        sent = ""

        async def on_announcement(_: bytes) -> None:
            changed.set()

        async def send_snapshot() -> None:
            nonlocal sent
            context = _context(socket, event_id)
            html = template.render(request=socket, **context)
            if html != sent:
                await socket.send_json({"position": context["snapshot"].position, "html": html})
                sent = html

        # Subscribed before the first snapshot is read: a merge in between is announced, not missed.
        channels = socket.app.plugins.get(ChannelsPlugin)
        async with channels.start_subscription(live.event_channel(event_id)) as subscriber:
            # join=False: once the wall has gone, what is still queued for it is dropped.
            async with subscriber.run_in_background(on_announcement, join=False), anyio.create_task_group() as tasks:
                tasks.start_soon(live.cancel_when_closed, socket, tasks.cancel_scope)
                with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # the wall left mid-send
                    while True:
                        # Signed out or expired since the last snapshot: the wall goes to the sign-in.
                        if code := await live.refusal(socket):
                            await socket.close(code=code, reason="sign in required")
                            break
                        await send_snapshot()
                        with anyio.move_on_after(TICK_S):
                            await changed.wait()
                        changed = anyio.Event()
                tasks.cancel_scope.cancel()

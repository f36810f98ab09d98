"""The clerk's station: the page a tablet runs. Its identity (device id, token, key) lives in the
tablet's IndexedDB, not on the server, so the page itself is the same for everyone."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Template

from server.owners import PUBLIC
from server.pages import page


class StationController(Controller):
    path = "/station"
    opt = {"owner": PUBLIC}

    @get("/", sync_to_thread=False, name="station")
    def station(self, request: Request) -> Template:
        return page(request, "station")

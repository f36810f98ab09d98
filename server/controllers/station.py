"""The clerk's station: the screens a tablet runs. Its identity (device id, token, key) and what
it knows of the event live in the tablet's IndexedDB, not on the server, so every screen is the
same page for every tablet, cached by the service worker and filled in by its JS module."""

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
        return page(request, "station/home")

    @get("/scan", sync_to_thread=False, name="station_scan")
    def scan(self, request: Request) -> Template:
        return page(request, "station/scan")

    @get("/checkin", sync_to_thread=False, name="station_checkin")
    def checkin(self, request: Request) -> Template:
        return page(request, "station/checkin")

    @get("/register", sync_to_thread=False, name="station_register")
    def register(self, request: Request) -> Template:
        return page(request, "station/register")

    @get("/issue", sync_to_thread=False, name="station_issue")
    def issue(self, request: Request) -> Template:
        return page(request, "station/issue")

    @get("/conflicts", sync_to_thread=False, name="station_conflicts")
    def conflicts(self, request: Request) -> Template:
        return page(request, "station/conflicts")

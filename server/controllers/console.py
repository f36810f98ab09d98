"""The organizer's console: everything behind the sign-in. Its home lists the events of the
organizer's organization, and nothing when they are in none."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Template

from events import campaigns, devices, organizations
from server.auth import organizer_guard
from server.controllers.console_members import ROLE_WORDS
from server.owners import ORGANIZER
from server.pages import page


class ConsoleController(Controller):
    path = "/organizer"
    guards = [organizer_guard]
    opt = {"owner": ORGANIZER}

    @get("/", sync_to_thread=False, name="console")
    def home(self, request: Request) -> Template:
        db = request.app.state.db
        listing = [
            (event, len(campaigns.list_campaigns(db, event.id)), len(devices.list_devices(db, event.id)))
            for event in organizations.visible_events(db, request.state.organizer.id)
        ]
        return page(
            request,
            "console/home",
            organizer=request.state.organizer,
            events=listing,
            organization=request.state.organization,
            role=request.state.role,
            role_words=ROLE_WORDS,
        )

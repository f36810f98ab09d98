"""The public front page: the events and their campaigns."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Template

from events import campaigns, registry
from server.owners import PUBLIC
from server.pages import page


class HomeController(Controller):
    path = "/"
    opt = {"owner": PUBLIC}

    @get("/", sync_to_thread=False, name="home")
    def home(self, request: Request) -> Template:
        db = request.app.state.db
        listing = [(event, campaigns.list_campaigns(db, event.id)) for event in registry.list_events(db)]
        return page(request, "home", events=listing)

    @get("/healthz", sync_to_thread=False, name="health")
    def health(self) -> dict[str, str]:
        return {"status": "ok"}

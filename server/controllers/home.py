"""The public front page: the events and their campaigns."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.response import Template

from events import campaigns, health, registry
from server.errors import DISK_FULL_RETRY_S
from server.owners import PUBLIC
from server.pages import page


class HomeController(Controller):
    path = "/"
    opt = {"owner": PUBLIC}

    @get("/", sync_to_thread=False, name="home")
    def home(self, request: Request) -> Template:
        db = request.app.state.db
        listing = [(event, campaigns.list_campaigns(db, event.id)) for event in registry.list_events(db)]
        return page(request, "public/home", events=listing)

    @get("/healthz", sync_to_thread=False, name="health")
    def health(self, request: Request) -> Response:
        """For a monitor (docs/operations.md, "Health checks"): 200 `{"status": "ok"}` while the
        database answers and its disk has room, else 503 `{"status": "unwell", "problems": […]}`.
        Cheap (about 0.3 ms): it is polled."""
        found = health.check(request.app.state.db)
        body: dict = {"status": "ok" if found.well else "unwell", "problems": found.problems}
        if found.disk_free_bytes is not None:
            body["disk_free_bytes"] = found.disk_free_bytes
        headers = {"Cache-Control": "no-store"}
        if found.well:
            return Response(body, status_code=200, headers=headers)
        body["detail"] = found.detail
        # A monitor's next look: the pause a tablet is told on a full disk.
        return Response(body, status_code=503, headers=headers | {"Retry-After": str(DISK_FULL_RETRY_S)})

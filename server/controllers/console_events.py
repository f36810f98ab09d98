"""The console's events: create one, see how it is going, change its name, venue, times and
languages.

An event's page is its dashboard: people in, vouchers redeemed, tablets online or late, open
conflicts and each campaign's progress, read from the wall's snapshot (events/wall.py) so the
console and the wall never disagree. Editing is an action of its own (`…/edit`).
Times are typed in the event's own time zone (a datetime-local field) and stored as Unix seconds.
Every change is recorded with who made it (events/audit.py).
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from events import audit, campaigns, organizations, projections, registry, wall
from events.db import write_transaction
from server.auth import organizer_guard
from server.console_forms import BadTime, event_or_404, local_input, timestamp_of
from server.i18n import SUPPORTED
from server.owners import MANAGER, STAFF
from server.pages import page
from server.reasons import EVENT_WORDS

HOUR = 3600


class EventForm(Struct):
    name: str = ""
    venue: str = ""
    starts: str = ""  # datetime-local, in `timezone`
    ends: str = ""
    timezone: str = "UTC"
    languages: list[str] | str = []


def _form_of(event: registry.Event) -> EventForm:
    return EventForm(
        event.name,
        event.venue,
        local_input(event.starts_at, event.timezone),
        local_input(event.ends_at, event.timezone),
        event.timezone,
        event.language_list,
    )


def _languages(form: EventForm) -> list[str]:
    chosen = [form.languages] if isinstance(form.languages, str) else list(form.languages)
    return [tag for tag in SUPPORTED if tag in chosen]  # known tags only, in a stable order


def _fields(form: EventForm) -> dict:
    """The form as domain arguments; raises BadTime or EventRefused."""
    return {
        "name": form.name,
        "venue": form.venue,
        "starts_at": timestamp_of(form.starts, form.timezone, "starts"),
        "ends_at": timestamp_of(form.ends, form.timezone, "ends"),
        "timezone": form.timezone.strip(),
        "languages": _languages(form),
    }


def _errors(error: Exception) -> dict[str, str]:
    if isinstance(error, BadTime):
        return {error.field: EVENT_WORDS["bad_time"]}
    assert isinstance(error, registry.EventRefused)
    return {error.field: EVENT_WORDS[error.reason]}


def _edit_page(
    request: Request,
    event: registry.Event,
    *,
    form: EventForm | None = None,
    errors: dict | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "console/event_edit",
        status_code=status_code,
        event=event,
        form=form or _form_of(event),
        errors=errors or {},
        languages=SUPPORTED,
    )


def _dashboard(request: Request, event: registry.Event, *, saved: bool = False) -> Template:
    db, now = request.app.state.db, int(request.app.state.clock())
    snapshot = wall.snapshot(db, event.id, now=now)
    redeemed = {row["subject"] for row in projections.Reading(db, event.id).redemptions}
    tablets = [t for t in snapshot.devices if not t.revoked]
    return page(
        request,
        "console/event",
        event=event,
        saved=saved,
        counters=snapshot.counters,
        tablets=tablets,
        online=sum(t.online for t in tablets),
        late=[t for t in tablets if not t.online],
        progress=campaigns.progress(db, event.id, redeemed),
        history=audit.history(db, event.id),
    )


class ConsoleEventsController(Controller):
    path = "/organizer/events"
    guards = [organizer_guard]
    opt = {"owner": MANAGER}

    @get("/new", sync_to_thread=False, name="console_event_new")
    def new(self, request: Request) -> Template:
        now = int(request.app.state.clock())
        start = (now // HOUR + 24) * HOUR
        form = EventForm(
            starts=local_input(start, "UTC"), ends=local_input(start + 8 * HOUR, "UTC"), languages=list(SUPPORTED)
        )
        return page(request, "console/event_new", form=form, errors={}, languages=SUPPORTED)

    @post("/", sync_to_thread=False, name="console_event_create", status_code=303)
    def create(self, request: Request, data: URLEncodedBody[EventForm]) -> Template | Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        try:
            with write_transaction(db):
                event = registry.create_event(db, now=now, **_fields(data))
                organizations.place_event(db, event.id, request.state.organization.id)  # the creator's
                audit.record(db, request.state.organizer.id, "event.create", event.id, {"name": event.name}, now=now)
        except (BadTime, registry.EventRefused) as error:
            return page(
                request, "console/event_new", status_code=422, form=data, errors=_errors(error), languages=SUPPORTED
            )
        return Redirect(path=f"/organizer/events/{event.id}", status_code=303)

    @get("/{event_id:str}", sync_to_thread=False, name="console_event", opt={"owner": STAFF})
    def show(self, request: Request, event_id: FromPath[str], saved: FromQuery[str] = "") -> Template:
        return _dashboard(request, event_or_404(request, event_id), saved=bool(saved))

    @get("/{event_id:str}/edit", sync_to_thread=False, name="console_event_edit")
    def edit(self, request: Request, event_id: FromPath[str]) -> Template:
        return _edit_page(request, event_or_404(request, event_id))

    @post("/{event_id:str}/edit", sync_to_thread=False, name="console_event_update", status_code=303)
    def update(self, request: Request, event_id: FromPath[str], data: URLEncodedBody[EventForm]) -> Template | Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        event = event_or_404(request, event_id)
        try:
            with write_transaction(db):
                fields = _fields(data)
                updated = registry.update_event(db, event.id, **fields)
                changed = {k: v for k, v in vars(updated).items() if getattr(event, k) != v}
                if changed:
                    audit.record(db, request.state.organizer.id, "event.update", event.id, changed, now=now)
        except (BadTime, registry.EventRefused) as error:
            return _edit_page(request, event, form=data, errors=_errors(error), status_code=422)
        if request.headers.get("hx-request") == "true":
            # htmx swaps the dashboard in place and puts its address in the bar.
            response = _dashboard(request, updated, saved=True)
            response.headers["HX-Push-Url"] = f"/organizer/events/{event.id}"
            return response
        return Redirect(path=f"/organizer/events/{event.id}?saved=1", status_code=303)

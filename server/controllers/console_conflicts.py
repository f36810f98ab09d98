"""The console's conflicts for an event: each with its ops, resolved by a person with a note.

A resolution is recorded beside the conflict (events/conflicts.py) and in the organizer's audit
log; the ops never change. Deciding is announced on the event's live channel, so the wall's
open count and any listener re-read.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from litestar import Controller, Request, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from events import audit, conflicts, registry
from events.db import write_transaction
from server import conflict_views, live
from server.auth import organizer_guard
from server.console_forms import event_or_404, in_event_or_404
from server.owners import MANAGER, STAFF
from server.pages import page
from server.reasons import (
    CONFLICT_KINDS,
    CONFLICT_ROLES,
    CONFLICT_STATUSES,
    CONFLICT_WORDS,
    DECISION_WORDS,
    OP_KINDS,
    SHOWN_WORDS,
)
from server.templating import catalogue

FILTERS = ("open", "resolved", "cleared", "all")
WORDS = {
    "kinds": CONFLICT_KINDS,
    "roles": CONFLICT_ROLES,
    "statuses": CONFLICT_STATUSES,
    "decisions": DECISION_WORDS,
    "op_kinds": OP_KINDS,
    "shown": SHOWN_WORDS,
}


class ResolutionForm(Struct):
    decision: str = ""
    note: str = ""


def _moments(request: Request, event: registry.Event):
    """Milliseconds → date and time to the second in the event's zone, the reader's way: which
    of two redemptions came first is often a matter of seconds."""
    zone, locale = ZoneInfo(event.timezone), catalogue(request).locale
    return lambda ms: format_datetime(datetime.fromtimestamp(ms / 1000, zone), "medium", locale=locale)


def _conflict_or_404(request: Request, event: registry.Event, conflict_id: int) -> conflicts.Conflict:
    return in_event_or_404(
        event, lambda: conflicts.get_conflict(request.app.state.db, conflict_id), f"conflict {conflict_id}"
    )


def _conflict_page(
    request: Request,
    event: registry.Event,
    conflict: conflicts.Conflict,
    *,
    status_code: int = 200,
    form: ResolutionForm | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> Template:
    return page(
        request,
        "console/conflict",
        status_code=status_code,
        event=event,
        words=WORDS,
        moment=_moments(request, event),
        item=conflict_views.view(request.app.state.db, conflict),
        form=form or ResolutionForm(),
        errors=errors or {},
        saved=saved,
        note_max=conflicts.NOTE_MAX,
    )


class ConsoleConflictsController(Controller):
    path = "/organizer/events/{event_id:str}/conflicts"
    guards = [organizer_guard]
    opt = {"owner": STAFF}  # staff read them; deciding is a manager's

    @get("/", sync_to_thread=False, name="console_conflicts")
    def index(self, request: Request, event_id: FromPath[str], status: FromQuery[str] = "open") -> Template:
        event = event_or_404(request, event_id)
        if status not in FILTERS:
            raise ValidationException(f"status is one of {', '.join(FILTERS)}")
        db = request.app.state.db
        return page(
            request,
            "console/conflicts",
            event=event,
            words=WORDS,
            moment=_moments(request, event),
            status=status,
            filters=FILTERS,
            counts=conflicts.counts(db, event.id),
            items=conflict_views.views(db, event.id, status=None if status == "all" else status),
        )

    @get("/{conflict_id:int}", sync_to_thread=False, name="console_conflict")
    def show(self, request: Request, event_id: FromPath[str], conflict_id: FromPath[int]) -> Template:
        event = event_or_404(request, event_id)
        return _conflict_page(request, event, _conflict_or_404(request, event, conflict_id))

    @post(
        "/{conflict_id:int}/resolve",
        sync_to_thread=False,
        name="console_conflict_resolve",
        status_code=303,
        opt={"owner": MANAGER},
    )
    def resolve(
        self,
        request: Request,
        event_id: FromPath[str],
        conflict_id: FromPath[int],
        data: URLEncodedBody[ResolutionForm],
    ) -> Template | Redirect:
        db, now_ms = request.app.state.db, int(request.app.state.clock() * 1000)
        event = event_or_404(request, event_id)
        conflict = _conflict_or_404(request, event, conflict_id)
        organizer = request.state.organizer
        try:
            # One transaction: the resolution and its audit record stand or fall together.
            with write_transaction(db):
                resolution = conflicts.resolve(
                    db, conflict.id, decided_by=organizer.name, decision=data.decision, note=data.note, now_ms=now_ms
                )
                audit.record(
                    db,
                    organizer.id,
                    "conflict.resolve",
                    event.id,
                    {
                        "conflict_id": conflict.id,
                        "kind": conflict.kind,
                        "subject": conflict.subject,
                        "decision": resolution.decision,
                        "note": resolution.note,
                    },
                    now=now_ms // 1000,
                )
        except conflicts.ResolutionRefused as refused:
            return _conflict_page(
                request,
                event,
                conflict,
                status_code=422,
                form=data,
                errors={refused.field: CONFLICT_WORDS[refused.reason]},
            )
        live.announce(request.app, event.id, [f"conflict:{conflict.id}"])
        if request.headers.get("hx-request") == "true":
            return _conflict_page(request, event, conflicts.get_conflict(db, conflict.id), saved=True)
        return Redirect(path=f"/organizer/events/{event.id}/conflicts/{conflict.id}", status_code=303)

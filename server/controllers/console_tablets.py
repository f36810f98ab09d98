"""The console's tablets for an event: enrollment QR codes, the device list, revocation.

An enrollment code is shown once, as text and as a QR code of the station's address with the code
in it (`/station?code=…`), which the tablet's camera or the station's own scanner reads; only its
hash is kept. Revoking a tablet distrusts its key (bar the tokens already seen) and tells it to
wipe itself at its next contact.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from events import audit, devices, projections, qr, registry
from events.db import write_transaction
from server.auth import organizer_guard
from server.console_forms import event_or_404, in_event_or_404
from server.owners import ORGANIZER
from server.pages import page
from server.reasons import N_

CODE_MINUTES = (15, 60, 240, 24 * 60)
TABLET_WORDS = {"name_missing": N_("A tablet needs a name, such as “Front desk”."), "bad_minutes": N_("Choose how long the code works.")}


class NewTablet(Struct):
    name: str = ""
    minutes: int = devices.DEFAULT_CODE_MINUTES


def _tablets_page(request: Request, event: registry.Event, *, status_code: int = 200, error: str = "",
                  enrollment: dict | None = None, name: str = "") -> Template:
    db = request.app.state.db
    return page(
        request, "console_tablets", status_code=status_code, event=event, error=error, enrollment=enrollment,
        tablet_name=name, minutes_choices=CODE_MINUTES, default_minutes=devices.DEFAULT_CODE_MINUTES,
        tablets=projections.device_states(db, event.id, now=int(request.app.state.clock())),
    )


class ConsoleTabletsController(Controller):
    path = "/organizer/events/{event_id:str}/tablets"
    guards = [organizer_guard]
    opt = {"owner": ORGANIZER}

    @get("/", sync_to_thread=False, name="console_tablets")
    def show(self, request: Request, event_id: FromPath[str]) -> Template:
        return _tablets_page(request, event_or_404(request, event_id))

    @post("/", sync_to_thread=False, name="console_tablet_code", status_code=200)
    def enrollment_code(self, request: Request, event_id: FromPath[str], data: URLEncodedBody[NewTablet]) -> Template:
        db, now = request.app.state.db, int(request.app.state.clock())
        event = event_or_404(request, event_id)
        if not data.name.strip():
            return _tablets_page(request, event, status_code=422, error=TABLET_WORDS["name_missing"])
        if data.minutes not in CODE_MINUTES:
            return _tablets_page(request, event, status_code=422, error=TABLET_WORDS["bad_minutes"], name=data.name)
        with write_transaction(db):
            code = devices.create_enrollment_code(db, event.id, name=data.name, now=now, minutes=data.minutes)
            audit.record(db, request.state.organizer.id, "tablet.code", event.id, {"name": data.name.strip()}, now=now)
        # The station's address with the code: the tablet's camera app or the station's scanner opens it.
        url = f"{request.base_url}".rstrip("/") + f"/station?code={code}"
        return _tablets_page(request, event, enrollment={
            "name": data.name.strip()[:80], "code": code, "expires_at": now + 60 * data.minutes, "url": url,
            "qr_svg": qr.svg(url, title=data.name.strip()[:80]),
        })

    @post("/{device_id:str}/revoke", sync_to_thread=False, name="console_tablet_revoke", status_code=303)
    def revoke(self, request: Request, event_id: FromPath[str], device_id: FromPath[str]) -> Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        event = event_or_404(request, event_id)
        device = in_event_or_404(event, lambda: devices.get_device(db, device_id), f"tablet {device_id!r}")
        with write_transaction(db):
            if device.revoked_at is None:
                allowlist = devices.revoke_device(db, device.id, now=now)
                audit.record(db, request.state.organizer.id, "tablet.revoke", event.id,
                             {"device_id": device.id, "name": device.name, "allowlist": len(allowlist)}, now=now)
        return Redirect(path=f"/organizer/events/{event.id}/tablets", status_code=303)

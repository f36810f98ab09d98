"""The console's tablets for an event: enrollment QR codes, the device list, revocation.

An enrollment code is shown once, as text and as a QR code of the station's address with the code
in it (`/station?code=…`), which the tablet's camera or the station's own scanner reads; only its
hash is kept. Revoking a tablet distrusts its key (bar the tokens already seen) and tells it to
wipe itself at its next contact; it cannot be undone, so it is asked twice: the list's "Revoke"
opens a confirmation (`GET …/revoke`), whose form posts `confirm=yes`.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from events import audit, devices, projections, registry
from events.db import write_transaction
from server import live, qr
from server.auth import organizer_guard
from server.console_forms import event_or_404, in_event_or_404
from server.owners import MANAGER
from server.pages import page
from server.reasons import N_

CODE_MINUTES = (15, 60, 240, 24 * 60)
TABLET_WORDS = {
    "name_missing": N_("A tablet needs a name, such as “Front desk”."),
    "bad_minutes": N_("Choose how long the code works."),
}


class NewTablet(Struct):
    name: str = ""
    minutes: int = devices.DEFAULT_CODE_MINUTES


class Revocation(Struct):
    confirm: str = ""  # "yes" from the confirmation's form; anything else only shows the confirmation


def _tablets_page(
    request: Request,
    event: registry.Event,
    *,
    status_code: int = 200,
    error: str = "",
    enrollment: dict | None = None,
    name: str = "",
) -> Template:
    db = request.app.state.db
    return page(
        request,
        "console/tablets",
        status_code=status_code,
        event=event,
        error=error,
        enrollment=enrollment,
        tablet_name=name,
        minutes_choices=CODE_MINUTES,
        default_minutes=devices.DEFAULT_CODE_MINUTES,
        tablets=projections.device_states(db, event.id, now=int(request.app.state.clock())),
    )


class ConsoleTabletsController(Controller):
    path = "/organizer/events/{event_id:str}/tablets"
    guards = [organizer_guard]
    opt = {"owner": MANAGER}

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
        station_url = f"{request.base_url}".rstrip("/") + "/station"
        url = f"{station_url}?code={code}"
        return _tablets_page(
            request,
            event,
            enrollment={
                "name": data.name.strip()[:80],
                "code": code,
                "expires_at": now + 60 * data.minutes,
                "url": url,
                "station_url": station_url,
                "qr_svg": qr.svg(url, title=data.name.strip()[:80]),
            },
        )

    @get("/{device_id:str}/revoke", sync_to_thread=False, name="console_tablet_revoke_confirm")
    def confirm_revoke(
        self, request: Request, event_id: FromPath[str], device_id: FromPath[str]
    ) -> Template | Redirect:
        return self._confirmation(request, event_or_404(request, event_id), device_id)

    @post("/{device_id:str}/revoke", sync_to_thread=False, name="console_tablet_revoke", status_code=303)
    def revoke(
        self, request: Request, event_id: FromPath[str], device_id: FromPath[str], data: URLEncodedBody[Revocation]
    ) -> Template | Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        event = event_or_404(request, event_id)
        if data.confirm != "yes":
            return self._confirmation(request, event, device_id)
        device = in_event_or_404(event, lambda: devices.get_device(db, device_id), f"tablet {device_id!r}")
        with write_transaction(db):
            if device.revoked_at is None:
                allowlist = devices.revoke_device(db, device.id, now=now)
                audit.record(
                    db,
                    request.state.organizer.id,
                    "tablet.revoke",
                    event.id,
                    {"device_id": device.id, "name": device.name, "allowlist": len(allowlist)},
                    now=now,
                )
        # Its rotation key was retired: open wallets fetch their new secrets now.
        live.announce(request.app, event.id, [live.ROTATION_KEYS])
        return Redirect(path=f"/organizer/events/{event.id}/tablets", status_code=303)

    @staticmethod
    def _confirmation(request: Request, event: registry.Event, device_id: str) -> Template | Redirect:
        db = request.app.state.db
        device = in_event_or_404(event, lambda: devices.get_device(db, device_id), f"tablet {device_id!r}")
        if device.revoked_at is not None:  # nothing left to confirm
            return Redirect(path=f"/organizer/events/{event.id}/tablets", status_code=303)
        # Only tablets are listed (the event's web device is not one), so only they can be revoked here.
        found = [
            t for t in projections.device_states(db, event.id, now=int(request.app.state.clock())) if t.id == device.id
        ]
        if not found:
            raise NotFoundException(f"no tablet {device_id!r}")
        return page(request, "console/tablet_revoke", event=event, tablet=found[0])

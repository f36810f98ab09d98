"""The post-event report: a printable page and CSV exports."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Stream, Template

from events import report
from server.auth import organizer_guard
from server.console_forms import event_or_404
from server.csv_export import csv_chunks
from server.owners import MANAGER, STAFF
from server.pages import page
from server.reasons import N_

# What each export holds, as the page lists them (the file names stay the ids).
EXPORT_WORDS = {
    "attendees": N_("Attendees (with phone and email)"),
    "checkins": N_("Check-ins"),
    "vouchers": N_("Vouchers"),
    "redemptions": N_("Redemptions"),
    "conflicts": N_("Conflicts"),
}


class ConsoleReportController(Controller):
    path = "/organizer/events/{event_id:str}/report"
    guards = [organizer_guard]
    opt = {"owner": STAFF}  # the figures; the exports carry names, phones and emails: managers

    @get("/", sync_to_thread=False, name="console_report")
    def show(self, request: Request, event_id: FromPath[str]) -> Template:
        event = event_or_404(request, event_id)
        return page(
            request,
            "console/report",
            event=event,
            report=report.build(request.app.state.db, event.id),
            exports=EXPORT_WORDS,
        )

    @get("/{name:str}", sync_to_thread=False, name="console_report_export", opt={"owner": MANAGER})
    def export(self, request: Request, event_id: FromPath[str], name: FromPath[str]) -> Stream:
        event = event_or_404(request, event_id)
        export_name = name.removesuffix(".csv")
        if not name.endswith(".csv") or export_name not in report.EXPORTS:
            raise NotFoundException(f"no export {name!r}")
        # Read on this thread (the shared connection); only the encoding is streamed.
        header, rows = report.export(request.app.state.db, event.id, export_name)
        return Stream(
            csv_chunks(header, rows),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="poppass-{event.id}-{export_name}.csv"',
                "Cache-Control": "no-store",  # attendees' contact details: not for shared caches
            },
        )

"""The console's attendee import: upload a CSV, map its columns, watch it run, read the report.

The uploaded table waits in memory (one process serves an event) until the organizer confirms
the mapping; the import then runs as a task on the event loop, one batch at a time, yielding
between batches so tablets' syncs are not held up. The progress page polls itself (htmx) while
it runs and shows the report when it is done.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, MultipartBody, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from events import audit, imports
from events.db import write_transaction
from server.auth import organizer_guard
from server.console_forms import event_or_404
from server.owners import MANAGER
from server.pages import page
from server.reasons import IMPORT_WORDS, SIGN_UP_WORDS

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 100,000 rows of name, phone and email fit in a few MB
log = logging.getLogger("poppass")
KEEP_S = 3600  # an upload or a finished import is forgotten an hour later
PREVIEW_ROWS = 5


@dataclass(frozen=True)
class UploadForm:
    file: UploadFile


class MappingForm(Struct):
    name: str = ""
    phone: str = ""
    email: str = ""


@dataclass
class PendingImport:
    event_id: str
    organizer_id: str
    filename: str
    table: imports.Table
    created: float
    report: imports.Report | None = None
    running: bool = False
    failed: str = ""
    task: asyncio.Task | None = field(default=None, repr=False)


def _imports(request: Request) -> dict[str, PendingImport]:
    store: dict[str, PendingImport] = request.app.state.imports
    for key in [k for k, v in store.items() if time.time() - v.created > KEEP_S and not v.running]:
        del store[key]
    return store


def _pending(request: Request, event_id: str, import_id: str) -> PendingImport:
    pending = _imports(request).get(import_id)
    if pending is None or pending.event_id != event_id:
        raise NotFoundException("no such import (they are kept for an hour)")
    return pending


def _column(text: str, table: imports.Table) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) < len(table.headers) else None


async def _run(db, pending: PendingImport, mapping: dict[str, int | None], now_ms: int) -> None:
    pending.running = True
    try:
        for report in imports.run(db, pending.event_id, pending.table, mapping, now_ms=now_ms):
            pending.report = report
            await asyncio.sleep(0)  # let waiting requests (tablets' syncs) use the database
        with write_transaction(db):
            audit.record(db, pending.organizer_id, "attendees.import", pending.event_id,
                         {"file": pending.filename, "rows": pending.report.total, "created": pending.report.created,
                          "duplicates": len(pending.report.duplicates), "errors": len(pending.report.errors)},
                         now=now_ms // 1000)
    except imports.ImportRefused as refused:
        pending.failed = refused.reason
    except Exception:  # noqa: BLE001 (the organizer must not read a part as the whole)
        # Each batch commits whole or not at all, so what is counted was added. Said on the page
        # and in the log, never a silent half import shown as done.
        log.exception("import %s into event %s stopped after %s rows", pending.filename, pending.event_id,
                      pending.report.done if pending.report else 0)
        pending.failed = "stopped"
    finally:
        pending.running = False


class ConsoleImportController(Controller):
    path = "/organizer/events/{event_id:str}/import"
    guards = [organizer_guard]
    opt = {"owner": MANAGER}

    @get("/", sync_to_thread=False, name="console_import")
    def upload_page(self, request: Request, event_id: FromPath[str]) -> Template:
        return page(request, "console_import", event=event_or_404(request, event_id), error="", step="upload")

    @post("/", name="console_import_upload", request_max_body_size=MAX_UPLOAD_BYTES + 64 * 1024)
    async def upload(self, request: Request, event_id: FromPath[str], data: MultipartBody[UploadForm]) -> Template:
        event = event_or_404(request, event_id)
        try:
            body = await data.file.read()
        finally:
            await data.file.close()
        try:
            table = imports.read_csv(body)
        except imports.ImportRefused as refused:
            return page(request, "console_import", status_code=422, event=event, error=IMPORT_WORDS[refused.reason],
                        step="upload")
        import_id = secrets.token_urlsafe(12)
        _imports(request)[import_id] = PendingImport(event.id, request.state.organizer.id, data.file.filename or "",
                                                     table, time.time())
        return page(request, "console_import", event=event, error="", step="map", import_id=import_id,
                    table=table, preview=table.rows[:PREVIEW_ROWS], guessed=imports.guess_mapping(table.headers),
                    fields=imports.FIELDS)

    @post("/{import_id:str}", sync_to_thread=False, name="console_import_start", status_code=303)
    def start(self, request: Request, event_id: FromPath[str], import_id: FromPath[str],
              data: URLEncodedBody[MappingForm]) -> Template | Redirect:
        event = event_or_404(request, event_id)
        pending = _pending(request, event.id, import_id)
        mapping = {name: _column(getattr(data, name), pending.table) for name in imports.FIELDS}
        if mapping["name"] is None or (mapping["phone"] is None and mapping["email"] is None):
            return page(request, "console_import", status_code=422, event=event, step="map", import_id=import_id,
                        error=IMPORT_WORDS["mapping_incomplete"], table=pending.table,
                        preview=pending.table.rows[:PREVIEW_ROWS], guessed=mapping, fields=imports.FIELDS)
        if not pending.running and pending.report is None:
            now_ms = int(request.app.state.clock() * 1000)
            pending.report = imports.Report(total=len(pending.table.rows))
            # Running from now, not from when the task first runs: the progress page asked for
            # next must not find an import that has not started and call it done with 0 added.
            pending.running = True
            pending.task = asyncio.get_running_loop().create_task(_run(request.app.state.db, pending, mapping, now_ms))
        return Redirect(path=f"/organizer/events/{event.id}/import/{import_id}", status_code=303)

    @get("/{import_id:str}", sync_to_thread=False, name="console_import_progress")
    def progress(self, request: Request, event_id: FromPath[str], import_id: FromPath[str]) -> Template:
        event = event_or_404(request, event_id)
        pending = _pending(request, event.id, import_id)
        return page(request, "console_import_progress", event=event, import_id=import_id, pending=pending,
                    report=pending.report, failed=IMPORT_WORDS.get(pending.failed, ""), row_words=SIGN_UP_WORDS)

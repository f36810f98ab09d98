"""The console's attendee import: upload a CSV, map its columns, watch it run, read the report.

Nothing of it waits in memory. Litestar's multipart parser spools the upload (1 MiB in memory,
then a temporary file; the request's size limit counts the bytes as they arrive), and the
handler copies it, a chunk at a time in a worker thread, into a 0600 file in the uploads
directory beside the database. The file is read as a stream in a worker thread too, and the
job (events/imports.py, table import_jobs) is what every page reads: upload -> map -> progress
-> report work the same after a restart. Once started, an ImportRunner task drives the job in
a worker thread on its own database connection, one short transaction a batch, so the event
loop (tablets' syncs, online redemptions) is never held up by more than one batch's commit. A
server that starts finds the jobs the last process left running and resumes them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import ScopeType
from litestar.exceptions import NotFoundException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.middleware import ASGIMiddleware
from litestar.params import FromPath, MultipartBody, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Receive, Scope, Send
from msgspec import Struct
from sqlite_utils import Database

from events import imports, registry
from server.auth import organizer_guard
from server.console_forms import event_or_404
from server.owners import MANAGER
from server.pages import page
from server.reasons import IMPORT_WORDS, SIGN_UP_WORDS

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 100,000 rows of name, phone and email fit in a few MB
FORM_OVERHEAD = 64 * 1024  # the CSRF field and the multipart framing around the file
log = logging.getLogger("poppass")
PREVIEW_ROWS = 5
# Between two pieces of an import, the loop serves what waits for it first: requests, then the import.
GIVE_WAY_S = 0.05
BUSY_MEMORY_S = 5.0  # requests seen this recently: the import writes small batches
# Rows read, checked and signed in one go on the event loop (a couple of milliseconds).
SLICE_ROWS = 20
# While requests come, the import takes at most this share of the event loop: each of its pieces
# is followed by a pause four times as long. Measured (bench/import_load.py): giving way only
# while a request was in flight, the import took 60 % of the loop and the requests the rest on
# a busy two-core machine, and each push queued behind its pieces (p50 4.5x, p99 4.4x of no
# import); an import nobody waits behind still runs flat out.
BUSY_SHARE = 0.2


@dataclass(frozen=True)
class UploadForm:
    file: UploadFile


class MappingForm(Struct):
    name: str = ""
    phone: str = ""
    email: str = ""


async def give_way(runner: ImportRunner) -> bool:
    """Let the requests in flight go first: yield while any HTTP request is being served (for
    GIVE_WAY_S at most, so an import still moves on a busy server, or beside a slow upload).
    A bare sleep(0) would take turns with each step of a request, and a push (ten or so steps)
    would wait for as many slices of the import. True when requests came since the last call:
    a push is often served whole between two of the import's turns, never seen in flight."""
    await asyncio.sleep(0)  # a request whose bytes came during the last piece starts in this turn
    deadline = time.monotonic() + GIVE_WAY_S
    while runner.in_flight > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    busy = runner.started != runner.seen
    runner.seen = runner.started
    return busy


def _watching_an_import(path: str) -> bool:
    """The import's own pages (its progress polls itself): the organizer waiting for the import
    is not someone it should slow down for."""
    return path.startswith("/organizer/events/") and "/import" in path


class RequestsInFlight(ASGIMiddleware):
    """Counts the HTTP requests being served, for the import to give way to them."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        runner: ImportRunner = scope["litestar_app"].state.imports
        runner.in_flight += 1
        if not _watching_an_import(scope["path"]):
            runner.started += 1
        try:
            await next_app(scope, receive, send)
        finally:
            runner.in_flight -= 1


class ImportRunner:
    """Drives started import jobs, one asyncio task each, held here (the event loop keeps only
    weak references to tasks).

    Everything runs on the event loop, in pieces that each hold it a few milliseconds: reading
    the next rows from the file, checking them and signing their passes, SLICE_ROWS at a time;
    then the batch's write (duplicates, the rows, the report lines and the job's progress, one
    transaction) on the shared connection, like every other write (docs/adr/0002). Why not a
    worker thread: measured (bench/import_load.py), a thread doing the same work took the GIL
    from the loop for its 5 ms switch interval at every SQLite call a push made, and a second
    connection writing made the loop's writers wait for SQLite's write lock in its busy
    handler, blocking the loop; both made pushes several times slower. Here a push waits at
    most for one slice or one batch's write, and while requests come the import takes at most
    BUSY_SHARE of the loop, so they never queue behind it."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self.db, self.clock = db, clock
        self.tasks: set[asyncio.Task] = set()
        self.stopping = False
        self.in_flight = 0  # HTTP requests being served (RequestsInFlight)
        self.started = self.seen = 0  # HTTP requests started; as many as the import last saw

    async def resume(self) -> None:
        """At start: forget old jobs and files, and take up the jobs left running."""
        imports.sweep(self.db, now=int(self.clock()))
        for job_id in imports.running_jobs(self.db):
            self.start(job_id, resumed=True)

    def start(self, job_id: str, *, resumed: bool = False) -> None:
        task = asyncio.get_running_loop().create_task(self._drive(job_id, resumed))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        """At shutdown: stop between batches; the jobs stay running and resume at the next start."""
        self.stopping = True
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _drive(self, job_id: str, resumed: bool) -> None:
        run = imports.open_run(self.db, job_id, resumed=resumed, clock=self.clock)
        if run is None:
            return
        try:
            busy_at = -1.0  # when requests were last seen waiting for the loop

            async def pace(started: float) -> None:
                nonlocal busy_at
                if await give_way(self):
                    busy_at = time.monotonic()
                if time.monotonic() - busy_at < BUSY_MEMORY_S:
                    await asyncio.sleep((time.monotonic() - started) * (1 / BUSY_SHARE - 1))

            while not self.stopping:
                parts: list[imports.Prepared] = []
                # Requests seen lately: small batches, so each waits a short write; none: large ones,
                # fewer commits (each an fsync), so an import nobody waits behind goes fast.
                size = imports.JOB_BATCH if time.monotonic() - busy_at < BUSY_MEMORY_S else imports.IDLE_BATCH
                while (have := sum(part.rows for part in parts)) < size:
                    started = time.monotonic()
                    part = run.prepare(min(SLICE_ROWS, size - have))
                    if part is None:
                        break
                    parts.append(part)
                    await pace(started)  # a slice at a time: the loop is never held for long
                if not parts:
                    run.finish()
                    return
                prepared = imports.Prepared.joined(parts)
                started = time.monotonic()
                for attempt in range(imports.LOCK_RETRIES + 1):
                    try:
                        run.store(prepared)
                        break
                    except Exception as error:
                        if not imports.locked(error) or attempt == imports.LOCK_RETRIES:
                            raise
                        log.warning("import job %s found the database locked; trying its batch again", job_id)
                        await asyncio.sleep(0.5 * (attempt + 1))
                        started = time.monotonic()
                await pace(started)
        except Exception as error:
            run.fail(error)
        finally:
            run.close()


def _runner(request: Request) -> ImportRunner:
    return request.app.state.imports


def _job(request: Request, event_id: str, job_id: str) -> imports.Job:
    job = imports.get_job(request.app.state.db, job_id)
    if job is None or job.event_id != event_id:
        raise NotFoundException("no such import (finished ones are kept for thirty days)")
    return job


def _column(text: str, headers: list[str]) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) < len(headers) else None


def _preview(job: imports.Job) -> list[list[str]]:
    try:
        return imports.preview(job, PREVIEW_ROWS)
    except (OSError, UnicodeDecodeError, ValueError):  # its file went with a finished job
        return []


def too_large(request: Request, exc: RequestEntityTooLarge) -> Template:
    """A body past the limit is refused while it arrives, before the sign-in is even checked:
    the plain error page, with the reason in the import's words. Nothing of it was kept."""
    return page(request, "shared/error", status_code=413, status=413, words=IMPORT_WORDS["too_large"])


class ConsoleImportController(Controller):
    path = "/organizer/events/{event_id:str}/import"
    guards = [organizer_guard]
    opt = {"owner": MANAGER}

    @get("/", sync_to_thread=False, name="console_import")
    def upload_page(self, request: Request, event_id: FromPath[str]) -> Template:
        return page(request, "console/import", event=event_or_404(request, event_id), error="", step="upload")

    @post(
        "/",
        name="console_import_upload",
        request_max_body_size=MAX_UPLOAD_BYTES + FORM_OVERHEAD,
        exception_handlers={RequestEntityTooLarge: too_large},
    )
    async def upload(self, request: Request, event_id: FromPath[str], data: MultipartBody[UploadForm]) -> Template:
        event = event_or_404(request, event_id)
        db = request.app.state.db
        imports.sweep(db, now=int(request.app.state.clock()))  # as well as at each start: a server may run for weeks
        directory = imports.uploads_directory(db)
        try:
            path, size = await anyio.to_thread.run_sync(
                functools.partial(imports.store_upload, data.file.file, directory, limit=MAX_UPLOAD_BYTES)
            )
            try:
                layout = await anyio.to_thread.run_sync(
                    functools.partial(imports.inspect_file, path, preview_rows=PREVIEW_ROWS)
                )
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        except imports.ImportRefused as refused:
            return page(
                request,
                "console/import",
                status_code=422,
                event=event,
                error=IMPORT_WORDS[refused.reason],
                step="upload",
            )
        finally:
            await data.file.close()
        job = imports.create_job(
            db,
            event_id=event.id,
            organizer_id=request.state.organizer.id,
            filename=data.file.filename or "",
            path=path,
            size=size,
            layout=layout,
            now=int(request.app.state.clock()),
        )
        return self._mapping(request, event, job, layout.preview, imports.guess_mapping(layout.headers))

    @staticmethod
    def _mapping(
        request: Request,
        event: registry.Event,
        job: imports.Job,
        preview: list[list[str]],
        guessed: dict[str, int | None],
        error: str = "",
    ) -> Template:
        return page(
            request,
            "console/import",
            status_code=422 if error else 200,
            event=event,
            error=error,
            step="map",
            import_id=job.id,
            headers=job.layout.headers,
            rows=job.rows_total,
            preview=preview,
            guessed=guessed,
            fields=imports.FIELDS,
        )

    @post("/{import_id:str}", sync_to_thread=False, name="console_import_start", status_code=303)
    def start(
        self, request: Request, event_id: FromPath[str], import_id: FromPath[str], data: URLEncodedBody[MappingForm]
    ) -> Template | Redirect:
        event = event_or_404(request, event_id)
        job = _job(request, event.id, import_id)
        mapping = {name: _column(getattr(data, name), job.layout.headers) for name in imports.FIELDS}
        if job.state == imports.UPLOADED:
            try:
                started = imports.start_job(
                    request.app.state.db, job.id, mapping, now_ms=int(request.app.state.clock() * 1000)
                )
            except imports.ImportRefused as refused:
                return self._mapping(request, event, job, _preview(job), mapping, IMPORT_WORDS[refused.reason])
            if started:  # marked running before the redirect: the progress page never finds it not begun
                _runner(request).start(job.id)
        return Redirect(path=f"/organizer/events/{event.id}/import/{job.id}", status_code=303)

    @get("/{import_id:str}", sync_to_thread=False, name="console_import_progress")
    def progress(self, request: Request, event_id: FromPath[str], import_id: FromPath[str]) -> Template:
        event = event_or_404(request, event_id)
        job = _job(request, event.id, import_id)
        if job.state == imports.UPLOADED:  # not started yet: back to its mapping
            return self._mapping(request, event, job, _preview(job), imports.guess_mapping(job.layout.headers))
        finished = job.state in imports.FINISHED
        errors = imports.job_lines(request.app.state.db, job.id, "error") if finished else []
        return page(
            request,
            "console/import_progress",
            event=event,
            import_id=job.id,
            job=job,
            error_lines=errors,
            failed=IMPORT_WORDS.get(job.failure, ""),
            row_words=SIGN_UP_WORDS,
        )

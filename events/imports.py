"""Importing pre-registered attendees from a CSV file (a sign-up form exported from elsewhere).

Three steps, each a plain function: read the file (any of the usual encodings and delimiters),
map its columns to name, phone and email (guessed from the headers, confirmed by the organizer),
then import in batches. Each new attendee gets a server-signed pass and is recorded as a
`register` op of the event's web device, exactly like an online sign-up, so tablets pull them and
the duplicate rules see them. A row whose phone or email is already known (in the event, or
earlier in the same batch) is a duplicate, not a second attendee; a row that cannot be imported is
reported with its line number and why. Nothing else stops the import.

The file is read as a stream from disk (`inspect_file`, `read_rows`): never the whole file, nor
all its rows, in memory. Rows of earlier batches are found as duplicates through the database
(indexed lookups), not a dict of every key met: memory stays flat at 100,000 rows, and a resumed
import decides exactly as an uninterrupted one would.

The console's import is a *job* (table `import_jobs`, m019): the file waits on disk, and
`run_job` imports it batch by batch, each batch's attendees, report lines and the job's progress
in one transaction, so after a crash the job goes on from its last committed batch and every row
is imported exactly once. It runs on a connection of its own, in a worker thread, so the event
loop (tablets' syncs, online redemptions) never waits for more than one batch's commit.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import json
import logging
import os
import secrets
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlite_utils import Database

from events import audit, campaigns, devices, merge, registry, signup, sync
from events.db import database_file, write_transaction
from events.ops import PROTOCOL, PushBatch, Register, RegisterData

FIELDS = ("name", "phone", "email")
BATCH = 500
# A console import's batch: one write transaction, on the event loop. While requests come, 25 rows
# (about 7 ms, half of it the commit's fsync: bench/import_load.py); when none came for 5 s,
# IDLE_BATCH (fewer commits: faster, but a request arriving then waits longer).
JOB_BATCH = 25
IDLE_BATCH = 100
MAX_ROWS = 100_000
SNIFF_CHARS = 64 * 1024
CHUNK = 256 * 1024
# Header words that name each field, lower-cased (English and Chinese exports).
_HEADER_WORDS = {
    "name": ("name", "full name", "姓名", "名字", "称呼"),
    "phone": ("phone", "mobile", "tel", "telephone", "phone number", "cell", "手机", "手机号", "电话", "联系电话"),
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮箱", "电子邮件"),
}
log = logging.getLogger("poppass")


class ImportRefused(ValueError):
    """A file that cannot be imported at all (not CSV, empty, too many rows, too large)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]  # the data rows; the file's line of row i is i + 2


@dataclass
class Report:
    total: int
    done: int = 0
    created: int = 0
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (line, the attendee id it matched)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, field)


@dataclass(frozen=True)
class Layout:
    """What reading a file found: how to read it again, its header row, how many data rows."""

    encoding: str
    dialect: dict  # csv.reader keyword arguments (delimiter, quotechar, …)
    headers: list[str]
    rows: int
    preview: list[list[str]]


# --- reading a file --------------------------------------------------------------------------------

_DIALECT_KEYS = ("delimiter", "quotechar", "doublequote", "skipinitialspace", "escapechar")


def _reader(binary: BinaryIO, encoding: str, dialect: dict) -> Iterator[list[str]]:
    """The file's non-blank rows, read as a stream (a chunk of text at a time)."""
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    try:
        for row in csv.reader(text, **dialect):
            if any(cell.strip() for cell in row):
                yield row
    finally:
        text.detach()


def _has_nul(binary: BinaryIO) -> bool:
    # In UTF-8 and GB18030 a NUL byte is only ever a NUL character: a binary file, not a sheet.
    binary.seek(0)
    while chunk := binary.read(CHUNK):
        if b"\x00" in chunk:
            return True
    return False


def _inspect(binary: BinaryIO, preview_rows: int) -> Layout:
    if _has_nul(binary):
        raise ImportRefused("not_text")
    for encoding in ("utf-8-sig", "gb18030"):
        binary.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            # Sniff the first SNIFF_CHARS characters, then count the rows with the dialect found:
            # a bad byte anywhere raises UnicodeDecodeError while counting.
            sample = decoder.decode(binary.read(SNIFF_CHARS))
            try:
                sniffed = csv.Sniffer().sniff(sample[:SNIFF_CHARS], delimiters=",;\t")
            except csv.Error:
                sniffed = csv.excel
            dialect = {key: getattr(sniffed, key) for key in _DIALECT_KEYS}
            binary.seek(0)
            with contextlib.closing(_reader(binary, encoding, dialect)) as reader:
                rows = _count(reader, preview_rows)
            headers, count, preview = rows
        except UnicodeDecodeError:
            continue
        except csv.Error:
            raise ImportRefused("not_csv") from None
        if headers is None or count == 0:
            raise ImportRefused("empty")
        return Layout(encoding, dialect, headers, count, preview)
    raise ImportRefused("not_text")


def _count(reader: Iterator[list[str]], preview_rows: int) -> tuple[list[str] | None, int, list[list[str]]]:
    """The header row, how many data rows, the first few of them."""
    headers: list[str] | None = None
    preview: list[list[str]] = []
    count = 0
    for row in reader:
        if headers is None:
            headers = [h.strip() for h in row]
            continue
        count += 1
        if count % 128 == 0:
            # Counting runs in a worker thread beside the event loop: hand the GIL over often, or
            # the loop waits the interpreter's 5 ms switch interval each time it wants it back.
            time.sleep(0)
        if count > MAX_ROWS:
            raise ImportRefused("too_many_rows")
        if len(preview) < preview_rows:
            preview.append(row)
    return headers, count, preview


def inspect_file(path: str | Path, *, preview_rows: int = 5) -> Layout:
    """How to read the file at `path`: UTF-8 (with or without BOM) or GB18030 (Excel in Chinese);
    comma, semicolon or tab separated. Reads it as a stream (twice at most, for the encoding);
    ImportRefused when it cannot be imported."""
    with open(path, "rb") as binary:
        return _inspect(binary, preview_rows)


def read_rows(path: str | Path, layout: Layout, *, skip: int = 0) -> Iterator[list[str]]:
    """The file's data rows after the first `skip`, as a stream."""
    with open(path, "rb") as binary, contextlib.closing(_reader(binary, layout.encoding, layout.dialect)) as rows:
        next(rows, None)  # the header row
        for index, row in enumerate(rows):
            if index >= skip:
                yield row


def read_csv(data: bytes) -> Table:
    """The header row and data rows of a file held in memory (tests, benchmarks; the console
    reads from disk with inspect_file and read_rows)."""
    layout = _inspect(io.BytesIO(data), 0)
    rows = list(_reader(io.BytesIO(data), layout.encoding, layout.dialect))
    return Table(layout.headers, rows[1:])


def guess_mapping(headers: list[str]) -> dict[str, int | None]:
    """Which column holds each field, from the header words (None: no column found)."""
    lowered = [h.strip().lower() for h in headers]
    mapping: dict[str, int | None] = {}
    for name in FIELDS:
        words = _HEADER_WORDS[name]
        exact = next((i for i, h in enumerate(lowered) if h in words), None)
        partial = next((i for i, h in enumerate(lowered) if any(w in h for w in words)), None)
        mapping[name] = exact if exact is not None else partial
    return mapping


def _check_mapping(mapping: dict[str, int | None]) -> None:
    if mapping.get("name") is None or (mapping.get("phone") is None and mapping.get("email") is None):
        raise ImportRefused("mapping_incomplete")


# --- importing rows --------------------------------------------------------------------------------


@dataclass
class Batch:
    created: int = 0
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)


def run(db: Database, event_id: str, table: Table, mapping: dict[str, int | None], *, now_ms: int) -> Iterator[Report]:
    """Import `table`; yields the report after each batch (for a progress bar), the last one
    complete. The caller may pause between batches so other requests get the database."""
    _check_mapping(mapping)
    report = Report(total=len(table.rows))
    for start in range(0, len(table.rows), BATCH):
        batch = import_batch(
            db, event_id, table.rows[start : start + BATCH], mapping, first_line=start + 2, now_ms=now_ms
        )
        report.created += batch.created
        report.duplicates += batch.duplicates
        report.errors += batch.errors
        report.done = min(start + BATCH, report.total)
        yield report


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def import_batch(
    db: Database, event_id: str, rows: list[list[str]], mapping: dict[str, int | None], *, first_line: int, now_ms: int
) -> Batch:
    """Import one batch of rows (the first on line `first_line`) in one transaction (joining the
    caller's, if any)."""
    checked, errors = check_rows(rows, mapping, first_line=first_line)
    return store_batch(db, event_id, checked, errors, now_ms=now_ms)


def check_rows(
    rows: list[list[str]], mapping: dict[str, int | None], *, first_line: int
) -> tuple[list[tuple[int, signup.Applicant]], list[tuple[int, str, str]]]:
    """Each row as an applicant, or why it cannot be one: no database, so no lock held for it."""
    checked: list[tuple[int, signup.Applicant]] = []
    errors: list[tuple[int, str, str]] = []
    for offset, row in enumerate(rows):
        line = first_line + offset
        try:
            checked.append(
                (
                    line,
                    signup.check(
                        signup.Applicant(
                            _cell(row, mapping["name"]),
                            _cell(row, mapping.get("phone")),
                            _cell(row, mapping.get("email")),
                            consent=True,
                        )
                    ),
                )
            )
        except signup.SignUpRefused as refused:
            errors.append((line, refused.reason, refused.field))
    return checked, errors


def store_batch(
    db: Database,
    event_id: str,
    checked: list[tuple[int, signup.Applicant]],
    errors: list[tuple[int, str, str]],
    *,
    now_ms: int,
    signed: list | None = None,
) -> Batch:
    """Add the checked applicants that are nobody known yet, with passes from `signed` (signed
    beforehand, one per applicant at least: those not needed are never stored nor shown) or
    signed now. Duplicates are found in the
    database (earlier batches, earlier sign-ups) and, for rows of this batch not stored yet, in
    `seen`: each dedup key met in this batch -> its attendee id, or the position of the row that
    brought it until passes are signed."""
    now = now_ms // 1000
    result = Batch(errors=list(errors))
    with write_transaction(db):
        web = devices.web_device(db, event_id, now=now)
        seen: dict[str, str | int] = {}
        accepted: list[signup.Applicant] = []
        waiting: list[tuple[int, int]] = []  # (index in result.duplicates, position in accepted)
        for line, applicant in checked:
            keys = merge.dedup_keys({"phone": applicant.phone, "email": applicant.email})
            known = next((seen[k] for k in keys if k in seen), None)
            if known is None:
                known = signup.find_attendee(db, event_id, phone=applicant.phone, email=applicant.email)
            if known is not None:
                if isinstance(known, int):
                    waiting.append((len(result.duplicates), known))
                result.duplicates.append((line, known if isinstance(known, str) else ""))
                seen.update({k: known for k in keys if k not in seen})
                continue
            seen.update(dict.fromkeys(keys, len(accepted)))
            accepted.append(applicant)
        if signed is not None:
            passes = signed[: len(accepted)]
            campaigns.store_passes(db, passes)
        else:
            passes = campaigns.issue_passes(db, event_id, len(accepted), now=now) if accepted else []
        for index, position in waiting:
            result.duplicates[index] = (result.duplicates[index][0], passes[position].id)
        ops = [
            Register(
                op_id="imp" + secrets.token_hex(12),
                device_seq=web.last_seq + index + 1,
                subject=pass_token.id,
                hlc_ms=now_ms,
                hlc_counter=index,
                device_time_ms=now_ms,
                corrected_time_ms=now_ms,
                clerk="import",
                data=RegisterData(
                    name=applicant.name,
                    consent=True,
                    phone=applicant.phone,
                    email=applicant.email,
                    pass_token=pass_token.text,
                ),
            )
            for index, (applicant, pass_token) in enumerate(zip(accepted, passes, strict=True))
        ]
        if ops:
            sync.push(
                db, web.id, PushBatch(protocol=PROTOCOL, device_id=web.id, sent_at_ms=now_ms, ops=ops), now_ms=now_ms
            )
            db.execute(
                f"update tokens set attendee_id = id where event_id = ? and id in ({','.join('?' * len(ops))})",
                [event_id, *(op.subject for op in ops)],
            )
        result.created = len(ops)
    return result


# --- the console's import jobs -------------------------------------------------------------------

# An upload never started is removed a day later; a finished job's report (its row and lines)
# thirty days later. The file of a finished job goes as soon as it finishes: the report is in
# the database. The audit log keeps the outcome for good.
KEEP_UPLOADED_S = 24 * 3600
KEEP_FINISHED_S = 30 * 24 * 3600
# A file in the uploads directory that no job names (the server stopped while copying it).
KEEP_STRAY_S = 3600
LOCK_RETRIES = 5  # a batch that found the database locked (another writer past the busy timeout) is tried again
RUNNING, UPLOADED, DONE, FAILED, PARTIAL = "running", "uploaded", "done", "failed", "partial"
FINISHED = (DONE, FAILED, PARTIAL)
_memory_uploads: Path | None = None


@dataclass(frozen=True)
class Job:
    id: str
    event_id: str
    organizer_id: str
    filename: str
    path: str
    size: int
    layout: Layout
    mapping: dict[str, int | None] | None
    state: str
    failure: str  # a reason of IMPORT_WORDS for failed and partial jobs
    rows_total: int
    rows_done: int  # the rows of every committed batch
    created: int
    duplicates: int
    errors: int
    created_at: int
    started_at: int | None
    finished_at: int | None
    now_ms: int | None  # the time the import was started: every batch's ops and passes carry it

    @property
    def running(self) -> bool:
        return self.state == RUNNING


def uploads_directory(db: Database) -> Path:
    """Where uploaded files wait: `<database file>.imports/`, 0700, beside the database (so on
    its disk, with its owner, and found again after a restart). A database in memory (tests)
    gets a private temporary directory for the process."""
    global _memory_uploads
    path = database_file(db)
    if not path:
        if _memory_uploads is None:
            _memory_uploads = Path(tempfile.mkdtemp(prefix="poppass-imports-"))  # 0700
        return _memory_uploads
    directory = Path(f"{path}.imports")
    directory.mkdir(mode=0o700, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) != 0o700:
        os.chmod(directory, 0o700)
    return directory


def store_upload(source: BinaryIO, directory: Path, *, limit: int) -> tuple[Path, int]:
    """Copy an uploaded file, a chunk at a time, into a new 0600 file in `directory`; its path and
    size. Beyond `limit` bytes, nothing is kept and ImportRefused("too_large") is raised. Blocking:
    call it in a worker thread."""
    path = directory / f"{secrets.token_hex(12)}.csv"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ImportRefused("too_large")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size


def _job(row: dict) -> Job:
    layout = Layout(row["encoding"], json.loads(row["dialect"]), json.loads(row["headers"]), row["rows_total"], [])
    return Job(
        row["id"],
        row["event_id"],
        row["organizer_id"],
        row["filename"],
        row["path"],
        row["size"],
        layout,
        json.loads(row["mapping"]) if row["mapping"] else None,
        row["state"],
        row["failure"] or "",
        row["rows_total"],
        row["rows_done"],
        row["created"],
        row["duplicates"],
        row["errors"],
        row["created_at"],
        row["started_at"],
        row["finished_at"],
        row["now_ms"],
    )


def create_job(
    db: Database, *, event_id: str, organizer_id: str, filename: str, path: Path, size: int, layout: Layout, now: int
) -> Job:
    job_id = secrets.token_urlsafe(12)
    with write_transaction(db):
        db["import_jobs"].insert(
            {
                "id": job_id,
                "event_id": event_id,
                "organizer_id": organizer_id,
                "filename": filename,
                "path": str(path),
                "size": size,
                "encoding": layout.encoding,
                "dialect": json.dumps(layout.dialect),
                "headers": json.dumps(layout.headers, ensure_ascii=False),
                "mapping": None,
                "state": UPLOADED,
                "failure": None,
                "rows_total": layout.rows,
                "rows_done": 0,
                "created": 0,
                "duplicates": 0,
                "errors": 0,
                "created_at": now,
                "started_at": None,
                "finished_at": None,
                "now_ms": None,
            }
        )
    return get_job(db, job_id)


def get_job(db: Database, job_id: str) -> Job | None:
    row = next(db.query("select * from import_jobs where id = ?", [job_id]), None)
    return _job(row) if row else None


def preview(job: Job, rows: int) -> list[list[str]]:
    """The first data rows of an uploaded file (for the mapping page)."""
    with contextlib.closing(read_rows(job.path, job.layout)) as stream:
        return list(itertools.islice(stream, rows))


def start_job(db: Database, job_id: str, mapping: dict[str, int | None], *, now_ms: int) -> bool:
    """Mark an uploaded job running with this mapping; False if it was started already (a second
    click imports nothing twice)."""
    _check_mapping(mapping)
    with write_transaction(db):
        started = db.execute(
            "update import_jobs set state = ?, mapping = ?, started_at = ?, now_ms = ? where id = ? and state = ?",
            [RUNNING, json.dumps(mapping), now_ms // 1000, now_ms, job_id, UPLOADED],
        ).rowcount
    return started == 1


def running_jobs(db: Database) -> list[str]:
    """Jobs marked running: at a server's start, those the last process left part way."""
    return [row["id"] for row in db.query("select id from import_jobs where state = ? order by started_at", [RUNNING])]


def job_lines(db: Database, job_id: str, kind: str, *, limit: int = 1000) -> list[dict]:
    return list(
        db.query(
            "select line, attendee_id, reason, field from import_job_lines where job_id = ? and kind = ? order by line limit ?",
            [job_id, kind, limit],
        )
    )


@dataclass
class Prepared:
    """A batch made ready without the database: its rows checked, its passes signed."""

    rows: int
    checked: list[tuple[int, signup.Applicant]]
    errors: list[tuple[int, str, str]]
    signed: list

    @staticmethod
    def joined(parts: list[Prepared]) -> Prepared:
        return Prepared(
            sum(p.rows for p in parts),
            [c for p in parts for c in p.checked],
            [e for p in parts for e in p.errors],
            [t for p in parts for t in p.signed],
        )


class JobRun:
    """One process's run of a job: `prepare` reads and checks the next batch and signs its
    passes (no database: a worker thread may call it), `store` writes it (the database: the
    connection's thread), `finish` or `fail` ends it. A run that simply stops between batches
    (a shutdown, a kill) leaves the job running, to be resumed."""

    def __init__(self, db: Database, job: Job, *, resumed: bool, clock: Callable[[], float], batch: int) -> None:
        self.db, self.job, self.clock, self.batch = db, job, clock, batch
        self.done = self.read = job.rows_done  # rows committed; rows prepared
        event = registry.get_event(db, job.event_id)
        self.key, self.valid_until = registry.issuing_key(db, job.event_id), event.ends_at
        if resumed:
            with write_transaction(db):
                audit.record(
                    db,
                    job.organizer_id,
                    "attendees.import",
                    job.event_id,
                    {
                        "outcome": "interrupted",
                        "file": job.filename,
                        "rows": job.rows_total,
                        "rows_done": job.rows_done,
                        "created": job.created,
                    },
                    now=int(clock()),
                )
            log.warning(
                "resuming the import of %s into event %s at row %s of %s",
                job.filename,
                job.event_id,
                job.rows_done,
                job.rows_total,
            )
        self.stream: Iterator[list[str]] | None = None

    def prepare(self, limit: int | None = None) -> Prepared | None:
        """The next `limit` rows (a batch by default) read, checked and with passes signed, ready
        to store; None after the last. No database: it may run in small slices on the event
        loop, or in a thread."""
        _check_mapping(self.job.mapping)
        if self.stream is None:
            self.stream = read_rows(self.job.path, self.job.layout, skip=self.read)
        rows = list(itertools.islice(self.stream, limit or self.batch))
        if not rows:
            return None
        checked, errors = check_rows(rows, self.job.mapping, first_line=self.read + 2)
        signed = campaigns.sign_passes(
            self.key, self.job.event_id, len(checked), now=self.job.now_ms // 1000, valid_until=self.valid_until
        )
        self.read += len(rows)
        return Prepared(len(rows), checked, errors, signed)

    def store(self, prepared: Prepared) -> Job:
        """One batch: its attendees, its report lines and the job's progress, one transaction."""
        job, db = self.job, self.db
        with write_transaction(db):
            progress = db.execute("select state, rows_done from import_jobs where id = ?", [job.id]).fetchone()
            if tuple(progress) != (RUNNING, self.done):  # never two runners over one job
                raise RuntimeError(f"import job {job.id} is at {tuple(progress)}, not ({RUNNING!r}, {self.done})")
            batch = store_batch(
                db, job.event_id, prepared.checked, prepared.errors, now_ms=job.now_ms, signed=prepared.signed
            )
            db.conn.executemany(
                "insert into import_job_lines (job_id, line, kind, attendee_id, reason, field) values (?, ?, ?, ?, ?, ?)",
                [(job.id, line, "duplicate", attendee, None, None) for line, attendee in batch.duplicates]
                + [(job.id, line, "error", None, reason, field_name) for line, reason, field_name in batch.errors],
            )
            db.execute(
                "update import_jobs set rows_done = ?, created = created + ?, duplicates = duplicates + ?, "
                "errors = errors + ? where id = ?",
                [self.done + prepared.rows, batch.created, len(batch.duplicates), len(batch.errors), job.id],
            )
        self.done += prepared.rows
        return get_job(db, job.id)

    def finish(self) -> Job:
        return self._end(DONE, "")

    def fail(self, error: BaseException) -> Job:
        """End the job after `error`: failed (nothing imported) or partial, with a reason."""
        if isinstance(error, ImportRefused):
            return self._end(FAILED, error.reason)
        # Each batch commits whole or not at all, so what is counted was added. Said on the page,
        # in the audit log and in the log, never a silent half import shown as done.
        log.error(
            "import %s into event %s stopped after %s rows",
            self.job.filename,
            self.job.event_id,
            self.done,
            exc_info=error,
        )
        return self._end(PARTIAL if self.done else FAILED, "stopped")

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()

    def _end(self, state: str, failure: str) -> Job:
        self.close()
        db, now = self.db, int(self.clock())
        with write_transaction(db):
            db.execute(
                "update import_jobs set state = ?, failure = ?, finished_at = ? where id = ? and state = ?",
                [state, failure or None, now, self.job.id, RUNNING],
            )
            job = get_job(db, self.job.id)
            detail = {
                "outcome": state,
                "file": job.filename,
                "rows": job.rows_total,
                "rows_done": job.rows_done,
                "created": job.created,
                "duplicates": job.duplicates,
                "errors": job.errors,
            }
            if failure:
                detail["reason"] = failure
            audit.record(db, job.organizer_id, "attendees.import", job.event_id, detail, now=now)
        Path(job.path).unlink(missing_ok=True)
        return job


def locked(error: BaseException) -> bool:
    """Whether `error` is SQLite's "database is locked" (another connection, a `poppass` command
    say, held the write lock past the busy timeout): the batch kept nothing and may be tried again."""
    return isinstance(error, sqlite3.OperationalError) and ("locked" in str(error) or "busy" in str(error))


def open_run(
    db: Database,
    job_id: str,
    *,
    resumed: bool = False,
    clock: Callable[[], float] = time.time,
    batch: int | None = None,
) -> JobRun | None:
    """A run of a running job from its last committed batch on (None if it is not running).
    `resumed`: a server's start found it running, left part way by a process that ended; that
    is recorded (audit outcome interrupted, with how far it had got)."""
    job = get_job(db, job_id)
    if job is None or not job.running:
        return None
    return JobRun(db, job, resumed=resumed, clock=clock, batch=batch or JOB_BATCH)


def run_job(
    db: Database,
    job_id: str,
    *,
    resumed: bool = False,
    clock: Callable[[], float] = time.time,
    batch: int | None = None,
) -> Iterator[Job]:
    """Run a job here, in this thread, yielding it after each batch (the server's runner does
    the same with `prepare` in a worker thread). Outcomes, each with an audit record (action
    attendees.import): done; failed (nothing imported: the mapping or the file would not do);
    partial (stopped part way by an error: how many rows). Closing the generator between
    batches leaves the job running, as a kill would."""
    run = open_run(db, job_id, resumed=resumed, clock=clock, batch=batch)
    if run is None:
        return
    try:
        while (prepared := run.prepare()) is not None:
            yield run.store(prepared)
        job = run.finish()
    except Exception as error:
        job = run.fail(error)
    finally:
        run.close()
    yield job


def sweep(db: Database, *, now: int) -> int:
    """Remove uploads never started (a day), finished jobs' reports (thirty days) and stray
    files; how many jobs went."""
    with write_transaction(db):
        old = [
            dict(row)
            for row in db.query(
                "select id, path from import_jobs where (state = ? and created_at < ?) or (state in (?, ?, ?) and finished_at < ?)",
                [UPLOADED, now - KEEP_UPLOADED_S, *FINISHED, now - KEEP_FINISHED_S],
            )
        ]
        for row in old:
            db.execute("delete from import_job_lines where job_id = ?", [row["id"]])
            db.execute("delete from import_jobs where id = ?", [row["id"]])
        known = {row["path"] for row in db.query("select path from import_jobs")}
    for row in old:
        Path(row["path"]).unlink(missing_ok=True)
    directory = uploads_directory(db)
    for stray in directory.glob("*.csv"):
        with contextlib.suppress(FileNotFoundError):
            if str(stray) not in known and stray.stat().st_mtime < now - KEEP_STRAY_S:
                stray.unlink()
    return len(old)

"""Importing pre-registered attendees from a CSV file (a sign-up form exported from elsewhere).

Three steps, each a plain function: read the file (any of the usual encodings and delimiters),
map its columns to name, phone and email (guessed from the headers, confirmed by the organizer),
then import in batches. Each new attendee gets a server-signed pass and is recorded as a
`register` op of the event's web device, exactly like an online sign-up, so tablets pull them and
the duplicate rules see them. A row whose phone or email is already known (in the event or
earlier in the file) is a duplicate, not a second attendee; a row that cannot be imported is
reported with its line number and why. Nothing else stops the import.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlite_utils import Database

from events import campaigns, devices, merge, signup, sync
from events.db import write_transaction
from events.ops import PROTOCOL, PushBatch, Register, RegisterData

FIELDS = ("name", "phone", "email")
BATCH = 500
MAX_ROWS = 100_000
# Header words that name each field, lower-cased (English and Chinese exports).
_HEADER_WORDS = {
    "name": ("name", "full name", "姓名", "名字", "称呼"),
    "phone": ("phone", "mobile", "tel", "telephone", "phone number", "cell", "手机", "手机号", "电话", "联系电话"),
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮箱", "电子邮件"),
}


class ImportRefused(ValueError):
    """A file that cannot be imported at all (not CSV, empty, too many rows)."""

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


def read_csv(data: bytes) -> Table:
    """The file's header row and data rows. UTF-8 (with or without BOM) or GB18030 (Excel in
    Chinese); comma, semicolon or tab separated."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportRefused("not_text")
    if "\x00" in text:
        raise ImportRefused("not_text")
    sample = text[:64 * 1024]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    except csv.Error:
        raise ImportRefused("not_csv") from None
    if len(rows) < 2:
        raise ImportRefused("empty")
    if len(rows) - 1 > MAX_ROWS:
        raise ImportRefused("too_many_rows")
    return Table([h.strip() for h in rows[0]], rows[1:])


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


def run(db: Database, event_id: str, table: Table, mapping: dict[str, int | None], *, now_ms: int) -> Iterator[Report]:
    """Import `table`; yields the report after each batch (for a progress bar), the last one
    complete. The caller may pause between batches so other requests get the database."""
    if mapping.get("name") is None or (mapping.get("phone") is None and mapping.get("email") is None):
        raise ImportRefused("mapping_incomplete")
    report = Report(total=len(table.rows))
    seen: dict[str, str | int] = {}  # a dedup key -> attendee id, for this file and what the event had
    for start in range(0, len(table.rows), BATCH):
        _batch(db, event_id, table, mapping, start, report, seen, now_ms=now_ms)
        yield report


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def _batch(db: Database, event_id: str, table: Table, mapping: dict[str, int | None], start: int, report: Report,
           seen: dict[str, str | int], *, now_ms: int) -> None:
    """Import one batch. `seen` maps each dedup key met so far to its attendee id (or, within
    this batch, before passes are signed, to the position of the row that brought it)."""
    now = now_ms // 1000
    with write_transaction(db):
        web = devices.web_device(db, event_id, now=now)
        accepted: list[signup.Applicant] = []
        waiting: list[tuple[int, int]] = []  # (index in report.duplicates, position in accepted)
        for offset, row in enumerate(table.rows[start : start + BATCH]):
            line = start + offset + 2
            applicant = signup.Applicant(_cell(row, mapping["name"]), _cell(row, mapping.get("phone")),
                                         _cell(row, mapping.get("email")), consent=True)
            try:
                applicant = signup.check(applicant)
            except signup.SignUpRefused as refused:
                report.errors.append((line, refused.reason, refused.field))
                continue
            keys = merge.dedup_keys({"phone": applicant.phone, "email": applicant.email})
            known = next((seen[k] for k in keys if k in seen), None)
            if known is None:
                known = signup.find_attendee(db, event_id, phone=applicant.phone, email=applicant.email)
            if known is not None:
                if isinstance(known, int):
                    waiting.append((len(report.duplicates), known))
                report.duplicates.append((line, known if isinstance(known, str) else ""))
                seen.update({k: known for k in keys if k not in seen})
                continue
            seen.update(dict.fromkeys(keys, len(accepted)))
            accepted.append(applicant)
        passes = campaigns.issue_passes(db, event_id, len(accepted), now=now) if accepted else []
        for key, value in seen.items():  # the rows of this batch now have their ids
            if isinstance(value, int):
                seen[key] = passes[value].id
        for index, position in waiting:
            report.duplicates[index] = (report.duplicates[index][0], passes[position].id)
        ops = [
            Register(
                op_id="imp" + secrets.token_hex(12), device_seq=web.last_seq + index + 1, subject=pass_token.id,
                hlc_ms=now_ms, hlc_counter=index, device_time_ms=now_ms, corrected_time_ms=now_ms, clerk="import",
                data=RegisterData(name=applicant.name, consent=True, phone=applicant.phone, email=applicant.email,
                                  pass_token=pass_token.text),
            )
            for index, (applicant, pass_token) in enumerate(zip(accepted, passes))
        ]
        if ops:
            sync.push(db, web.id, PushBatch(protocol=PROTOCOL, device_id=web.id, sent_at_ms=now_ms, ops=ops), now_ms=now_ms)
            db.execute(
                f"update tokens set attendee_id = id where event_id = ? and id in ({','.join('?' * len(ops))})",
                [event_id, *(op.subject for op in ops)],
            )
        report.created += len(ops)
        report.done = min(start + BATCH, report.total)

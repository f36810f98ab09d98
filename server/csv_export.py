"""The report's exports written as CSV for download: the domain (events/report.py) gives a header
and rows; how a spreadsheet reads them safely is decided here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP's CSV
    injection advice). Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(header: list[str], rows: Iterable[list], *, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (so Excel reads Chinese names), CRLF lines, guarded cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([safe_cell(cell) for cell in header])
    for count, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(cell) for cell in row])
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()

"""The op log: its sequence, its inserts and its reads by cursor. The only module that numbers
ops or writes them; everything else reads the log through these functions or through the
projections built from it.

Pull never skips an op (docs/adr/0010-the-log-and-its-horizon.md): a number is taken from the
one `log_counter` row inside the writing transaction, so writers queue on that row and commit in
the order of their numbers; a pull then reads its page and the log's position in one snapshot,
so the cursor it hands out never passes an op the page did not hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlite_utils import Database

from events.db import read_snapshot

CHUNK = 500  # op ids per IN (...) query
COLUMNS = (
    "seq",
    "op_id",
    "event_id",
    "device_id",
    "device_seq",
    "kind",
    "subject",
    "hlc_ms",
    "hlc_counter",
    "device_time_ms",
    "corrected_time_ms",
    "clerk",
    "data",
    "received_at_ms",
    "suspect",
)
_INSERT = f"insert into ops ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})"


def allocate(db: Database, count: int) -> int:
    """Reserve `count` numbers of the log sequence (shared by all events); returns the first.

    Call it inside the write transaction that stores the ops: the counter row stays locked
    until that transaction ends, which is what keeps commit order and number order the same."""
    db.execute(
        "insert into log_counter (name, value) values ('log', ?) "
        "on conflict (name) do update set value = value + excluded.value",
        [count],
    )
    (top,) = db.execute("select value from log_counter where name = 'log'").fetchone()
    return top - count + 1


def position(db: Database) -> int:
    """The last number handed out (0 for an empty log): every op at or below it is committed
    or was rolled back with its number unused."""
    row = db.execute("select value from log_counter where name = 'log'").fetchone()
    return row[0] if row else 0


def append(db: Database, rows: Sequence[tuple]) -> set[int]:
    """Store rows (in COLUMNS order, numbered by `allocate`) whose op_id is new; returns the
    numbers that landed. The unique index on op_id does the checking: when every row lands (the
    usual case) nothing is read back."""
    if not rows:
        return set()
    before = db.conn.total_changes
    db.conn.executemany(_INSERT + " on conflict (op_id) do nothing", rows)
    numbers = {row[0] for row in rows}
    if db.conn.total_changes - before == len(rows):
        return numbers
    low, high = min(numbers), max(numbers)
    return {seq for (seq,) in db.conn.execute("select seq from ops where seq between ? and ?", [low, high])} & numbers


def stored_op_ids(db: Database, op_ids: list[str]) -> set[str]:
    """Which of these op ids the log already holds."""
    found: set[str] = set()
    for chunk in _chunks(op_ids):
        marks = ",".join("?" * len(chunk))
        found |= {row[0] for row in db.execute(f"select op_id from ops where op_id in ({marks})", chunk)}
    return found


def find(db: Database, op_id: str) -> tuple[int, str, str, str, str] | None:
    """(seq, data, kind, device_id, subject) of the op stored under `op_id`, or None."""
    return db.execute("select seq, data, kind, device_id, subject from ops where op_id = ?", [op_id]).fetchone()


def page_after(
    db: Database,
    event_id: str,
    *,
    after: int,
    limit: int,
    skip_device: str,
    columns: str,
    params: dict | None = None,
) -> tuple[list[tuple], int, bool]:
    """One page of the event's ops numbered above `after` (at most `limit`, in number order,
    none written by `skip_device`), the cursor that page brings the reader to, and whether more
    follow. The select list `columns` starts with seq.

    `columns` is the select list (a pull rewrites some data on the way out); `params` fills any
    names it uses. Read in one snapshot with the log's position: without it, a writer
    committing between the two reads (another connection, or another process) would move the
    cursor past ops the page never held, and the reader would miss them for good."""
    with read_snapshot(db):
        rows = db.conn.execute(
            f"select {columns} from ops where event_id = :event_id and seq > :after and device_id != :device_id "
            "order by seq limit :limit",
            {**(params or {}), "event_id": event_id, "after": after, "device_id": skip_device, "limit": limit + 1},
        ).fetchall()
        # A full page ends at its last op; a short one has everything up to the log's position,
        # including numbers that belong to other events or to this reader's own ops.
        more = len(rows) > limit
        cursor = rows[limit - 1][0] if more else position(db)
    return rows[:limit], max(cursor, after), more


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]

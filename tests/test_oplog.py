"""The op log's owner (events/oplog.py): numbers, inserts, and pages that never skip an op."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from events import oplog, sync
from events.db import open_database
from tests.support.tablet import enroll, push

NOW = 1_750_000_000


def test_numbers_are_handed_out_in_order_and_never_twice(db: Database) -> None:
    assert oplog.position(db) == 0
    assert oplog.allocate(db, 3) == 1
    assert oplog.allocate(db, 1) == 4
    assert oplog.position(db) == 4


def test_a_page_read_while_another_connection_commits_never_moves_the_cursor_past_an_op(
    db: Database, event, tmp_path: Path
) -> None:
    """Two servers on one file (or two connections of one) are the case that lost ops: the pull
    read its page, the other committed, and the pull then read the log's newer position as its
    cursor. Here the other connection commits exactly between those two reads."""
    reader, writer = enroll(db, event.id, "Reader", now=NOW), enroll(db, event.id, "Writer", now=NOW)
    writer.register("Ada", now_ms=NOW * 1000)
    push(db, writer, NOW * 1000 + 10)
    other = open_database(Path(db.conn.execute("PRAGMA database_list").fetchone()[2]))
    late = []

    def commit_between_the_reads(statement: str) -> None:
        # The trace callback runs as each statement starts: at the position's read, the page
        # has been read, and the other connection commits a new op.
        if "from log_counter" in statement and not late:
            writer.register("Grace", now_ms=NOW * 1000 + 20)
            late.append(push(other, writer, NOW * 1000 + 30))

    db.conn.set_trace_callback(commit_between_the_reads)
    try:
        first = sync.pull(db, reader.device_id, after=0, now_ms=NOW * 1000 + 40)
    finally:
        db.conn.set_trace_callback(None)
        other.close()
    assert late, "the other connection committed during the pull"
    second = sync.pull(db, reader.device_id, after=first.cursor, now_ms=NOW * 1000 + 50)
    names = [op["data"] for op in first.ops + second.ops]
    assert [b'"Ada"' in bytes(data) for data in names].count(True) == 1
    assert [b'"Grace"' in bytes(data) for data in names].count(True) == 1


def test_a_full_page_ends_at_its_last_op_and_says_more_follow(db: Database, event) -> None:
    reader, writer = enroll(db, event.id, "Reader", now=NOW), enroll(db, event.id, "Writer", now=NOW)
    for index in range(5):
        writer.register(f"Guest {index}", now_ms=NOW * 1000 + index)
    push(db, writer, NOW * 1000 + 10)
    pages, after = [], 0
    while True:
        page = sync.pull(db, reader.device_id, after=after, limit=2, now_ms=NOW * 1000 + 20)
        pages.append([op["seq"] for op in page.ops])
        after = page.cursor
        if not page.more:
            break
    assert pages == [[1, 2], [3, 4], [5]]
    assert after == oplog.position(db)


def test_append_keeps_an_op_id_once_and_says_which_numbers_landed(db: Database, event) -> None:
    writer = enroll(db, event.id, "Writer", now=NOW)
    writer.register("Ada", now_ms=NOW * 1000)
    push(db, writer, NOW * 1000 + 10)
    (stored,) = db.execute("select * from ops").fetchall()
    again = (oplog.allocate(db, 1), *stored[1:])
    assert oplog.append(db, [again]) == set()
    assert oplog.stored_op_ids(db, [stored[1], "opNeverSeen"]) == {stored[1]}
    assert oplog.find(db, stored[1])[0] == stored[0]

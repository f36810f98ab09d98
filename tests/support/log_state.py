"""What a run leaves in the database, in a form two runs can be compared by: the ops as the
tablets sent them, the projections, each device's position and the conflicts still standing.
Used by the sync property tests and the crash-recovery harness (tests/support/faults.py)."""

from __future__ import annotations

import json
from collections import Counter

from sqlite_utils import Database

from events import conflicts


def stored_ops(db: Database) -> Counter:
    """Every stored op as the device sent it (not when or in which batch it arrived), counted."""
    return Counter(
        tuple(row)
        for row in db.execute(
            "select op_id, device_id, device_seq, kind, subject, hlc_ms, hlc_counter, device_time_ms, "
            "corrected_time_ms, clerk, data from ops"
        )
    )


def table(db: Database, name: str) -> list[dict]:
    return sorted((dict(row) for row in db[name].rows), key=lambda row: json.dumps(row, sort_keys=True, default=str))


def standing_conflicts(db: Database, event_id: str) -> dict[tuple[str, str], tuple[str, dict, dict]]:
    """(kind, subject) -> (status, op roles, detail) of every conflict not cleared. A conflict
    that an early arrival opened and a later one cleared is as good as never opened."""
    return {
        (c.kind, c.subject): (c.status, c.roles, c.detail)
        for c in conflicts.list_conflicts(db, event_id)
        if c.status != "cleared"
    }


def state(db: Database, event_id: str) -> dict:
    return {
        "ops": stored_ops(db),
        "attendees": table(db, "attendees"),
        "tokens": table(db, "tokens"),
        "device_positions": {row["id"]: row["last_seq"] for row in db["devices"].rows},
        "conflicts": standing_conflicts(db, event_id),
    }

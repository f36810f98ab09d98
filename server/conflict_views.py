"""What the console shows of a conflict: the record, what it is about, its ops, the decisions
so far and the ones a person may take, bundled for one card. The rules and the storage are
events/conflicts.py's; this only gathers them in the order the page reads them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from events import conflicts
from events.conflicts import Conflict, ConflictOp, ConflictSubject, Resolution


@dataclass(frozen=True)
class ConflictView:
    conflict: Conflict
    subject: ConflictSubject
    ops: list[ConflictOp]
    resolutions: list[Resolution]
    decisions: tuple[str, ...]


def view(db: Database, conflict: Conflict) -> ConflictView:
    return ConflictView(
        conflict,
        conflicts.describe(db, conflict),
        conflicts.conflict_ops(db, conflict.id),
        conflicts.resolutions(db, conflict.id),
        conflicts.decisions_for(conflict.kind),
    )


def views(db: Database, event_id: str, *, status: str | None = None) -> list[ConflictView]:
    """The event's conflicts with everything the page shows, the newest first."""
    found = conflicts.list_conflicts(db, event_id, status=status)
    return [view(db, conflict) for conflict in sorted(found, key=lambda c: c.id, reverse=True)]

"""Organizations: who owns an event, and what each organizer account may do in it.

An organization holds events; organizer accounts are its members, each with one role:

- **owner**: everything, including the organization's members;
- **manager**: the events themselves, campaigns, tablets, conflicts, imports and exports;
- **staff**: the wall, the conflicts read-only and the report without personal data.

An account belongs to one organization at most (the unique index on `memberships`), so "the
creator's organization" of a new event is never ambiguous. An event belongs to exactly one
(`organization_events`); an event that no organization holds is nobody's: the console shows it
to no one. An organization always keeps one owner who can sign in: the last enabled one can be
neither removed, demoted nor disabled, so nobody is ever left unable to manage its members.

Owners look after the other members' accounts too (the account itself is events/organizers.py's):
reset a lost second factor or password, disable an account and enable it again. Nobody does that
to their own account here: one's own password is changed on the Account page, and the last
owner who lost theirs is reset by whoever holds the server (`poppass reset-password`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlite_utils import Database

from events import organizers, registry
from events.db import write_transaction
from events.refusal import Refusal

OWNER, MANAGER, STAFF = "owner", "manager", "staff"
ROLES = (OWNER, MANAGER, STAFF)  # from the most to the least allowed
_RANK = {STAFF: 0, MANAGER: 1, OWNER: 2}
NAME_MAX = 120


class MembershipRefused(Refusal):
    """A change to an organization's members that cannot be made; `reason` says why."""


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    created_at: int


@dataclass(frozen=True)
class Member:
    organizer_id: str
    name: str
    email: str
    role: str
    added_at: int
    disabled: bool = False


@dataclass(frozen=True)
class Membership:
    organization: Organization
    role: str


def allows(role: str | None, needed: str) -> bool:
    """Whether `role` may do what needs `needed` (an owner may do all a manager may, and so on)."""
    return role in _RANK and _RANK[role] >= _RANK[needed]


def _organization(row: dict) -> Organization:
    return Organization(row["id"], row["name"], row["created_at"])


def create_organization(db: Database, *, name: str, now: int) -> Organization:
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise ValueError(f"an organization needs a name (at most {NAME_MAX} characters)")
    organization = Organization("og" + secrets.token_hex(8), name, now)
    with write_transaction(db):
        db["organizations"].insert(vars(organization))
    return organization


def list_organizations(db: Database) -> list[Organization]:
    return [_organization(row) for row in db["organizations"].rows_where(order_by="created_at, id")]


def find_organization(db: Database, id_or_name: str) -> Organization | None:
    """The organization with this id, or else the one with exactly this name."""
    rows = db.execute(
        "select * from organizations where id = ? or name = ? order by id = ? desc, created_at limit 1",
        [id_or_name, id_or_name.strip(), id_or_name],
    ).fetchall()
    columns = ("id", "name", "created_at")
    return _organization(dict(zip(columns, rows[0], strict=True))) if rows else None


def membership(db: Database, organizer_id: str) -> Membership | None:
    """The account's organization and role, or None: an account in no organization sees nothing."""
    row = db.execute(
        "select o.id, o.name, o.created_at, m.role from memberships m join organizations o on o.id = m.organization_id "
        "where m.organizer_id = ?",
        [organizer_id],
    ).fetchone()
    return None if row is None else Membership(Organization(row[0], row[1], row[2]), row[3])


def organization_of_event(db: Database, event_id: str) -> str | None:
    row = db.execute("select organization_id from organization_events where event_id = ?", [event_id]).fetchone()
    return row[0] if row else None


def role_in_event(db: Database, organizer_id: str, event_id: str) -> str | None:
    """The account's role in the organization holding `event_id`; None when the event is unknown,
    held by no organization or by another one: the three are one answer, so a caller cannot learn
    that another organization's event exists."""
    row = db.execute(
        "select m.role from organization_events e join memberships m on m.organization_id = e.organization_id "
        "where e.event_id = ? and m.organizer_id = ?",
        [event_id, organizer_id],
    ).fetchone()
    return row[0] if row else None


def visible_events(db: Database, organizer_id: str) -> list[registry.Event]:
    """The events of the account's organization, in the registry's order."""
    held = {
        row[0]
        for row in db.execute(
            "select e.event_id from organization_events e join memberships m on m.organization_id = e.organization_id "
            "where m.organizer_id = ?",
            [organizer_id],
        )
    }
    return [event for event in registry.list_events(db) if event.id in held]


def place_event(db: Database, event_id: str, organization_id: str) -> None:
    """Give a new event to an organization. An event changes hands never: a second placement is refused."""
    with write_transaction(db):
        held_by = organization_of_event(db, event_id)
        if held_by is not None:
            raise ValueError(f"event {event_id} already belongs to an organization")
        db["organization_events"].insert({"event_id": event_id, "organization_id": organization_id})


def adopt_unheld_events(db: Database, organization_id: str) -> list[str]:
    """Give the organization every event no organization holds (the demo's, seeded before any
    organizer existed); returns their ids."""
    with write_transaction(db):
        ids = [
            row[0]
            for row in db.execute(
                "select id from events where id not in (select event_id from organization_events) order by created_at, id"
            )
        ]
        db["organization_events"].insert_all({"event_id": i, "organization_id": organization_id} for i in ids)
    return ids


def members(db: Database, organization_id: str) -> list[Member]:
    """The organization's members: owners first, then managers, then staff, each by name."""
    rows = db.execute(
        "select o.id, o.name, o.email, m.role, m.added_at, o.disabled_at is not null "
        "from memberships m join organizers o on o.id = m.organizer_id "
        "where m.organization_id = ?",
        [organization_id],
    ).fetchall()
    found = [Member(*row[:5], bool(row[5])) for row in rows]
    return sorted(found, key=lambda m: (-_RANK[m.role], m.name.casefold(), m.email))


def member(db: Database, organization_id: str, organizer_id: str) -> Member | None:
    return next((m for m in members(db, organization_id) if m.organizer_id == organizer_id), None)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise MembershipRefused("unknown_role", f"a role is one of {', '.join(ROLES)}")


def add_member(db: Database, organization_id: str, organizer_id: str, role: str, *, now: int) -> Member:
    _check_role(role)
    with write_transaction(db):
        if not db.execute("select 1 from organizers where id = ?", [organizer_id]).fetchone():
            raise MembershipRefused("unknown_account", organizer_id)
        held = membership(db, organizer_id)
        if held is not None:
            raise MembershipRefused(
                "already_member" if held.organization.id == organization_id else "in_another_organization", organizer_id
            )
        db["memberships"].insert(
            {"organization_id": organization_id, "organizer_id": organizer_id, "role": role, "added_at": now}
        )
    return member(db, organization_id, organizer_id)


def _last_owner(db: Database, organization_id: str, member: Member) -> bool:
    """Whether `member` is the only owner left who can sign in: a disabled owner manages nothing."""
    enabled_owners = db.execute(
        "select count(*) from memberships m join organizers o on o.id = m.organizer_id "
        "where m.organization_id = ? and m.role = ? and o.disabled_at is null",
        [organization_id, OWNER],
    ).fetchone()[0]
    return member.role == OWNER and not member.disabled and enabled_owners == 1


def _existing(db: Database, organization_id: str, organizer_id: str) -> Member:
    found = member(db, organization_id, organizer_id)
    if found is None:
        raise MembershipRefused("not_a_member", organizer_id)
    return found


def change_role(db: Database, organization_id: str, organizer_id: str, role: str) -> Member:
    _check_role(role)
    with write_transaction(db):
        current = _existing(db, organization_id, organizer_id)
        if role != OWNER and _last_owner(db, organization_id, current):
            raise MembershipRefused("last_owner", "an organization keeps at least one owner")
        db.execute(
            "update memberships set role = ? where organization_id = ? and organizer_id = ?",
            [role, organization_id, organizer_id],
        )
    return member(db, organization_id, organizer_id)


def remove_member(db: Database, organization_id: str, organizer_id: str) -> Member:
    """Take the account out of the organization (the account stays, and can join another). Its
    sessions stay open but reach nothing: every request reads the membership afresh."""
    with write_transaction(db):
        current = _existing(db, organization_id, organizer_id)
        if _last_owner(db, organization_id, current):
            raise MembershipRefused("last_owner", "an organization keeps at least one owner")
        db.execute(
            "delete from memberships where organization_id = ? and organizer_id = ?", [organization_id, organizer_id]
        )
    return current


def find_account(db: Database, email: str) -> str | None:
    """The id of the organizer account signing in as `email`, if there is one (an owner adds an
    existing account by its email)."""
    row = db.execute("select id from organizers where email = ?", [email.strip().lower()]).fetchone()
    return row[0] if row else None


def _another_member(db: Database, organization_id: str, organizer_id: str, by: str) -> Member:
    current = _existing(db, organization_id, organizer_id)
    if organizer_id == by:
        raise MembershipRefused("yourself", "one's own account is changed on the Account page, or by the command line")
    return current


def reset_member(
    db: Database,
    organization_id: str,
    organizer_id: str,
    *,
    second_factor: bool,
    password: str | None,
    by: str,
    now: int,
) -> Member:
    """An owner (`by`) resets another member's second factor and/or password
    (organizers.reset_account: their sessions end; a password must be changed at next sign-in)."""
    with write_transaction(db):
        current = _another_member(db, organization_id, organizer_id, by)
        organizers.reset_account(db, organizer_id, second_factor=second_factor, password=password, by=by, now=now)
    return current


def set_member_disabled(
    db: Database, organization_id: str, organizer_id: str, disabled: bool, *, by: str, now: int
) -> Member:
    """An owner (`by`) disables another member's account (it cannot sign in; its sessions end at
    once) or enables it again. The last owner who can sign in stays enabled."""
    with write_transaction(db):
        current = _another_member(db, organization_id, organizer_id, by)
        if disabled and _last_owner(db, organization_id, current):
            raise MembershipRefused("last_owner", "an organization keeps at least one owner")
        organizers.set_disabled(db, organizer_id, disabled, by=by, now=now)
    return member(db, organization_id, organizer_id)

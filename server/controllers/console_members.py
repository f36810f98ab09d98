"""The organization's members, managed by its owners: list, add (an existing account by its
email, or a new one), change a role, remove; and look after another member's account: reset a
lost authenticator app and/or password (a one-time password, shown to the owner once, to hand
over), disable it and enable it again.

Who may come here is the organizer guard's business (server/auth.py: owners only, and a member
named in the path must be of the caller's organization). The rules — one organization per
account, the last owner stays — are events/organizations.py's. Every change is recorded with
who made it (events/audit.py), under the organization's id.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from events import audit, organizations, organizers
from events.db import write_transaction
from server.auth import organizer_guard
from server.owners import ORG_OWNER
from server.pages import page
from server.reasons import N_

ROLE_WORDS = {
    organizations.OWNER: N_("Owner"),
    organizations.MANAGER: N_("Manager"),
    organizations.STAFF: N_("Staff"),
}
ROLE_HELP = {
    organizations.OWNER: N_("everything, including the members"),
    organizations.MANAGER: N_("events, campaigns, tablets, conflicts, imports and exports"),
    organizations.STAFF: N_("the wall, the conflicts (to read) and the report without personal data"),
}
MEMBER_WORDS = {
    "unknown_role": N_("Choose a role."),
    "already_member": N_("That account is already a member."),
    "in_another_organization": N_("That email's account cannot be added here."),
    "last_owner": N_("The organization needs at least one owner: make someone else an owner first."),
    "not_a_member": N_("That account is not a member."),
    "email_invalid": N_("That does not look like an email address."),
    "name_missing": N_("A new account needs a name (at most 100 characters)."),
    "password_bad": N_("A new account needs a password of 10 to 1024 characters."),
    "yourself": N_("Your own account is not changed here: your password is on your Account page."),
    "nothing_to_reset": N_("Choose what to reset: the authenticator app, the password or both."),
}
DONE = ("added", "changed", "removed", "disabled", "enabled")


class NewMember(Struct):
    email: str = ""
    role: str = ""
    name: str = ""  # only for a new account
    password: str = ""


class RoleForm(Struct):
    role: str = ""


class ResetForm(Struct):
    second_factor: str = ""  # a checkbox: "yes" when ticked
    password: str = ""


def _members_page(
    request: Request,
    *,
    status_code: int = 200,
    error: str = "",
    form: NewMember | None = None,
    done: str = "",
    reset: dict | None = None,
) -> Template:
    organization = request.state.organization
    return page(
        request,
        "console/members",
        status_code=status_code,
        organization=organization,
        members=organizations.members(request.app.state.db, organization.id),
        me=request.state.organizer,
        roles=organizations.ROLES,
        role_words=ROLE_WORDS,
        role_help=ROLE_HELP,
        error=error,
        form=form or NewMember(role=organizations.STAFF),
        done=done,
        reset=reset,
    )


def _answer(request: Request, done: str) -> Template | Redirect:
    if request.headers.get("hx-request") == "true":
        return _members_page(request, done=done)
    return Redirect(path=f"/organizer/members?done={done}", status_code=303)


def _new_account(db, data: NewMember, now: int) -> str:
    """A new account for `data`; ValueError naming (by its MEMBER_WORDS key) what is wrong."""
    if "@" not in data.email.strip():
        raise ValueError("email_invalid")
    if not data.name.strip() or len(data.name.strip()) > 100:
        raise ValueError("name_missing")
    try:
        organizers.check_new_password(data.password)
    except ValueError:
        raise ValueError("password_bad") from None
    try:
        return organizers.create_organizer(db, email=data.email, name=data.name, password=data.password, now=now).id
    except ValueError:
        raise ValueError("email_invalid") from None  # the name and password passed: the address did not


def _set_disabled(request: Request, organizer_id: str, disabled: bool) -> Template | Redirect:
    db, now = request.app.state.db, int(request.app.state.clock())
    try:
        organizations.set_member_disabled(
            db, request.state.organization.id, organizer_id, disabled, by=request.state.organizer.id, now=now
        )
    except organizations.MembershipRefused as refused:
        return _members_page(request, status_code=422, error=MEMBER_WORDS[refused.reason])
    return _answer(request, "disabled" if disabled else "enabled")


class ConsoleMembersController(Controller):
    path = "/organizer/members"
    guards = [organizer_guard]
    opt = {"owner": ORG_OWNER}

    @get("/", sync_to_thread=False, name="console_members")
    def index(self, request: Request, done: FromQuery[str] = "") -> Template:
        return _members_page(request, done=done if done in DONE else "")

    @post("/", sync_to_thread=False, name="console_member_add", status_code=303)
    def add(self, request: Request, data: URLEncodedBody[NewMember]) -> Template | Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        organization, me = request.state.organization, request.state.organizer
        if data.role not in organizations.ROLES:
            return _members_page(request, status_code=422, error=MEMBER_WORDS["unknown_role"], form=data)
        try:
            with write_transaction(db):  # a new account and its membership stand or fall together
                account = organizations.find_account(db, data.email)
                created = account is None
                if created:
                    account = _new_account(db, data, now)
                added = organizations.add_member(db, organization.id, account, data.role, now=now)
                audit.record(
                    db,
                    me.id,
                    "member.add",
                    organization.id,
                    {"organizer_id": added.organizer_id, "role": added.role, "new_account": created},
                    now=now,
                )
        except organizations.MembershipRefused as refused:
            return _members_page(request, status_code=422, error=MEMBER_WORDS[refused.reason], form=data)
        except ValueError as wrong:
            return _members_page(request, status_code=422, error=MEMBER_WORDS[str(wrong)], form=data)
        return _answer(request, "added")

    @post("/{organizer_id:str}/role", sync_to_thread=False, name="console_member_role", status_code=303)
    def change_role(
        self, request: Request, organizer_id: FromPath[str], data: URLEncodedBody[RoleForm]
    ) -> Template | Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        organization = request.state.organization
        try:
            with write_transaction(db):
                changed = organizations.change_role(db, organization.id, organizer_id, data.role)
                audit.record(
                    db,
                    request.state.organizer.id,
                    "member.role",
                    organization.id,
                    {"organizer_id": organizer_id, "role": changed.role},
                    now=now,
                )
        except organizations.MembershipRefused as refused:
            return _members_page(request, status_code=422, error=MEMBER_WORDS[refused.reason])
        return _answer(request, "changed")

    @post("/{organizer_id:str}/remove", sync_to_thread=False, name="console_member_remove", status_code=303)
    def remove(self, request: Request, organizer_id: FromPath[str]) -> Template | Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        organization = request.state.organization
        try:
            with write_transaction(db):
                removed = organizations.remove_member(db, organization.id, organizer_id)
                audit.record(
                    db,
                    request.state.organizer.id,
                    "member.remove",
                    organization.id,
                    {"organizer_id": organizer_id, "role": removed.role},
                    now=now,
                )
        except organizations.MembershipRefused as refused:
            return _members_page(request, status_code=422, error=MEMBER_WORDS[refused.reason])
        return _answer(request, "removed")

    @post("/{organizer_id:str}/reset", sync_to_thread=False, name="console_member_reset", status_code=200)
    def reset(self, request: Request, organizer_id: FromPath[str], data: URLEncodedBody[ResetForm]) -> Template:
        """Forget the member's app and/or give them a one-time password; every session of theirs
        ends. The answer is this page itself, never a redirect: the password is in it, once."""
        db, now = request.app.state.db, int(request.app.state.clock())
        second_factor, new_password = data.second_factor == "yes", data.password == "yes"
        if not second_factor and not new_password:
            return _members_page(request, status_code=422, error=MEMBER_WORDS["nothing_to_reset"])
        password = organizers.one_time_password() if new_password else None
        try:
            who = organizations.reset_member(
                db,
                request.state.organization.id,
                organizer_id,
                second_factor=second_factor,
                password=password,
                by=request.state.organizer.id,
                now=now,
            )
        except organizations.MembershipRefused as refused:
            return _members_page(request, status_code=422, error=MEMBER_WORDS[refused.reason])
        shown = _members_page(request, reset={"name": who.name, "second_factor": second_factor, "password": password})
        shown.headers["Cache-Control"] = "no-store"
        return shown

    @post("/{organizer_id:str}/disable", sync_to_thread=False, name="console_member_disable", status_code=303)
    def disable(self, request: Request, organizer_id: FromPath[str]) -> Template | Redirect:
        return _set_disabled(request, organizer_id, True)

    @post("/{organizer_id:str}/enable", sync_to_thread=False, name="console_member_enable", status_code=303)
    def enable(self, request: Request, organizer_id: FromPath[str]) -> Template | Redirect:
        return _set_disabled(request, organizer_id, False)

"""The organizer's own account: change the password, see the sessions that are open and end any
of them, or sign out everywhere (a lost laptop), see how many recovery codes are left and make a
new set. What was done is in the audit log, beside the sign-ins and failures the page also lists
(events/organizers.py).

An account whose password was handed over (an owner's reset, `poppass reset-password`) is sent
here by the organizer guard until it has chosen its own: these routes are open to it."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from events import audit, organizers
from server.auth import BEFORE_NEW_PASSWORD, SESSION_COOKIE, organizer_guard
from server.controllers.organizer_login import LOGIN_PATH, TRUSTED_COOKIE
from server.owners import ORGANIZER
from server.pages import page
from server.ratelimit import client_address
from server.reasons import N_, SIGN_IN_WORDS

ACCOUNT_PATH = "/organizer/account"
RECENT = 10  # sign-ins and account changes listed
ACCOUNT_WORDS = {
    "mismatch": N_("The two new passwords differ."),
    "too_short": N_("A password has at least %(min)s characters."),
    "too_long": N_("A password has at most %(max)s characters."),
    "changed": N_("Your password is changed. Your other sessions have ended."),
    "same": N_("The new password must differ from the current one."),
    "password_missing": N_("Type your current password."),
}


class PasswordAgain(Struct):
    current: str = ""


class PasswordChange(Struct):
    current: str = ""
    new: str = ""
    again: str = ""


def _account_page(
    request: Request, *, error: str = "", notice: str = "", status_code: int = 200, codes: tuple[str, ...] = ()
) -> Template:
    db, now = request.app.state.db, int(request.app.state.clock())
    # Read afresh: a change on this very request (the password, new codes) shows at once.
    organizer = (
        organizers.session_organizer(db, request.cookies.get(SESSION_COOKIE), now=now) or request.state.organizer
    )
    activity = [a for a in audit.history(db, organizer.id) if a.action.startswith(("sign_in", "account."))][-RECENT:]
    return page(
        request,
        "console/account",
        status_code=status_code,
        organizer=organizer,
        error=error,
        notice=notice,
        sessions=organizers.sessions(db, organizer.id, now=now, current=request.cookies.get(SESSION_COOKIE)),
        activity=list(reversed(activity)),
        minutes=0,
        password_min=organizers.PASSWORD_MIN,
        password_max=organizers.PASSWORD_MAX,
        codes_left=organizers.recovery_codes_left(db, organizer.id),
        codes=codes,
    )


class AccountController(Controller):
    path = ACCOUNT_PATH
    guards = [organizer_guard]
    opt = {"owner": ORGANIZER, BEFORE_NEW_PASSWORD: True}

    @get("/", sync_to_thread=False, name="account")
    def account(self, request: Request) -> Template:
        return _account_page(request)

    @post("/password", sync_to_thread=False, name="account_password", status_code=200)
    def password(self, request: Request, data: URLEncodedBody[PasswordChange]) -> Template:
        db, now = request.app.state.db, int(request.app.state.clock())
        if request.app.state.sign_in_limiter.allow(client_address(request)):
            return _account_page(request, error=SIGN_IN_WORDS["rate_limited"], status_code=429)
        if data.new != data.again:
            return _account_page(request, error=ACCOUNT_WORDS["mismatch"], status_code=400)
        if len(data.new) < organizers.PASSWORD_MIN:
            return _account_page(request, error=ACCOUNT_WORDS["too_short"], status_code=400)
        if len(data.new) > organizers.PASSWORD_MAX:
            return _account_page(request, error=ACCOUNT_WORDS["too_long"], status_code=400)
        if data.new == data.current:
            return _account_page(request, error=ACCOUNT_WORDS["same"], status_code=400)
        try:
            organizers.change_password(
                db,
                request.state.organizer.id,
                data.current,
                data.new,
                now=now,
                keep=request.cookies.get(SESSION_COOKIE),
            )
        except organizers.LoginRefused as refused:
            status = 429 if refused.reason == "locked" else 400
            return _account_page(request, error=SIGN_IN_WORDS[refused.reason], status_code=status)
        return _account_page(request, notice=ACCOUNT_WORDS["changed"])

    @post("/recovery-codes", sync_to_thread=False, name="account_recovery_codes", status_code=200)
    def recovery_codes(self, request: Request, data: URLEncodedBody[PasswordAgain]) -> Template:
        """A new set of recovery codes in place of the old, shown on the page this once."""
        db, now = request.app.state.db, int(request.app.state.clock())
        if request.app.state.sign_in_limiter.allow(client_address(request)):
            return _account_page(request, error=SIGN_IN_WORDS["rate_limited"], status_code=429)
        if not data.current:  # not a guess: nothing to count
            return _account_page(request, error=ACCOUNT_WORDS["password_missing"], status_code=400)
        try:
            codes = organizers.regenerate_recovery_codes(db, request.state.organizer.id, data.current, now=now)
        except organizers.LoginRefused as refused:
            status = 429 if refused.reason == "locked" else 400
            return _account_page(request, error=SIGN_IN_WORDS[refused.reason], status_code=status)
        shown = _account_page(request, codes=codes)
        shown.headers["Cache-Control"] = "no-store"
        return shown

    @post("/sessions/{session_id:str}/end", sync_to_thread=False, name="account_session_end", status_code=303)
    def end_session(self, request: Request, session_id: FromPath[str]) -> Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        organizers.end_session(db, request.state.organizer.id, session_id, now=now)
        # Ending the session this browser holds is signing out.
        still_in = organizers.session_organizer(db, request.cookies.get(SESSION_COOKIE), now=now) is not None
        return Redirect(path=ACCOUNT_PATH if still_in else LOGIN_PATH, status_code=303)

    @post("/sign-out-everywhere", sync_to_thread=False, name="account_sign_out_everywhere", status_code=303)
    def sign_out_everywhere(self, request: Request) -> Redirect:
        organizers.sign_out_everywhere(
            request.app.state.db, request.state.organizer.id, now=int(request.app.state.clock())
        )
        response = Redirect(path=LOGIN_PATH, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(TRUSTED_COOKIE, path=LOGIN_PATH)
        return response

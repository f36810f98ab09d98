"""Signing organizers in and out: password, then a TOTP code (enrolling the app the first time)
or one of the account's recovery codes.

/organizer/login is the only organizer address a stranger may open. Each step is a plain form
with CSRF; the password step leaves a short-lived pending cookie scoped to the login path, and
only the code step gives the session cookie. The code step that enrolls the app answers with the
new recovery codes themselves, once: they are in no URL, no cookie and no cache, and the
database keeps only their digests.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Response, Template
from msgspec import Struct

from events import organizers
from server import qr
from server.auth import BEFORE_NEW_PASSWORD, PENDING_COOKIE, SESSION_COOKIE, organizer_guard
from server.owners import ORGANIZER, PUBLIC
from server.pages import page
from server.ratelimit import client_address
from server.reasons import SIGN_IN_WORDS

LOGIN_PATH = "/organizer/login"
ACCOUNT_PATH = "/organizer/account"  # where an account with a handed-over password goes first
# Left by a completed sign-in, sent only to the sign-in form: a stranger's wrong passwords do not
# lock this browser out (events/organizers.py, docs/security.md).
TRUSTED_COOKIE = "poppass_trusted_browser"


class PasswordForm(Struct):
    email: str = ""
    password: str = ""
    next: str = "/organizer"


class CodeForm(Struct):
    code: str = ""
    next: str = "/organizer"


def _next(target: str) -> str:
    # Only the console's own pages: anything else would be an open redirect.
    return (
        target
        if target.startswith("/organizer") and not target.startswith("//") and "\\" not in target
        else "/organizer"
    )


def _login_page(
    request: Request, form: PasswordForm, *, refused: organizers.LoginRefused | None = None, error: str = ""
) -> Template:
    """The password step, with why the last attempt failed (429 while locked or rate-limited)."""
    if refused is not None:
        error = SIGN_IN_WORDS[refused.reason]
    status = 200 if not error else 429 if refused is None or refused.reason == "locked" else 401
    minutes = -(-refused.retry_after // 60) if refused is not None else 0
    return page(request, "console/login", status_code=status, form=form, error=error, minutes=minutes)


def _code_page(
    request: Request, pending: organizers.Pending, *, next: str, error: str = "", status_code: int = 200
) -> Template:
    enrolling = pending.totp_secret is not None
    uri = organizers.provisioning_uri(pending) if enrolling else ""
    return page(
        request,
        "console/code",
        status_code=status_code,
        organizer=pending.organizer,
        enrolling=enrolling,
        secret=pending.totp_secret or "",
        qr_svg=qr.svg(uri, title="PopPass") if enrolling else "",
        next=_next(next),
        error=error,
        minutes=0,
        recovery_open=error == SIGN_IN_WORDS["bad_recovery_code"],
    )


def _signed_in(request: Request, response: Response, session: str) -> Response:
    """The session cookie, the pending one gone, and this browser trusted (renewed if it was)."""
    db, now = request.app.state.db, int(request.app.state.clock())
    secure = request.url.scheme == "https"
    response.delete_cookie(PENDING_COOKIE, path=LOGIN_PATH)
    response.set_cookie(
        SESSION_COOKIE, session, path="/", max_age=organizers.SESSION_S, httponly=True, samesite="strict", secure=secure
    )
    signed_in = organizers.session_organizer(db, session, now=now)
    assert signed_in is not None  # just made
    trusted = organizers.trust_browser(db, signed_in.id, now=now, token=request.cookies.get(TRUSTED_COOKIE))
    response.set_cookie(
        TRUSTED_COOKIE,
        trusted,
        path=LOGIN_PATH,
        max_age=organizers.TRUSTED_BROWSER_S,
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    return response


class OrganizerLoginController(Controller):
    path = LOGIN_PATH
    opt = {"owner": PUBLIC}

    @get("/", sync_to_thread=False, name="organizer_login")
    def login_page(self, request: Request, next: FromQuery[str] = "/organizer") -> Template:
        return _login_page(request, PasswordForm(next=_next(next)))

    @post("/", sync_to_thread=False, name="organizer_password", status_code=303)
    def password(self, request: Request, data: URLEncodedBody[PasswordForm]) -> Template | Redirect:
        shown = PasswordForm(email=data.email, next=_next(data.next))
        if request.app.state.sign_in_limiter.allow(client_address(request)):
            return _login_page(request, shown, error=SIGN_IN_WORDS["rate_limited"])
        try:
            pending = organizers.check_password(
                request.app.state.db,
                data.email,
                data.password,
                now=int(request.app.state.clock()),
                trusted_browser=request.cookies.get(TRUSTED_COOKIE),
                client=client_address(request),
            )
        except organizers.LoginRefused as refused:
            return _login_page(request, shown, refused=refused)
        response = Redirect(path=f"{LOGIN_PATH}/code?next={_next(data.next)}", status_code=303)
        response.set_cookie(
            PENDING_COOKIE,
            pending.token,
            path=LOGIN_PATH,
            max_age=organizers.PENDING_S,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @get("/code", sync_to_thread=False, name="organizer_code")
    def code_page(self, request: Request, next: FromQuery[str] = "/organizer") -> Template | Redirect:
        pending = organizers.pending_login(
            request.app.state.db, request.cookies.get(PENDING_COOKIE, ""), now=int(request.app.state.clock())
        )
        if pending is None:
            return Redirect(path=LOGIN_PATH, status_code=303)
        return _code_page(request, pending, next=next)

    @post("/code", sync_to_thread=False, name="organizer_code_check", status_code=303)
    def code(self, request: Request, data: URLEncodedBody[CodeForm]) -> Template | Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        token = request.cookies.get(PENDING_COOKIE, "")
        try:
            signed_in = organizers.complete_sign_in(
                db,
                token,
                data.code,
                now=now,
                client=client_address(request),
                user_agent=request.headers.get("user-agent", ""),
            )
        except organizers.LoginRefused as refused:
            pending = organizers.pending_login(db, token, now=now)
            if pending is None or refused.reason == "locked":
                return _login_page(request, PasswordForm(next=_next(data.next)), refused=refused)
            return _code_page(request, pending, next=data.next, error=SIGN_IN_WORDS[refused.reason], status_code=401)
        onward = ACCOUNT_PATH if signed_in.must_change_password else _next(data.next)
        if signed_in.recovery_codes:  # just enrolled: the codes, this once, then on
            shown = page(
                request, "console/recovery_codes", status_code=200, codes=signed_in.recovery_codes, next=onward
            )
            shown.headers["Cache-Control"] = "no-store"
            return _signed_in(request, shown, signed_in.session)
        return _signed_in(request, Redirect(path=onward, status_code=303), signed_in.session)


class OrganizerLogoutController(Controller):
    path = "/organizer/logout"
    guards = [organizer_guard]
    opt = {"owner": ORGANIZER, BEFORE_NEW_PASSWORD: True}

    @post("/", sync_to_thread=False, name="organizer_logout", status_code=303)
    def logout(self, request: Request) -> Redirect:
        organizers.sign_out(request.app.state.db, request.cookies.get(SESSION_COOKIE, ""))
        response = Redirect(path=LOGIN_PATH, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

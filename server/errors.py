"""Error responses: a translated page for people, Litestar's JSON for programs.

A browser gets HTML (it sends Accept: text/html); fetch() from our JS and API clients get
JSON with the status and detail. Internal errors never show a traceback to anyone.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Literal
from urllib.parse import quote

import msgspec
from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.utils.scope.state import ScopeState

from events.db import is_disk_full
from events.devices import DeviceRefused, EnrollmentError
from events.log_identity import LogChanged
from events.ops import InvalidInput
from events.sync import Gap, SeqReused
from server.auth import PasswordChangeRequired, RoleRequired, SignInRequired
from server.input_guard import BadText
from server.pages import page
from server.reasons import N_

log = logging.getLogger("poppass")

TITLES = {
    400: N_("That request could not be understood."),
    403: N_("That is not allowed. If you were filling in a form, reload the page and try again."),
    404: N_("There is nothing at this address."),
    405: N_("That is not allowed. If you were filling in a form, reload the page and try again."),
    413: N_("That was too large to accept."),
    429: N_("Too many tries. Wait a moment and try again."),
    500: N_("Something went wrong on our side. Nothing you did was lost; try again."),
}
BAD_TEXT_WORDS = N_("That held text that is not valid UTF-8, so nothing was saved. Go back and type it again.")


def _wants_html(request: Request) -> bool:
    # Browsers name text/html; curl, fetch() and API clients send */* or JSON and get JSON.
    return "text/html" in request.headers.get("accept", "")


# The same {"error": …} shape as the device API's own refusals, for programs.
ERROR_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
    500: "internal",
}


def _release_uploads(request: Request) -> None:
    """Close the files of a multipart form parsed before the request was refused (the CSRF check
    reads the form, and nothing else would close them)."""
    form = ScopeState.from_scope(request.scope).form
    if not isinstance(form, dict):
        return
    for value in form.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, UploadFile):
                item.file.close()


def http_error(request: Request, exc: HTTPException) -> Response | Template:
    _release_uploads(request)
    status = exc.status_code
    if not _wants_html(request):
        code = ERROR_CODES.get(status, "invalid" if status < 500 else "internal")
        return Response({"error": code, "detail": exc.detail}, status_code=status, headers=exc.headers)
    words = TITLES.get(status, TITLES[400] if status < 500 else TITLES[500])
    return page(request, "shared/error", status_code=status, status=status, words=words)


def internal_error(request: Request, exc: Exception) -> Response | Template:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return http_error(
        request, HTTPException(status_code=HTTP_500_INTERNAL_SERVER_ERROR, detail="Internal Server Error")
    )


# --- the device API: JSON errors with a machine-readable reason -----------------------------

# The bodies below, as models: the OpenAPI schema documents each status of the device API with
# them (server/controllers/sync_api.py), and tests/test_fuzz_api.py checks every answer against it.


class Invalid(msgspec.Struct):
    """Malformed input; nothing was written. `where` is a JSON path (or `?param`), `""` when the
    culprit is the whole body; it is absent when the web framework refused a query value itself."""

    error: Literal["invalid"]
    detail: str
    where: str = ""


class BadPublicKey(msgspec.Struct):
    error: Literal["bad_public_key"]


class EnrollmentRefused(msgspec.Struct):
    error: Literal["invalid_code", "code_used", "code_expired"]


class NotEnrolled(msgspec.Struct):
    """401, with `WWW-Authenticate: Bearer`: the tablet keeps its outbox."""

    error: Literal["no_device_token", "unknown_device"]
    wipe: Literal[False]


class Revoked(msgspec.Struct):
    """403: the tablet erases what it holds."""

    error: Literal["device_revoked"]
    wipe: Literal[True]


class GapBody(msgspec.Struct):
    error: Literal["gap"]
    resend_from: int


class SeqReusedBody(msgspec.Struct):
    error: Literal["seq_reused"]
    last_seq: int
    device_seq: int


class LogChangedBody(msgspec.Struct):
    error: Literal["log_changed"]
    log_id: str
    fork: int
    last_seq: int


class TooLarge(msgspec.Struct):
    error: Literal["too_large"]
    detail: str


class DiskFull(msgspec.Struct):
    """503, with `Retry-After`: nothing was written; the tablet keeps its ops and resends."""

    error: Literal["disk_full"]
    detail: str


def _api_error(status: int, error: str, **extra: object) -> Response:
    return Response({"error": error, **extra}, status_code=status, headers={"Cache-Control": "no-store"})


def invalid_input(request: Request, exc: InvalidInput) -> Response:
    return _api_error(400, "invalid", detail=exc.detail, where=exc.where)


def gap(request: Request, exc: Gap) -> Response:
    return _api_error(409, "gap", resend_from=exc.resend_from)


def log_changed(request: Request, exc: LogChanged) -> Response:
    return _api_error(409, "log_changed", log_id=exc.log_id, fork=exc.fork, last_seq=exc.last_seq)


def device_refused(request: Request, exc: DeviceRefused) -> Response:
    response = _api_error(403 if exc.wipe else 401, exc.reason, wipe=exc.wipe)
    if not exc.wipe:
        response.headers["WWW-Authenticate"] = 'Bearer realm="poppass"'
    return response


def seq_reused(request: Request, exc: SeqReused) -> Response:
    return _api_error(409, "seq_reused", last_seq=exc.last_seq, device_seq=exc.device_seq)


def enrollment_refused(request: Request, exc: EnrollmentError) -> Response:
    return _api_error(400 if exc.reason == "bad_public_key" else 403, exc.reason)


def bad_text(request: Request, exc: BadText) -> Response | Template:
    """Bytes that are not UTF-8 (server/input_guard.py): the `invalid` shape with the parameter
    or field, or the error page saying so."""
    _release_uploads(request)
    if not _wants_html(request):
        return _api_error(400, "invalid", detail=exc.detail, where=exc.where)
    return page(request, "shared/error", status_code=400, status=400, words=BAD_TEXT_WORDS)


def undecodable_text(request: Request, exc: UnicodeDecodeError) -> Response | Template:
    """A strict decode deeper down (a multipart field is read as UTF-8): the same answer."""
    return bad_text(request, BadText("", [], {}))


def sign_in_required(request: Request, exc: SignInRequired) -> Response:
    """A person is sent to the sign-in page, and back here afterwards; a program gets 401."""
    if _wants_html(request) and request.method == "GET":
        return Redirect(path=f"/organizer/login?next={quote(request.url.path)}", status_code=303)
    return _api_error(401, "sign_in_required")


def password_change_required(request: Request, exc: PasswordChangeRequired) -> Response:
    """A person goes to the Account page to choose their own password; a program gets 403."""
    if _wants_html(request):
        return Redirect(path="/organizer/account", status_code=303)
    return _api_error(403, "password_change_required")


def role_required(request: Request, exc: RoleRequired) -> Response | Template:
    """A member whose role does not allow this: told so in words (a person) or by reason (a program)."""
    if not _wants_html(request):
        return _api_error(403, "role_required", role=exc.role)
    return page(request, "shared/error", status_code=403, status=403, words=ROLE_WORDS)


# The server's disk is full (SQLITE_FULL, ENOSPC): a documented 503, not a 500. The write
# transaction rolled back (events/db.write_transaction), so nothing half-written stays, and the
# next request after room comes back succeeds: no restart.
DISK_FULL_RETRY_S = 30
DISK_FULL_WORDS = N_(
    "The server's disk is full, so what you sent was not saved, and nothing saved before was lost. "
    "Try again in a minute; if it goes on, tell the event's organizer."
)
DISK_FULL_DETAIL = "the server's disk is full; nothing was written: resend after Retry-After"


def storage_error(request: Request, exc: Exception) -> Response | Template:
    if not is_disk_full(exc):
        return internal_error(request, exc)
    _release_uploads(request)
    log.warning("disk full on %s %s: %s (answered 503)", request.method, request.url.path, exc)
    headers = {"Retry-After": str(DISK_FULL_RETRY_S), "Cache-Control": "no-store"}
    if not _wants_html(request):
        return Response({"error": "disk_full", "detail": DISK_FULL_DETAIL}, status_code=503, headers=headers)
    response = page(request, "shared/error", status_code=503, status=503, words=DISK_FULL_WORDS)
    response.headers.update(headers)
    return response


# Not the generic 403's words: reloading the form will not help, only another role will.
ROLE_WORDS = N_("Your role in this organization does not allow that. Ask one of its owners.")

API_HANDLERS = {
    SignInRequired: sign_in_required,
    RoleRequired: role_required,
    PasswordChangeRequired: password_change_required,
    BadText: bad_text,
    UnicodeDecodeError: undecodable_text,
    InvalidInput: invalid_input,
    Gap: gap,
    SeqReused: seq_reused,
    LogChanged: log_changed,
    DeviceRefused: device_refused,
    EnrollmentError: enrollment_refused,
    sqlite3.OperationalError: storage_error,
    OSError: storage_error,
}

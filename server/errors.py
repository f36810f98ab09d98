"""Error responses: a translated page for people, Litestar's JSON for programs.

A browser gets HTML (it sends Accept: text/html); fetch() from our JS and API clients get
JSON with the status and detail. Internal errors never show a traceback to anyone.
"""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

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


def _wants_html(request: Request) -> bool:
    # Browsers name text/html; curl, fetch() and API clients send */* or JSON and get JSON.
    return "text/html" in request.headers.get("accept", "")


def http_error(request: Request, exc: HTTPException) -> Response | Template:
    status = exc.status_code
    if not _wants_html(request):
        return Response({"status_code": status, "detail": exc.detail}, status_code=status, headers=exc.headers)
    words = TITLES.get(status, TITLES[400] if status < 500 else TITLES[500])
    return page(request, "error", status_code=status, status=status, words=words)


def internal_error(request: Request, exc: Exception) -> Response | Template:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return http_error(request, HTTPException(status_code=HTTP_500_INTERNAL_SERVER_ERROR, detail="Internal Server Error"))

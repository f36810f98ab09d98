"""The security headers every answer carries: pages, errors, redirects, static files alike.

This hooks the app's outermost `send` (Litestar's `before_send`), not a route's middleware:
Litestar runs route middleware only for a route it found, so a 404 for an unknown path, a 405,
a 413 refused before the handler, or the 500 page would go out bare. Here every
`http.response.start` passes, whatever produced it.

The request's scheme is the one uvicorn gives: https when the connection is TLS, or when a proxy
named by `poppass serve --forwarded-allow-ips` says so (any other X-Forwarded-Proto is ignored).
On https it adds HSTS and makes every cookie Secure, so no cookie set over TLS (session, CSRF,
wallet, language) can later travel in clear text.
"""

from __future__ import annotations

from litestar.types import Message, Scope

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Capability URLs (/wallet/<capability>, /V/<token>) must never leak through Referer.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}
HSTS = "max-age=31536000; includeSubDomains"
# Features no page of ours uses are off for every page (and anything it might embed). Only the
# station's screens scan codes with the camera; a phone's wallet never asks for it.
_OFF = "microphone=(), geolocation=(), payment=(), usb=(), accelerometer=(), gyroscope=(), magnetometer=(), display-capture=()"
PERMISSIONS_POLICY = f"camera=(), {_OFF}"
STATION_PERMISSIONS_POLICY = f"camera=(self), {_OFF}"
STATION_PATH = "/station"


def permissions_policy(path: str) -> str:
    return (
        STATION_PERMISSIONS_POLICY
        if path == STATION_PATH or path.startswith(STATION_PATH + "/")
        else PERMISSIONS_POLICY
    )


def headers_for(scope: Scope) -> dict[str, str]:
    """What an answer to this request must carry (a handler's own value of one of them wins)."""
    wanted = dict(HEADERS)
    wanted["Permissions-Policy"] = permissions_policy(scope.get("path", ""))
    if scope.get("scheme") == "https":
        wanted["Strict-Transport-Security"] = HSTS
    return wanted


def _secure(cookie: bytes) -> bytes:
    attributes = {part.strip().split(b"=", 1)[0].lower() for part in cookie.split(b";")[1:]}
    return cookie if b"secure" in attributes else cookie + b"; Secure"


async def before_send(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or [])
    present = {name.lower() for name, _ in headers}
    if scope.get("scheme") == "https":
        headers = [(name, _secure(value) if name.lower() == b"set-cookie" else value) for name, value in headers]
    for name, value in headers_for(scope).items():
        if name.lower().encode("latin-1") not in present:
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    message["headers"] = headers

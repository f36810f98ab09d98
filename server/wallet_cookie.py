"""The browser's hold on a wallet: a cookie per event with the wallet's capability.

It lets the same browser find its wallet again (sign-up twice, a claim QR opened by the phone's
camera app) without anyone else learning it. Lax, not Strict: a claim URL opened from a camera
app is a top-level navigation that must carry it.
"""

from __future__ import annotations

from litestar import Request, Response

from events import signup

MAX_AGE_S = 180 * 24 * 3600


def name(event_id: str) -> str:
    return f"wallet-{event_id}"


def held(request: Request, event_id: str) -> str | None:
    value = request.cookies.get(name(event_id), "")
    return value if signup.is_capability(value) else None


def give(request: Request, response: Response, event_id: str, capability: str) -> None:
    response.set_cookie(
        name(event_id),
        capability,
        path="/",
        max_age=MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )

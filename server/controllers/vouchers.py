"""The page a phone camera opens from a token's URL form: /V/<token>.

The token in the URL is the capability: whoever holds it sees this voucher or pass and
nothing else. A token that fails verification shows why, never a stack trace.

A rotating voucher is accepted at the counter only with its current 6-digit code, which only
its wallet draws: its page shows no QR (a static one would be refused), and sends a phone that
holds the voucher straight to its wallet.
"""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from events import campaigns, registry, signup, tokens, wallet
from events.trust import ClockPolicy
from server import qr, wallet_cookie
from server.owners import ATTENDEE
from server.pages import page
from server.reasons import REASON_WORDS
from server.templating import catalogue


def _claim(request: Request, event_id: str, token: tokens.Token, text: str) -> dict:
    """Where this browser can keep the voucher: its wallet for the event, or a new one."""
    db = request.app.state.db
    capability = wallet_cookie.held(request, event_id)
    attendee_id = signup.wallet_attendee(db, event_id, capability) if capability else None
    if attendee_id is None:
        return {"sign_up": f"/events/{event_id}?claim={text}", "wallet": None, "held": False, "taken": False}
    owner = wallet.holder(db, event_id, token.id)
    return {
        "sign_up": None,
        "wallet": f"/wallet/{capability}",
        "held": owner == attendee_id,
        "taken": owner not in (None, attendee_id),
    }


class VoucherController(Controller):
    path = "/V"
    opt = {"owner": ATTENDEE}

    @get("/{code:str}", sync_to_thread=False, name="voucher")
    def show(self, request: Request, code: FromPath[str]) -> Template | Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        try:
            # A phone camera may have read a wallet's rotating code (…-123456): the token is the same.
            text = tokens.parse_scan(tokens.PREFIX + code).text
            event, token = registry.authenticate_token(db, text, now=now)
        except tokens.TokenError as error:
            return page(request, "wallet/voucher_invalid", status_code=404, words=REASON_WORDS[error.reason])
        try:
            tokens.check_time(token, now=now, tolerance=ClockPolicy().validity_tolerance_s)
            refusal = None
        except tokens.TokenError as error:
            refusal = REASON_WORDS[error.reason]
        campaign = None
        if token.campaign:
            try:
                # In the reader's language where the campaign has it (the page speaks the reader's).
                campaign = campaigns.in_language(
                    campaigns.get_campaign(db, event.id, token.campaign), catalogue(request).tag
                )
            except LookupError:
                pass
        claim = (
            _claim(request, event.id, token, text) if token.type is tokens.TokenType.VOUCHER and not refusal else None
        )
        if token.rotating and claim and claim["held"]:
            # Where its live code is: the answer depends on this browser's wallet cookie.
            return Redirect(
                path=f"{claim['wallet']}#item-{token.id}",
                status_code=303,
                headers={"Vary": "Cookie", "Cache-Control": "private, no-store"},
            )
        return page(
            request,
            "wallet/voucher",
            event=event,
            token=token,
            text=text,
            campaign=campaign,
            refusal=refusal,
            qr_svg=None if token.rotating else qr.svg(text, title=token.id),
            claim=claim,
        )

    @get("/{code:str}/qr.svg", sync_to_thread=False, name="voucher_qr")
    def qr_svg(self, request: Request, code: FromPath[str]) -> Response[str]:
        text = tokens.PREFIX + code
        try:
            registry.authenticate_token(request.app.state.db, text, now=int(request.app.state.clock()))
            token = tokens.decode(text).token
        except tokens.TokenError as error:
            return Response(str(error.reason), status_code=404, media_type="text/plain")
        if token.rotating:
            # No static QR of a rotating voucher: the counter would refuse it (no live code).
            return Response("rotating", status_code=404, media_type="text/plain")
        return Response(qr.svg(text), media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})

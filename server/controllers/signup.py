"""The public event page and its sign-up form: no login; the answer is the attendee's wallet."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Response, Template
from msgspec import Struct

from events import campaigns, registry, signup, tokens, wallet
from server import live, wallet_cookie
from server.input_guard import BadText
from server.owners import PUBLIC
from server.pages import page
from server.ratelimit import client_address
from server.reasons import SIGN_UP_WORDS
from server.templating import catalogue, use_event_languages


class SignUpForm(Struct):
    name: str = ""
    phone: str = ""
    email: str = ""
    consent: str = ""  # a checkbox: present ("yes") or absent
    claim: str = ""  # a voucher to put in the new wallet (from a tablet's claim QR)


def _token_text(raw: str) -> str:
    """The token's text form from whatever was scanned, or "" if it is not one."""
    try:
        text = tokens.parse_scan(raw).text
        tokens.decode(text)
    except tokens.TokenError:
        return ""
    return text


def _event(request: Request, event_id: str) -> registry.Event:
    try:
        return registry.get_event(request.app.state.db, event_id)
    except registry.UnknownEvent:
        raise NotFoundException(f"no event {event_id!r}") from None


def _event_page(
    request: Request,
    event: registry.Event,
    *,
    form: SignUpForm | None = None,
    errors: dict[str, str] | None = None,
    already: bool = False,
    status_code: int = 200,
    claim: str = "",
) -> Template:
    db = request.app.state.db
    now = int(request.app.state.clock())
    held = wallet_cookie.held(request, event.id)
    use_event_languages(request, event.language_list)
    language = catalogue(request).tag  # the welcome vouchers' titles and terms in the page's language
    return page(
        request,
        "public/event",
        status_code=status_code,
        event=event,
        campaigns=[campaigns.in_language(c, language) for c in campaigns.list_campaigns(db, event.id)],
        form=form or SignUpForm(claim=claim),
        errors=errors or {},
        already=already,
        over=now >= event.ends_at,
        wallet_url=f"/wallet/{held}" if held and signup.wallet_attendee(db, event.id, held) else None,
    )


def _unreadable_sign_up(request: Request, refused: BadText) -> Template:
    """A sign-up with a field that is not UTF-8 (server/input_guard.py): the form again, that
    field empty and named, the others as sent; nothing is stored."""
    event = _event(request, request.path_params["event_id"])
    names = set(SignUpForm.__struct_fields__)
    form = SignUpForm(**{name: value for name, value in refused.form.items() if name in names})
    errors = {field if field in names else "form": SIGN_UP_WORDS["not_text"] for field in refused.fields}
    return _event_page(request, event, form=form, errors=errors, status_code=400)


class EventPageController(Controller):
    path = "/events"
    opt = {"owner": PUBLIC}

    @get("/{event_id:str}", sync_to_thread=False, name="event_page")
    def show(self, request: Request, event_id: FromPath[str], claim: FromQuery[str] = "") -> Template:
        return _event_page(request, _event(request, event_id), claim=_token_text(claim))

    @post(
        "/{event_id:str}/signup",
        sync_to_thread=False,
        name="sign_up",
        status_code=303,
        exception_handlers={BadText: _unreadable_sign_up},
    )
    def sign_up(
        self, request: Request, event_id: FromPath[str], data: URLEncodedBody[SignUpForm]
    ) -> Template | Redirect:
        db, event = request.app.state.db, _event(request, event_id)
        wait = request.app.state.sign_up_limiter.allow(client_address(request))
        if wait:
            response = _event_page(
                request, event, form=data, status_code=429, errors={"form": SIGN_UP_WORDS["rate_limited"]}
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        applicant = signup.Applicant(data.name, data.phone, data.email, consent=bool(data.consent))
        held = wallet_cookie.held(request, event.id)
        try:
            result = signup.sign_up(
                db,
                event.id,
                applicant,
                now_ms=int(request.app.state.clock() * 1000),
                held=frozenset({held} if held else ()),
            )
        except signup.SignUpRefused as refused:
            return _event_page(
                request,
                event,
                form=data,
                status_code=422,
                errors={field or "form": SIGN_UP_WORDS[reason] for field, reason in refused.fields.items()},
            )
        if result.capability is None:
            return _event_page(request, event, form=data, already=True, status_code=409)
        if result.created:
            live.announce(request.app, event.id, [result.attendee_id])  # a merged batch, like a push
        target = f"/wallet/{result.capability}"
        if data.claim:
            try:
                wallet.claim(db, event.id, result.attendee_id, data.claim, now=int(request.app.state.clock()))
            except wallet.ClaimRefused as refused:
                target += f"?claim_refused={refused.reason}"
        response = _to_wallet(request, target)
        wallet_cookie.give(request, response, event.id, result.capability)
        return response


def _to_wallet(request: Request, target: str) -> Response | Redirect:
    """The attendee's wallet, whatever sent the form: htmx is told to load it as a whole page
    (HX-Redirect; a followed 303 would swap the wallet into the sign-up form's place), a plain
    form gets the 303."""
    if request.headers.get("hx-request") == "true":
        return Response(content=b"", status_code=200, headers={"HX-Redirect": target})
    return Redirect(path=target, status_code=303)

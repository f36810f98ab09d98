"""The console's voucher campaigns for an event: create one, change it.

Changing a campaign changes the vouchers it gives from then on; those already issued carry their
terms signed inside them. Times are typed in the event's own time zone.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from msgspec import Struct

from events import audit, campaigns, registry
from events.db import write_transaction
from server.auth import organizer_guard
from server.console_forms import LANGUAGE_NAMES, BadTime, event_or_404, local_input, timestamp_of
from server.i18n import SUPPORTED
from server.owners import MANAGER
from server.pages import page
from server.reasons import CAMPAIGN_WORDS


class CampaignForm(Struct):
    title: str = ""
    value: str = ""
    terms: str = ""
    max_uses: str = "1"
    valid_from: str = ""  # datetime-local in the event's zone, or empty
    valid_until: str = ""
    valid_minutes: str = ""
    per_attendee: str = ""
    cap: str = ""
    welcome: str = ""  # checkboxes: present or absent
    by_clerks: str = ""
    rotating: str = ""
    # The texts in the event's other languages (a form field per supported language and text:
    # `title_zh_CN`, …); empty ones fall back to the base field, which is in the first language.
    title_en: str = ""
    value_en: str = ""
    terms_en: str = ""
    title_zh_CN: str = ""
    value_zh_CN: str = ""
    terms_zh_CN: str = ""


def text_field(language: str, name: str) -> str:
    """The form field holding a campaign text in `language` ("zh-CN", "title" → "title_zh_CN")."""
    return f"{name}_{language.replace('-', '_')}"


class BadNumber(ValueError):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _number(form: CampaignForm, field: str) -> int | None:
    text = getattr(form, field).strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 9:  # "²" is a digit to isdigit(), not to int()
        raise BadNumber(field)
    return int(text)


def _settings(form: CampaignForm, event: registry.Event) -> dict:
    """The form as domain arguments; raises BadNumber or BadTime naming the field."""
    when = {
        field: timestamp_of(getattr(form, field), event.timezone, field) if getattr(form, field).strip() else None
        for field in ("valid_from", "valid_until")
    }
    max_uses = _number(form, "max_uses")
    return {
        "title": form.title,
        "value": form.value,
        "terms": form.terms,
        "max_uses": 1 if max_uses is None else max_uses,
        **when,
        "valid_minutes": _number(form, "valid_minutes"),
        "per_attendee": _number(form, "per_attendee"),
        "cap": _number(form, "cap"),
        "welcome": bool(form.welcome),
        "by_clerks": bool(form.by_clerks),
        "rotating": bool(form.rotating),
        "texts": {
            language: {name: getattr(form, text_field(language, name)) for name in campaigns.TEXT_FIELDS}
            for language in event.language_list[1:]
            if language in SUPPORTED
        },
    }


def _form_of(campaign: campaigns.Campaign, event: registry.Event) -> CampaignForm:
    text = lambda value: "" if value is None else str(value)  # noqa: E731
    return CampaignForm(
        title=campaign.title,
        value=campaign.value,
        terms=campaign.terms,
        max_uses=str(campaign.max_uses),
        valid_from=local_input(campaign.valid_from, event.timezone) if campaign.valid_from else "",
        valid_until=local_input(campaign.valid_until, event.timezone) if campaign.valid_until else "",
        valid_minutes=text(campaign.valid_minutes),
        per_attendee=text(campaign.per_attendee),
        cap=text(campaign.cap),
        welcome="yes" if campaign.welcome else "",
        by_clerks="yes" if campaign.by_clerks else "",
        rotating="yes" if campaign.rotating else "",
        **{
            text_field(language, name): text
            for language, given in campaign.texts.items()
            if language in SUPPORTED
            for name, text in given.items()
        },
    )


def _errors(error: Exception) -> dict[str, str]:
    if isinstance(error, BadNumber):
        return {error.field: CAMPAIGN_WORDS["bad_number"]}
    if isinstance(error, BadTime):
        return {error.field: CAMPAIGN_WORDS["bad_time"]}
    assert isinstance(error, campaigns.CampaignRefused)
    language, dot, name = error.field.partition(".")  # "zh-CN.title": a text in another language
    return {text_field(language, name) if dot else error.field: CAMPAIGN_WORDS[error.reason]}


def _campaign_page(
    request: Request,
    event: registry.Event,
    *,
    campaign: campaigns.Campaign | None,
    form: CampaignForm,
    errors: dict | None = None,
    status_code: int = 200,
    saved: bool = False,
) -> Template:
    issued = campaigns.issued_count(request.app.state.db, event.id, campaign.number) if campaign else 0
    other_languages = [language for language in event.language_list[1:] if language in SUPPORTED]
    return page(
        request,
        "console/campaign",
        status_code=status_code,
        event=event,
        campaign=campaign,
        form=form,
        errors=errors or {},
        saved=saved,
        issued=issued,
        other_languages=other_languages,
        text_field=text_field,
        language_names=LANGUAGE_NAMES,
    )


class ConsoleCampaignsController(Controller):
    path = "/organizer/events/{event_id:str}/campaigns"
    guards = [organizer_guard]
    opt = {"owner": MANAGER}

    @get("/new", sync_to_thread=False, name="console_campaign_new")
    def new(self, request: Request, event_id: FromPath[str]) -> Template:
        form = CampaignForm(by_clerks="yes", rotating="yes")
        return _campaign_page(request, event_or_404(request, event_id), campaign=None, form=form)

    @post("/", sync_to_thread=False, name="console_campaign_create", status_code=303)
    def create(
        self, request: Request, event_id: FromPath[str], data: URLEncodedBody[CampaignForm]
    ) -> Template | Redirect:
        db, now = request.app.state.db, int(request.app.state.clock())
        event = event_or_404(request, event_id)
        try:
            with write_transaction(db):
                campaign = campaigns.create_campaign(db, event.id, now=now, **_settings(data, event))
                audit.record(
                    db,
                    request.state.organizer.id,
                    "campaign.create",
                    event.id,
                    {"number": campaign.number, "title": campaign.title},
                    now=now,
                )
        except (BadNumber, BadTime, campaigns.CampaignRefused) as error:
            return _campaign_page(request, event, campaign=None, form=data, errors=_errors(error), status_code=422)
        return Redirect(path=f"/organizer/events/{event.id}/campaigns/{campaign.number}", status_code=303)

    @get("/{number:int}", sync_to_thread=False, name="console_campaign")
    def show(self, request: Request, event_id: FromPath[str], number: FromPath[int]) -> Template:
        event = event_or_404(request, event_id)
        campaign = self._campaign(request, event, number)
        return _campaign_page(request, event, campaign=campaign, form=_form_of(campaign, event))

    @post("/{number:int}", sync_to_thread=False, name="console_campaign_update")
    def update(
        self, request: Request, event_id: FromPath[str], number: FromPath[int], data: URLEncodedBody[CampaignForm]
    ) -> Template:
        db, now = request.app.state.db, int(request.app.state.clock())
        event = event_or_404(request, event_id)
        campaign = self._campaign(request, event, number)
        try:
            settings = _settings(data, event)
            # Texts in a language the event no longer speaks are kept, not wiped, should it speak it again.
            settings["texts"] = {**campaign.texts, **settings["texts"]}
            with write_transaction(db):
                updated = campaigns.update_campaign(db, event.id, number, now=now, **settings)
                changed = {k: v for k, v in vars(updated).items() if getattr(campaign, k) != v}
                if changed:
                    audit.record(
                        db,
                        request.state.organizer.id,
                        "campaign.update",
                        event.id,
                        {"number": number, **changed},
                        now=now,
                    )
        except (BadNumber, BadTime, campaigns.CampaignRefused) as error:
            return _campaign_page(request, event, campaign=campaign, form=data, errors=_errors(error), status_code=422)
        return _campaign_page(request, event, campaign=updated, form=_form_of(updated, event), saved=True)

    @staticmethod
    def _campaign(request: Request, event: registry.Event, number: int) -> campaigns.Campaign:
        try:
            return campaigns.get_campaign(request.app.state.db, event.id, number)
        except LookupError:
            raise NotFoundException(f"no campaign {number} in this event") from None

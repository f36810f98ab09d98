"""The console's campaigns through the TestClient, signed in as an organizer."""

from __future__ import annotations

import pytest

from events import audit, campaigns, tokens
from tests.support.clock import NOW


def post(client, path: str, **fields):
    data = {
        "title": "¥50 off",
        "value": "¥50",
        "terms": "Over ¥200.",
        "max_uses": "1",
        "valid_from": "",
        "valid_until": "",
        "valid_minutes": "240",
        "per_attendee": "1",
        "cap": "500",
        "welcome": "yes",
        "by_clerks": "yes",
        "rotating": "yes",
        **fields,
        "_csrf_token": client.cookies["csrftoken"],
    }
    return client.post(path, data={k: v for k, v in data.items() if v is not None}, follow_redirects=False)


def test_create_then_change_a_campaign_and_issued_vouchers_keep_their_terms(client, db, event, signed_in) -> None:
    assert "New campaign" in client.get(f"/organizer/events/{event.id}/campaigns/new").text
    response = post(client, f"/organizer/events/{event.id}/campaigns/", title="<b>¥50</b> off")
    assert response.status_code == 303 and response.headers["location"].endswith("/campaigns/1")
    campaign = campaigns.get_campaign(db, event.id, 1)
    assert (campaign.title, campaign.value, campaign.valid_minutes, campaign.per_attendee, campaign.cap) == (
        "<b>¥50</b> off",
        "¥50",
        240,
        1,
        500,
    )
    assert campaign.welcome and campaign.by_clerks and campaign.rotating
    issued = campaigns.issue_voucher(db, event.id, 1, now=NOW)
    page = client.get(response.headers["location"]).text
    assert "&lt;b&gt;¥50&lt;/b&gt; off" in page and "1 voucher issued so far" in page
    changed = post(
        client,
        f"/organizer/events/{event.id}/campaigns/1",
        max_uses="3",
        valid_minutes="30",
        valid_until="2026-01-01T15:00",
        welcome=None,
        rotating=None,
    )
    assert changed.status_code == 200 and "Saved." in changed.text
    campaign = campaigns.get_campaign(db, event.id, 1)
    assert (campaign.max_uses, campaign.valid_minutes, campaign.valid_until, campaign.welcome, campaign.rotating) == (
        3,
        30,
        NOW + 5 * 3600,
        False,
        False,
    )
    assert tokens.decode(issued.text).token.max_uses == 1  # the voucher already issued is unchanged
    assert [a.action for a in audit.history(db, event.id)] == ["campaign.create", "campaign.update"]


@pytest.mark.parametrize(
    "fields, field, words",
    [
        (dict(title=""), "title", "A campaign needs a title."),
        (dict(max_uses="300"), "max_uses", "0 (unlimited) to 255"),
        (dict(max_uses="two"), "max_uses", "Type a whole number"),
        (
            dict(valid_from="2026-01-01T12:00", valid_until="2026-01-01T11:00"),
            "valid_until",
            "must end after it starts",
        ),
        (dict(valid_from="soon"), "valid_from", "Give a date and time"),
        (dict(valid_minutes="0"), "valid_minutes", "more than 0"),
        (dict(per_attendee="0"), "per_attendee", "1 or more"),
        (dict(cap="-5"), "cap", "Type a whole number"),
        (dict(welcome=None, by_clerks=None), "by_clerks", "at sign-up, by clerks, or both"),
    ],
)
def test_campaign_form_refusals_name_their_field(client, db, event, signed_in, fields, field, words) -> None:
    response = post(client, f"/organizer/events/{event.id}/campaigns/", **fields)
    assert response.status_code == 422 and words in response.text and f'id="campaign-{field}-error"' in response.text
    assert campaigns.list_campaigns(db, event.id) == []


def test_an_unknown_campaign_is_404_and_forms_need_csrf(client, event, signed_in) -> None:
    assert client.get(f"/organizer/events/{event.id}/campaigns/7").status_code == 404
    assert client.post(f"/organizer/events/{event.id}/campaigns/", data={"title": "x"}).status_code == 403


def test_a_bilingual_event_gives_a_campaign_texts_in_each_language(client, db, event, signed_in) -> None:
    form = client.get(f"/organizer/events/{event.id}/campaigns/new").text
    assert 'id="campaign-texts-zh-CN"' in form and 'name="title_zh_CN"' in form and 'name="title_en"' not in form
    response = post(
        client,
        f"/organizer/events/{event.id}/campaigns/",
        title="Free tote bag",
        value="a tote",
        terms="One per person.",
        title_zh_CN="免费<b>帆布袋</b>",
        terms_zh_CN="每人一个。",
        value_zh_CN="",
    )
    assert response.status_code == 303
    campaign = campaigns.get_campaign(db, event.id, 1)
    assert campaign.texts == {"zh-CN": {"title": "免费<b>帆布袋</b>", "terms": "每人一个。"}}
    page = client.get(response.headers["location"]).text
    assert 'value="免费&lt;b&gt;帆布袋&lt;/b&gt;"' in page
    # Changing only the English keeps the Chinese; the attendee's pages speak the reader's language.
    assert (
        post(
            client,
            f"/organizer/events/{event.id}/campaigns/1",
            title="Tote bag",
            title_zh_CN="免费帆布袋",
            terms_zh_CN="每人一个。",
        ).status_code
        == 200
    )
    zh, en = {"Accept-Language": "zh-CN"}, {"Accept-Language": "en"}
    post_welcome = client.get(f"/events/{event.id}", headers=zh).text
    assert "免费帆布袋" in post_welcome and "每人一个。" in post_welcome and "Tote bag" not in post_welcome
    assert "Tote bag" in client.get(f"/events/{event.id}", headers=en).text
    voucher = campaigns.issue_voucher(db, event.id, 1, now=NOW)
    code = voucher.text.removeprefix(tokens.PREFIX)
    assert "免费帆布袋" in client.get(f"/V/{code}", headers=zh).text
    assert "Tote bag" in client.get(f"/V/{code}", headers=en).text
    shown = client.post(
        f"/events/{event.id}/signup",
        headers=zh,
        follow_redirects=False,
        data={"name": "陈静", "phone": "13800138000", "consent": "yes", "_csrf_token": client.cookies["csrftoken"]},
    )
    wallet = client.get(shown.headers["location"], headers=zh).text
    assert "免费帆布袋" in wallet and "Tote bag" not in wallet


def test_a_text_in_another_language_is_refused_at_its_field(client, db, event, signed_in) -> None:
    response = post(client, f"/organizer/events/{event.id}/campaigns/", title_zh_CN="袋" * 121)
    assert response.status_code == 422 and 'id="campaign-title_zh_CN-error"' in response.text
    assert "That title is too long" in response.text and campaigns.list_campaigns(db, event.id) == []


def test_a_one_language_event_has_one_set_of_texts(client, db, signed_in) -> None:
    from events import registry

    english = registry.create_event(
        db, name="EN", venue="", starts_at=NOW, ends_at=NOW + 3600, languages=["en"], now=NOW
    )
    form = client.get(f"/organizer/events/{english.id}/campaigns/new").text
    assert 'name="title_zh_CN"' not in form and "<legend>English</legend>" not in form

"""Campaigns and the vouchers the server signs for them."""

from __future__ import annotations

import pytest

from events import campaigns, registry, tokens
from tests.support.clock import NOW


def test_a_voucher_carries_its_campaign_terms_signed(db, event) -> None:
    campaign = campaigns.create_campaign(
        db, event.id, title="¥50 off", max_uses=2, valid_minutes=30, rotating=True, now=NOW
    )
    issued = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)
    _, token = registry.authenticate_token(db, issued.text, now=NOW)
    assert (token.campaign, token.max_uses, token.rotating) == (1, 2, True)
    assert (token.valid_from, token.valid_until) == (NOW, NOW + 1800)
    assert campaigns.get_token(db, issued.id) == issued


def test_the_earlier_of_window_end_and_minutes_after_issue_wins(db, event) -> None:
    campaign = campaigns.create_campaign(
        db, event.id, title="Coffee", valid_from=NOW + 600, valid_until=NOW + 3600, valid_minutes=120, now=NOW
    )
    assert campaign.window_for(NOW) == (NOW + 600, NOW + 3600)
    assert campaign.window_for(NOW + 3000) == (NOW + 3000, NOW + 3600)


def test_changing_nothing_in_a_voucher_after_issue(db, event) -> None:
    campaign = campaigns.create_campaign(db, event.id, title="Tote bag", max_uses=1, now=NOW)
    issued = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)
    db["campaigns"].update((event.id, campaign.number), {"max_uses": 5})
    assert tokens.decode(issued.text).token.max_uses == 1


def test_campaign_numbers_count_per_event(db, event) -> None:
    numbers = [campaigns.create_campaign(db, event.id, title=f"C{i}", now=NOW).number for i in range(3)]
    assert numbers == [1, 2, 3]


@pytest.mark.parametrize(
    "bad", [dict(title=""), dict(max_uses=256), dict(valid_from=NOW + 10, valid_until=NOW), dict(valid_minutes=0)]
)
def test_campaign_validation(db, event, bad) -> None:
    with pytest.raises(ValueError):
        campaigns.create_campaign(db, event.id, **{"title": "T", "now": NOW, **bad})


def test_get_token_for_an_unknown_id(db) -> None:
    assert campaigns.get_token(db, "AAAAAAAAAAAAAAAA") is None


def test_changing_a_campaign_never_changes_vouchers_already_issued(db, event) -> None:
    campaign = campaigns.create_campaign(
        db, event.id, title="¥50 off", value="¥50", max_uses=1, valid_minutes=60, now=NOW
    )
    before = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)
    changed = campaigns.update_campaign(
        db, event.id, campaign.number, title="¥30 off", value="¥30", max_uses=3, valid_minutes=30, now=NOW
    )
    assert (changed.title, changed.value, changed.max_uses, changed.valid_minutes) == ("¥30 off", "¥30", 3, 30)
    token = tokens.decode(before.text).token
    assert (token.max_uses, token.valid_until) == (1, NOW + 3600)  # signed inside: unchanged
    after = tokens.decode(campaigns.issue_voucher(db, event.id, campaign.number, now=NOW).text).token
    assert (after.max_uses, after.valid_until) == (3, NOW + 1800)


@pytest.mark.parametrize(
    "settings, reason, field",
    [
        (dict(title=" "), "title_missing", "title"),
        (dict(title="x" * 121), "title_too_long", "title"),
        (dict(title="T", terms="x" * 1001), "terms_too_long", "terms"),
        (dict(title="T", value="x" * 41), "value_too_long", "value"),
        (dict(title="T", max_uses=256), "max_uses_range", "max_uses"),
        (dict(title="T", valid_from=NOW, valid_until=NOW), "window_backwards", "valid_until"),
        (dict(title="T", valid_minutes=0), "minutes_range", "valid_minutes"),
        (dict(title="T", per_attendee=0), "per_attendee_range", "per_attendee"),
        (dict(title="T", cap=0), "cap_range", "cap"),
        (dict(title="T", welcome=False, by_clerks=False), "nobody_issues", "by_clerks"),
    ],
)
def test_campaign_settings_are_refused_by_field(db, event, settings, reason, field) -> None:
    with pytest.raises(campaigns.CampaignRefused) as refused:
        campaigns.create_campaign(db, event.id, now=NOW, **settings)
    assert (refused.value.reason, refused.value.field) == (reason, field)


def test_the_cap_and_each_attendees_share(db, event) -> None:
    campaign = campaigns.create_campaign(db, event.id, title="Tote bag", cap=3, per_attendee=2, now=NOW)
    for _ in range(2):
        issued = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW, attendee_id="ATTENDEEAAAAAAAA")
        db.execute("update tokens set attendee_id = ? where id = ?", ["ATTENDEEAAAAAAAA", issued.id])
    with pytest.raises(campaigns.CampaignExhausted, match="attendee_share_reached"):
        campaigns.issue_voucher(db, event.id, campaign.number, now=NOW, attendee_id="ATTENDEEAAAAAAAA")
    campaigns.issue_voucher(db, event.id, campaign.number, now=NOW, attendee_id="ATTENDEEBBBBBBBB")
    with pytest.raises(campaigns.CampaignExhausted, match="cap_reached"):
        campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)


def test_vouchers_by_the_thousand_stop_at_the_cap(db, event) -> None:
    campaign = campaigns.create_campaign(db, event.id, title="Handout", cap=1500, rotating=False, now=NOW)
    issued = campaigns.issue_vouchers(db, event.id, campaign.number, 1000, now=NOW)
    assert len({v.id for v in issued}) == 1000 and campaigns.issued_count(db, event.id, campaign.number) == 1000
    assert all(tokens.decode(v.text).token.campaign == campaign.number for v in issued[:3])
    with pytest.raises(campaigns.CampaignExhausted, match="cap_reached"):
        campaigns.issue_vouchers(db, event.id, campaign.number, 501, now=NOW)
    assert campaigns.issued_count(db, event.id, campaign.number) == 1000  # nothing of the refused 501


def test_a_campaign_speaks_each_of_the_events_languages(db, event) -> None:
    campaign = campaigns.create_campaign(
        db,
        event.id,
        title="Free tote bag",
        terms="One per person.",
        value="a tote",
        now=NOW,
        texts={"zh-CN": {"title": " 免费帆布袋 ", "terms": "每人一个。", "value": ""}},
    )
    stored = campaigns.get_campaign(db, event.id, campaign.number)
    assert stored.texts == {"zh-CN": {"title": "免费帆布袋", "terms": "每人一个。"}}  # trimmed, empty ones left out
    assert campaigns.localized(stored, "zh-CN") == ("免费帆布袋", "每人一个。", "a tote")  # value falls back
    assert campaigns.localized(stored, "en") == ("Free tote bag", "One per person.", "a tote")
    assert campaigns.in_language(stored, "zh-CN").title == "免费帆布袋"
    (sent,) = campaigns.for_tablets(db, event.id)
    assert (
        sent["texts"] == {"zh-CN": {"title": "免费帆布袋", "terms": "每人一个。"}} and sent["title"] == "Free tote bag"
    )
    updated = campaigns.update_campaign(db, event.id, campaign.number, now=NOW, texts={"zh-CN": {"value": "一个袋子"}})
    assert updated.texts == {"zh-CN": {"value": "一个袋子"}}


@pytest.mark.parametrize(
    "name, limit", [("title", campaigns.TITLE_MAX), ("terms", campaigns.TERMS_MAX), ("value", campaigns.VALUE_MAX)]
)
def test_a_text_in_another_language_has_the_base_fields_limit(db, event, name, limit) -> None:
    campaigns.create_campaign(db, event.id, title="Tote", now=NOW, texts={"zh-CN": {name: "袋" * limit}})
    with pytest.raises(campaigns.CampaignRefused) as refused:
        campaigns.create_campaign(db, event.id, title="Tote", now=NOW, texts={"zh-CN": {name: "袋" * (limit + 1)}})
    assert (refused.value.reason, refused.value.field) == (f"{name}_too_long", f"zh-CN.{name}")
    assert len(campaigns.list_campaigns(db, event.id)) == 1

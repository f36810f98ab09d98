"""Campaigns and the vouchers the server signs for them."""

from __future__ import annotations

import pytest

from events import campaigns, registry, tokens
from tests.conftest import NOW


def test_a_voucher_carries_its_campaign_terms_signed(db, event) -> None:
    campaign = campaigns.create_campaign(db, event.id, title="¥50 off", max_uses=2, valid_minutes=30, rotating=True, now=NOW)
    issued = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW)
    _, token = registry.authenticate_token(db, issued.text, now=NOW)
    assert (token.campaign, token.max_uses, token.rotating) == (1, 2, True)
    assert (token.valid_from, token.valid_until) == (NOW, NOW + 1800)
    assert campaigns.get_token(db, issued.id) == issued


def test_the_earlier_of_window_end_and_minutes_after_issue_wins(db, event) -> None:
    campaign = campaigns.create_campaign(db, event.id, title="Coffee", valid_from=NOW + 600, valid_until=NOW + 3600, valid_minutes=120, now=NOW)
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

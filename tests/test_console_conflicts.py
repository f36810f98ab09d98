"""The console's conflicts page through the TestClient: two simulated tablets redeem one single-use
voucher offline; the organizer sees both ops and decides."""

from __future__ import annotations

import re

import pytest

from events import audit, campaigns, conflicts, registry
from tests.support.clock import NOW
from tests.support.tablet import enroll, push, redeem_twice

MS = NOW * 1000


@pytest.fixture
def over(db, event):
    """Tablets "Front desk" (clerk Ann) and "Exit" (clerk Bo) each redeem it, offline, a second apart."""
    front, exit_ = enroll(db, event.id, "Front desk", now=NOW), enroll(db, event.id, "Exit", now=NOW)
    front.clerk, exit_.clerk = "Ann", "Bo"
    redeem_twice(db, event.id, front, exit_, now=NOW)
    [conflict] = conflicts.list_conflicts(db, event.id)
    return conflict


def url(event, conflict=None, tail=""):
    base = f"/organizer/events/{event.id}/conflicts"
    return f"{base}/{conflict.id}{tail}" if conflict else base


def resolve(client, event, conflict, **fields):
    data = {"decision": "honour", "note": "Both got a bag.", **fields, "_csrf_token": client.cookies["csrftoken"]}
    return client.post(url(event, conflict, "/resolve"), data=data, follow_redirects=False)


def text_of(html: str) -> str:
    return " ".join(html.split())


def words_of(html: str) -> str:
    """What a reader sees (no tags)."""
    return text_of(re.sub(r"<[^>]+>", " ", html))


def test_the_list_shows_both_ops_with_tablet_clerk_corrected_time_and_what_the_clerk_saw(
    client, event, over, signed_in
) -> None:
    page = text_of(client.get(url(event)).text)
    assert "Used more times than allowed" in page and "Tote bag" in page and "2 uses of 1 allowed" in page
    assert page.count('class="conflict-op"') == 2
    for device, clerk, second in (("Front desk", "Ann", "10:00:01"), ("Exit", "Bo", "10:00:02")):
        assert (
            f'<td class="device">{device}</td> <td class="clerk">{clerk}</td> <td class="when">Jan 1, 2026, {second}'
            in page
        )
    assert page.count("saw green") == 2 and "0 earlier uses seen on the tablet" in page
    assert "within the allowance" in page and "over the allowance" in page
    assert "decided offline by the tablet" in page


def test_resolving_records_the_decision_who_and_when_and_the_trail_keeps_every_one(
    client, db, event, over, signed_in, clock
) -> None:
    assert client.post(url(event, over, "/resolve"), data={"decision": "honour"}).status_code == 403  # no CSRF
    clock.now = NOW + 120
    response = resolve(client, event, over)
    assert response.status_code == 303 and response.headers["location"] == url(event, over)
    page = client.get(url(event, over)).text
    assert "Honour: the use or voucher stands — decided by Mei, Jan 1, 2026, 10:02:00 AM" in words_of(page)
    assert "Both got a bag." in page and 'data-status="resolved"' in page
    (action,) = [a for a in audit.history(db, event.id) if a.action == "conflict.resolve"]
    assert (
        action.organizer_name == "Mei"
        and action.detail["decision"] == "honour"
        and action.detail["conflict_id"] == over.id
    )

    clock.now = NOW + 180
    assert resolve(client, event, over, decision="reverse", note="Bo took it back.").status_code == 303
    trail = client.get(url(event, over)).text
    assert trail.index("Honour:") < trail.index("Reverse:")  # in order, the earlier one kept

    assert f'id="conflict-{over.id}"' not in client.get(url(event)).text  # open is the default
    assert f'id="conflict-{over.id}"' in client.get(url(event) + "?status=resolved").text


def test_with_htmx_the_resolution_answers_the_updated_fragment(client, event, over, signed_in) -> None:
    response = client.post(
        url(event, over, "/resolve"),
        headers={"HX-Request": "true"},
        data={"decision": "dismiss", "note": "", "_csrf_token": client.cookies["csrftoken"]},
    )
    assert response.status_code == 200 and "<html" not in response.text
    assert "Decision recorded." in response.text and "Dismiss: nothing went wrong" in response.text


@pytest.mark.parametrize(
    "fields, field, words",
    [
        (dict(decision="merge"), "decision", "does not apply to this kind of conflict"),
        (dict(decision="approve"), "decision", "Choose one of the decisions offered."),
        (dict(decision=""), "decision", "Choose a decision."),
        (dict(note="x" * 2001), "note", "The note is too long"),
    ],
)
def test_a_refused_resolution_says_which_field(client, db, event, over, signed_in, fields, field, words) -> None:
    response = resolve(client, event, over, **fields)
    assert response.status_code == 422 and words in response.text
    assert f'id="resolution-{field}-error"' in response.text
    assert conflicts.resolutions(db, over.id) == [] and conflicts.get_conflict(db, over.id).status == "open"


def test_status_filters_are_links(client, event, over, signed_in) -> None:
    page = client.get(url(event)).text
    for status, count in (("open", 1), ("resolved", 0), ("cleared", 0), ("all", 1)):
        assert f'href="{url(event)}?status={status}"' in page
        assert f'id="filter-{status}">{status.capitalize()} ({count})</a>' in page
    assert re.search(r'aria-current="page"\s+id="filter-open"', page)
    assert "No conflict here." in client.get(url(event) + "?status=cleared").text
    assert client.get(url(event) + "?status=sideways").status_code == 400


def test_a_conflict_of_another_event_is_404(client, db, event, over, signed_in) -> None:
    other = registry.create_event(db, name="Other", venue="", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    assert client.get(f"/organizer/events/{other.id}/conflicts/{over.id}").status_code == 404
    response = client.post(
        f"/organizer/events/{other.id}/conflicts/{over.id}/resolve",
        data={"decision": "honour", "_csrf_token": client.cookies["csrftoken"]},
    )
    assert response.status_code == 404 and conflicts.resolutions(db, over.id) == []
    assert client.get(url(event) + "/999").status_code == 404


def test_names_are_escaped(client, db, event, signed_in) -> None:
    a, b = enroll(db, event.id, "<b>Tab</b>", now=NOW), enroll(db, event.id, "B", now=NOW)
    a.clerk = "<script>alert(1)</script>"
    redeem_twice(db, event.id, a, b, now=NOW, title="<i>Tote</i>")
    for path in (url(event), url(event, conflicts.list_conflicts(db, event.id)[0])):
        page = client.get(path).text
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<b>Tab</b>" not in page and "<i>Tote</i>" not in page


def test_the_pages_speak_chinese(client, event, over, signed_in) -> None:
    zh = {"Accept-Language": "zh-CN"}
    for path in (url(event), url(event, over)):
        page = client.get(path, headers=zh)
        assert page.status_code == 200 and '<html lang="zh-CN">' in page.text and "控制台" in page.text
        assert "2026年1月1日" in page.text  # times spelled the Chinese way


def test_a_possible_duplicate_shows_who_shares_the_phone_and_is_merged_or_dismissed(
    client, db, event, signed_in
) -> None:
    a, b = enroll(db, event.id, "A", now=NOW), enroll(db, event.id, "B", now=NOW)
    a.register("Li Wei", phone="138 0013 8000", now_ms=MS)
    b.register("Wei Li", phone="13800138000", now_ms=MS + 500)
    push(db, a, MS + 1000)
    push(db, b, MS + 2000)
    [duplicate] = conflicts.list_conflicts(db, event.id)
    page = text_of(client.get(url(event, duplicate)).text)
    assert "Possibly the same person twice" in page and "13800138000" in page
    assert "Registered: Li Wei" in page and "Registered: Wei Li" in page
    assert 'value="merge"' in page and 'value="dismiss"' in page and 'value="honour"' not in page
    assert resolve(client, event, duplicate, decision="honour").status_code == 422
    assert resolve(client, event, duplicate, decision="merge", note="Same person, two tablets.").status_code == 303


def test_an_over_cap_shows_the_campaign_its_cap_and_how_many_were_given(client, db, event, signed_in) -> None:
    campaign = campaigns.create_campaign(db, event.id, title="Free coffee", cap=1, rotating=False, now=NOW)
    a, b = enroll(db, event.id, "A", now=NOW), enroll(db, event.id, "B", now=NOW)
    a.issue_voucher(now_ms=MS, campaign=campaign.number)
    b.issue_voucher(now_ms=MS + 500, campaign=campaign.number)
    push(db, a, MS + 1000)
    push(db, b, MS + 2000)
    [capped] = conflicts.list_conflicts(db, event.id)
    page = text_of(client.get(url(event)).text)
    assert "More vouchers given than the campaign's cap" in page and "Free coffee" in page
    assert "2 vouchers given, the cap is 1" in page and page.count("Issued") == 2


def test_the_console_needs_a_signed_in_organizer(client, event, over) -> None:
    response = client.get(url(event), follow_redirects=False, headers={"Accept": "text/html"})
    assert response.headers["location"] == f"/organizer/login?next={url(event)}"

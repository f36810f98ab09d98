"""The console's events through the TestClient, signed in as an organizer."""

from __future__ import annotations

import re

import pytest

from events import audit, registry
from tests.support.clock import NOW
from tests.support.organizer import hold_new_events


def post(client, path: str, **fields):
    data = {
        "name": "Spring pop-up",
        "venue": "Store 1F",
        "starts": "2026-01-02T10:00",
        "ends": "2026-01-02T18:00",
        "timezone": "Asia/Shanghai",
        "languages": ["en", "zh-CN"],
        **fields,
        "_csrf_token": client.cookies["csrftoken"],
    }
    return client.post(path, data=data, follow_redirects=False)


def test_create_an_event_in_its_own_time_zone(client, db, signed_in) -> None:
    assert "New event" in client.get("/organizer/events/new").text
    response = post(client, "/organizer/events/", name="Pop-up <b>B</b>")
    assert response.status_code == 303
    event_id = response.headers["location"].rsplit("/", 1)[1]
    event = registry.get_event(db, event_id)
    assert (event.name, event.timezone, event.language_list) == ("Pop-up <b>B</b>", "Asia/Shanghai", ["en", "zh-CN"])
    assert event.starts_at == 1767319200  # 2026-01-02 10:00 in Shanghai is 02:00 UTC
    assert event.ends_at - event.starts_at == 8 * 3600
    page = client.get(response.headers["location"]).text
    assert "Pop-up &lt;b&gt;B&lt;/b&gt;" in page and "<b>B</b>" not in page and "created by Mei" in page
    assert "Jan 2, 2026, 10:00\u202fAM–6:00\u202fPM" in page  # a same-day event names its date once
    edit = client.get(response.headers["location"] + "/edit").text
    assert 'value="2026-01-02T10:00"' in edit and "Pop-up &lt;b&gt;B&lt;/b&gt;" in edit
    assert [a.action for a in audit.history(db, event_id)] == ["event.create"]


@pytest.mark.parametrize(
    "fields, field, words",
    [
        (dict(name=" "), "name", "An event needs a name."),
        (dict(name="x" * 121), "name", "too long"),
        (dict(ends="2026-01-02T09:00"), "ends", "must end after it starts"),
        (dict(starts="tomorrow"), "starts", "Give a date and time."),
        (dict(timezone="Mars/Olympus"), "timezone", "not a time zone we know"),
        (dict(languages=[]), "languages", "at least one language"),
        (dict(languages=["fr"]), "languages", "at least one language"),
    ],
)
def test_a_refused_event_form_says_which_field(client, db, signed_in, fields, field, words) -> None:
    response = post(client, "/organizer/events/", **fields)
    assert response.status_code == 422 and words in response.text
    assert f'id="event-{field}-error"' in response.text
    assert registry.list_events(db) == []


def test_change_an_event_with_htmx_and_see_who_did(client, db, event, signed_in) -> None:
    response = client.post(
        f"/organizer/events/{event.id}/edit",
        headers={"HX-Request": "true"},
        data={
            "name": "Spring pop-up, day 2",
            "venue": "Store 2F",
            "starts": "2026-01-01T08:30",
            "ends": "2026-01-01T20:00",
            "timezone": "UTC",
            "languages": "en",
            "_csrf_token": client.cookies["csrftoken"],
        },
    )
    # htmx gets the dashboard in place, and its address for the bar.
    assert response.status_code == 200 and "<html" not in response.text and "Saved." in response.text
    assert 'id="dashboard"' in response.text and response.headers["HX-Push-Url"] == f"/organizer/events/{event.id}"
    updated = registry.get_event(db, event.id)
    assert (updated.name, updated.venue, updated.languages) == ("Spring pop-up, day 2", "Store 2F", "en")
    (change,) = audit.history(db, event.id)
    assert change.organizer_name == "Mei" and set(change.detail) == {
        "name",
        "venue",
        "starts_at",
        "ends_at",
        "languages",
    }
    assert "Ends, Languages, Event name, Starts, Venue changed by Mei" in " ".join(response.text.split())


def test_an_unknown_event_is_404(client, signed_in) -> None:
    assert client.get("/organizer/events/evnothere").status_code == 404


def test_event_forms_need_csrf(client, db, event, signed_in) -> None:
    response = client.post(f"/organizer/events/{event.id}/edit", data={"name": "x"})
    assert response.status_code == 403
    assert registry.get_event(db, event.id).name == "Spring pop-up"


def test_an_english_only_event_speaks_english_to_a_chinese_phone(client, db, event, signed_in) -> None:
    assert "报名" in client.get(f"/events/{event.id}", headers={"Accept-Language": "zh-CN"}).text
    fields = {
        "name": event.name,
        "venue": event.venue,
        "starts": "2026-01-01T09:00",
        "ends": "2026-01-01T18:00",
        "timezone": "UTC",
        "languages": "en",
        "_csrf_token": client.cookies["csrftoken"],
    }
    assert client.post(f"/organizer/events/{event.id}/edit", data=fields).status_code == 200
    page = client.get(f"/events/{event.id}", headers={"Accept-Language": "zh-CN"}).text
    assert '<html lang="en">' in page and "Sign up" in page and "报名" not in page
    assert (
        "控制台" in client.get("/organizer", headers={"Accept-Language": "zh-CN"}).text
    )  # the console is not the event's


def test_every_console_page_speaks_chinese(client, db, event, signed_in) -> None:
    from events import campaigns

    campaigns.create_campaign(db, event.id, title="Tote", now=NOW)
    zh = {"Accept-Language": "zh-CN"}
    pages = {
        "/organizer": ["控制台", "新建活动", "退出登录"],
        f"/organizer/events/{event.id}": ["编辑活动", "已到场人数", "新建优惠活动", "导入参与者", "平板"],
        f"/organizer/events/{event.id}/edit": ["活动名称", "保存"],
        f"/organizer/events/{event.id}/campaigns/new": ["使用条款", "每位参与者可领张数", "创建优惠活动"],
        f"/organizer/events/{event.id}/campaigns/1": ["目前已发放 0 张券", "保存"],
        f"/organizer/events/{event.id}/tablets": ["添加平板", "生成登记码", "还没有登记平板"],
        f"/organizer/events/{event.id}/import": ["导入参与者", "CSV 文件", "上传"],
        "/organizer/login": ["主办方登录", "密码", "继续"],
    }
    for path, words in pages.items():
        text = client.get(path, headers=zh).text
        assert '<html lang="zh-CN">' in text, path
        for word in words:
            assert word in text, (path, word)


def test_the_event_history_says_what_each_action_was(client, db, event, signed_in) -> None:
    actions = [
        ("campaign.create", {"number": 3, "title": "Coffee <b>"}, "campaign “Coffee &lt;b&gt;” created by Mei"),
        (
            "tablet.revoke",
            {"device_id": "dv1", "name": "Front desk", "allowlist": 0},
            "tablet “Front desk” revoked by Mei",
        ),
        (
            "attendees.import",
            {"file": "list.csv", "rows": 3, "created": 2, "duplicates": 1, "errors": 0},
            "2 attendees imported from list.csv by Mei",
        ),
        (
            "conflict.resolve",
            {"conflict_id": 7, "kind": "over_redemption", "subject": "X", "decision": "honour", "note": ""},
            "conflict 7 decided (honour) by Mei",
        ),
        ("draw", {"draw": 1, "seed": "s", "candidates": 9, "winners": ["a", "b"]}, "lucky draw #1, 2 winners, by Mei"),
    ]
    for action, detail, _ in actions:
        audit.record(db, signed_in.id, action, event.id, detail, now=NOW)
    page = " ".join(client.get(f"/organizer/events/{event.id}").text.split())
    for _, _, words in actions:
        assert words in page
    assert "changed by" not in page


def test_the_event_history_names_the_command_line(client, db, event, signed_in) -> None:
    audit.record(
        db, audit.CLI, "tablet.revoke", event.id, {"device_id": "dv1", "name": "Door", "allowlist": 0}, now=NOW
    )
    page = " ".join(client.get(f"/organizer/events/{event.id}").text.split())
    assert "tablet “Door” revoked by the server's command line" in page


def test_the_event_page_says_how_it_is_going(client, db, clock, event, signed_in) -> None:
    """People in, vouchers redeemed, tablets online or late, open conflicts, each campaign's progress:
    the wall's figures (events.wall.snapshot), not the page's own."""
    from events import campaigns, wall
    from tests.support.tablet import enroll, push, redeem_twice

    door, bar = enroll(db, event.id, "Door", now=NOW), enroll(db, event.id, "Bar", now=NOW)
    redeem_twice(db, event.id, door, bar, now=NOW, title="Tote <b>bag</b>")  # campaign 1, one open conflict
    coffee = campaigns.create_campaign(db, event.id, title="Coffee", value="¥20", cap=50, rotating=False, now=NOW)
    campaigns.issue_vouchers(db, event.id, coffee.number, 3, now=NOW)
    for name in ("Li Wei", "Chen Jing"):
        door.checkin(door.register(name, now_ms=NOW * 1000 + 7000)["subject"], now_ms=NOW * 1000 + 8000)
    push(db, door, NOW * 1000 + 9000)
    clock.now = NOW + 200  # Bar last synced at NOW + 6 s: late by now; Door synced at NOW + 9 s
    db.execute("update devices set last_sync_at = ? where id = ?", [NOW + 150, door.device_id])
    page = client.get(f"/organizer/events/{event.id}").text
    counters = wall.snapshot(db, event.id, now=NOW + 200).counters
    assert (counters.checked_in, counters.vouchers_redeemed, counters.open_conflicts) == (2, 1, 1)

    def figure(name: str) -> str:
        found = re.search(rf'id="figure-{name}"[^>]*>(.*?)</a>', page, re.S).group(1)
        return " ".join(re.sub(r"<[^>]+>", " ", found).split())

    assert figure("people-in").startswith("2 People in of 2 registered")  # two walk-ins: registered, not signed up
    assert figure("redeemed").startswith("1 Vouchers redeemed of 4 issued")
    assert figure("tablets").startswith("1/2 Tablets online 1 late")
    assert figure("conflicts").startswith("1 Open conflicts")
    tote = re.search(r'<tr id="campaign-1">.*?</tr>', page, re.S).group(0)
    assert "Tote &lt;b&gt;bag&lt;/b&gt;" in tote and re.findall(r'class="num">([^<]+)<', tote) == ["1", "1", "∞"]
    coffee_row = re.search(r'<tr id="campaign-2">.*?</tr>', page, re.S).group(0)
    assert re.findall(r'class="num">([^<]+)<', coffee_row) == ["3", "0", "50"] and 'max="50" value="3"' in coffee_row
    late = re.search(rf'<li id="tablet-{bar.device_id}" data-state="late">.*?</li>', page, re.S).group(0)
    assert "late: last sync" in late
    assert f'<li id="tablet-{door.device_id}" data-state="online">' in page
    for link in ("wall", "conflicts", "report", "import", "tablets"):
        assert f'href="/organizer/events/{event.id}/{link}"' in page
    # Editing is an action with a real address; the page itself has no event form.
    assert f'href="/organizer/events/{event.id}/edit" hx-get="/organizer/events/{event.id}/edit"' in page
    assert 'id="event-form"' not in page


def test_edit_is_its_own_page_and_saving_goes_back_to_the_dashboard(client, db, event, signed_in) -> None:
    edit = client.get(f"/organizer/events/{event.id}/edit")
    assert edit.status_code == 200 and 'id="event-form"' in edit.text and "<html" in edit.text
    fragment = client.get(f"/organizer/events/{event.id}/edit", headers={"HX-Request": "true"})
    assert 'id="event-form"' in fragment.text and "<html" not in fragment.text
    fields = {
        "name": "Autumn pop-up",
        "venue": "2F",
        "starts": "2026-01-01T09:00",
        "ends": "2026-01-01T18:00",
        "timezone": "UTC",
        "languages": "en",
        "_csrf_token": client.cookies["csrftoken"],
    }
    saved = client.post(f"/organizer/events/{event.id}/edit", data=fields, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/organizer/events/{event.id}?saved=1"
    assert "Saved." in client.get(saved.headers["location"]).text
    assert registry.get_event(db, event.id).name == "Autumn pop-up"
    refused = client.post(f"/organizer/events/{event.id}/edit", data={**fields, "name": " "}, follow_redirects=False)
    assert refused.status_code == 422 and 'id="event-name-error"' in refused.text and 'id="event-form"' in refused.text
    assert registry.get_event(db, event.id).name == "Autumn pop-up"
    assert client.post(f"/organizer/events/{event.id}", data=fields).status_code == 405  # the old address edits nothing


def test_a_same_day_event_names_its_date_once_in_both_languages(client, db, signed_in) -> None:
    shanghai = registry.create_event(
        db, name="Day", venue="", starts_at=1796263200, ends_at=1796292000, timezone="Asia/Shanghai", now=NOW
    )  # 2026-12-03 10:00–18:00 in Shanghai
    two_days = registry.create_event(
        db, name="Two", venue="", starts_at=1796263200, ends_at=1796263200 + 86400, timezone="Asia/Shanghai", now=NOW
    )
    hold_new_events(db, signed_in)
    english = client.get(f"/events/{shanghai.id}").text
    assert "Dec 3, 2026, 10:00\u202fAM–6:00\u202fPM" in english and english.count("2026") == 1
    chinese = client.get(f"/events/{shanghai.id}", headers={"Accept-Language": "zh-CN"}).text
    assert "2026年12月3日 10:00–18:00" in chinese
    both = client.get(f"/events/{two_days.id}").text
    assert "Dec 3, 2026, 10:00\u202fAM – Dec 4, 2026, 10:00\u202fAM" in both
    console = client.get("/organizer", headers={"Accept-Language": "zh-CN"}).text
    assert "2026年12月3日 10:00–18:00" in console

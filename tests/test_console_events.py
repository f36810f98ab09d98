"""The console's events through the TestClient, signed in as an organizer."""

from __future__ import annotations


import pytest

from events import audit, organizers, registry
from tests.conftest import NOW
from tests.test_organizers import PASSWORD, sign_in


@pytest.fixture
def signed_in(client, db):
    mei = organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)
    assert sign_in(client, db, mei.id).status_code == 303
    return mei


def post(client, path: str, **fields):
    data = {"name": "Spring pop-up", "venue": "Store 1F", "starts": "2026-01-02T10:00", "ends": "2026-01-02T18:00",
            "timezone": "Asia/Shanghai", "languages": ["en", "zh-CN"], **fields, "_csrf_token": client.cookies["csrftoken"]}
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
    assert "Pop-up &lt;b&gt;B&lt;/b&gt;" in page and "<b>B</b>" not in page
    assert 'value="2026-01-02T10:00"' in page and "created by Mei" in page
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
    response = client.post(f"/organizer/events/{event.id}", headers={"HX-Request": "true"}, data={
        "name": "Spring pop-up, day 2", "venue": "Store 2F", "starts": "2026-01-01T08:30", "ends": "2026-01-01T20:00",
        "timezone": "UTC", "languages": "en", "_csrf_token": client.cookies["csrftoken"]})
    assert response.status_code == 200 and "<html" not in response.text and "Saved." in response.text
    updated = registry.get_event(db, event.id)
    assert (updated.name, updated.venue, updated.languages) == ("Spring pop-up, day 2", "Store 2F", "en")
    (change,) = audit.history(db, event.id)
    assert change.organizer_name == "Mei" and set(change.detail) == {"name", "venue", "starts_at", "ends_at", "languages"}
    assert "Ends, Languages, Name, Starts, Venue changed by Mei" in " ".join(response.text.split())


def test_an_unknown_event_is_404(client, signed_in) -> None:
    assert client.get("/organizer/events/evnothere").status_code == 404


def test_event_forms_need_csrf(client, db, event, signed_in) -> None:
    response = client.post(f"/organizer/events/{event.id}", data={"name": "x"})
    assert response.status_code == 403


def test_an_english_only_event_speaks_english_to_a_chinese_phone(client, db, event, signed_in) -> None:
    assert "报名" in client.get(f"/events/{event.id}", headers={"Accept-Language": "zh-CN"}).text
    fields = {"name": event.name, "venue": event.venue, "starts": "2026-01-01T09:00", "ends": "2026-01-01T18:00",
              "timezone": "UTC", "languages": "en", "_csrf_token": client.cookies["csrftoken"]}
    assert client.post(f"/organizer/events/{event.id}", data=fields).status_code == 200
    page = client.get(f"/events/{event.id}", headers={"Accept-Language": "zh-CN"}).text
    assert '<html lang="en">' in page and "Sign up" in page and "报名" not in page
    assert "控制台" in client.get("/organizer", headers={"Accept-Language": "zh-CN"}).text  # the console is not the event's


def test_every_console_page_speaks_chinese(client, db, event, signed_in) -> None:
    from events import campaigns

    campaigns.create_campaign(db, event.id, title="Tote", now=NOW)
    zh = {"Accept-Language": "zh-CN"}
    pages = {
        "/organizer": ["控制台", "新建活动", "退出登录"],
        f"/organizer/events/{event.id}": ["活动信息", "保存", "新建优惠活动", "导入参与者", "平板"],
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
        ("tablet.revoke", {"device_id": "dv1", "name": "Front desk", "allowlist": 0}, "tablet “Front desk” revoked by Mei"),
        ("attendees.import", {"file": "list.csv", "rows": 3, "created": 2, "duplicates": 1, "errors": 0},
         "2 attendees imported from list.csv by Mei"),
        ("conflict.resolve", {"conflict_id": 7, "kind": "over_redemption", "subject": "X", "decision": "honour", "note": ""},
         "conflict 7 decided (honour) by Mei"),
        ("draw", {"draw": 1, "seed": "s", "candidates": 9, "winners": ["a", "b"]}, "lucky draw #1, 2 winners, by Mei"),
    ]
    for action, detail, _ in actions:
        audit.record(db, signed_in.id, action, event.id, detail, now=NOW)
    page = " ".join(client.get(f"/organizer/events/{event.id}").text.split())
    for _, _, words in actions:
        assert words in page
    assert "changed by" not in page

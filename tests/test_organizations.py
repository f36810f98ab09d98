"""Organizations and roles: the domain's rules (events/organizations.py), the console kept within
the caller's organization and role (server/auth.py's guard), the Members page, the command, and
the migration of a database made before organizations."""

from __future__ import annotations

import io
import re

import pytest
from sqlite_utils import Database

from events import audit, organizations, organizers, registry
from events.db import open_database
from migrations import migrations
from server.cli import main as cli
from tests.support.clock import NOW
from tests.support.organizer import PASSWORD, csrf, totp
from tests.support.routes import HTTP_ROUTES, SOCKET_ROUTES

OWNER, MANAGER, STAFF = organizations.OWNER, organizations.MANAGER, organizations.STAFF


def account(db, name: str) -> organizers.Organizer:
    return organizers.create_organizer(db, email=f"{name.lower()}@example.com", name=name, password=PASSWORD, now=NOW)


def sign_in_as(client, db, who: organizers.Organizer, *, at: int = NOW) -> None:
    token = csrf(client)
    client.cookies.clear()
    token = csrf(client)
    first = client.post(
        "/organizer/login/",
        data={"email": who.email, "password": PASSWORD, "_csrf_token": token},
        follow_redirects=False,
    )
    assert first.status_code == 303
    client.get(first.headers["location"])
    enrolled = db["organizers"].get(who.id)["totp_enrolled_at"] is not None
    done = client.post(
        "/organizer/login/code", data={"code": totp(db, who.id).at(at), "_csrf_token": token}, follow_redirects=False
    )
    # The sign-in that enrolls the app answers with the recovery codes, shown once; later ones go on.
    assert done.status_code == (303 if enrolled else 200), done.text


@pytest.fixture
def shop(db, event):
    """Mei owns "Shop", which holds the event; Kai manages there and Sam is staff. Olu owns
    "Elsewhere", which holds an event of its own."""
    home = organizations.create_organization(db, name="Shop", now=NOW)
    organizations.place_event(db, event.id, home.id)
    people = {}
    for name, role in (("Mei", OWNER), ("Kai", MANAGER), ("Sam", STAFF)):
        people[name] = account(db, name)
        organizations.add_member(db, home.id, people[name].id, role, now=NOW)
    other = organizations.create_organization(db, name="Elsewhere", now=NOW)
    people["Olu"] = account(db, "Olu")
    organizations.add_member(db, other.id, people["Olu"].id, OWNER, now=NOW)
    theirs = registry.create_event(db, name="Their secret launch", venue="", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    organizations.place_event(db, theirs.id, other.id)
    return home, other, people, theirs


# --- the domain --------------------------------------------------------------------------------


def test_an_account_sees_and_acts_only_in_its_organization(db, event, shop) -> None:
    home, other, people, theirs = shop
    assert [e.id for e in organizations.visible_events(db, people["Sam"].id)] == [event.id]
    assert [e.id for e in organizations.visible_events(db, people["Olu"].id)] == [theirs.id]
    assert organizations.role_in_event(db, people["Kai"].id, event.id) == MANAGER
    assert organizations.role_in_event(db, people["Olu"].id, event.id) is None
    assert organizations.role_in_event(db, people["Mei"].id, "evnothing") is None
    loner = account(db, "Lee")
    assert organizations.visible_events(db, loner.id) == [] and organizations.membership(db, loner.id) is None
    with pytest.raises(organizations.MembershipRefused, match="in_another_organization"):
        organizations.add_member(db, home.id, people["Olu"].id, STAFF, now=NOW)
    with pytest.raises(ValueError):
        organizations.place_event(db, theirs.id, home.id)  # an event never changes hands
    assert organizations.allows(OWNER, MANAGER) and organizations.allows(MANAGER, STAFF)
    assert not organizations.allows(STAFF, MANAGER) and not organizations.allows(None, STAFF)


def test_the_last_owner_can_be_neither_removed_nor_demoted(db, shop) -> None:
    home, _, people, _ = shop
    for attempt in (
        lambda: organizations.remove_member(db, home.id, people["Mei"].id),
        lambda: organizations.change_role(db, home.id, people["Mei"].id, MANAGER),
    ):
        with pytest.raises(organizations.MembershipRefused, match="last_owner"):
            attempt()
    organizations.change_role(db, home.id, people["Kai"].id, OWNER)
    organizations.change_role(db, home.id, people["Mei"].id, STAFF)  # another owner now stands
    assert [(m.name, m.role) for m in organizations.members(db, home.id)] == [
        ("Kai", OWNER),
        ("Mei", STAFF),
        ("Sam", STAFF),
    ]


def test_the_last_owner_who_can_sign_in_cannot_be_disabled_nor_lose_the_role(db, shop) -> None:
    home, _, people, _ = shop
    mei, kai = people["Mei"].id, people["Kai"].id
    with pytest.raises(organizations.MembershipRefused, match="last_owner"):
        organizations.set_member_disabled(db, home.id, mei, True, by=kai, now=NOW)
    with pytest.raises(organizations.MembershipRefused, match="yourself"):
        organizations.set_member_disabled(db, home.id, mei, True, by=mei, now=NOW)
    # A second owner, disabled, manages nothing: Mei is still the last one who can.
    organizations.change_role(db, home.id, kai, OWNER)
    organizations.set_member_disabled(db, home.id, kai, True, by=mei, now=NOW)
    for attempt in (
        lambda: organizations.change_role(db, home.id, mei, STAFF),
        lambda: organizations.remove_member(db, home.id, mei),
        lambda: organizations.set_member_disabled(db, home.id, mei, True, by=people["Sam"].id, now=NOW),
    ):
        with pytest.raises(organizations.MembershipRefused, match="last_owner"):
            attempt()
    organizations.change_role(db, home.id, kai, MANAGER)  # the disabled owner may be demoted, though
    assert organizations.member(db, home.id, kai).disabled and not organizations.member(db, home.id, mei).disabled
    with pytest.raises(organizations.MembershipRefused, match="yourself"):
        organizations.reset_member(db, home.id, mei, second_factor=True, password=None, by=mei, now=NOW)


# --- the console: organizations apart, roles --------------------------------------------------


def _event_routes() -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, method, _ in HTTP_ROUTES
        if path.startswith("/organizer/") and "{event_id:" in path and method != "OPTIONS"
    ]


def _concrete(path: str, event_id: str) -> str:
    values = {
        "event_id": event_id,
        "number": "1",
        "device_id": "dvnone",
        "import_id": "none",
        "draw_id": "1",
        "conflict_id": "1",
        "name": "attendees.csv",
    }
    return re.sub(r"\{(\w+):\w+\}", lambda m: values[m.group(1)], path)


def test_another_organizations_event_is_an_unknown_one_on_every_route(client, db, event, shop) -> None:
    """Olu owns his organization, yet each of Shop's event routes answers him exactly as for an
    event that does not exist: the same status, the same body (bar the id he typed)."""
    *_, people, _ = shop
    sign_in_as(client, db, people["Olu"])
    headers = {"Accept": "application/json", "x-csrftoken": client.cookies["csrftoken"]}
    assert _event_routes(), "no event routes found"
    for path, method in _event_routes():
        theirs = client.request(method, _concrete(path, event.id), headers=headers, follow_redirects=False)
        unknown = client.request(method, _concrete(path, "evdoesnotexist00"), headers=headers, follow_redirects=False)
        assert theirs.status_code == unknown.status_code == 404, (method, path, theirs.status_code)
        assert theirs.json() == {
            **unknown.json(),
            "detail": unknown.json()["detail"].replace("evdoesnotexist00", event.id),
        }
    page = client.get("/organizer", headers={"Accept": "text/html"}).text
    assert "Their secret launch" in page and "Spring pop-up" not in page


def test_the_wall_socket_of_another_organization_closes_as_for_an_unknown_event(client, db, event, shop) -> None:
    from litestar.exceptions import WebSocketDisconnect

    *_, people, theirs = shop
    (socket_path,) = [path for path, _ in SOCKET_ROUTES if "{event_id:" in path]
    sign_in_as(client, db, people["Olu"])
    codes = []
    for event_id in (event.id, "evdoesnotexist00"):
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect(socket_path.replace("{event_id:str}", event_id)) as socket:
                socket.receive_json()
        codes.append(closed.value.code)
    assert codes == [4404, 4404]
    with client.websocket_connect(socket_path.replace("{event_id:str}", theirs.id)) as socket:
        assert "html" in socket.receive_json()  # his own event's wall works


def test_staff_cannot_export_personal_data(client, db, event, shop) -> None:
    from tests.support.tablet import enroll, push

    *_, people, _ = shop
    door = enroll(db, event.id, "Door", now=NOW)
    door.register("Li Wei", now_ms=NOW * 1000, phone="13800138000", email="li.wei@example.com")
    push(db, door, NOW * 1000 + 10)
    sign_in_as(client, db, people["Sam"])
    for name in ("attendees", "checkins", "vouchers", "redemptions", "conflicts"):
        refused = client.get(f"/organizer/events/{event.id}/report/{name}.csv", headers={"Accept": "application/json"})
        assert refused.status_code == 403 and refused.json() == {"error": "role_required", "role": MANAGER}
        assert "13800138000" not in refused.text
    html = client.get(f"/organizer/events/{event.id}/report/attendees.csv", headers={"Accept": "text/html"})
    assert html.status_code == 403 and "Your role in this organization does not allow that" in html.text
    report = client.get(f"/organizer/events/{event.id}/report")
    assert report.status_code == 200 and "13800138000" not in report.text and "li.wei" not in report.text
    assert ".csv" not in report.text  # no link staff would only be refused at
    sign_in_as(client, db, people["Kai"], at=NOW + 30)
    export = client.get(f"/organizer/events/{event.id}/report/attendees.csv")
    assert export.status_code == 200 and "13800138000" in export.text


def test_staff_read_conflicts_but_do_not_decide_nor_change_the_event(client, db, event, shop) -> None:
    from tests.support.tablet import enroll, redeem_twice

    *_, people, _ = shop
    redeem_twice(db, event.id, enroll(db, event.id, "Door", now=NOW), enroll(db, event.id, "Bar", now=NOW), now=NOW)
    (conflict_id,) = [row[0] for row in db.execute("select id from conflicts where event_id = ?", [event.id])]
    sign_in_as(client, db, people["Sam"])
    token = client.cookies["csrftoken"]
    base = f"/organizer/events/{event.id}"
    shown = client.get(f"{base}/conflicts/{conflict_id}")
    assert shown.status_code == 200 and 'action="' + f"{base}/conflicts/{conflict_id}/resolve" not in shown.text
    for path, form in (
        (f"{base}/conflicts/{conflict_id}/resolve", {"decision": "dismiss", "note": "x"}),
        (f"{base}/edit", {"name": "Taken over"}),
        (f"{base}/campaigns/", {"title": "Free"}),
        (f"{base}/tablets/", {"name": "Mine"}),
        (f"{base}/wall/draws", {"winners": "1"}),
    ):
        assert client.post(path, data={**form, "_csrf_token": token}, follow_redirects=False).status_code == 403, path
    assert db.execute("select status from conflicts where id = ?", [conflict_id]).fetchone()[0] == "open"
    assert registry.get_event(db, event.id).name == "Spring pop-up"
    assert client.get(f"{base}/wall").status_code == 200 and client.get(base).status_code == 200


def test_a_manager_cannot_manage_members(client, db, shop) -> None:
    home, _, people, _ = shop
    sign_in_as(client, db, people["Kai"])
    token = client.cookies["csrftoken"]
    assert client.get("/organizer/members", headers={"Accept": "application/json"}).json()["error"] == "role_required"
    for path, form in (
        ("/organizer/members/", {"email": "new@example.com", "role": OWNER, "name": "New", "password": PASSWORD}),
        (f"/organizer/members/{people['Kai'].id}/role", {"role": OWNER}),
        (f"/organizer/members/{people['Mei'].id}/remove", {}),
    ):
        assert client.post(path, data={**form, "_csrf_token": token}, follow_redirects=False).status_code == 403, path
    assert [(m.name, m.role) for m in organizations.members(db, home.id)] == [
        ("Mei", OWNER),
        ("Kai", MANAGER),
        ("Sam", STAFF),
    ]
    assert organizations.find_account(db, "new@example.com") is None
    assert "/organizer/members" not in client.get("/organizer").text


def test_a_new_event_is_its_creators_organizations(client, db, shop) -> None:
    home, _, people, _ = shop
    sign_in_as(client, db, people["Kai"])
    created = client.post(
        "/organizer/events/",
        data={
            "name": "Kai's launch",
            "venue": "",
            "starts": "2026-01-02T10:00",
            "ends": "2026-01-02T18:00",
            "timezone": "UTC",
            "languages": ["en"],
            "_csrf_token": client.cookies["csrftoken"],
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    event_id = created.headers["location"].rsplit("/", 1)[1]
    assert organizations.organization_of_event(db, event_id) == home.id
    sign_in_as(client, db, people["Olu"])
    assert client.get(f"/organizer/events/{event_id}", headers={"Accept": "application/json"}).status_code == 404


# --- the Members page -------------------------------------------------------------------------


def test_an_owner_adds_changes_and_removes_members_and_the_last_owner_stays(client, db, shop) -> None:
    home, _, people, _ = shop
    sign_in_as(client, db, people["Mei"])
    token = client.cookies["csrftoken"]
    page = client.get("/organizer/members")
    assert page.status_code == 200 and "Kai" in page.text and 'name="_csrf_token"' in page.text
    # A new account, then an existing one (Lee, in no organization), by email.
    added = client.post(
        "/organizer/members/",
        data={
            "email": "Ann@Example.com",
            "role": MANAGER,
            "name": "Ann <b>",
            "password": PASSWORD,
            "_csrf_token": token,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/organizer/members?done=added"
    lee = account(db, "Lee")
    fragment = client.post(
        "/organizer/members/",
        data={"email": "lee@example.com", "role": STAFF, "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text and "Member added." in fragment.text
    assert "Ann &lt;b&gt;" in fragment.text
    ann = organizations.find_account(db, "ann@example.com")
    assert organizations.membership(db, ann).role == MANAGER and organizations.membership(db, lee.id).role == STAFF
    # Refusals: 422 with the reason in words, nothing changed.
    for form, words in (
        ({"email": "olu@example.com", "role": STAFF}, "cannot be added here"),
        ({"email": "kai@example.com", "role": STAFF}, "already a member"),
        ({"email": "zed@example.com", "role": STAFF, "name": "Zed", "password": "short"}, "10 to 1024"),
        ({"email": "zed@example.com", "role": "admin"}, "Choose a role"),
    ):
        refused = client.post("/organizer/members/", data={**form, "_csrf_token": token})
        assert refused.status_code == 422 and words in refused.text, (form, refused.status_code)
    assert organizations.find_account(db, "zed@example.com") is None
    for path, form in (
        (f"/organizer/members/{people['Mei'].id}/role", {"role": STAFF}),
        (f"/organizer/members/{people['Mei'].id}/remove", {}),
    ):
        refused = client.post(path, data={**form, "_csrf_token": token})
        assert refused.status_code == 422 and "at least one owner" in refused.text
    assert (
        client.post(
            f"/organizer/members/{people['Kai'].id}/role",
            data={"role": STAFF, "_csrf_token": token},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/organizer/members/{people['Sam'].id}/remove", data={"_csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        organizations.membership(db, people["Kai"].id).role == STAFF
        and organizations.membership(db, people["Sam"].id) is None
    )
    assert [a.action for a in audit.history(db, home.id)] == [
        "member.add",
        "member.add",
        "member.role",
        "member.remove",
    ]
    # A member of another organization is not there to change; a form without CSRF is refused.
    assert client.post(f"/organizer/members/{people['Olu'].id}/remove", data={"_csrf_token": token}).status_code == 404
    assert client.post(f"/organizer/members/{people['Kai'].id}/remove", data={}).status_code == 403
    assert organizations.membership(db, people["Kai"].id) is not None


def test_a_removed_member_reaches_nothing_at_their_next_request(client, db, event, shop) -> None:
    home, _, people, _ = shop
    sign_in_as(client, db, people["Sam"])
    assert client.get(f"/organizer/events/{event.id}/wall").status_code == 200
    organizations.remove_member(db, home.id, people["Sam"].id)
    assert client.get(f"/organizer/events/{event.id}/wall", headers={"Accept": "application/json"}).status_code == 404
    home_page = client.get("/organizer")
    assert (
        home_page.status_code == 200
        and "not a member of any organization" in home_page.text
        and "Spring pop-up" not in home_page.text
    )


def test_an_owner_resets_a_members_app_and_password_and_their_sessions_end(client, db, shop, clock) -> None:
    home, _, people, _ = shop
    kai = people["Kai"]
    sign_in_as(client, db, kai)
    kais = client.cookies["poppass_organizer"]
    sign_in_as(client, db, people["Mei"])
    token = client.cookies["csrftoken"]
    page = client.get("/organizer/members").text
    assert f'action="/organizer/members/{kai.id}/reset"' in page
    assert f'action="/organizer/members/{people["Mei"].id}/reset"' not in page  # not one's own
    nothing = client.post(f"/organizer/members/{kai.id}/reset", data={"_csrf_token": token})
    assert nothing.status_code == 422 and "Choose what to reset" in nothing.text
    done = client.post(
        f"/organizer/members/{kai.id}/reset",
        headers={"HX-Request": "true"},
        data={"second_factor": "yes", "password": "yes", "_csrf_token": token},
    )
    (password,) = re.findall(r'id="one-time-password">([a-z2-7-]+)<', done.text)
    assert done.status_code == 200 and "<html" not in done.text and done.headers["cache-control"] == "no-store"
    assert organizers.session_organizer(db, kais, now=NOW + 60) is None  # his sessions ended
    resets = [(a.action, a.organizer_id) for a in audit.history(db, kai.id) if a.action.endswith("_reset")]
    assert resets == [("account.second_factor_reset", people["Mei"].id), ("account.password_reset", people["Mei"].id)]
    # Kai: the old password is gone; the handed-over one enrolls an app again, then his own password.
    with pytest.raises(organizers.LoginRefused):
        organizers.check_password(db, kai.email, PASSWORD, now=NOW + 60)
    client.cookies.clear()
    clock.now = NOW + 60
    token = csrf(client)
    client.post("/organizer/login/", data={"email": kai.email, "password": password, "_csrf_token": token})
    enroll = client.get("/organizer/login/code")
    assert 'id="totp-secret"' in enroll.text
    codes = client.post("/organizer/login/code", data={"code": totp(db, kai.id).at(NOW + 60), "_csrf_token": token})
    assert codes.status_code == 200 and 'href="/organizer/account"' in codes.text  # the codes, then his own password
    assert (
        client.get("/organizer", headers={"Accept": "text/html"}, follow_redirects=False).headers["location"]
        == "/organizer/account"
    )
    # Self, and another organization's member: refused.
    sign_in_as(client, db, people["Mei"], at=NOW + 90)
    token = client.cookies["csrftoken"]
    self_reset = client.post(
        f"/organizer/members/{people['Mei'].id}/reset", data={"password": "yes", "_csrf_token": token}
    )
    assert self_reset.status_code == 422 and "Account page" in self_reset.text
    assert (
        client.post(
            f"/organizer/members/{people['Olu'].id}/reset", data={"password": "yes", "_csrf_token": token}
        ).status_code
        == 404
    )


def test_an_owner_disables_a_member_at_once_and_enables_them_again(client, db, event, shop) -> None:
    home, _, people, _ = shop
    sam = people["Sam"]
    sign_in_as(client, db, sam)
    sams = client.cookies["poppass_organizer"]
    sign_in_as(client, db, people["Mei"])
    token = client.cookies["csrftoken"]
    done = client.post(f"/organizer/members/{sam.id}/disable", data={"_csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/organizer/members?done=disabled"
    assert organizers.session_organizer(db, sams, now=NOW + 1) is None
    page = client.get("/organizer/members?done=disabled").text
    assert "(disabled)" in page and f'action="/organizer/members/{sam.id}/enable"' in page
    client.cookies["poppass_organizer"] = sams  # his old cookie reaches nothing
    assert client.get(f"/organizer/events/{event.id}", headers={"Accept": "application/json"}).status_code == 401
    client.cookies.clear()
    token = csrf(client)
    refused = client.post("/organizer/login/", data={"email": sam.email, "password": PASSWORD, "_csrf_token": token})
    assert refused.status_code == 401 and "do not match" in refused.text
    sign_in_as(client, db, people["Mei"], at=NOW + 30)
    token = client.cookies["csrftoken"]
    self_disable = client.post(f"/organizer/members/{people['Mei'].id}/disable", data={"_csrf_token": token})
    assert self_disable.status_code == 422 and not organizers.is_disabled(db, people["Mei"].id)
    client.post(f"/organizer/members/{sam.id}/enable", data={"_csrf_token": token})
    assert not organizers.is_disabled(db, sam.id)
    assert [
        (a.action, a.organizer_id)
        for a in audit.history(db, sam.id)
        if a.action in ("account.disabled", "account.enabled")
    ] == [("account.disabled", people["Mei"].id), ("account.enabled", people["Mei"].id)]
    sign_in_as(client, db, sam, at=NOW + 30)


def test_the_members_page_speaks_chinese(client, db, shop) -> None:
    *_, people, _ = shop
    sign_in_as(client, db, people["Mei"])
    page = client.get("/organizer/members", headers={"Accept-Language": "zh-CN"}).text
    assert "成员" in page and "Add a member" not in page


# --- the command ------------------------------------------------------------------------------


def _create(path, *extra: str, email: str = "boss@example.com", monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    cli(
        [
            "create-organizer",
            "--email",
            email,
            "--name",
            email.split("@")[0],
            "--password-stdin",
            "--db",
            str(path),
            *extra,
        ]
    )


def test_the_command_makes_the_first_organization_then_joins_a_named_one(tmp_path, monkeypatch, capsys) -> None:
    from events import demo

    path = tmp_path / "fresh.db"
    db = open_database(path)
    seeded = demo.ensure_demo(db, now=NOW)  # an event before any organization: the demo's
    db.close()
    _create(path, "--organization", "Acme", monkeypatch=monkeypatch)
    assert "Owner of the organization 'Acme', which now holds 1 event(s)." in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _create(path, email="two@example.com", monkeypatch=monkeypatch)
    assert "give --organization" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _create(path, "--organization", "Nope", "--role", "staff", email="two@example.com", monkeypatch=monkeypatch)
    assert "no organization 'Nope'" in capsys.readouterr().err
    _create(path, "--organization", "Acme", "--role", "staff", email="two@example.com", monkeypatch=monkeypatch)
    db = open_database(path)
    two = organizations.find_account(db, "two@example.com")
    assert organizations.membership(db, two).role == STAFF
    assert [e.id for e in organizations.visible_events(db, two)] == [seeded.event.id]
    assert organizers.count(db) == 2  # the refused attempts left no account behind
    db.close()


# --- the migration ----------------------------------------------------------------------------


def test_an_old_database_becomes_one_organization_holding_everything(tmp_path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m015_organizations")
    events = [registry.create_event(old, name=name, venue="", starts_at=0, ends_at=3600, now=0) for name in ("A", "B")]
    accounts = [account(old, name) for name in ("Mei", "Kai")]
    old.close()
    db = open_database(path)
    (only,) = organizations.list_organizations(db)
    assert {(m.name, m.role) for m in organizations.members(db, only.id)} == {("Mei", OWNER), ("Kai", OWNER)}
    for who in accounts:
        assert {e.id for e in organizations.visible_events(db, who.id)} == {e.id for e in events}
    db.close()


def test_a_new_database_gets_no_organization_until_someone_makes_one(tmp_path) -> None:
    db = open_database(tmp_path / "new.db")
    assert organizations.list_organizations(db) == []
    db.close()


def test_the_commands_that_change_accounts_are_in_the_audit_log(tmp_path, monkeypatch, capsys) -> None:
    from events import audit

    path = tmp_path / "audit.db"
    _create(path, "--organization", "Brand <b>", monkeypatch=monkeypatch)
    cli(["reset-second-factor", "--email", "boss@example.com", "--db", str(path)])
    db = open_database(path)
    boss = organizations.find_account(db, "boss@example.com")
    assert [(a.organizer_id, a.action) for a in audit.history(db, boss)] == [
        (audit.CLI, "organizer.create"),
        (audit.CLI, "account.second_factor_reset"),
    ]
    assert audit.history(db, boss)[0].detail["organization"] == "Brand <b>"
    db.close()

"""Online sign-up: the domain rules, then the public event page through the TestClient."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient

from events import campaigns, devices, signup, sync, tokens
from events.keys import SERVER_KEY_ID
from server.app import create_app
from tests.support.clock import NOW

NOW_MS = NOW * 1000


@pytest.fixture
def welcome(db, event):
    return campaigns.create_campaign(
        db, event.id, title="¥50 off", max_uses=1, valid_minutes=240, welcome=True, now=NOW
    )


def applicant(name="Li Wei", phone="138 0013 8000", email="", consent=True):
    return signup.Applicant(name, phone, email, consent)


# --- the domain -------------------------------------------------------------------------------


def test_sign_up_records_the_attendee_pass_and_welcome_voucher_as_web_ops(db, event, welcome) -> None:
    campaigns.create_campaign(db, event.id, title="Not at sign-up", now=NOW)
    result = signup.sign_up(db, event.id, applicant(), now_ms=NOW_MS)
    assert result.created and signup.is_capability(result.capability)
    ops = list(db.query("select kind, device_id, device_seq, subject, data from ops order by seq"))
    assert [(o["kind"], o["device_seq"]) for o in ops] == [("register", 1), ("issue", 2)]
    assert {o["device_id"] for o in ops} == {devices.WEB_DEVICE_PREFIX + event.id}
    assert ops[0]["subject"] == result.attendee_id
    held = {r["id"]: r for r in db.query("select * from tokens where attendee_id = ?", [result.attendee_id])}
    assert held[result.attendee_id]["type"] == "pass" and held[result.attendee_id]["key_id"] == SERVER_KEY_ID
    (voucher,) = [r for r in held.values() if r["type"] == "voucher"]
    assert voucher["campaign"] == welcome.number and voucher["rotating"] == 1
    assert db["attendees"].get(result.attendee_id)["name"] == "Li Wei"
    # Only the capability's hash is stored.
    assert result.capability not in str(list(db.query("select * from wallets")))


def test_the_web_device_is_not_a_tablet(db, event, welcome) -> None:
    signup.sign_up(db, event.id, applicant(), now_ms=NOW_MS)
    assert devices.list_devices(db, event.id) == []
    with pytest.raises(devices.DeviceRefused):
        devices.authenticate(db, "none:" + event.id)
    with pytest.raises(ValueError, match="not a tablet"):
        devices.revoke_device(db, devices.WEB_DEVICE_PREFIX + event.id, now=NOW)


def test_tablets_pull_online_sign_ups(db, event, welcome) -> None:
    code = devices.create_enrollment_code(db, event.id, name="Door", now=NOW)
    from events import keys

    tablet = devices.enroll(db, code, public_key=keys.public_key_bytes(keys.generate_private_key()), now=NOW).device
    result = signup.sign_up(db, event.id, applicant(email="li@example.com"), now_ms=NOW_MS)
    pulled = sync.pull(db, tablet.id, after=0, now_ms=NOW_MS)
    kinds = {op["kind"]: op for op in pulled.ops}
    assert set(kinds) == {"register", "issue"}
    register = bytes(kinds["register"]["data"]).decode()
    assert "li@example.com" not in register  # tablets never get emails
    # No pass text either (protocol 2): the attendee's id is their pass's id, which a scan proves.
    assert "pass_token" not in register and kinds["register"]["subject"] == result.attendee_id
    pass_text = db.execute("select text from tokens where id = ?", [result.attendee_id]).fetchone()[0]
    assert tokens.decode(pass_text).token.id == result.attendee_id and pass_text not in register


@pytest.mark.parametrize(
    "first, second",
    [
        (dict(phone="138 0013 8000"), dict(phone="13800138000")),
        (dict(phone="", email="Li@Example.com"), dict(phone="", email="li@example.COM ")),
        (dict(phone="138 0013 8000", email="a@example.com"), dict(phone="", email="a@example.com")),
    ],
)
def test_signing_up_again_finds_the_same_attendee(db, event, welcome, first, second) -> None:
    one = signup.sign_up(db, event.id, applicant(**first), now_ms=NOW_MS)
    again = signup.sign_up(db, event.id, applicant(name="Someone else", **second), now_ms=NOW_MS + 5000)
    assert again == signup.SignUp(one.attendee_id, None, created=False)  # no wallet for a stranger
    same_browser = signup.sign_up(db, event.id, applicant(**second), now_ms=NOW_MS, held=frozenset({one.capability}))
    assert same_browser == signup.SignUp(one.attendee_id, one.capability, created=False)
    assert db["attendees"].count == 1 and db["wallets"].count == 1
    assert db.execute("select count(*) from tokens where type = 'voucher'").fetchone()[0] == 1  # one welcome voucher


def test_another_wallet_in_the_cookie_does_not_open_this_attendee(db, event, welcome) -> None:
    a = signup.sign_up(db, event.id, applicant(phone="13800000001"), now_ms=NOW_MS)
    signup.sign_up(db, event.id, applicant(phone="13800000002"), now_ms=NOW_MS)
    assert (
        signup.sign_up(
            db, event.id, applicant(phone="13800000002"), now_ms=NOW_MS, held=frozenset({a.capability})
        ).capability
        is None
    )


@pytest.mark.parametrize(
    "fields, reason",
    [
        (dict(name="  "), "name_missing"),
        (dict(name="x" * 101), "name_too_long"),
        (dict(name="Li\u202eWei"), "name_unprintable"),
        (dict(name="Li\x00Wei"), "name_unprintable"),
        (dict(phone="12"), "phone_invalid"),
        (dict(phone="call me maybe 138"), "phone_invalid"),
        (dict(phone="1" * 33), "phone_invalid"),
        (dict(phone="", email="not-an-email"), "email_invalid"),
        (dict(phone="", email=""), "contact_missing"),
        (dict(consent=False), "consent_missing"),
    ],
)
def test_bad_forms_are_refused_by_field(db, event, fields, reason) -> None:
    with pytest.raises(signup.SignUpRefused) as refused:
        signup.sign_up(db, event.id, applicant(**fields), now_ms=NOW_MS)
    assert refused.value.reason == reason
    assert db["ops"].count == 0 and db["attendees"].count == 0


def test_html_in_a_name_is_kept_as_text_and_whitespace_is_tidied(db, event) -> None:
    result = signup.sign_up(db, event.id, applicant(name="  <script>alert(1)</script>\n Li "), now_ms=NOW_MS)
    assert db["attendees"].get(result.attendee_id)["name"] == "<script>alert(1)</script> Li"


def test_no_sign_up_after_the_event(db, event) -> None:
    with pytest.raises(signup.SignUpRefused, match="event_over"):
        signup.sign_up(db, event.id, applicant(), now_ms=(event.ends_at + 1) * 1000)


def test_a_welcome_campaign_that_is_over_gives_nothing(db, event) -> None:
    campaigns.create_campaign(
        db, event.id, title="Past", valid_from=NOW - 7200, valid_until=NOW - 60, welcome=True, now=NOW - 7200
    )
    result = signup.sign_up(db, event.id, applicant(), now_ms=NOW_MS)
    assert db.execute("select count(*) from tokens where attendee_id = ?", [result.attendee_id]).fetchone()[0] == 1


@given(st.text(max_size=120), st.text(max_size=40), st.text(max_size=60), st.booleans())
def test_check_either_refuses_or_returns_a_storable_applicant(name, phone, email, consent) -> None:
    try:
        checked = signup.check(signup.Applicant(name, phone, email, consent))
    except signup.SignUpRefused as refused:
        assert refused.field in ("name", "phone", "email", "consent")
        return
    assert 1 <= len(checked.name) <= signup.NAME_MAX and checked.consent
    assert checked.phone or checked.email


# --- the event page ---------------------------------------------------------------------------


def form(client, event_id, **fields):
    client.get(f"/events/{event_id}")
    data = {"name": "Li Wei", "phone": "138 0013 8000", "email": "", "consent": "yes", **fields}
    data["_csrf_token"] = client.cookies["csrftoken"]
    return client.post(f"/events/{event_id}/signup", data=data, follow_redirects=False)


def test_the_event_page_shows_the_welcome_voucher_and_the_form(client, event, welcome) -> None:
    page = client.get(f"/events/{event.id}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "Spring pop-up" in page.text and "¥50 off" in page.text
    assert 'name="_csrf_token"' in page.text and 'action="/events/' in page.text
    assert "报名" in page.text  # "Sign up" in Chinese
    assert client.get("/events/evnothere").status_code == 404


def test_sign_up_redirects_to_the_wallet_and_the_browser_keeps_it(client, db, event, welcome) -> None:
    response = form(client, event.id)
    assert response.status_code == 303
    wallet_url = response.headers["location"]
    assert re.fullmatch(r"/wallet/[A-Za-z0-9_-]{32}", wallet_url)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    # The same browser signing up again lands in the same wallet; the event page links to it.
    assert form(client, event.id, phone="13800138000").headers["location"] == wallet_url
    assert f'href="{wallet_url}"' in client.get(f"/events/{event.id}").text
    assert db["attendees"].count == 1


def test_another_browser_with_the_same_phone_learns_nothing(client, db, event, welcome) -> None:
    first = form(client, event.id).headers["location"]
    client.cookies.clear()  # another browser
    response = form(client, event.id, name="Mallory")
    assert response.status_code == 409 and "already signed up" in response.text
    assert first not in response.text and "wallet-" + event.id not in response.headers.get("set-cookie", "")
    assert db["attendees"].count == 1


def test_a_refused_form_keeps_what_was_typed_and_says_why(client, db, event) -> None:
    response = form(client, event.id, name="<b>Li</b>", phone="", consent="")
    assert response.status_code == 422
    assert "Please give a phone number or an email address" in response.text
    assert 'value="&lt;b&gt;Li&lt;/b&gt;"' in response.text and "<b>Li</b>" not in response.text
    assert db["attendees"].count == 0


def test_a_refused_form_shows_every_field_at_fault_at_once(client, db, event) -> None:
    assert signup.SignUpRefused("x", "name").fields == {"name": "x"}
    with pytest.raises(signup.SignUpRefused) as refused:
        signup.check(applicant(name=" ", phone="12", email="not-an-email", consent=False))
    assert refused.value.fields == {
        "name": "name_missing",
        "phone": "phone_invalid",
        "email": "email_invalid",
        "consent": "consent_missing",
    }
    assert (refused.value.reason, refused.value.field) == ("name_missing", "name")
    response = form(client, event.id, name="", phone="12", email="nope", consent="")
    assert response.status_code == 422
    for field in ("name", "phone", "email", "consent"):
        assert f'id="sign-up-{field}-error"' in response.text, field
        assert f'aria-describedby="sign-up-{field}-error"' in response.text, field
    assert db["attendees"].count == 0


def test_with_htmx_a_sign_up_goes_to_the_wallet_as_a_whole_page(client, db, event, welcome) -> None:
    client.get(f"/events/{event.id}")
    response = client.post(
        f"/events/{event.id}/signup",
        headers={"HX-Request": "true"},
        follow_redirects=False,
        data={"name": "Li Wei", "phone": "13800138000", "consent": "yes", "_csrf_token": client.cookies["csrftoken"]},
    )
    assert response.status_code == 200 and response.text == ""
    assert re.fullmatch(r"/wallet/[A-Za-z0-9_-]{32}", response.headers["HX-Redirect"])
    assert "wallet-" in response.headers["set-cookie"]
    assert client.get(response.headers["HX-Redirect"]).status_code == 200


def test_sign_up_needs_csrf(client, event) -> None:
    client.get(f"/events/{event.id}")
    response = client.post(f"/events/{event.id}/signup", data={"name": "Li", "phone": "13800138000", "consent": "yes"})
    assert response.status_code == 403


def test_sign_up_is_rate_limited_per_address(db, clock, event) -> None:
    with TestClient(create_app(db, clock=clock, sign_ups_per_minute=3)) as client:
        statuses = [form(client, event.id, phone=f"1380013800{i}").status_code for i in range(4)]
        assert statuses == [303, 303, 303, 429]
        refused = form(client, event.id, phone="13800138009")
        assert refused.status_code == 429 and "Too many sign-ups" in refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 61
        clock.now += 61
        assert form(client, event.id, phone="13800138009").status_code == 303
        assert db["attendees"].count == 4


def test_a_huge_sign_up_is_refused_without_a_trace(client, db, event) -> None:
    response = form(client, event.id, name="x" * 2_000_000)
    assert response.status_code == 413
    assert db["attendees"].count == 0


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "13800000001", "+86 138 0000 0001", "13900000002", "139-0000-0003"]),
            st.sampled_from(["", "a@example.com", "A@Example.com ", "b@example.com"]),
        ),
        max_size=12,
    )
)
def test_sign_ups_never_make_two_attendees_sharing_a_phone_or_email(tmp_path_factory, contacts) -> None:
    from events import registry
    from events.db import open_database

    db = open_database(tmp_path_factory.mktemp("prop") / "p.db")
    try:
        event = registry.create_event(db, name="E", venue="V", starts_at=NOW - 60, ends_at=NOW + 3600, now=NOW)
        for phone, email in contacts:
            try:
                signup.sign_up(db, event.id, signup.Applicant("Li", phone, email, True), now_ms=NOW_MS)
            except signup.SignUpRefused as refused:
                assert refused.reason == "contact_missing" and not phone and not email
        rows = list(db.query("select phone_key, email_key from attendees"))
        phones = [r["phone_key"] for r in rows if r["phone_key"]]
        emails = [r["email_key"] for r in rows if r["email_key"]]
        assert len(phones) == len(set(phones)) and len(emails) == len(set(emails))
        assert db["wallets"].count == len(rows)
    finally:
        db.close()


def test_a_welcome_campaign_stops_at_its_cap(db, event) -> None:
    campaigns.create_campaign(db, event.id, title="First two only", welcome=True, cap=2, now=NOW)
    given = []
    for phone in ("13800000001", "13800000002", "13800000003"):
        result = signup.sign_up(db, event.id, applicant(phone=phone), now_ms=NOW_MS)
        given.append(
            db.execute(
                "select count(*) from tokens where type = 'voucher' and attendee_id = ?", [result.attendee_id]
            ).fetchone()[0]
        )
    assert given == [1, 1, 0] and db["attendees"].count == 3

"""The organizer's own account page: password change, open sessions, sign out everywhere."""

from __future__ import annotations

import re

import pyotp
import pytest
from litestar.testing import TestClient

from events import organizers
from server.auth import SESSION_COOKIE
from tests.support.clock import NOW

PASSWORD = "correct horse battery"
NEW = "a new long passphrase"


@pytest.fixture
def mei(db) -> organizers.Organizer:
    return organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)


def session(db, *, at: int = NOW, password: str = PASSWORD, client: str = "", user_agent: str = "") -> str:
    pending = organizers.check_password(db, "mei@example.com", password, now=at)
    secret = organizers.totp_secret(db, pending.organizer.id)
    return organizers.check_code(
        db, pending.token, pyotp.TOTP(secret).at(at), now=at, client=client, user_agent=user_agent
    )


def signed_in(client: TestClient, token: str) -> str:
    client.cookies.clear()
    client.cookies[SESSION_COOKIE] = token
    client.get("/organizer/account/")
    return client.cookies["csrftoken"]


def test_the_page_lists_the_sessions_and_marks_this_one(client, db, mei) -> None:
    other = session(db, client="203.0.113.7", user_agent="Tablet <script>")
    mine = session(db, at=NOW + 30, client="198.51.100.2", user_agent="Laptop")
    signed_in(client, mine)
    page = client.get("/organizer/account/")
    assert page.status_code == 200
    assert "203.0.113.7" in page.text and "Tablet &lt;script&gt;" in page.text and "this browser" in page.text
    assert [s.current for s in organizers.sessions(db, mei.id, now=NOW + 60, current=mine)] == [True, False]
    assert other not in page.text and mine not in page.text  # ids name sessions, tokens never appear


def test_changing_the_password_ends_every_other_session(client, db, mei) -> None:
    other = session(db)
    mine = session(db, at=NOW + 30)
    csrf = signed_in(client, mine)
    done = client.post(
        "/organizer/account/password", data={"current": PASSWORD, "new": NEW, "again": NEW, "_csrf_token": csrf}
    )
    assert done.status_code == 200 and "Your password is changed" in done.text
    assert organizers.session_organizer(db, other, now=NOW + 60) is None
    assert organizers.session_organizer(db, mine, now=NOW + 60) is not None
    with pytest.raises(organizers.LoginRefused):
        organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 60)
    organizers.check_password(db, "mei@example.com", NEW, now=NOW + 60)


@pytest.mark.parametrize(
    "form, status, words",
    [
        ({"current": "wrong password!", "new": NEW, "again": NEW}, 400, "do not match"),
        ({"current": PASSWORD, "new": NEW, "again": NEW + "!"}, 400, "The two new passwords differ"),
        ({"current": PASSWORD, "new": "short", "again": "short"}, 400, "at least 10 characters"),
        ({"current": PASSWORD, "new": "x" * 1025, "again": "x" * 1025}, 400, "at most 1024 characters"),
    ],
)
def test_a_refused_change_keeps_the_password(client, db, mei, form, status, words) -> None:
    csrf = signed_in(client, session(db))
    refused = client.post("/organizer/account/password", data={**form, "_csrf_token": csrf})
    assert refused.status_code == status and words in refused.text
    organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 60)


def test_five_wrong_current_passwords_lock_the_account(client, db, mei) -> None:
    """A stolen session cannot be used to guess the password either."""
    csrf = signed_in(client, session(db))
    wrong = {"current": "wrong password!", "new": NEW, "again": NEW, "_csrf_token": csrf}
    statuses = [
        client.post("/organizer/account/password", data=wrong).status_code for _ in range(organizers.MAX_FAILURES)
    ]
    assert statuses == [400] * (organizers.MAX_FAILURES - 1) + [429]
    locked = client.post("/organizer/account/password", data={**wrong, "current": PASSWORD})
    assert locked.status_code == 429 and "locked" in locked.text
    organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 60)  # the password itself is unchanged


def test_ending_another_session_and_then_this_one(client, db, mei) -> None:
    other = session(db)
    mine = session(db, at=NOW + 30)
    csrf = signed_in(client, mine)
    (_, listed_other) = organizers.sessions(db, mei.id, now=NOW + 60, current=mine)
    ended = client.post(
        f"/organizer/account/sessions/{listed_other.id}/end", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert ended.status_code == 303 and ended.headers["location"] == "/organizer/account"
    assert organizers.session_organizer(db, other, now=NOW + 60) is None
    (this,) = organizers.sessions(db, mei.id, now=NOW + 60, current=mine)
    out = client.post(f"/organizer/account/sessions/{this.id}/end", data={"_csrf_token": csrf}, follow_redirects=False)
    assert out.headers["location"] == "/organizer/login"
    assert organizers.session_organizer(db, mine, now=NOW + 60) is None


@pytest.mark.parametrize("session_id", ["0" * 16, "ABCDEF0123456789", "x", "0" * 64, "%00" * 3])
def test_a_session_id_that_is_not_ones_own_ends_nothing(client, db, mei, session_id) -> None:
    mine = session(db)
    csrf = signed_in(client, mine)
    client.post(f"/organizer/account/sessions/{session_id}/end", data={"_csrf_token": csrf}, follow_redirects=False)
    assert organizers.session_organizer(db, mine, now=NOW + 60) is not None


def test_another_organizers_session_cannot_be_ended(client, db, mei) -> None:
    li = organizers.create_organizer(db, email="li@example.com", name="Li", password=PASSWORD, now=NOW)
    pending = organizers.check_password(db, "li@example.com", PASSWORD, now=NOW)
    lis = organizers.check_code(db, pending.token, pyotp.TOTP(organizers.totp_secret(db, li.id)).at(NOW), now=NOW)
    (listed,) = organizers.sessions(db, li.id, now=NOW)
    csrf = signed_in(client, session(db))
    client.post(f"/organizer/account/sessions/{listed.id}/end", data={"_csrf_token": csrf}, follow_redirects=False)
    assert organizers.session_organizer(db, lis, now=NOW + 60) is not None


def test_sign_out_everywhere_ends_every_session_and_every_trusted_browser(client, db, mei) -> None:
    other = session(db)
    organizers.trust_browser(db, mei.id, now=NOW)
    csrf = signed_in(client, session(db, at=NOW + 30))
    out = client.post("/organizer/account/sign-out-everywhere", data={"_csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/organizer/login"
    assert organizers.sessions(db, mei.id, now=NOW + 60) == []
    assert organizers.session_organizer(db, other, now=NOW + 60) is None
    assert db["trusted_browsers"].count == 0
    assert (
        client.get("/organizer/account/", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303
    )  # out here too


def test_the_page_shows_recent_sign_ins_and_changes(client, db, mei) -> None:
    with pytest.raises(organizers.LoginRefused):
        organizers.check_password(db, "mei@example.com", "wrong password!", now=NOW, client="203.0.113.9")
    csrf = signed_in(client, session(db, at=NOW + 30, client="198.51.100.2"))
    client.post(
        "/organizer/account/password", data={"current": PASSWORD, "new": NEW, "again": NEW, "_csrf_token": csrf}
    )
    page = client.get("/organizer/account/").text
    assert "Wrong password · 203.0.113.9" in page and "Signed in · 198.51.100.2" in page and "Password changed" in page
    assert page.index("Password changed") < page.index("Wrong password")  # newest first


def test_the_account_page_speaks_chinese(client, db, mei) -> None:
    signed_in(client, session(db))
    page = client.get("/organizer/account/", headers={"Accept-Language": "zh-CN"}).text
    assert "修改密码" in page


# --- recovery codes ---------------------------------------------------------------------------


def test_the_page_counts_the_recovery_codes_and_makes_new_ones_with_the_password(client, db, mei) -> None:
    csrf = signed_in(client, session(db))
    assert "You have 10 unused recovery codes" in client.get("/organizer/account/").text
    refused = client.post("/organizer/account/recovery-codes", data={"current": "wrong password!", "_csrf_token": csrf})
    assert (
        refused.status_code == 400 and "do not match" in refused.text and 'id="recovery-code-list"' not in refused.text
    )
    assert db["organizers"].get(mei.id)["failed_logins"] == 1
    empty = client.post("/organizer/account/recovery-codes", data={"current": "", "_csrf_token": csrf})
    assert empty.status_code == 400 and db["organizers"].get(mei.id)["failed_logins"] == 1  # not a guess
    old = [row["digest"] for row in db["organizer_recovery_codes"].rows]
    made = client.post("/organizer/account/recovery-codes", data={"current": PASSWORD, "_csrf_token": csrf})
    codes = re.findall(r"<li>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</li>", made.text)
    assert made.status_code == 200 and len(set(codes)) == organizers.RECOVERY_CODES
    assert made.headers["cache-control"] == "no-store"
    assert not set(old) & {row["digest"] for row in db["organizer_recovery_codes"].rows}  # the old set is gone
    again = client.get("/organizer/account/").text
    assert not any(code in again for code in codes) and "New recovery codes made" in again  # shown that once
    assert client.post("/organizer/account/recovery-codes", data={"current": PASSWORD}).status_code == 403  # CSRF


def test_the_page_says_when_no_recovery_code_is_left(client, db, mei) -> None:
    signed_in(client, session(db))
    db.execute("update organizer_recovery_codes set used_at = ?", [NOW])
    assert "no unused recovery codes left" in client.get("/organizer/account/").text


# --- a password handed over -------------------------------------------------------------------


def test_a_handed_over_password_must_be_changed_before_anything_else(client, db, mei) -> None:
    organizers.reset_account(db, mei.id, second_factor=False, password="handed over 123", by="cli", now=NOW)
    csrf = signed_in(client, session(db, password="handed over 123", at=NOW + 30))
    for path in ("/organizer", "/organizer/members"):
        sent = client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"] == "/organizer/account", path
    assert (
        client.get("/organizer", headers={"Accept": "application/json"}).json()["error"] == "password_change_required"
    )
    page = client.get("/organizer/account/")
    assert page.status_code == 200 and 'id="must-change-password"' in page.text
    same = client.post(
        "/organizer/account/password",
        data={"current": "handed over 123", "new": "handed over 123", "again": "handed over 123", "_csrf_token": csrf},
    )
    assert same.status_code == 400 and "must differ" in same.text
    done = client.post(
        "/organizer/account/password",
        data={"current": "handed over 123", "new": NEW, "again": NEW, "_csrf_token": csrf},
    )
    assert done.status_code == 200 and 'id="must-change-password"' not in done.text
    assert client.get("/organizer", follow_redirects=False).status_code == 200  # the console is open now


def test_signing_in_with_a_handed_over_password_lands_on_the_account_page(client, db, mei, clock) -> None:
    session(db)  # enrolled, with codes
    organizers.reset_account(db, mei.id, second_factor=False, password="handed over 123", by="cli", now=NOW + 10)
    client.get("/organizer/login")
    csrf = client.cookies["csrftoken"]
    client.post(
        "/organizer/login/", data={"email": "mei@example.com", "password": "handed over 123", "_csrf_token": csrf}
    )
    code = pyotp.TOTP(organizers.totp_secret(db, mei.id)).at(NOW + 30)
    clock.now = NOW + 30
    done = client.post(
        "/organizer/login/code",
        data={"code": code, "next": "/organizer/members", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/organizer/account"

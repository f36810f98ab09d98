"""Organizer accounts: the domain rules, then signing in through the TestClient with codes
computed by pyotp from the enrollment secret, as an authenticator app would."""

from __future__ import annotations

import json
import re

import pyotp
import pytest

from events import audit, organizers
from server.auth import PENDING_COOKIE, SESSION_COOKIE
from server.cli import main as cli
from server.controllers.organizer_login import TRUSTED_COOKIE
from server.owners import ORGANIZER
from tests.support.clock import NOW
from tests.support.organizer import PASSWORD, csrf, sign_in, totp


@pytest.fixture
def mei(db) -> organizers.Organizer:
    return organizers.create_organizer(db, email="Mei@Example.com", name="Mei <b>Lin</b>", password=PASSWORD, now=NOW)


# --- the domain -------------------------------------------------------------------------------


def test_passwords_are_stored_as_scrypt_hashes(db, mei) -> None:
    stored = db["organizers"].get(mei.id)["password_hash"]
    assert stored.startswith("scrypt$16384$8$1$") and PASSWORD not in stored
    assert organizers.password_matches(PASSWORD, stored) and not organizers.password_matches(PASSWORD + "!", stored)
    assert not organizers.password_matches(PASSWORD, "garbage") and not organizers.password_matches(
        PASSWORD, "md5$x$y$z$a$b"
    )


@pytest.mark.parametrize(
    "email, name, password, message",
    [
        ("not-an-email", "Mei", PASSWORD, "not an email"),
        ("a@example.com", " ", PASSWORD, "needs a name"),
        ("a@example.com", "Mei", "short", "at least 10"),
        ("a@example.com", "Mei", "x" * 1025, "at most 1024"),
        ("MEI@example.com", "Mei", PASSWORD, "already an organizer"),
    ],
)
def test_creating_an_organizer_checks_its_fields(db, mei, email, name, password, message) -> None:
    with pytest.raises(ValueError, match=message):
        organizers.create_organizer(db, email=email, name=name, password=password, now=NOW)


def test_two_steps_then_a_session(db, mei) -> None:
    pending = organizers.check_password(db, "  MEI@example.com ", PASSWORD, now=NOW)
    assert pending.totp_secret and organizers.session_organizer(db, pending.token, now=NOW) is None  # not yet a session
    assert organizers.provisioning_uri(pending).startswith("otpauth://totp/PopPass:mei%40example.com?secret=")
    session = organizers.check_code(db, pending.token, totp(db, mei.id).at(NOW), now=NOW)
    assert organizers.session_organizer(db, session, now=NOW + 60).email == "mei@example.com"
    assert organizers.session_organizer(db, session, now=NOW + organizers.SESSION_S) is None  # expired
    assert organizers.pending_login(db, pending.token, now=NOW) is None  # spent
    # Enrolled now: the next sign-in does not show the secret again.
    assert organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 60).totp_secret is None


@pytest.mark.parametrize("offset, accepted", [(-60, False), (-30, True), (0, True), (30, True), (60, False)])
def test_a_code_one_step_either_side_is_accepted(db, mei, offset, accepted) -> None:
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW)
    code = totp(db, mei.id).at(NOW + offset)
    if accepted:
        organizers.check_code(db, pending.token, code, now=NOW)
    else:
        with pytest.raises(organizers.LoginRefused, match="bad_code"):
            organizers.check_code(db, pending.token, code, now=NOW)


def test_a_code_is_never_accepted_twice(db, mei) -> None:
    code = totp(db, mei.id).at(NOW)
    organizers.check_code(db, organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW).token, code, now=NOW)
    again = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 5)
    with pytest.raises(organizers.LoginRefused, match="code_replayed"):
        organizers.check_code(db, again.token, code, now=NOW + 5)
    # Nor an older one still inside the window.
    with pytest.raises(organizers.LoginRefused, match="code_replayed"):
        organizers.check_code(db, again.token, totp(db, mei.id).at(NOW - 30), now=NOW + 5)


def wrong_code(db, organizer_id: str, at: int) -> str:
    return "000000" if totp(db, organizer_id).at(at) != "000000" else "111111"


def test_five_wrong_passwords_lock_the_email_for_browsers_never_signed_in_on(db, mei) -> None:
    for _ in range(4):
        with pytest.raises(organizers.LoginRefused, match="bad_credentials"):
            organizers.check_password(db, "mei@example.com", "wrong password!", now=NOW)
    with pytest.raises(organizers.LoginRefused) as locked:
        organizers.check_password(db, "mei@example.com", "wrong password!", now=NOW)
    assert locked.value.reason == "locked" and locked.value.retry_after == organizers.LOCK_S
    with pytest.raises(organizers.LoginRefused, match="locked"):  # even the right password, from a new browser
        organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + organizers.LOCK_S - 1)
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + organizers.LOCK_S)
    organizers.check_code(db, pending.token, totp(db, mei.id).at(NOW + organizers.LOCK_S), now=NOW + organizers.LOCK_S)
    assert db["sign_in_throttle"].count == 0  # a success forgets the failures


def test_a_strangers_lock_out_does_not_keep_the_organizer_out_of_their_own_browser(db, mei) -> None:
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW)
    organizers.check_code(db, pending.token, totp(db, mei.id).at(NOW), now=NOW)
    browser = organizers.trust_browser(db, mei.id, now=NOW)
    for _ in range(organizers.MAX_FAILURES + 3):  # a stranger, all day
        with pytest.raises(organizers.LoginRefused):
            organizers.check_password(db, "mei@example.com", "guess guess guess", now=NOW + 60)
    later = NOW + 120
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=later, trusted_browser=browser)
    organizers.check_code(db, pending.token, totp(db, mei.id).at(later), now=later)
    # The trust is the organizer's own: it does nothing for another account.
    organizers.create_organizer(db, email="li@example.com", name="Li", password=PASSWORD, now=NOW)
    for _ in range(organizers.MAX_FAILURES):
        with pytest.raises(organizers.LoginRefused):
            organizers.check_password(db, "li@example.com", "guess guess guess", now=later)
    with pytest.raises(organizers.LoginRefused, match="locked"):
        organizers.check_password(db, "li@example.com", PASSWORD, now=later, trusted_browser=browser)


def test_five_wrong_passwords_from_a_trusted_browser_end_its_trust(db, mei) -> None:
    browser = organizers.trust_browser(db, mei.id, now=NOW)
    assert organizers.trust_browser(db, mei.id, now=NOW + 5, token=browser) == browser  # renewed, not replaced
    for _ in range(organizers.MAX_FAILURES):
        with pytest.raises(organizers.LoginRefused, match="bad_credentials"):
            organizers.check_password(db, "mei@example.com", "wrong password!", now=NOW, trusted_browser=browser)
    assert db["trusted_browsers"].count == 0
    for _ in range(organizers.MAX_FAILURES - 1):  # an ordinary browser now, counted as any other
        with pytest.raises(organizers.LoginRefused, match="bad_credentials"):
            organizers.check_password(db, "mei@example.com", "wrong password!", now=NOW, trusted_browser=browser)
    with pytest.raises(organizers.LoginRefused, match="locked"):
        organizers.check_password(db, "mei@example.com", "wrong password!", now=NOW, trusted_browser=browser)
    assert organizers.trust_browser(db, mei.id, now=NOW, token=browser) != browser  # gone: a new one


def test_a_trusted_browser_expires(db, mei) -> None:
    browser = organizers.trust_browser(db, mei.id, now=NOW)
    expired = NOW + organizers.TRUSTED_BROWSER_S
    for _ in range(organizers.MAX_FAILURES):
        with pytest.raises(organizers.LoginRefused):
            organizers.check_password(db, "mei@example.com", "wrong password!", now=expired)
    organizers.check_password(db, "mei@example.com", PASSWORD, now=expired - 1, trusted_browser=browser)
    with pytest.raises(organizers.LoginRefused, match="locked"):
        organizers.check_password(db, "mei@example.com", PASSWORD, now=expired, trusted_browser=browser)


def test_five_wrong_codes_lock_the_account(db, mei) -> None:
    for n in range(organizers.MAX_FAILURES):
        pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW)
        with pytest.raises(organizers.LoginRefused) as refused:
            organizers.check_code(db, pending.token, wrong_code(db, mei.id, NOW), now=NOW)
        assert refused.value.reason == ("locked" if n == organizers.MAX_FAILURES - 1 else "bad_code")
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 1)
    with pytest.raises(organizers.LoginRefused, match="locked"):  # only someone with the password gets here
        organizers.check_code(db, pending.token, totp(db, mei.id).at(NOW + 1), now=NOW + 1)
    at = NOW + organizers.LOCK_S
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=at)
    organizers.check_code(db, pending.token, totp(db, mei.id).at(at), now=at)
    assert db["organizers"].get(mei.id)["failed_logins"] == 0


def test_an_unknown_email_locks_exactly_like_a_known_one(db, mei) -> None:
    def attempts(email: str) -> list[tuple[str, int]]:
        seen = []
        for _ in range(organizers.MAX_FAILURES + 1):
            with pytest.raises(organizers.LoginRefused) as refused:
                organizers.check_password(db, email, "wrong password!", now=NOW)
            seen.append((refused.value.reason, refused.value.retry_after))
        return seen

    known = attempts("mei@example.com")
    assert known == attempts("nobody@example.com")
    assert known[-2:] == [("locked", organizers.LOCK_S), ("locked", organizers.LOCK_S)]


def test_sign_ins_failures_and_lock_outs_are_in_the_audit_log(db, mei) -> None:
    for _ in range(organizers.MAX_FAILURES):
        with pytest.raises(organizers.LoginRefused):
            organizers.check_password(db, "mei@example.com", "wrong password!", now=NOW, client="203.0.113.9")
    with pytest.raises(organizers.LoginRefused):
        organizers.check_password(db, "nobody@example.com", "wrong password!", now=NOW, client="203.0.113.9")
    at = NOW + organizers.LOCK_S
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=at, client="198.51.100.1")
    with pytest.raises(organizers.LoginRefused):
        organizers.check_code(db, pending.token, wrong_code(db, mei.id, at), now=at, client="198.51.100.1")
    organizers.check_code(db, pending.token, totp(db, mei.id).at(at), now=at, client="198.51.100.1")
    actions = [(a.action, a.detail["client"]) for a in audit.history(db, mei.id)]
    assert actions == [("sign_in.password_failed", "203.0.113.9")] * 4 + [
        ("sign_in.locked", "203.0.113.9"),
        ("sign_in.code_failed", "198.51.100.1"),
        ("account.recovery_codes", "198.51.100.1"),
        ("sign_in", "198.51.100.1"),
    ]
    (stranger,) = db.query("select * from organizer_actions where actor = 'anonymous'")
    assert stranger["organizer_id"] is None and stranger["subject"].startswith("email:")
    assert "nobody" not in json.dumps(stranger)  # what a stranger typed is not kept


def test_an_unknown_email_is_refused_like_a_wrong_password(db, mei) -> None:
    with pytest.raises(organizers.LoginRefused) as refused:
        organizers.check_password(db, "nobody@example.com", PASSWORD, now=NOW)
    assert refused.value.reason == "bad_credentials"


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "12 34 5x"])
def test_a_malformed_code_is_refused_and_not_counted(db, mei, code) -> None:
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW)
    with pytest.raises(organizers.LoginRefused, match="malformed_code"):
        organizers.check_code(db, pending.token, code, now=NOW)
    assert db["organizers"].get(mei.id)["failed_logins"] == 0


def test_a_pending_login_expires(db, mei) -> None:
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW)
    later = NOW + organizers.PENDING_S
    with pytest.raises(organizers.LoginRefused, match="expired"):
        organizers.check_code(db, pending.token, totp(db, mei.id).at(later), now=later)


def test_the_command_creates_the_first_organizer(tmp_path, monkeypatch, capsys) -> None:
    path = tmp_path / "fresh.db"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    cli(["create-organizer", "--email", "boss@example.com", "--name", "Boss", "--password-stdin", "--db", str(path)])
    assert "Created organizer 'Boss' <boss@example.com>" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("short\n"))
    with pytest.raises(SystemExit):
        cli(["create-organizer", "--email", "two@example.com", "--name", "Two", "--password-stdin", "--db", str(path)])
    assert "at least 10 characters" in capsys.readouterr().err


# --- signing in through the server ------------------------------------------------------------


def test_sign_in_enrolls_the_app_then_opens_the_console(client, db, mei) -> None:
    assert (
        client.get("/organizer", follow_redirects=False, headers={"Accept": "text/html"}).headers["location"]
        == "/organizer/login?next=/organizer"
    )
    token = csrf(client)
    first = client.post(
        "/organizer/login/",
        data={"email": "mei@example.com", "password": PASSWORD, "_csrf_token": token},
        follow_redirects=False,
    )
    assert first.status_code == 303 and PENDING_COOKIE in first.cookies and SESSION_COOKIE not in first.cookies
    assert "Path=/organizer/login" in first.headers["set-cookie"] and "SameSite=strict" in first.headers["set-cookie"]
    enroll = client.get("/organizer/login/code")
    secret = re.search(r'id="totp-secret">([A-Z2-7]{32})<', enroll.text).group(1)
    assert "<svg" in enroll.text and "Mei &lt;b&gt;Lin&lt;/b&gt;" in enroll.text
    assert (
        client.get("/organizer", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303
    )  # not yet
    done = client.post(
        "/organizer/login/code", data={"code": pyotp.TOTP(secret).at(NOW), "_csrf_token": token}, follow_redirects=False
    )
    # Enrolled: the answer is the recovery codes, shown this once (never cached), then the console.
    shown = re.findall(r"<li>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</li>", done.text)
    assert done.status_code == 200 and len(set(shown)) == organizers.RECOVERY_CODES
    assert done.headers["cache-control"] == "no-store" and 'href="/organizer"' in done.text
    assert "HttpOnly" in done.headers["set-cookie"]
    stored = json.dumps([dict(row) for row in db["organizer_recovery_codes"].rows])
    assert all(code.replace("-", "") not in stored and code not in stored for code in shown)  # digests only
    console = client.get("/organizer")
    assert console.status_code == 200 and "Console" in console.text and "Mei &lt;b&gt;Lin&lt;/b&gt;" in console.text


def test_wrong_password_wrong_code_replayed_code(client, db, mei, clock) -> None:
    assert sign_in(client, db, mei.id, password="not the password").status_code == 401
    assert "do not match" in sign_in(client, db, mei.id, password="not the password").text
    assert sign_in(client, db, mei.id).status_code == 200  # enrolled (the recovery codes) and signed in
    client.cookies.clear()
    clock.now = NOW + 10  # the same 30-second step: the same code
    replayed = sign_in(client, db, mei.id, at=NOW)
    assert replayed.status_code == 401 and "already been used" in replayed.text
    wrong = client.post("/organizer/login/code", data={"code": "12345x", "_csrf_token": client.cookies["csrftoken"]})
    assert wrong.status_code == 401 and "6 digits" in wrong.text


def test_lock_out_through_the_server_looks_the_same_for_any_email(client, db, mei) -> None:
    for _ in range(4):
        assert sign_in(client, db, mei.id, password="wrong password!").status_code == 401
    locked = sign_in(client, db, mei.id, password="wrong password!")
    assert locked.status_code == 429 and "locked" in locked.text and "15 min" in locked.text
    assert sign_in(client, db, mei.id).status_code == 429  # the right password too, from this browser
    for _ in range(4):
        sign_in(client, db, mei.id, email="nobody@example.com", password="wrong password!")
    unknown = sign_in(client, db, mei.id, email="nobody@example.com", password="wrong password!")
    assert unknown.status_code == locked.status_code
    assert unknown.text.replace("nobody@example.com", "mei@example.com") == locked.text


def test_the_organizers_own_browser_signs_in_while_a_stranger_is_locked_out(client, db, mei, clock) -> None:
    assert sign_in(client, db, mei.id).status_code == 200
    trusted = client.cookies[TRUSTED_COOKIE]
    client.cookies.clear()
    for _ in range(organizers.MAX_FAILURES):  # a stranger's browser, no trusted cookie
        sign_in(client, db, mei.id, password="wrong password!")
    assert sign_in(client, db, mei.id).status_code == 429
    client.cookies.clear()
    clock.now = NOW + 60
    client.cookies.set(TRUSTED_COOKIE, trusted, path="/organizer/login")
    assert sign_in(client, db, mei.id, at=NOW + 60).status_code == 303


def test_sign_in_needs_csrf(client, db, mei) -> None:
    client.get("/organizer/login")
    response = client.post("/organizer/login/", data={"email": "mei@example.com", "password": PASSWORD})
    assert response.status_code == 403


def test_next_never_leaves_the_console(client, db, mei) -> None:
    page = client.get("/organizer/login?next=https://evil.example/")
    assert 'value="/organizer"' in page.text and "evil" not in page.text


def test_sign_out_ends_the_session(client, db, mei) -> None:
    sign_in(client, db, mei.id)
    session = client.cookies[SESSION_COOKIE]
    out = client.post("/organizer/logout/", data={"_csrf_token": client.cookies["csrftoken"]}, follow_redirects=False)
    assert out.status_code == 303
    assert organizers.session_organizer(db, session, now=NOW) is None


@pytest.mark.parametrize("credential", ["device", "attendee", "forged_cookie", "pending_cookie", "none"])
def test_no_other_credential_reaches_an_organizer_page(client, db, event, mei, credential) -> None:
    from events import signup
    from tests.support.device_api import enroll

    headers = {"Accept": "application/json"}
    if credential == "device":
        headers["Authorization"] = "Bearer " + enroll(client, db, event).token
    elif credential == "attendee":
        me = signup.sign_up(db, event.id, signup.Applicant("Li", "13800138000", "", True), now_ms=NOW * 1000)
        client.get(f"/wallet/{me.capability}")  # the browser now holds a wallet cookie
    elif credential == "forged_cookie":
        client.cookies[SESSION_COOKIE] = "x" * 43
    elif credential == "pending_cookie":
        client.cookies[SESSION_COOKIE] = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW).token
    organizer_routes = [
        (route.path, method)
        for route in client.app.routes
        for handler in getattr(route, "route_handlers", [])
        if handler.opt.get("owner") == ORGANIZER
        for method in handler.http_methods
    ]
    assert organizer_routes
    for path, method in organizer_routes:
        # Real values in the path parameters, so the route itself (not a 404) answers.
        concrete = re.sub(
            r"\{(\w+):int\}",
            "1",
            re.sub(r"\{(\w+):str\}", lambda m: event.id if m.group(1) == "event_id" else "x", path),
        )
        response = client.request(method, concrete, headers=headers)
        assert response.status_code in (401, 403), (path, method, response.status_code)


# --- recovery codes ---------------------------------------------------------------------------


def enroll(db, organizer_id: str, *, at: int = NOW) -> organizers.SignedIn:
    """The first sign-in: it enrolls the app and makes the recovery codes."""
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=at)
    return organizers.complete_sign_in(db, pending.token, totp(db, organizer_id).at(at), now=at)


def test_enrolling_makes_ten_recovery_codes_kept_only_as_digests(db, mei) -> None:
    first = enroll(db, mei.id)
    assert len(set(first.recovery_codes)) == organizers.RECOVERY_CODES == organizers.recovery_codes_left(db, mei.id)
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", code) for code in first.recovery_codes)
    rows = list(db["organizer_recovery_codes"].rows)
    assert len({row["salt"] for row in rows}) == len(rows)  # a salt of its own each
    assert not any(code.replace("-", "") in json.dumps(rows) for code in first.recovery_codes)
    later = NOW + 60
    again = organizers.complete_sign_in(
        db,
        organizers.check_password(db, "mei@example.com", PASSWORD, now=later).token,
        totp(db, mei.id).at(later),
        now=later,
    )
    assert again.recovery_codes == ()  # shown once: a later sign-in makes none


def test_each_recovery_code_signs_in_once_instead_of_a_code(db, mei) -> None:
    codes = enroll(db, mei.id).recovery_codes
    typed = "  " + codes[3].upper().replace("-", " ") + " "  # as someone might copy it off paper
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 60)
    signed_in = organizers.complete_sign_in(db, pending.token, typed, now=NOW + 60, client="203.0.113.5")
    assert signed_in.recovery_code_used and signed_in.recovery_codes_left == organizers.RECOVERY_CODES - 1
    assert organizers.session_organizer(db, signed_in.session, now=NOW + 60).id == mei.id
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 90)
    with pytest.raises(organizers.LoginRefused, match="bad_recovery_code"):
        organizers.complete_sign_in(db, pending.token, codes[3], now=NOW + 90)  # spent
    organizers.complete_sign_in(db, pending.token, codes[4], now=NOW + 90)
    used = [a for a in audit.history(db, mei.id) if a.action == "sign_in.recovery_code"]
    assert [a.detail for a in used] == [{"client": "203.0.113.5", "left": 9}, {"client": "", "left": 8}]


def test_wrong_recovery_codes_count_like_wrong_codes(db, mei) -> None:
    codes = enroll(db, mei.id).recovery_codes
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 60)
    for _ in range(organizers.MAX_FAILURES - 1):
        with pytest.raises(organizers.LoginRefused, match="bad_recovery_code"):
            organizers.complete_sign_in(db, pending.token, "aaaa-bbbb-cccc-dddd", now=NOW + 60)
    with pytest.raises(organizers.LoginRefused, match="locked"):
        organizers.complete_sign_in(db, pending.token, "aaaa-bbbb-cccc-dddd", now=NOW + 60)
    with pytest.raises(organizers.LoginRefused, match="locked"):  # a right one too, while locked
        organizers.complete_sign_in(db, pending.token, codes[0], now=NOW + 61)
    assert organizers.recovery_codes_left(db, mei.id) == organizers.RECOVERY_CODES


def test_before_enrollment_there_is_no_recovery_code_to_use(db, mei) -> None:
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW)
    with pytest.raises(organizers.LoginRefused, match="malformed_code"):
        organizers.complete_sign_in(db, pending.token, "aaaa-bbbb-cccc-dddd", now=NOW)


def test_new_recovery_codes_replace_the_old_and_need_the_password(db, mei) -> None:
    old = enroll(db, mei.id).recovery_codes
    with pytest.raises(organizers.LoginRefused, match="bad_credentials"):
        organizers.regenerate_recovery_codes(db, mei.id, "wrong password!", now=NOW + 30)
    assert db["organizers"].get(mei.id)["failed_logins"] == 1  # counted like a wrong code
    new = organizers.regenerate_recovery_codes(db, mei.id, PASSWORD, now=NOW + 30)
    assert len(new) == organizers.RECOVERY_CODES and not set(new) & set(old)
    pending = organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 60)
    with pytest.raises(organizers.LoginRefused, match="bad_recovery_code"):
        organizers.complete_sign_in(db, pending.token, old[0], now=NOW + 60)
    organizers.complete_sign_in(db, pending.token, new[0], now=NOW + 60)
    assert [a.action for a in audit.history(db, mei.id) if a.action == "account.recovery_codes"] == [
        "account.recovery_codes"
    ] * 2


def test_sign_in_with_a_recovery_code_through_the_pages(client, db, mei, clock) -> None:
    codes = re.findall(r"<li>([a-z2-7-]{19})</li>", sign_in(client, db, mei.id).text)
    client.cookies.clear()
    clock.now = NOW + 60
    token = csrf(client)
    client.post("/organizer/login/", data={"email": "mei@example.com", "password": PASSWORD, "_csrf_token": token})
    code_page = client.get("/organizer/login/code")
    assert 'id="sign-in-recovery"' in code_page.text and "<svg" not in code_page.text
    wrong = client.post("/organizer/login/code", data={"code": "aaaa-bbbb-cccc-dddd", "_csrf_token": token})
    assert wrong.status_code == 401 and "recovery code is not right" in wrong.text
    done = client.post(
        "/organizer/login/code",
        data={"code": codes[0], "next": "/organizer/members", "_csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/organizer/members"
    assert client.get("/organizer/account/").text.count("9 unused recovery codes") == 1


# --- disabled accounts and resets ---------------------------------------------------------------


def test_a_disabled_account_is_refused_like_a_wrong_password_and_its_sessions_end(client, db, mei) -> None:
    organizers.create_organizer(db, email="li@example.com", name="Li", password=PASSWORD, now=NOW)
    session = organizers.check_code(
        db, organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW).token, totp(db, mei.id).at(NOW), now=NOW
    )
    assert organizers.set_disabled(db, mei.id, True, by=audit.CLI, now=NOW + 10) == 1
    assert organizers.session_organizer(db, session, now=NOW + 10) is None
    with pytest.raises(organizers.LoginRefused, match="bad_credentials"):
        organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 20)
    # Through the pages the right password of a disabled account reads exactly as a wrong one.
    disabled = sign_in(client, db, mei.id)
    wrong = sign_in(client, db, mei.id, email="li@example.com", password="wrong password!")
    assert disabled.status_code == wrong.status_code == 401
    assert disabled.text.replace("mei@example.com", "li@example.com") == wrong.text
    organizers.set_disabled(db, mei.id, False, by=audit.CLI, now=NOW + 30)
    assert organizers.check_password(db, "mei@example.com", PASSWORD, now=NOW + 30).organizer.id == mei.id
    assert [a.action for a in audit.history(db, mei.id) if a.action.startswith("account.")] == [
        "account.recovery_codes",
        "account.disabled",
        "account.enabled",
    ]
    assert "sign_in.disabled" in [a.action for a in audit.history(db, mei.id)]


def test_the_command_gives_a_one_time_password_to_change_at_the_next_sign_in(tmp_path, monkeypatch, capsys) -> None:
    path = tmp_path / "cli.db"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    cli(["create-organizer", "--email", "boss@example.com", "--name", "Boss", "--password-stdin", "--db", str(path)])
    capsys.readouterr()
    cli(["reset-password", "--email", "Boss@example.com", "--db", str(path)])
    printed = capsys.readouterr().out
    (password,) = re.findall(r"^  ([a-z2-7]{4}(?:-[a-z2-7]{4}){4})$", printed, re.M)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("typed one-time pass\n"))
    cli(["reset-password", "--email", "boss@example.com", "--password-stdin", "--db", str(path)])
    assert "typed one-time pass" not in capsys.readouterr().out  # read, not echoed
    cli(["reset-second-factor", "--email", "boss@example.com", "--db", str(path)])
    with pytest.raises(SystemExit):
        cli(["reset-password", "--email", "nobody@example.com", "--db", str(path)])
    assert "no organizer nobody@example.com" in capsys.readouterr().err
    from events.db import open_database

    db = open_database(path)
    with pytest.raises(organizers.LoginRefused):
        organizers.check_password(db, "boss@example.com", password, now=NOW)  # replaced by the typed one
    pending = organizers.check_password(db, "boss@example.com", "typed one-time pass", now=NOW)
    assert pending.organizer.must_change_password and pending.totp_secret is not None  # the app is to enroll again
    boss = pending.organizer.id
    resets = [(a.action, a.organizer_id) for a in audit.history(db, boss) if a.action.endswith("_reset")]
    assert resets == [("account.password_reset", audit.CLI)] * 2 + [("account.second_factor_reset", audit.CLI)]
    db.close()

"""Organizer accounts: a password (scrypt) and a TOTP second factor (pyotp), sessions, lock-out.

Signing in takes two steps. The password opens a short *pending* login, good only for the
second step; a TOTP code (or, the first time, enrolling an authenticator app) turns it into a
session. Tokens (pending logins, sessions, trusted browsers) are random and stored only as their
SHA-256.

Throttling (docs/security.md): wrong passwords are counted by the email they were typed for,
account or not, so five in 15 minutes lock that email for 15 minutes *for browsers it was never
signed in on*, with the same answer whether the account exists or not. A browser that completed
a sign-in carries a trusted-browser cookie: a stranger's lock-out does not apply to it, and five
wrong passwords from it make it an ordinary browser again. Wrong codes at the second step (only
someone with the password gets there) lock the account itself, as before. Every sign-in, failure
and lock-out goes into the audit log (events/audit.py) with the client's address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import pyotp
from sqlite_utils import Database

from events import audit, sealed
from events.db import write_transaction
from events.refusal import Refusal

PASSWORD_MIN = 10
PASSWORD_MAX = 1024  # scrypt hashes anything, but a megabyte "password" is only a way to burn CPU
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MiB, about 50 ms here: costly to guess offline
MAX_FAILURES = 5
LOCK_S = 15 * 60
PENDING_S = 5 * 60
SESSION_S = 12 * 3600
TRUSTED_BROWSER_S = 180 * 24 * 3600  # a browser stays trusted half a year after its last sign-in
TOTP_DIGITS, TOTP_STEP_S = 6, 30  # what every authenticator app uses by default
ISSUER = "PopPass"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class LoginRefused(Refusal):
    """A sign-in step that failed. `retry_after` (seconds) is set when the account is locked."""

    def __init__(self, reason: str, detail: str = "", *, retry_after: int = 0) -> None:
        super().__init__(reason, detail)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Organizer:
    id: str
    email: str
    name: str
    totp_enrolled: bool


@dataclass(frozen=True)
class Pending:
    """After the password: who is signing in, and whether they must enroll an authenticator."""

    token: str
    organizer: Organizer
    totp_secret: str | None  # only while not yet enrolled: shown once as a QR


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    encode = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt)}${encode(digest)}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


# A hash to check unknown emails against, so they cost as much time as known ones.
_DUMMY_HASH = hash_password("not a password of anyone's", salt=b"\0" * 16)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


# The TOTP secret is sealed at rest under the data key (events/sealed.py): a copy of the
# database file must not give anyone an organizer's second factor.
def _sealed_totp_secret(db: Database, organizer_id: str, secret: str) -> str:
    return sealed.seal_text(db, "organizers", "totp_secret", organizer_id, secret)


def _totp_secret(db: Database, row: dict) -> str:
    """The clear TOTP secret of an organizers row (or of a session row joined to it)."""
    return sealed.open_text(db, "organizers", "totp_secret", row["id"], row["totp_secret"])


def totp_secret(db: Database, organizer_id: str) -> str:
    """An organizer's TOTP secret, for the tests and benchmarks that play the authenticator app."""
    return _totp_secret(db, db["organizers"].get(organizer_id))


def _organizer(row: dict) -> Organizer:
    return Organizer(row["id"], row["email"], row["name"], row["totp_enrolled_at"] is not None)


def check_new_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise ValueError(f"a password has at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise ValueError(f"a password has at most {PASSWORD_MAX} characters")


def create_organizer(db: Database, *, email: str, name: str, password: str, now: int) -> Organizer:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise ValueError("that is not an email address")
    if not name.strip() or len(name.strip()) > 100:
        raise ValueError("an organizer needs a name (at most 100 characters)")
    check_new_password(password)
    organizer_id = "or" + secrets.token_hex(8)
    row = {
        "id": organizer_id, "email": email, "name": name.strip(), "password_hash": hash_password(password),
        "totp_secret": _sealed_totp_secret(db, organizer_id, pyotp.random_base32(32)), "totp_enrolled_at": None,
        "last_totp_step": None,
        "failed_logins": 0, "locked_until": None, "created_at": now,
    }
    with write_transaction(db):
        if db.execute("select 1 from organizers where email = ?", [email]).fetchone():
            raise ValueError(f"there is already an organizer {email}")
        db["organizers"].insert(row)
    return _organizer(row)


def reset_second_factor(db: Database, email: str) -> Organizer:
    """Forget an organizer's authenticator app (a lost phone, a lost data key): a new TOTP
    secret, not yet enrolled, so the next sign-in after the password enrolls an app again."""
    email = email.strip().lower()
    with write_transaction(db):
        rows = list(db["organizers"].rows_where("email = ?", [email]))
        if not rows:
            raise LookupError(f"there is no organizer {email}")
        db["organizers"].update(rows[0]["id"], {
            "totp_secret": _sealed_totp_secret(db, rows[0]["id"], pyotp.random_base32(32)),
            "totp_enrolled_at": None, "last_totp_step": None,
        })
        db.execute("delete from organizer_sessions where organizer_id = ?", [rows[0]["id"]])
    return _organizer(db["organizers"].get(rows[0]["id"]))


def count(db: Database) -> int:
    return db["organizers"].count


def _locked(row: dict, now: int) -> None:
    if row["locked_until"] is not None and now < row["locked_until"]:
        raise LoginRefused("locked", retry_after=row["locked_until"] - now)


def _fail(db: Database, row: dict, reason: str, now: int) -> LoginRefused:
    failures = row["failed_logins"] + 1
    if failures >= MAX_FAILURES:
        db.execute("update organizers set failed_logins = 0, locked_until = ? where id = ?", [now + LOCK_S, row["id"]])
        return LoginRefused("locked", retry_after=LOCK_S)
    db.execute("update organizers set failed_logins = ? where id = ?", [failures, row["id"]])
    return LoginRefused(reason)


def _email_key(email: str) -> str:
    return hashlib.sha256(b"poppass sign-in\0" + email.encode("utf-8", "replace")).hexdigest()


def _throttled(db: Database, key: str, now: int) -> None:
    row = db.execute("select locked_until from sign_in_throttle where key = ?", [key]).fetchone()
    if row is not None and row[0] is not None and now < row[0]:
        raise LoginRefused("locked", retry_after=row[0] - now)


def _count_failure(db: Database, key: str, now: int) -> LoginRefused:
    """A wrong password from a browser that is not trusted, counted for the email typed."""
    # What no longer counts: failures older than the window, lock-outs that ended.
    db.execute("delete from sign_in_throttle where first_failed_at <= ? and coalesce(locked_until, 0) <= ?",
               [now - LOCK_S, now])
    row = db.execute("select failures from sign_in_throttle where key = ?", [key]).fetchone()
    failures = (row[0] if row else 0) + 1
    if failures >= MAX_FAILURES:
        db.execute("update sign_in_throttle set failures = 0, first_failed_at = ?, locked_until = ? where key = ?",
                   [now, now + LOCK_S, key])
        return LoginRefused("locked", retry_after=LOCK_S)
    if row is None:
        db["sign_in_throttle"].insert({"key": key, "failures": failures, "first_failed_at": now, "locked_until": None})
    else:
        db.execute("update sign_in_throttle set failures = ? where key = ?", [failures, key])
    return LoginRefused("bad_credentials")


def _trusted_browser(db: Database, token: str | None, organizer_id: str, now: int) -> bool:
    if not token or len(token) > 100:
        return False
    row = db.execute("select 1 from trusted_browsers where token_hash = ? and organizer_id = ? and expires_at > ?",
                     [_token_hash(token), organizer_id, now]).fetchone()
    return row is not None


def _distrust_failure(db: Database, token: str, now: int) -> LoginRefused:
    """A wrong password from a trusted browser: counted on it; the fifth ends its trust."""
    db.execute("update trusted_browsers set failures = failures + 1 where token_hash = ?", [_token_hash(token)])
    db.execute("delete from trusted_browsers where token_hash = ? and failures >= ?", [_token_hash(token), MAX_FAILURES])
    return LoginRefused("bad_credentials")


def _subject(row: dict | None, key: str) -> str:
    # An email without an account is logged by its hash: what a stranger typed stays unread.
    return row["id"] if row is not None else "email:" + key[:16]


def check_password(db: Database, email: str, password: str, *, now: int, trusted_browser: str | None = None,
                   client: str = "") -> Pending:
    """Step one. Raises LoginRefused(bad_credentials | locked). An unknown email and a wrong
    password are refused alike, in the same time, and lock alike; `trusted_browser` (the cookie
    a completed sign-in left, see trust_browser) is not held up by a stranger's lock-out."""
    email = email.strip().lower()
    password = password[:PASSWORD_MAX + 1]
    key = _email_key(email)
    with write_transaction(db):
        rows = list(db["organizers"].rows_where("email = ?", [email]))
        row = rows[0] if rows else None
        trusted = row is not None and _trusted_browser(db, trusted_browser, row["id"], now)
        if not trusted:
            _throttled(db, key, now)
        matches = password_matches(password, row["password_hash"] if row is not None else _DUMMY_HASH)
        token = secrets.token_urlsafe(32)
        # A failure is counted, and committed, before it is raised.
        if row is None or not matches:
            refusal = _distrust_failure(db, trusted_browser, now) if trusted else _count_failure(db, key, now)
            audit.record(db, row["id"] if row else "", "sign_in.locked" if refusal.reason == "locked" else "sign_in.password_failed",
                         _subject(row, key), {"client": client, "trusted_browser": trusted}, now=now)
        else:
            refusal = None
            if not trusted:
                db.execute("delete from sign_in_throttle where key = ?", [key])
            db["organizer_sessions"].insert(
                {"token_hash": _token_hash(token), "organizer_id": row["id"], "stage": "pending", "created_at": now,
                 "expires_at": now + PENDING_S}
            )
    if refusal is not None:
        raise refusal
    organizer = _organizer(row)
    return Pending(token, organizer, None if organizer.totp_enrolled else _totp_secret(db, row))


def trust_browser(db: Database, organizer_id: str, *, now: int, token: str | None = None) -> str:
    """After a completed sign-in: the browser's trusted-browser token, renewed for
    TRUSTED_BROWSER_S (its old one if it had one for this organizer, else a new one)."""
    with write_transaction(db):
        if token and _trusted_browser(db, token, organizer_id, now):
            db.execute("update trusted_browsers set expires_at = ?, failures = 0 where token_hash = ?",
                       [now + TRUSTED_BROWSER_S, _token_hash(token)])
            return token
        token = secrets.token_urlsafe(32)
        db.execute("delete from trusted_browsers where expires_at <= ?", [now])
        db["trusted_browsers"].insert({"token_hash": _token_hash(token), "organizer_id": organizer_id, "created_at": now,
                                       "expires_at": now + TRUSTED_BROWSER_S, "failures": 0})
    return token


def pending_login(db: Database, token: str, *, now: int) -> Pending | None:
    row = _session_row(db, token, "pending", now)
    if row is None:
        return None
    organizer = _organizer(row)
    return Pending(token, organizer, None if organizer.totp_enrolled else _totp_secret(db, row))


def provisioning_uri(pending: Pending) -> str:
    """The otpauth:// address an authenticator app reads from the enrollment QR."""
    assert pending.totp_secret is not None
    return pyotp.TOTP(pending.totp_secret, digits=TOTP_DIGITS, interval=TOTP_STEP_S).provisioning_uri(
        name=pending.organizer.email, issuer_name=ISSUER
    )


def check_code(db: Database, pending_token: str, code: str, *, now: int, client: str = "", user_agent: str = "") -> str:
    """Step two: a TOTP code (±1 step, never the same step twice) turns the pending login into
    a session; returns the session token. The first accepted code also enrolls the app.
    Raises LoginRefused(expired | malformed_code | bad_code | code_replayed | locked)."""
    session = secrets.token_urlsafe(32)
    with write_transaction(db):
        row = _session_row(db, pending_token, "pending", now)
        if row is None:
            raise LoginRefused("expired")
        _locked(row, now)
        code = code.strip().replace(" ", "")
        if not re.fullmatch(r"[0-9]{6}", code):
            raise LoginRefused("malformed_code")
        totp = pyotp.TOTP(_totp_secret(db, row), digits=TOTP_DIGITS, interval=TOTP_STEP_S)
        current = now // TOTP_STEP_S
        step = next((s for s in (current, current - 1, current + 1) if hmac.compare_digest(totp.at(s * TOTP_STEP_S), code)), None)
        # A failure is counted, and committed, before it is raised.
        if step is None:
            refusal = _fail(db, row, "bad_code", now)
        elif row["last_totp_step"] is not None and step <= row["last_totp_step"]:
            refusal = _fail(db, row, "code_replayed", now)
        else:
            refusal = None
        if refusal is not None:
            audit.record(db, row["organizer_id"], "sign_in.locked" if refusal.reason == "locked" else "sign_in.code_failed",
                         row["organizer_id"], {"client": client, "reason": refusal.reason}, now=now)
        else:
            db.execute(
                "update organizers set last_totp_step = ?, failed_logins = 0, locked_until = null, "
                "totp_enrolled_at = coalesce(totp_enrolled_at, ?) where id = ?",
                [step, now, row["organizer_id"]],
            )
            db.execute("delete from organizer_sessions where token_hash = ?", [_token_hash(pending_token)])
            db["organizer_sessions"].insert(
                {"token_hash": _token_hash(session), "organizer_id": row["organizer_id"], "stage": "session",
                 "created_at": now, "expires_at": now + SESSION_S, "client": client[:64], "user_agent": user_agent[:200]}
            )
            audit.record(db, row["organizer_id"], "sign_in", row["organizer_id"], {"client": client}, now=now)
    if refusal is not None:
        raise refusal
    return session


def session_organizer(db: Database, token: str | None, *, now: int) -> Organizer | None:
    row = _session_row(db, token, "session", now) if token else None
    return _organizer(row) if row else None


@dataclass(frozen=True)
class Session:
    """One of an organizer's open sessions, as the Account page lists it."""

    id: str  # the start of the token's hash: names the session in a form, opens nothing
    created_at: int
    expires_at: int
    client: str
    user_agent: str
    current: bool  # the one asking


SESSION_ID_LEN = 16


def sessions(db: Database, organizer_id: str, *, now: int, current: str | None = None) -> list[Session]:
    mine = _token_hash(current) if current else None
    return [
        Session(row["token_hash"][:SESSION_ID_LEN], row["created_at"], row["expires_at"], row["client"], row["user_agent"],
                row["token_hash"] == mine)
        for row in db.query(
            "select * from organizer_sessions where organizer_id = ? and stage = 'session' and expires_at > ? "
            "order by created_at desc", [organizer_id, now])
    ]


def end_session(db: Database, organizer_id: str, session_id: str, *, now: int) -> bool:
    """End one of the organizer's own sessions by its id; False when they have none by it."""
    if not re.fullmatch(rf"[0-9a-f]{{{SESSION_ID_LEN}}}", session_id):
        return False
    with write_transaction(db):
        ended = db.execute("delete from organizer_sessions where organizer_id = ? and stage = 'session' "
                           "and substr(token_hash, 1, ?) = ?", [organizer_id, SESSION_ID_LEN, session_id]).rowcount
        if ended:
            audit.record(db, organizer_id, "account.session_end", organizer_id, {"session": session_id}, now=now)
    return ended > 0


def sign_out_everywhere(db: Database, organizer_id: str, *, now: int) -> int:
    """Every session and pending sign-in of the organizer ends, and no browser stays trusted:
    what to do when a laptop is lost. Returns how many sessions ended."""
    with write_transaction(db):
        ended = db.execute("delete from organizer_sessions where organizer_id = ?", [organizer_id]).rowcount
        db.execute("delete from trusted_browsers where organizer_id = ?", [organizer_id])
        audit.record(db, organizer_id, "account.sign_out_everywhere", organizer_id, {"sessions": ended}, now=now)
    return ended


def change_password(db: Database, organizer_id: str, current: str, new: str, *, now: int, keep: str | None = None) -> int:
    """The organizer's own password, changed after the current one is given again. Every other
    session ends (someone who knew the old password may hold one); `keep`, the session asking,
    stays. Raises LoginRefused("bad_credentials") for a wrong current password (counted like a
    wrong code: five lock the account), ValueError for a new one that does not do. Returns how
    many sessions ended."""
    check_new_password(new)
    with write_transaction(db):
        row = db["organizers"].get(organizer_id)
        _locked(row, now)
        if not password_matches(current[:PASSWORD_MAX + 1], row["password_hash"]):
            refusal = _fail(db, row, "bad_credentials", now)
            audit.record(db, organizer_id, "account.password_failed", organizer_id, {}, now=now)
        else:
            refusal = None
            db.execute("update organizers set password_hash = ? where id = ?", [hash_password(new), organizer_id])
            kept = _token_hash(keep) if keep else ""
            ended = db.execute("delete from organizer_sessions where organizer_id = ? and token_hash != ?",
                               [organizer_id, kept]).rowcount
            audit.record(db, organizer_id, "account.password", organizer_id, {"sessions_ended": ended}, now=now)
    if refusal is not None:
        raise refusal
    return ended


def sign_out(db: Database, token: str) -> None:
    with write_transaction(db):
        db.execute("delete from organizer_sessions where token_hash = ?", [_token_hash(token)])


def _session_row(db: Database, token: str | None, stage: str, now: int) -> dict | None:
    if not token or len(token) > 100:
        return None
    rows = list(db.query(
        "select s.organizer_id, o.* from organizer_sessions s join organizers o on o.id = s.organizer_id "
        "where s.token_hash = ? and s.stage = ? and s.expires_at > ?",
        [_token_hash(token), stage, now],
    ))
    return rows[0] if rows else None

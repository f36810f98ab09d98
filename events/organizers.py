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

Enrolling the app also makes RECOVERY_CODES one-time recovery codes, shown once: each stands in
for a TOTP code at one sign-in (a lost phone), and a wrong one counts like a wrong code. An owner
(events/organizations.py) or the command line may reset an account: forget its app, and/or give
it a one-time password that must be changed at the next sign-in. A disabled account is refused
at the password step exactly like a wrong password, and none of its sessions opens anything.
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
RECOVERY_CODES = 10
# 16 base32 characters, 80 random bits: beyond guessing even offline from a copy of the digests,
# so a fast HMAC-SHA256 under a per-code salt keeps them as well as scrypt would, and checking ten
# of them at a sign-in costs nothing.
RECOVERY_CODE_CHARS = 16
_RECOVERY_CODE = re.compile(rf"[a-z2-7]{{{RECOVERY_CODE_CHARS}}}")
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
    must_change_password: bool = False  # a password handed over by an owner: the console sends them to change it


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
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
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
    return Organizer(
        row["id"], row["email"], row["name"], row["totp_enrolled_at"] is not None, bool(row.get("must_change_password"))
    )


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
        "id": organizer_id,
        "email": email,
        "name": name.strip(),
        "password_hash": hash_password(password),
        "totp_secret": _sealed_totp_secret(db, organizer_id, pyotp.random_base32(32)),
        "totp_enrolled_at": None,
        "last_totp_step": None,
        "failed_logins": 0,
        "locked_until": None,
        "created_at": now,
    }
    with write_transaction(db):
        if db.execute("select 1 from organizers where email = ?", [email]).fetchone():
            raise ValueError(f"there is already an organizer {email}")
        db["organizers"].insert(row)
    return _organizer(row)


def find(db: Database, email: str) -> Organizer:
    """The account signing in as `email`; LookupError when there is none."""
    email = email.strip().lower()
    rows = list(db["organizers"].rows_where("email = ?", [email]))
    if not rows:
        raise LookupError(f"there is no organizer {email}")
    return _organizer(rows[0])


def _forget_second_factor(db: Database, organizer_id: str) -> None:
    # A new TOTP secret, not yet enrolled, and no recovery codes: the next sign-in enrolls an app
    # and makes new codes, as the first one did.
    db["organizers"].update(
        organizer_id,
        {
            "totp_secret": _sealed_totp_secret(db, organizer_id, pyotp.random_base32(32)),
            "totp_enrolled_at": None,
            "last_totp_step": None,
        },
    )
    db.execute("delete from organizer_recovery_codes where organizer_id = ?", [organizer_id])


def _end_everything(db: Database, organizer_id: str) -> int:
    """Every session and pending sign-in of the account ends and no browser stays trusted;
    returns how many sessions ended."""
    ended = db.execute(
        "delete from organizer_sessions where organizer_id = ? and stage = 'session'", [organizer_id]
    ).rowcount
    db.execute("delete from organizer_sessions where organizer_id = ?", [organizer_id])
    db.execute("delete from trusted_browsers where organizer_id = ?", [organizer_id])
    return ended


def reset_second_factor(db: Database, email: str) -> Organizer:
    """Forget an organizer's authenticator app (a lost phone, a lost data key): a new TOTP
    secret, not yet enrolled, so the next sign-in after the password enrolls an app again.
    Unrecorded: `poppass lost-data-key` does it to everyone; reset_account is the recorded one."""
    organizer = find(db, email)
    with write_transaction(db):
        _forget_second_factor(db, organizer.id)
        _end_everything(db, organizer.id)
    return _organizer(db["organizers"].get(organizer.id))


def one_time_password() -> str:
    """A password to hand over (it must be changed at the next sign-in): 100 random bits in five
    groups of four base32 letters, easy to read out and to type."""
    raw = base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()[:20]
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def reset_account(
    db: Database, organizer_id: str, *, second_factor: bool, password: str | None, by: str, now: int
) -> int:
    """What an owner (events/organizations.reset_member) or the command line does for someone who
    lost their phone or password: `second_factor` forgets the authenticator app and the recovery
    codes (they enroll again at their next sign-in); `password` becomes the account's password,
    one it must change at its next sign-in. Either way every session ends, no browser stays
    trusted and a lock-out ends. Recorded under the account, with `by` (an organizer's id or
    audit.CLI). Returns how many sessions ended; ValueError for a password that does not do."""
    if not second_factor and password is None:
        raise ValueError("reset the second factor, the password or both")
    if password is not None:
        check_new_password(password)
    with write_transaction(db):
        db["organizers"].get(organizer_id)  # NotFoundError for no such account
        if second_factor:
            _forget_second_factor(db, organizer_id)
        if password is not None:
            db.execute(
                "update organizers set password_hash = ?, must_change_password = 1 where id = ?",
                [hash_password(password), organizer_id],
            )
        db.execute("update organizers set failed_logins = 0, locked_until = null where id = ?", [organizer_id])
        ended = _end_everything(db, organizer_id)
        if second_factor:
            audit.record(db, by, "account.second_factor_reset", organizer_id, {"sessions_ended": ended}, now=now)
        if password is not None:
            audit.record(db, by, "account.password_reset", organizer_id, {"sessions_ended": ended}, now=now)
    return ended


def set_disabled(db: Database, organizer_id: str, disabled: bool, *, by: str, now: int) -> int:
    """Disable the account (it cannot sign in, and its sessions end now) or enable it again.
    Who may is events/organizations.py's rule. Returns how many sessions ended."""
    with write_transaction(db):
        row = db["organizers"].get(organizer_id)
        if (row["disabled_at"] is not None) == disabled:
            return 0  # already so: nothing happens, nothing is recorded
        db.execute("update organizers set disabled_at = ? where id = ?", [now if disabled else None, organizer_id])
        ended = _end_everything(db, organizer_id) if disabled else 0
        audit.record(
            db,
            by,
            "account.disabled" if disabled else "account.enabled",
            organizer_id,
            {"sessions_ended": ended} if disabled else {},
            now=now,
        )
    return ended


def is_disabled(db: Database, organizer_id: str) -> bool:
    row = db.execute("select disabled_at from organizers where id = ?", [organizer_id]).fetchone()
    return row is not None and row[0] is not None


# --- recovery codes ---------------------------------------------------------------------------


def _recovery_digest(salt: bytes, plain: str) -> str:
    return hmac.new(salt, plain.encode("ascii"), hashlib.sha256).hexdigest()


def _recovery_plain(code: str) -> str | None:
    """What a typed recovery code comes down to (no dashes or spaces, any case), or None when it
    is not one."""
    plain = re.sub(r"[\s-]", "", code).lower()
    return plain if _RECOVERY_CODE.fullmatch(plain) else None


def _replace_recovery_codes(db: Database, organizer_id: str, now: int) -> tuple[str, ...]:
    """A new set of codes in place of the old: returned clear this once, kept only as digests."""
    db.execute("delete from organizer_recovery_codes where organizer_id = ?", [organizer_id])
    codes, rows = [], []
    for _ in range(RECOVERY_CODES):
        plain = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_CHARS * 5 // 8)).decode("ascii").lower()
        salt = secrets.token_bytes(16)
        rows.append(
            {
                "organizer_id": organizer_id,
                "salt": salt.hex(),
                "digest": _recovery_digest(salt, plain),
                "created_at": now,
                "used_at": None,
            }
        )
        codes.append("-".join(plain[i : i + 4] for i in range(0, RECOVERY_CODE_CHARS, 4)))
    db["organizer_recovery_codes"].insert_all(rows)
    return tuple(codes)


def _spend_recovery_code(db: Database, organizer_id: str, plain: str, now: int) -> bool:
    """Mark the unused code matching `plain` used; False when none does."""
    found = None
    for code_id, salt, digest in db.execute(
        "select id, salt, digest from organizer_recovery_codes where organizer_id = ? and used_at is null",
        [organizer_id],
    ).fetchall():
        if hmac.compare_digest(_recovery_digest(bytes.fromhex(salt), plain), digest):
            found = code_id  # no early exit: each try costs the same however many are left
    if found is None:
        return False
    db.execute("update organizer_recovery_codes set used_at = ? where id = ?", [now, found])
    return True


def recovery_codes_left(db: Database, organizer_id: str) -> int:
    return db.execute(
        "select count(*) from organizer_recovery_codes where organizer_id = ? and used_at is null", [organizer_id]
    ).fetchone()[0]


def regenerate_recovery_codes(db: Database, organizer_id: str, password: str, *, now: int) -> tuple[str, ...]:
    """A new set of recovery codes in place of the old ones, after the current password is given
    again. Raises LoginRefused("bad_credentials" | "locked") for a wrong one (counted like a wrong
    code: a stolen session cannot guess the password either)."""
    with write_transaction(db):
        refusal = _confirm_password(db, organizer_id, password, now)
        if refusal is None:
            codes = _replace_recovery_codes(db, organizer_id, now)
            audit.record(db, organizer_id, "account.recovery_codes", organizer_id, {"codes": len(codes)}, now=now)
    if refusal is not None:
        raise refusal
    return codes


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
    db.execute(
        "delete from sign_in_throttle where first_failed_at <= ? and coalesce(locked_until, 0) <= ?",
        [now - LOCK_S, now],
    )
    row = db.execute("select failures from sign_in_throttle where key = ?", [key]).fetchone()
    failures = (row[0] if row else 0) + 1
    if failures >= MAX_FAILURES:
        db.execute(
            "update sign_in_throttle set failures = 0, first_failed_at = ?, locked_until = ? where key = ?",
            [now, now + LOCK_S, key],
        )
        return LoginRefused("locked", retry_after=LOCK_S)
    if row is None:
        db["sign_in_throttle"].insert({"key": key, "failures": failures, "first_failed_at": now, "locked_until": None})
    else:
        db.execute("update sign_in_throttle set failures = ? where key = ?", [failures, key])
    return LoginRefused("bad_credentials")


def _trusted_browser(db: Database, token: str | None, organizer_id: str, now: int) -> bool:
    if not token or len(token) > 100:
        return False
    row = db.execute(
        "select 1 from trusted_browsers where token_hash = ? and organizer_id = ? and expires_at > ?",
        [_token_hash(token), organizer_id, now],
    ).fetchone()
    return row is not None


def _distrust_failure(db: Database, token: str, now: int) -> LoginRefused:
    """A wrong password from a trusted browser: counted on it; the fifth ends its trust."""
    db.execute("update trusted_browsers set failures = failures + 1 where token_hash = ?", [_token_hash(token)])
    db.execute(
        "delete from trusted_browsers where token_hash = ? and failures >= ?", [_token_hash(token), MAX_FAILURES]
    )
    return LoginRefused("bad_credentials")


def _subject(row: dict | None, key: str) -> str:
    # An email without an account is logged by its hash: what a stranger typed stays unread.
    return row["id"] if row is not None else "email:" + key[:16]


def check_password(
    db: Database, email: str, password: str, *, now: int, trusted_browser: str | None = None, client: str = ""
) -> Pending:
    """Step one. Raises LoginRefused(bad_credentials | locked). An unknown email and a wrong
    password are refused alike, in the same time, and lock alike; `trusted_browser` (the cookie
    a completed sign-in left, see trust_browser) is not held up by a stranger's lock-out."""
    email = email.strip().lower()
    password = password[: PASSWORD_MAX + 1]
    key = _email_key(email)
    with write_transaction(db):
        rows = list(db["organizers"].rows_where("email = ?", [email]))
        row = rows[0] if rows else None
        trusted = row is not None and _trusted_browser(db, trusted_browser, row["id"], now)
        if not trusted:
            _throttled(db, key, now)
        matches = password_matches(password, row["password_hash"] if row is not None else _DUMMY_HASH)
        token = secrets.token_urlsafe(32)
        # A disabled account is refused exactly like a wrong password, and counted like one: its
        # answer tells nobody, not even someone who knows the password, that it exists.
        disabled = row is not None and row["disabled_at"] is not None
        # A failure is counted, and committed, before it is raised.
        if row is None or not matches or disabled:
            refusal = _distrust_failure(db, trusted_browser, now) if trusted else _count_failure(db, key, now)
            action = (
                "sign_in.locked"
                if refusal.reason == "locked"
                else "sign_in.disabled"
                if disabled and matches
                else "sign_in.password_failed"
            )
            audit.record(
                db,
                row["id"] if row else "",
                action,
                _subject(row, key),
                {"client": client, "trusted_browser": trusted},
                now=now,
            )
        else:
            refusal = None
            if not trusted:
                db.execute("delete from sign_in_throttle where key = ?", [key])
            db["organizer_sessions"].insert(
                {
                    "token_hash": _token_hash(token),
                    "organizer_id": row["id"],
                    "stage": "pending",
                    "created_at": now,
                    "expires_at": now + PENDING_S,
                }
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
            db.execute(
                "update trusted_browsers set expires_at = ?, failures = 0 where token_hash = ?",
                [now + TRUSTED_BROWSER_S, _token_hash(token)],
            )
            return token
        token = secrets.token_urlsafe(32)
        db.execute("delete from trusted_browsers where expires_at <= ?", [now])
        db["trusted_browsers"].insert(
            {
                "token_hash": _token_hash(token),
                "organizer_id": organizer_id,
                "created_at": now,
                "expires_at": now + TRUSTED_BROWSER_S,
                "failures": 0,
            }
        )
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


@dataclass(frozen=True)
class SignedIn:
    """What the second step gives: the session, and what the page after it must say."""

    session: str
    recovery_codes: tuple[str, ...]  # made at enrollment: shown this once, never again
    recovery_code_used: bool  # signed in with one instead of the app's code
    recovery_codes_left: int
    must_change_password: bool


def check_code(db: Database, pending_token: str, code: str, *, now: int, client: str = "", user_agent: str = "") -> str:
    """complete_sign_in, for callers that want only the session token."""
    return complete_sign_in(db, pending_token, code, now=now, client=client, user_agent=user_agent).session


def complete_sign_in(
    db: Database, pending_token: str, code: str, *, now: int, client: str = "", user_agent: str = ""
) -> SignedIn:
    """Step two: a TOTP code (±1 step, never the same step twice) or, once enrolled, an unused
    recovery code turns the pending login into a session. The first accepted code also enrolls
    the app and makes the recovery codes. Raises LoginRefused(expired | malformed_code | bad_code
    | code_replayed | bad_recovery_code | locked); every refusal but the first two is counted."""
    session = secrets.token_urlsafe(32)
    with write_transaction(db):
        row = _session_row(db, pending_token, "pending", now)
        if row is None:
            raise LoginRefused("expired")
        _locked(row, now)
        enrolled = row["totp_enrolled_at"] is not None
        digits = code.strip().replace(" ", "")
        recovery = _recovery_plain(code) if enrolled else None
        step = None
        if re.fullmatch(r"[0-9]{6}", digits):
            totp = pyotp.TOTP(_totp_secret(db, row), digits=TOTP_DIGITS, interval=TOTP_STEP_S)
            current = now // TOTP_STEP_S
            step = next(
                (
                    s
                    for s in (current, current - 1, current + 1)
                    if hmac.compare_digest(totp.at(s * TOTP_STEP_S), digits)
                ),
                None,
            )
            # A failure is counted, and committed, before it is raised.
            if step is None:
                refusal = _fail(db, row, "bad_code", now)
            elif row["last_totp_step"] is not None and step <= row["last_totp_step"]:
                refusal = _fail(db, row, "code_replayed", now)
            else:
                refusal = None
        elif recovery is not None:
            refusal = (
                None
                if _spend_recovery_code(db, row["organizer_id"], recovery, now)
                else _fail(db, row, "bad_recovery_code", now)
            )
        else:
            raise LoginRefused("malformed_code")
        codes: tuple[str, ...] = ()
        if refusal is not None:
            audit.record(
                db,
                row["organizer_id"],
                "sign_in.locked" if refusal.reason == "locked" else "sign_in.code_failed",
                row["organizer_id"],
                {"client": client, "reason": refusal.reason},
                now=now,
            )
        else:
            db.execute(
                "update organizers set last_totp_step = coalesce(?, last_totp_step), failed_logins = 0, locked_until = null, "
                "totp_enrolled_at = coalesce(totp_enrolled_at, ?) where id = ?",
                [step, now, row["organizer_id"]],
            )
            if not enrolled:
                codes = _replace_recovery_codes(db, row["organizer_id"], now)
                audit.record(
                    db,
                    row["organizer_id"],
                    "account.recovery_codes",
                    row["organizer_id"],
                    {"codes": len(codes), "at_enrollment": True, "client": client},
                    now=now,
                )
            left = recovery_codes_left(db, row["organizer_id"])
            if recovery is not None:
                audit.record(
                    db,
                    row["organizer_id"],
                    "sign_in.recovery_code",
                    row["organizer_id"],
                    {"client": client, "left": left},
                    now=now,
                )
            db.execute("delete from organizer_sessions where token_hash = ?", [_token_hash(pending_token)])
            db["organizer_sessions"].insert(
                {
                    "token_hash": _token_hash(session),
                    "organizer_id": row["organizer_id"],
                    "stage": "session",
                    "created_at": now,
                    "expires_at": now + SESSION_S,
                    "client": client[:64],
                    "user_agent": user_agent[:200],
                }
            )
            audit.record(db, row["organizer_id"], "sign_in", row["organizer_id"], {"client": client}, now=now)
    if refusal is not None:
        raise refusal
    return SignedIn(session, codes, recovery is not None, left, bool(row["must_change_password"]))


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
        Session(
            row["token_hash"][:SESSION_ID_LEN],
            row["created_at"],
            row["expires_at"],
            row["client"],
            row["user_agent"],
            row["token_hash"] == mine,
        )
        for row in db.query(
            "select * from organizer_sessions where organizer_id = ? and stage = 'session' and expires_at > ? "
            "order by created_at desc",
            [organizer_id, now],
        )
    ]


def end_session(db: Database, organizer_id: str, session_id: str, *, now: int) -> bool:
    """End one of the organizer's own sessions by its id; False when they have none by it."""
    if not re.fullmatch(rf"[0-9a-f]{{{SESSION_ID_LEN}}}", session_id):
        return False
    with write_transaction(db):
        ended = db.execute(
            "delete from organizer_sessions where organizer_id = ? and stage = 'session' "
            "and substr(token_hash, 1, ?) = ?",
            [organizer_id, SESSION_ID_LEN, session_id],
        ).rowcount
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


def change_password(
    db: Database, organizer_id: str, current: str, new: str, *, now: int, keep: str | None = None
) -> int:
    """The organizer's own password, changed after the current one is given again. Every other
    session ends (someone who knew the old password may hold one); `keep`, the session asking,
    stays. Raises LoginRefused("bad_credentials") for a wrong current password (counted like a
    wrong code: five lock the account), ValueError for a new one that does not do. Returns how
    many sessions ended."""
    check_new_password(new)
    if new == current:
        raise ValueError("the new password is the current one")
    with write_transaction(db):
        refusal = _confirm_password(db, organizer_id, current, now)
        if refusal is None:
            # A password of one's own now: the one handed over (if it was) no longer needs changing.
            db.execute(
                "update organizers set password_hash = ?, must_change_password = 0 where id = ?",
                [hash_password(new), organizer_id],
            )
            kept = _token_hash(keep) if keep else ""
            ended = db.execute(
                "delete from organizer_sessions where organizer_id = ? and token_hash != ?", [organizer_id, kept]
            ).rowcount
            audit.record(db, organizer_id, "account.password", organizer_id, {"sessions_ended": ended}, now=now)
    if refusal is not None:
        raise refusal
    return ended


def _confirm_password(db: Database, organizer_id: str, password: str, now: int) -> LoginRefused | None:
    """The signed-in organizer's current password, typed again before a change that matters:
    None when right; a refusal, counted like a wrong code and recorded, when not (to raise once
    the caller's transaction has committed the count)."""
    row = db["organizers"].get(organizer_id)
    _locked(row, now)
    if password_matches(password[: PASSWORD_MAX + 1], row["password_hash"]):
        return None
    audit.record(db, organizer_id, "account.password_failed", organizer_id, {}, now=now)
    return _fail(db, row, "bad_credentials", now)


def sign_out(db: Database, token: str) -> None:
    with write_transaction(db):
        db.execute("delete from organizer_sessions where token_hash = ?", [_token_hash(token)])


def _session_row(db: Database, token: str | None, stage: str, now: int) -> dict | None:
    if not token or len(token) > 100:
        return None
    rows = list(
        db.query(
            "select s.organizer_id, o.* from organizer_sessions s join organizers o on o.id = s.organizer_id "
            "where s.token_hash = ? and s.stage = ? and s.expires_at > ? and o.disabled_at is null",
            [_token_hash(token), stage, now],
        )
    )
    return rows[0] if rows else None

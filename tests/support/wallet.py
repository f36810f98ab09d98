"""An attendee signed up online, and the tokens they hold."""

from __future__ import annotations

from events import signup
from tests.support.clock import NOW

M = NOW * 1000


def sign_up(db, event, name="Li Wei", phone="13800138000") -> signup.SignUp:
    return signup.sign_up(db, event.id, signup.Applicant(name, phone, "", True), now_ms=M)


def held_tokens(db, attendee_id: str) -> dict[str, str]:
    return {
        r["type"] if r["type"] == "pass" else r["id"]: r["text"]
        for r in db.query("select id, type, text from tokens where attendee_id = ?", [attendee_id])
    }

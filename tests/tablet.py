"""A simulated tablet: what the station PWA will do, in Python, for tests and benchmarks.

It holds its own Ed25519 key, HLC and outbox, and makes ops in the wire format of
docs/sync-protocol.md. It does not talk HTTP itself: tests hand its batches to the server
(TestClient, a live server, or events.sync directly).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field

from events import tokens
from events.hlc import HybridClock
from events.keys import b64url, generate_private_key, public_key_bytes

_ids = itertools.count()


def new_id(prefix: str = "op") -> str:
    return f"{prefix}{secrets.token_hex(8)}"


@dataclass
class Tablet:
    event_id: str
    clerk: str = "Clerk"
    device_id: str = ""
    key_id: int = 0
    token: str = ""  # bearer device token
    private_key: object = field(default_factory=generate_private_key)
    clock: HybridClock = field(default_factory=HybridClock)
    offset_ms: int = 0  # what the tablet believes server time minus its own clock is
    skew_ms: int = 0  # how wrong its wall clock really is (tests drive it)
    seq: int = 0
    outbox: list[dict] = field(default_factory=list)

    @property
    def public_key(self) -> str:
        return b64url(public_key_bytes(self.private_key))

    def enrolled(self, response: dict) -> Tablet:
        self.device_id, self.key_id, self.token = response["device_id"], response["key_id"], response["device_token"]
        return self

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    # --- making ops -------------------------------------------------------------------------

    def _op(self, kind: str, subject: str, data: dict, now_ms: int) -> dict:
        wall = now_ms + self.skew_ms
        hlc_ms, counter = self.clock.now(wall + self.offset_ms)  # HLC runs on corrected time
        self.seq += 1
        op = {
            "kind": kind, "op_id": new_id(), "device_seq": self.seq, "subject": subject, "hlc_ms": hlc_ms,
            "hlc_counter": counter, "device_time_ms": wall, "corrected_time_ms": wall + self.offset_ms,
            "clerk": self.clerk, "data": data,
        }
        self.outbox.append(op)
        return op

    def register(self, name: str, *, now_ms: int, phone: str = "", email: str = "") -> dict:
        data = {"name": name, "consent": True}
        if phone:
            data["phone"] = phone
        if email:
            data["email"] = email
        return self._op("register", new_id("at"), data, now_ms)

    def checkin(self, attendee_id: str, *, now_ms: int) -> dict:
        return self._op("checkin", attendee_id, {"method": "search", "shown": {"verdict": "green"}}, now_ms)

    def issue_voucher(self, *, now_ms: int, max_uses: int = 1, minutes: int = 240, campaign: int = 1, attendee_id: str | None = None) -> tuple[str, dict]:
        issued_at = (now_ms + self.skew_ms + self.offset_ms) // 1000
        text = tokens.issue(
            signing_key=self.private_key, key_id=self.key_id, event_id=self.event_id, type=tokens.TokenType.VOUCHER,
            issued_at=issued_at, valid_from=issued_at, valid_until=issued_at + 60 * minutes, campaign=campaign,
            max_uses=max_uses,
        )
        data = {"token": text}
        if attendee_id:
            data["attendee_id"] = attendee_id
        return text, self._op("issue", tokens.decode(text).token.id, data, now_ms)

    def redeem(self, text: str, *, now_ms: int, outcome: str = "accepted", seen: int = 0) -> dict:
        verdict = "green" if outcome == "accepted" else "red"
        data = {"token": text, "outcome": outcome, "shown": {"verdict": verdict, "prior_uses_seen": seen}}
        return self._op("redeem", tokens.decode(text).token.id, data, now_ms)

    def void(self, text: str, *, now_ms: int, redeem_op_id: str | None = None, reason: str = "mistake") -> dict:
        data = {"reason": reason}
        if redeem_op_id:
            data["redeem_op_id"] = redeem_op_id
        return self._op("void", tokens.decode(text).token.id, data, now_ms)

    # --- batches ---------------------------------------------------------------------------

    def batch(self, ops: list[dict] | None = None, *, now_ms: int) -> dict:
        return {
            "protocol": 1, "device_id": self.device_id, "sent_at_ms": now_ms + self.skew_ms,
            "ops": self.outbox if ops is None else ops, "pending": 0,
        }


# --- driving the domain directly (no HTTP) ---------------------------------------------------


def enroll(db, event_id: str, name: str, *, now: int) -> Tablet:
    """A tablet enrolled with a fresh one-time code, as the enrollment endpoint does it."""
    from events import devices
    from events.keys import from_b64url

    tablet = Tablet(event_id, clerk=name)
    code = devices.create_enrollment_code(db, event_id, name=name, now=now)
    enrollment = devices.enroll(db, code, public_key=from_b64url(tablet.public_key), now=now)
    return tablet.enrolled(
        {"device_id": enrollment.device.id, "key_id": enrollment.device.key_id, "device_token": enrollment.token}
    )


def push(db, tablet: Tablet, now_ms: int, *, sent_offset_ms: int = 0):
    """Push the tablet's whole outbox through events.sync, as a request would, and empty it."""
    import msgspec

    from events import ops, sync

    body = msgspec.json.encode(tablet.batch(now_ms=now_ms + sent_offset_ms))
    result = sync.push(db, tablet.device_id, ops.decode_batch(body), now_ms=now_ms)
    tablet.outbox.clear()
    return result


def redeem_twice(db, event_id: str, first: Tablet, second: Tablet, *, now: int, title: str = "Tote bag") -> str:
    """A single-use voucher of a new campaign, redeemed offline by both tablets a second apart
    and pushed: one over_redemption conflict. Returns the voucher's text."""
    from events import campaigns

    campaign = campaigns.create_campaign(db, event_id, title=title, max_uses=1, rotating=False, now=now)
    text = campaigns.issue_voucher(db, event_id, campaign.number, now=now).text
    first.redeem(text, now_ms=now * 1000 + 1000)
    second.redeem(text, now_ms=now * 1000 + 2000)
    push(db, first, now * 1000 + 5000)
    push(db, second, now * 1000 + 6000)
    return text

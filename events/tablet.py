"""A simulated tablet: what the station PWA does, in Python — its own Ed25519 key, HLC, device_seq
and outbox, making ops in the wire format of docs/sync-protocol.md.

Used by the demo (`events/demo_seed.py` drives it through `events.sync` directly;
`server/demo_live.py` sends its batches over HTTP), by the tests and by the benchmarks. It does
not talk HTTP itself, and it never reads the clock: every method is given the time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from events import tokens
from events.hlc import HybridClock
from events.keys import b64url, generate_private_key, public_key_bytes
from events.ops import PROTOCOL


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

    def _stamp(self, now_ms: int) -> dict:
        wall = now_ms + self.skew_ms
        hlc_ms, counter = self.clock.now(wall + self.offset_ms)  # HLC runs on corrected time
        return {
            "hlc_ms": hlc_ms,
            "hlc_counter": counter,
            "device_time_ms": wall,
            "corrected_time_ms": wall + self.offset_ms,
            "clerk": self.clerk,
        }

    def _op(self, kind: str, subject: str, data: dict, now_ms: int) -> dict:
        stamp = self._stamp(now_ms)
        self.seq += 1
        op = {"kind": kind, "op_id": new_id(), "device_seq": self.seq, "subject": subject, **stamp, "data": data}
        self.outbox.append(op)
        return op

    def mint_pass(self, *, now_ms: int, valid_until: int | None = None) -> str:
        """A walk-in's pass, signed by this tablet's key (what station-register.js mints)."""
        issued_at = (now_ms + self.skew_ms + self.offset_ms) // 1000
        return tokens.issue(
            signing_key=self.private_key,
            key_id=self.key_id,
            event_id=self.event_id,
            type=tokens.TokenType.PASS,
            issued_at=issued_at,
            valid_from=issued_at,
            valid_until=valid_until,
        )

    def register(
        self, name: str, *, now_ms: int, phone: str = "", email: str = "", pass_token: str | None = None
    ) -> dict:
        """A walk-in. With `pass_token` (see `mint_pass`) the attendee's id is the pass's token id,
        as on the station; without, a made-up id (tests that need no pass)."""
        data: dict = {"name": name, "consent": True}
        if phone:
            data["phone"] = phone
        if email:
            data["email"] = email
        if pass_token:
            data["pass_token"] = pass_token
        subject = tokens.decode(pass_token).token.id if pass_token else new_id("at")
        return self._op("register", subject, data, now_ms)

    def checkin(
        self, attendee_id: str, *, now_ms: int, pass_token: str | None = None, method: str | None = None
    ) -> dict:
        """A check-in found by search, or with `pass_token` a scanned pass (a walk-in checked in
        as they are registered carries their new pass with method "search", as the station does)."""
        data: dict = {"method": method or ("scan" if pass_token else "search"), "shown": {"verdict": "green"}}
        if pass_token:
            data["pass_token"] = pass_token
        return self._op("checkin", attendee_id, data, now_ms)

    def issue_voucher(
        self,
        *,
        now_ms: int,
        max_uses: int = 1,
        minutes: int = 240,
        campaign: int = 1,
        attendee_id: str | None = None,
        rotating: bool = False,
    ) -> tuple[str, dict]:
        issued_at = (now_ms + self.skew_ms + self.offset_ms) // 1000
        text = tokens.issue(
            signing_key=self.private_key,
            key_id=self.key_id,
            event_id=self.event_id,
            type=tokens.TokenType.VOUCHER,
            issued_at=issued_at,
            valid_from=issued_at,
            valid_until=issued_at + 60 * minutes,
            campaign=campaign,
            max_uses=max_uses,
            rotating=rotating,
        )
        data = {"token": text}
        if attendee_id:
            data["attendee_id"] = attendee_id
        return text, self._op("issue", tokens.decode(text).token.id, data, now_ms)

    def redeem(
        self, text: str, *, now_ms: int, outcome: str = "accepted", seen: int = 0, code_step: int | None = None
    ) -> dict:
        """A redemption decided on the tablet (offline, or the server did not answer in time).
        `code_step`: the rotating code's step the tablet accepted, for a rotating voucher."""
        verdict = "green" if outcome == "accepted" else "red"
        data: dict = {"token": text, "outcome": outcome, "shown": {"verdict": verdict, "prior_uses_seen": seen}}
        if code_step is not None:
            data["code_step"] = code_step
        return self._op("redeem", tokens.decode(text).token.id, data, now_ms)

    def void(self, text: str, *, now_ms: int, redeem_op_id: str | None = None, reason: str = "mistake") -> dict:
        data = {"reason": reason}
        if redeem_op_id:
            data["redeem_op_id"] = redeem_op_id
        return self._op("void", tokens.decode(text).token.id, data, now_ms)

    def online_redeem(self, text: str, *, now_ms: int, code: str | None = None) -> dict:
        """The body of POST /api/v1/redeem: a redemption the server decides at once. Not an
        outbox op (no device_seq) unless the tablet, timing out, later queues it."""
        body = {
            "protocol": PROTOCOL,
            "device_id": self.device_id,
            "sent_at_ms": now_ms + self.skew_ms,
            "op_id": new_id(),
            "subject": tokens.decode(text).token.id,
            **self._stamp(now_ms),
            "token": text,
        }
        if code is not None:
            body["code"] = code
        return body

    # --- batches and what the server answers -------------------------------------------------

    def batch(self, ops: list[dict] | None = None, *, now_ms: int) -> dict:
        return {
            "protocol": PROTOCOL,
            "device_id": self.device_id,
            "sent_at_ms": now_ms + self.skew_ms,
            "ops": self.outbox if ops is None else ops,
            "pending": 0,
        }

    def pushed(self, last_seq: int, clock_offset_ms: int) -> None:
        """The server applied the outbox up to `last_seq` and measured this tablet's clock."""
        self.outbox = [op for op in self.outbox if op["device_seq"] > last_seq]
        self.offset_ms = clock_offset_ms

    def pulled(self, ops: list[dict], *, now_ms: int) -> None:
        """Pulled ops move this tablet's HLC forward (the station does it within its drift guard)."""
        for op in ops:
            self.clock.receive((op["hlc_ms"], op["hlc_counter"]), now_ms + self.skew_ms + self.offset_ms)


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

"""`poppass demo --live`: the seeded tablets keep working the event over the real device API.

Each simulated tablet (`events.tablet.Tablet`, with the Ed25519 key and bearer token it was
enrolled with when the demo was seeded) pulls the log to learn who is signed up and what they
hold, then, every few seconds, checks someone in, registers a walk-in or redeems a voucher —
pushing its outbox (POST /api/v1/push) and asking the server first for redemptions
(POST /api/v1/redeem), as the station does. The server announces each change, so the wall moves.

It runs in a thread beside uvicorn and stops when asked (`stop`), which `poppass demo` does when
the server stops (Ctrl-C, SIGTERM). It reads the clock: it is a client, not the domain.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

from events import merge, rotating, tokens
from events.demo_seed import FUZZ_NAMES, person_name
from events.tablet import Tablet

HTTP_TIMEOUT_S = 5
PULL_EVERY_S = 10  # well inside the wall's two minutes before a tablet shows as late


class Refused(Exception):
    """The server refused this tablet's token (401 not enrolled, 403 revoked): it stops working."""

    def __init__(self, tablet: Tablet, status: int) -> None:
        super().__init__(f"{tablet.device_id}: {status}")
        self.tablet, self.status = tablet, status


@dataclass
class Ledger:
    """What the simulated tablets know, built from pulled ops and their own (one shared room)."""

    names: dict[str, str] = field(default_factory=dict)  # attendee id -> name
    passes: dict[str, str] = field(default_factory=dict)  # attendee id -> pass text
    checked_in: set[str] = field(default_factory=set)
    stays_away: set[str] = field(default_factory=set)  # the seeded fuzz names: never on the projector
    phones: set[str] = field(default_factory=set)  # phone keys already registered
    vouchers: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # token id -> (text, attendee id)
    uses: Counter = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)  # op ids already learned

    def learn(self, op: dict) -> None:
        # Every tablet pulls what the others wrote: the same op arrives up to three times.
        if op["op_id"] in self.seen:
            return
        self.seen.add(op["op_id"])
        kind, subject, data = op["kind"], op["subject"], op["data"]
        if kind == "register":
            self.names.setdefault(subject, data["name"])
            if data["name"] in FUZZ_NAMES:
                self.stays_away.add(subject)
            if data.get("phone"):
                self.phones.add(merge.phone_key(data["phone"]))
            if data.get("pass_token"):
                self.passes[subject] = data["pass_token"]
        elif kind == "checkin":
            self.checked_in.add(subject)
        elif kind == "issue" and tokens.decode(data["token"]).token.type is tokens.TokenType.VOUCHER:
            self.vouchers[subject] = (data["token"], data.get("attendee_id"))
        elif kind == "redeem" and data.get("outcome") == "accepted":
            self.uses[subject] += 1

    def waiting(self) -> list[str]:
        """Signed up, not in yet, and someone who may come in (in a stable order, for the seed)."""
        return sorted(set(self.names) - self.checked_in - self.stays_away)

    def new_phone(self, rng: random.Random) -> str:
        """A walk-in's phone nobody registered yet: a second `--live` run with the same seed must
        not register the same numbers again (each would be a possible_duplicate conflict)."""
        while True:
            phone = f"+86 136 {rng.randrange(10_000):04d} {rng.randrange(10_000):04d}"
            if merge.phone_key(phone) not in self.phones:
                self.phones.add(merge.phone_key(phone))
                return phone


class LiveTablets:
    """The seeded tablets, driven at `pace_s` seconds between actions (jittered) until `stop()`."""

    def __init__(
        self,
        base_url: str,
        event_id: str,
        identities: list[dict],
        *,
        rotation_key: bytes,
        pace_s: float,
        seed: int,
        tablet_for,
    ) -> None:
        self.base_url, self.event_id, self.pace_s = base_url.rstrip("/"), event_id, pace_s
        self.rotation_key = rotation_key  # the attendees' phones compute their codes from it
        self.rng = random.Random(seed)
        self.identities = identities
        self.desks = [(identity["role"], tablet_for(identity, event_id), identity) for identity in identities]
        self.ledger = Ledger()
        self.cursors: dict[str, int] = {}
        self.pulled_at: dict[str, float] = {}
        self.actions = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-live-tablets", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)

    # --- HTTP, as sync-client.js speaks it ------------------------------------------------------

    def _call(self, tablet: Tablet, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={**tablet.headers, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                raise Refused(tablet, error.code) from None
            raise

    def _push(self, tablet: Tablet) -> None:
        if not tablet.outbox:
            return
        now_ms = int(time.time() * 1000)
        answer = self._call(tablet, "POST", "/api/v1/push", tablet.batch(now_ms=now_ms))
        tablet.pushed(answer["last_seq"], answer["clock_offset_ms"])

    def _pull(self, tablet: Tablet) -> None:
        while True:
            now_ms = int(time.time() * 1000)
            query = urllib.parse.urlencode(  # the clerk on shift, as station-app.js sends it
                {"after": self.cursors.get(tablet.device_id, 0), "sent_at_ms": now_ms, "clerk": tablet.clerk}
            )
            page = self._call(tablet, "GET", f"/api/v1/pull?{query}")
            for op in page["ops"]:
                self.ledger.learn(op)
            tablet.pulled(page["ops"], now_ms=now_ms)
            self.cursors[tablet.device_id] = page["cursor"]
            if not page["more"]:
                break
        self.pulled_at[tablet.device_id] = time.monotonic()

    # --- the day goes on ----------------------------------------------------------------------

    def _run(self) -> None:
        self._wait_until_up()
        ready = False
        while not self._stop.is_set():
            try:
                if not ready:
                    for _, tablet, identity in self.desks:
                        if tablet.device_id not in self.pulled_at:  # (again after one was refused)
                            tablet.seq = identity.get("last_seq", 0)
                            self._pull(tablet)
                    ready = True
                if self._stop.wait(self.pace_s * self.rng.uniform(0.5, 1.5)):
                    break
                self._step()
            except Refused as refused:
                # Revoked in the console (or its device forgotten): like a station, that tablet
                # stops; the others go on. What it had not pushed is lost, as a wiped tablet's is.
                self.desks = [desk for desk in self.desks if desk[1] is not refused.tablet]
                name = next((i["name"] for i in self.identities if i["device_id"] == refused.tablet.device_id), "?")
                print(
                    f"  Live: the server refused {name} ({refused.status}): it stops, the other tablets go on",
                    flush=True,
                )
                if not self.desks:
                    break
            except OSError:
                # The server is stopping (Ctrl-C reaches uvicorn first) or briefly unreachable: a
                # tablet retries, and what it recorded waits in its outbox for the next push.
                self._stop.wait(1)

    def _wait_until_up(self) -> None:
        while not self._stop.is_set():
            try:
                urllib.request.urlopen(self.base_url + "/healthz", timeout=1).read()
                return
            except urllib.error.HTTPError as error:  # it answers: up, though unwell (a 503 on a low disk)
                error.close()
                return
            except OSError:
                self._stop.wait(0.2)

    def _step(self) -> None:
        choice = self.rng.random()
        if choice < 0.45:
            self._check_in()
        elif choice < 0.65:
            self._walk_in()
        else:
            self._redeem()
        self.actions += 1
        for _, tablet, _ in self.desks:  # idle tablets sync on their timer too, so none goes late
            if time.monotonic() - self.pulled_at.get(tablet.device_id, 0) > PULL_EVERY_S:
                self._pull(tablet)

    def _desk(self, role: str) -> Tablet:
        """A tablet standing there, or any tablet still working if that one was revoked."""
        there = [tablet for desk_role, tablet, _ in self.desks if desk_role == role]
        return self.rng.choice(there or [tablet for _, tablet, _ in self.desks])

    def _check_in(self) -> None:
        waiting = self.ledger.waiting()
        if not waiting:
            return self._walk_in()
        attendee = self.rng.choice(waiting)
        tablet = self._desk("entrance")
        tablet.checkin(attendee, now_ms=int(time.time() * 1000), pass_token=self.ledger.passes.get(attendee))
        self.ledger.checked_in.add(attendee)
        self._push(tablet)

    def _walk_in(self) -> None:
        tablet = self._desk("entrance")
        now_ms = int(time.time() * 1000)
        name = person_name(self.rng)  # drawn as the seeded day's are: the wall's feed does not repeat itself
        pass_text = tablet.mint_pass(now_ms=now_ms)
        register = tablet.register(name, now_ms=now_ms, pass_token=pass_text, phone=self.ledger.new_phone(self.rng))
        tablet.checkin(register["subject"], now_ms=now_ms + 500, pass_token=pass_text, method="search")
        self.ledger.names[register["subject"]] = name
        self.ledger.checked_in.add(register["subject"])
        self._push(tablet)

    def _redeem(self) -> None:
        """Someone checked in shows a voucher they have not used up: the counter asks the server."""
        usable = sorted(
            token_id
            for token_id, (text, holder) in self.ledger.vouchers.items()
            if holder in self.ledger.checked_in
            and self.ledger.uses[token_id] < max(1, tokens.decode(text).token.max_uses)
        )
        if not usable:
            return self._check_in()
        token_id = self.rng.choice(usable)
        text = self.ledger.vouchers[token_id][0]
        token = tokens.decode(text).token
        now_ms = int(time.time() * 1000)
        code = (
            rotating.code_at(rotating.voucher_secret(self.rotation_key, token.token_id), now_ms / 1000)
            if token.rotating
            else None
        )
        tablet = self._desk("counter" if self.rng.random() < 0.6 else "bar")
        answer = self._call(tablet, "POST", "/api/v1/redeem", tablet.online_redeem(text, now_ms=now_ms, code=code))
        if answer["outcome"] == "accepted":
            self.ledger.uses[token_id] += 1
        else:
            self.ledger.uses[token_id] = max(1, token.max_uses)  # refused: stop offering it

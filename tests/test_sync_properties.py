"""Property tests for sync: whatever the network does, the server ends in one correct state.

N simulated tablets make random ops while partitioned (registrations that share a phone or
an email, vouchers with 1-3 uses, redemptions of vouchers issued by any tablet or by the
server, refusals, voids, undos of one redemption, repeated check-ins, clocks far enough off
to land outside a voucher's window). A chaotic network then delivers their outboxes: random
contiguous slices, duplicated, reordered inside a batch, split, interleaved across tablets,
old batches replayed, slices past the acknowledged position (a gap, which the server refuses
and the tablet rewinds), responses lost so the tablet re-sends what was already applied.

The oracle is "every op applied exactly once": a copy of the same database (taken before any
push) gets each op once, in the order the ops were made. Two different chaotic deliveries
must both end in the reference's state — the stored ops, the attendees and tokens
projections and the conflict set — and that state must match what the merge rules say of
the whole set of ops, with every op stored once. Re-merging every subject afterwards must
change nothing (no conflict left stale by the order of arrival).

The same holds when a tablet issues a voucher reusing another voucher's token id (a forger),
and two smaller properties pin down the push protocol itself: the same batch pushed again
changes nothing, and a batch with a gap is refused without writing anything.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec
import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from events import campaigns, conflicts, devices, keys, merge, ops, registry, sealed, sync, tokens
from events.db import open_database
from events.trust import ClockPolicy
from tests.support.clock import NOW
from tests.support.examples import examples
from tests.support.log_state import state
from tests.support.tablet import Tablet

NOW_MS = NOW * 1000
MAX_TABLETS = 4
MINUTE_MS = 60_000

# Registrations draw from small pools so that tablets reuse a phone or an email. Some
# spellings normalise to the same key ("13800138000", "138-0013-8000"); some give no key.
PHONES = ("", "", "13800138000", "138-0013-8000", "+86 138 0013 8000", "+44 20 7946 0000", "020 12")
EMAILS = ("", "", "li@example.com", " LI@Example.COM", "wang@example.com", "not-an-email")
VOUCHER_MINUTES = (2, 10, 60, 240)
ACTIONS = ("register", "register", "checkin", "issue", "redeem", "redeem", "redeem", "void", "undo", "undo")
# How far a tablet's clock is off for one op: mostly right, sometimes far enough to put a
# redemption before a voucher's window opens or after it closes.
SKEWS_MS = (0, 0, 0, 0, -20 * MINUTE_MS, -3 * MINUTE_MS, 3 * MINUTE_MS, 90 * MINUTE_MS)
TIME_STEPS_MS = (0, 1, 1_000, 30_000, 4 * MINUTE_MS, 25 * MINUTE_MS)
# A forger signs with its own enrolled key (a genuine signature), with a key no one enrolled,
# or with such a key while claiming its own key id (a bad signature).
FORGERS = ("own key", "own key", "unknown key", "bad signature")
STRANGER = keys.generate_private_key()


# --- the fixed world: one event, four enrolled tablets, two server-issued vouchers ---------------


@dataclass(frozen=True)
class World:
    db: Database  # the template, copied before anything is pushed
    event_id: str
    tablets: tuple[tuple[str, int, str, object], ...]  # (device id, key id, device token, private key)
    server_vouchers: tuple[str, ...]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    db = open_database(":memory:")
    event = registry.create_event(
        db, name="Sync properties", venue="Hall", starts_at=NOW - 3600, ends_at=NOW + 8 * 3600, now=NOW
    )
    enrolled = []
    for index in range(MAX_TABLETS):
        private_key = keys.generate_private_key()
        code = devices.create_enrollment_code(db, event.id, name=f"Tablet {index}", now=NOW)
        enrollment = devices.enroll(db, code, public_key=keys.public_key_bytes(private_key), now=NOW)
        enrolled.append((enrollment.device.id, enrollment.device.key_id, enrollment.token, private_key))
    # Tablet i has the i-th smallest device id, so HLC ties break the same way in every run.
    enrolled.sort(key=lambda t: t[0])
    single = campaigns.create_campaign(db, event.id, title="Welcome", max_uses=1, rotating=False, now=NOW)
    double = campaigns.create_campaign(
        db, event.id, title="Two coffees", max_uses=2, valid_minutes=30, rotating=False, now=NOW
    )
    vouchers = tuple(campaigns.issue_voucher(db, event.id, c.number, now=NOW).text for c in (single, double))
    yield World(db, event.id, tuple(enrolled), vouchers)
    db.close()


def copy_of(source: Database) -> Database:
    copy = open_database(":memory:", migrate=False)
    source.conn.backup(copy.conn)
    sealed.register(copy, sealed.key_for(source))  # the copy's secrets are sealed under the source's key
    return copy


# --- tablets and scenarios -----------------------------------------------------------------------


class SimTablet(Tablet):
    """The test tablet with ids that depend only on the scenario, so examples replay exactly."""

    index: int = 0

    def stamp(self, op: dict, *, subject: str | None = None) -> dict:
        op["op_id"] = f"op-t{self.index}-s{op['device_seq']:04d}"
        if subject is not None:
            op["subject"] = subject
        return op

    def issue_at(
        self,
        *,
        now_ms: int,
        max_uses: int,
        minutes: int,
        attendee_id: str | None,
        token_id: bytes | None = None,
        signer: str = "own key",
    ) -> tuple[str, dict]:
        """An issue op. `signer` other than "own key" makes a forgery the server must refuse:
        signed by a key no one enrolled, under that key's id or under this tablet's key id."""
        issued_at = (now_ms + self.skew_ms + self.offset_ms) // 1000
        token_id = token_id or hashlib.sha256(f"{self.device_id}/{self.seq + 1}".encode()).digest()[: tokens.ID_LEN]
        signing_key = self.private_key if signer == "own key" else STRANGER
        key_id = 0xFFF0 if signer == "unknown key" else self.key_id
        text = tokens.issue(
            signing_key=signing_key,
            key_id=key_id,
            event_id=self.event_id,
            type=tokens.TokenType.VOUCHER,
            issued_at=issued_at,
            valid_from=issued_at,
            valid_until=issued_at + 60 * minutes,
            campaign=1,
            max_uses=max_uses,
            token_id=token_id,
        )
        data = {"token": text}
        if attendee_id:
            data["attendee_id"] = attendee_id
        return text, self.stamp(self._op("issue", tokens.decode(text).token.id, data, now_ms))


def make_tablets(world: World, count: int) -> list[SimTablet]:
    tablets = []
    for index, (device_id, key_id, token, private_key) in enumerate(world.tablets[:count]):
        tablet = SimTablet(event_id=world.event_id, clerk=f"Clerk {index}", private_key=private_key)
        tablet.index = index
        tablet.enrolled({"device_id": device_id, "key_id": key_id, "device_token": token})
        tablets.append(tablet)
    return tablets


step = st.tuples(
    st.integers(0, MAX_TABLETS - 1),  # which tablet acts
    st.sampled_from(ACTIONS),
    st.integers(0, 1000),  # choices, taken modulo what is available
    st.integers(0, 1000),
    st.sampled_from(TIME_STEPS_MS),  # how much time passes before it
    st.sampled_from(SKEWS_MS),  # how wrong the acting tablet's clock is
)
scenarios = st.tuples(st.integers(2, MAX_TABLETS), st.lists(step, min_size=4, max_size=30))
FORGERY_ACTIONS = ("register", "checkin", "issue", "issue", "forge", "forge", "redeem", "redeem", "void", "undo")
forgery_step = st.tuples(
    st.integers(0, MAX_TABLETS - 1),
    st.sampled_from(FORGERY_ACTIONS),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.sampled_from(TIME_STEPS_MS),
    st.sampled_from(SKEWS_MS),
)
forgery_scenarios = st.tuples(st.integers(2, MAX_TABLETS), st.lists(forgery_step, min_size=4, max_size=12))


@dataclass
class Scenario:
    tablets: list[SimTablet]
    timeline: list[tuple[int, dict]] = field(default_factory=list)  # (tablet index, op) as made
    texts: dict[str, str] = field(default_factory=dict)  # token id -> text, every voucher in play
    forgeries: int = 0  # vouchers of another tablet whose token id a tablet reused


def play(world: World, scenario: tuple[int, list[tuple]]) -> Scenario:
    """Run the tablets' random actions while they are partitioned. A tablet can act on any
    voucher issued so far, anywhere (the attendee carries the QR from counter to counter), and
    check in any attendee registered so far (their pass); it undoes only its own redemptions.
    A "forge" (only in the forgery scenarios) issues a voucher with its own terms that reuses
    the token id of a voucher already in play, preferably another tablet's (see FORGERS)."""
    count, steps = scenario
    played = Scenario(make_tablets(world, count))
    attendees: list[str] = []
    vouchers = list(world.server_vouchers)
    issued_by: dict[str, int] = {}  # tablet-issued voucher text -> the tablet that issued it
    own_redeems: dict[int, list[dict]] = {i: [] for i in range(count)}
    wall = NOW_MS - 2 * MINUTE_MS
    for which, action, a, b, elapsed, skew in steps:
        wall += elapsed
        index = which % count
        tablet = played.tablets[index]
        tablet.skew_ms = skew
        if action == "checkin" and not attendees or action == "undo" and not own_redeems[index]:
            action = "register"
        if action == "register":
            phone, email = PHONES[a % len(PHONES)], EMAILS[b % len(EMAILS)]
            op = tablet.register(f"Guest {len(attendees)}", now_ms=wall, phone=phone, email=email)
            op = tablet.stamp(op, subject=f"at-t{index}-s{op['device_seq']:04d}")
            attendees.append(op["subject"])
        elif action == "checkin":
            op = tablet.stamp(tablet.checkin(attendees[a % len(attendees)], now_ms=wall))
        elif action == "issue":
            holder = attendees[a % len(attendees)] if attendees and b % 2 else None
            text, op = tablet.issue_at(
                now_ms=wall, max_uses=1 + a % 3, minutes=VOUCHER_MINUTES[b % 4], attendee_id=holder
            )
            vouchers.append(text)
            issued_by[text] = index
        elif action == "redeem":
            outcome = "refused" if a % 4 == 0 else "accepted"
            # Often the single-use server voucher or the newest voucher, so that uses pile up.
            text = (vouchers[0], vouchers[-1], vouchers[a % len(vouchers)])[b % 3]
            op = tablet.stamp(tablet.redeem(text, now_ms=wall, outcome=outcome, seen=a % 3))
            own_redeems[index].append(op)
        elif action == "forge":
            # Preferably another tablet's voucher: the server signed its own before any push.
            others = [text for text, issuer in issued_by.items() if issuer != index]
            played.forgeries += 1 if others else 0
            others = others or vouchers
            original = tokens.decode(others[a % len(others)]).token
            holder = attendees[a % len(attendees)] if attendees and a % 2 else None
            text, op = tablet.issue_at(
                now_ms=wall,
                max_uses=1 + b % 5,
                minutes=VOUCHER_MINUTES[b % 4],
                attendee_id=holder,
                token_id=original.token_id,
                signer=FORGERS[b % len(FORGERS)],
            )
            vouchers.append(text)
        elif action == "void":
            text = (vouchers[0], vouchers[-1], vouchers[a % len(vouchers)])[b % 3]
            op = tablet.stamp(tablet.void(text, now_ms=wall, reason="lost"))
        else:  # undo one of this tablet's redemptions
            target = own_redeems[index][-1 if b % 2 else a % len(own_redeems[index])]
            op = tablet.stamp(tablet.void(target["data"]["token"], now_ms=wall, redeem_op_id=target["op_id"]))
        played.timeline.append((index, op))
    for tablet in played.tablets:
        tablet.skew_ms = 0
    for text in vouchers:
        played.texts[tokens.decode(text).token.id] = text
    return played


def wire(tablet: Tablet, op_list: list[dict], *, now_ms: int, pending: int = 0) -> ops.PushBatch:
    """Through the real wire format, as the server receives it."""
    body = msgspec.json.encode(
        {"protocol": 1, "device_id": tablet.device_id, "sent_at_ms": now_ms, "ops": op_list, "pending": pending}
    )
    return ops.decode_batch(body)


# --- delivery ------------------------------------------------------------------------------------


def deliver_once(db: Database, played: Scenario) -> None:
    """The reference: each op pushed exactly once, in the order the ops were made."""
    now_ms = NOW_MS + 600 * MINUTE_MS
    for index, op in played.timeline:
        now_ms += 1000
        tablet = played.tablets[index]
        result = sync.push(db, tablet.device_id, wire(tablet, [op], now_ms=now_ms), now_ms=now_ms)
        assert [r.status for r in result.results] == ["applied"]
        assert result.last_seq == op["device_seq"]


@dataclass
class Delivery:
    pushes: int = 0
    gaps: int = 0
    duplicates: int = 0
    lost_responses: int = 0
    log: list[str] = field(default_factory=list)


def deliver_chaotically(db: Database, played: Scenario, rng: random.Random) -> Delivery:
    """Push every outbox through a network that duplicates, reorders, splits, replays, skips
    ahead and loses responses, until every tablet's outbox is acknowledged. Each response is
    checked against a model of the server's per-device position."""
    tablets = played.tablets
    outbox = {t.device_id: t.outbox for t in tablets}
    server_last = {t.device_id: 0 for t in tablets}  # the model: what the server has applied
    acked = {t.device_id: 0 for t in tablets}  # what each tablet believes was acknowledged
    sent: dict[str, list[list[dict]]] = {t.device_id: [] for t in tablets}
    stats = Delivery()
    now_ms = NOW_MS + 600 * MINUTE_MS
    total = sum(len(box) for box in outbox.values())

    def send(tablet: SimTablet, op_list: list[dict], *, lose_response: bool) -> None:
        nonlocal now_ms
        now_ms += rng.randint(1, 5000)
        device = tablet.device_id
        sent[device].append(op_list)
        seqs = sorted(op["device_seq"] for op in op_list)
        last = server_last[device]
        fresh = [s for s in seqs if s > last]
        stats.pushes += 1
        line = f"t{tablet.index} pushes {[op['device_seq'] for op in op_list]}"
        if fresh and fresh != list(range(last + 1, last + 1 + len(fresh))):
            with pytest.raises(sync.Gap) as refused:
                sync.push(db, device, wire(tablet, op_list, now_ms=now_ms), now_ms=now_ms)
            assert refused.value.resend_from == last + 1
            assert devices.get_device(db, device).last_seq == last
            stats.gaps += 1
            stats.log.append(f"{line}: gap, resend from {last + 1}")
            acked[device] = refused.value.resend_from - 1  # the tablet rewinds
            return
        pending = len(outbox[device]) - max(seqs, default=acked[device])
        result = sync.push(db, device, wire(tablet, op_list, now_ms=now_ms, pending=max(pending, 0)), now_ms=now_ms)
        expected = [(s, "duplicate" if s <= last else "applied") for s in seqs]
        assert [(r.device_seq, r.status) for r in result.results] == expected
        server_last[device] = max([last, *seqs])
        assert result.last_seq == server_last[device] == devices.get_device(db, device).last_seq
        stats.duplicates += sum(1 for s in seqs if s <= last)
        stats.log.append(f"{line}: last_seq {result.last_seq}{' (response lost)' if lose_response else ''}")
        if lose_response:
            stats.lost_responses += 1
        else:
            acked[device] = result.last_seq

    for _ in range(4 * total + 20):
        if all(acked[d] == len(outbox[d]) for d in outbox) and rng.random() < 0.5:
            break
        tablet = rng.choice(tablets)
        device, box = tablet.device_id, outbox[tablet.device_id]
        mode = rng.choice(("next", "next", "next", "overlap", "overlap", "gap", "replay", "empty"))
        if mode == "replay" and sent[device]:
            op_list = list(rng.choice(sent[device]))
        elif mode == "empty" or not box:
            op_list = []
        else:
            if mode == "overlap":
                start = rng.randint(1, min(acked[device] + 1, len(box)))
            elif mode == "gap" and acked[device] + 2 <= len(box):
                start = rng.randint(acked[device] + 2, len(box))
            else:
                start = min(acked[device] + 1, len(box))
            end = rng.randint(start, min(len(box), start + rng.randint(0, 5)))
            op_list = box[start - 1 : end]
        # (Draws near 0 are the ordinary case, so that failing examples shrink to plain deliveries.)
        if rng.random() > 0.7:
            op_list = rng.sample(op_list, len(op_list))  # reordered inside the batch
        send(tablet, op_list, lose_response=rng.random() > 0.85)

    # Retry until everything is acknowledged: each tablet re-sends from where it believes the
    # server is, tablets in a random order; a few more responses get lost on the way.
    losses_left = 3
    while any(acked[d] < len(outbox[d]) for d in outbox):
        tablet = rng.choice([t for t in tablets if acked[t.device_id] < len(outbox[t.device_id])])
        lose = losses_left > 0 and rng.random() > 0.85
        losses_left -= lose
        send(tablet, outbox[tablet.device_id][acked[tablet.device_id] :], lose_response=lose)
    return stats


# --- what is compared ----------------------------------------------------------------------------


def expected_ops(played: Scenario) -> Counter:
    """Each op the tablets made, once."""
    expected = Counter()
    for tablet in played.tablets:
        for op in wire(tablet, tablet.outbox, now_ms=NOW_MS).ops:
            expected[
                (
                    op.op_id,
                    tablet.device_id,
                    op.device_seq,
                    op.kind,
                    op.subject,
                    op.hlc_ms,
                    op.hlc_counter,
                    op.device_time_ms,
                    op.corrected_time_ms,
                    op.clerk,
                    msgspec.json.encode(op.data).decode(),
                )
            ] += 1
    return expected


def expected_conflicts(played: Scenario) -> dict[tuple[str, str], tuple[str, dict, dict]]:
    """The merge rules applied to the whole set of ops at once: every voucher here is genuine,
    every registration is a distinct attendee."""
    logged = [
        merge.LoggedOp(
            op_id=op["op_id"],
            device_id=played.tablets[index].device_id,
            kind=op["kind"],
            subject=op["subject"],
            hlc_ms=op["hlc_ms"],
            hlc_counter=op["hlc_counter"],
            corrected_time_ms=op["corrected_time_ms"],
            data=op["data"],
        )
        for index, op in played.timeline
    ]
    findings: list[merge.Finding] = []
    tolerance = ClockPolicy().validity_tolerance_s
    for token_id, text in played.texts.items():
        token = tokens.decode(text).token
        terms = merge.VoucherTerms(token_id, text, token.max_uses, token.valid_from, token.valid_until, trusted=True)
        findings += merge.voucher_findings(
            terms, [op for op in logged if op.subject == token_id], tolerance_s=tolerance
        )
    by_key: dict[str, list[merge.LoggedOp]] = {}
    for op in logged:
        if op.kind == "register":
            for key in merge.dedup_keys(op.data):
                by_key.setdefault(key, []).append(op)
    for key, registrations in by_key.items():
        findings += merge.duplicate_findings(key, registrations)
    return {(f.kind, f.subject): ("open", f.roles, json.loads(json.dumps(f.detail))) for f in findings}


def expected_attendees(played: Scenario, event_id: str) -> list[dict]:
    rows = []
    for index, op in played.timeline:
        if op["kind"] == "register":
            data = op["data"]
            rows.append(
                {
                    "id": op["subject"],
                    "event_id": event_id,
                    "name": data["name"],
                    "phone_key": merge.phone_key(data.get("phone", "")),
                    "email_key": merge.email_key(data.get("email", "")),
                    "register_op_id": op["op_id"],
                    "hlc_ms": op["hlc_ms"],
                    "hlc_counter": op["hlc_counter"],
                    "device_id": played.tablets[index].device_id,
                    "registered_at_ms": op["corrected_time_ms"],
                }
            )
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))


def remerge_everything(db: Database, event_id: str, played: Scenario) -> list[int]:
    """Re-merge every subject from scratch; returns the conflicts that changed (should be none)."""
    keys_in_play = {
        key for _, op in played.timeline if op["kind"] == "register" for key in merge.dedup_keys(op["data"])
    }
    changed = conflicts.recompute_vouchers(db, event_id, played.texts, now_ms=NOW_MS + 10_000 * MINUTE_MS)
    return changed + conflicts.recompute_duplicates(db, event_id, keys_in_play, now_ms=NOW_MS + 10_000 * MINUTE_MS)


def describe(played: Scenario) -> str:
    lines = []
    for index, op in played.timeline:
        data = {k: v for k, v in op["data"].items() if k != "token"}
        if "token" in op["data"]:
            data["token"] = tokens.decode(op["data"]["token"]).token.id
        lines.append(
            f"  t{index} #{op['device_seq']} {op['kind']} {op['subject']} hlc={op['hlc_ms'] - NOW_MS}/{op['hlc_counter']} "
            f"at={op['corrected_time_ms'] - NOW_MS} op_id={op['op_id']} {data}"
        )
    return "\n".join(lines)


# --- the properties ------------------------------------------------------------------------------


def deliver_in_two_chaotic_orders(
    world: World, played: Scenario, networks: tuple[random.Random, random.Random]
) -> dict:
    """Deliver the same ops once in made order (the reference) and twice chaotically; both
    chaotic runs must end in the reference's state. Returns the reference state."""
    reference, first, second = copy_of(world.db), copy_of(world.db), copy_of(world.db)
    try:
        deliver_once(reference, played)
        wanted = state(reference, world.event_id)
        assert remerge_everything(reference, world.event_id, played) == []
        for name, db, network in (("first", first, networks[0]), ("second", second, networks[1])):
            stats = deliver_chaotically(db, played, network)
            note(
                f"{name} chaotic delivery: {stats.pushes} pushes, {stats.gaps} gaps, {stats.duplicates} duplicate ops, "
                f"{stats.lost_responses} lost responses:\n  " + "\n  ".join(stats.log)
            )
            event(
                f"delivery: {'with' if stats.gaps else 'no'} gap, {'with' if stats.lost_responses else 'no'} lost response"
            )
            if conflicts.list_conflicts(db, world.event_id, status="cleared"):
                event("a conflict opened, then cleared by a later arrival")
            got = state(db, world.event_id)
            assert got["ops"] == wanted["ops"], "an op was lost or doubled"
            assert got["device_positions"] == wanted["device_positions"]
            assert got["attendees"] == wanted["attendees"]
            assert got["tokens"] == wanted["tokens"]
            assert got["conflicts"] == wanted["conflicts"]
            # And nothing is stale: re-merging every subject from scratch changes nothing.
            assert remerge_everything(db, world.event_id, played) == []
        return wanted
    finally:
        for db in (reference, first, second):
            db.close()


networks = st.tuples(st.randoms(use_true_random=False), st.randoms(use_true_random=False))


@settings(max_examples=examples(100))
@given(scenario=scenarios, networks=networks)
def test_any_delivery_ends_in_the_state_of_each_op_applied_once(world: World, scenario, networks) -> None:
    played = play(world, scenario)
    note("ops as made (times relative to NOW, ms):\n" + describe(played))
    wanted = deliver_in_two_chaotic_orders(world, played, networks)

    # The reference itself is "each op applied once": every op stored once, and the
    # projections and conflicts are what the merge rules say of the whole set of ops.
    assert wanted["ops"] == expected_ops(played)
    assert wanted["attendees"] == expected_attendees(played, world.event_id)
    assert wanted["conflicts"] == expected_conflicts(played)
    assert wanted["device_positions"] == {
        **{device_id: 0 for device_id, *_ in world.tablets},
        **{t.device_id: len(t.outbox) for t in played.tablets},
    }
    for kind in sorted({kind for kind, _ in wanted["conflicts"]}):
        event(f"conflict: {kind}")


@settings(max_examples=examples(100))
@given(scenario=forgery_scenarios, networks=networks)
def test_a_token_id_claimed_by_two_issuers_is_judged_the_same_whatever_arrives_first(
    world: World, scenario, networks
) -> None:
    """A tablet issues a voucher that reuses another voucher's token id: signed with its own
    enrolled key (a stolen tablet can do this), with a key no one enrolled, or with a bad
    signature. Which issue or redemption arrives first must not decide which text is the
    voucher, nor which ops are untrusted, over the voucher's uses or outside its window."""
    played = play(world, scenario)
    note("ops as made (times relative to NOW, ms):\n" + describe(played))
    event("forged another tablet's voucher" if played.forgeries else "forged at most a server voucher")
    wanted = deliver_in_two_chaotic_orders(world, played, networks)
    assert wanted["ops"] == expected_ops(played)


def dump(db: Database, *, skip: tuple[str, ...] = ()) -> list[str]:
    return [line for line in db.conn.iterdump() if not any(f'"{name}"' in line for name in skip)]


@settings(max_examples=examples(60))
@given(scenario=scenarios, cut=st.integers(0, 1000), size=st.integers(1, 30), later=st.integers(1, 10**7))
def test_pushing_the_same_batch_again_changes_nothing(world: World, scenario, cut: int, size: int, later: int) -> None:
    played = play(world, scenario)
    note(describe(played))
    db = copy_of(world.db)
    try:
        tablet = max(played.tablets, key=lambda t: len(t.outbox))
        box = tablet.outbox
        start = cut % len(box)
        now_ms = NOW_MS + 600 * MINUTE_MS
        if start:
            sync.push(db, tablet.device_id, wire(tablet, box[:start], now_ms=now_ms), now_ms=now_ms)
        batch = box[start : start + size]
        first = sync.push(db, tablet.device_id, wire(tablet, batch, now_ms=now_ms), now_ms=now_ms)
        assert [r.status for r in first.results] == ["applied"] * len(batch)
        before = dump(db)

        # The same bytes at the same time: not one row of the database differs.
        again = sync.push(db, tablet.device_id, wire(tablet, batch, now_ms=now_ms), now_ms=now_ms)
        assert [r.status for r in again.results] == ["duplicate"] * len(batch)
        assert again.last_seq == first.last_seq
        assert again.conflicts == []
        assert dump(db) == before

        # Later, reordered and mixed with older ops: only the device's sync bookkeeping moves.
        replay = box[: start + len(batch)][::-1]
        later_ms = now_ms + later
        third = sync.push(db, tablet.device_id, wire(tablet, replay, now_ms=later_ms), now_ms=later_ms)
        assert {r.status for r in third.results} == {"duplicate"}
        assert third.conflicts == []
        assert dump(db, skip=("devices",)) == [line for line in before if '"devices"' not in line]
        assert devices.get_device(db, tablet.device_id).last_seq == first.last_seq
    finally:
        db.close()


@settings(max_examples=examples(60))
@given(
    scenario=scenarios,
    cut=st.integers(0, 1000),
    skip=st.integers(1, 5),
    overlap=st.integers(0, 3),
    size=st.integers(1, 10),
)
def test_a_batch_with_a_gap_is_refused_and_writes_nothing(
    world: World, scenario, cut: int, skip: int, overlap: int, size: int
) -> None:
    played = play(world, scenario)
    tablet = max(played.tablets, key=lambda t: len(t.outbox))
    box = tablet.outbox
    while len(box) < 2:  # the tablet's own outbox: a gap needs an op to skip and one after it
        tablet.stamp(tablet.checkin("at-nobody-0001", now_ms=NOW_MS + len(box)))
    note(describe(played))
    applied = cut % (len(box) - 1)  # leave at least one op after the gap
    begin = min(applied + 1 + skip, len(box))  # first seq of the fresh part, past the gap
    assert begin >= applied + 2
    db = copy_of(world.db)
    try:
        now_ms = NOW_MS + 600 * MINUTE_MS
        if applied:
            sync.push(db, tablet.device_id, wire(tablet, box[:applied], now_ms=now_ms), now_ms=now_ms)
        before = dump(db)
        # Some already-applied ops (duplicates) and ops past the gap, in one batch.
        batch = box[max(0, applied - overlap) : applied] + box[begin - 1 : begin - 1 + size]
        with pytest.raises(sync.Gap) as refused:
            sync.push(db, tablet.device_id, wire(tablet, batch, now_ms=now_ms + 1), now_ms=now_ms + 1)
        assert refused.value.resend_from == applied + 1
        assert dump(db) == before

        # The tablet rewinds to resend_from and everything goes through.
        rest = box[refused.value.resend_from - 1 :]
        result = sync.push(db, tablet.device_id, wire(tablet, rest, now_ms=now_ms + 2), now_ms=now_ms + 2)
        assert [r.status for r in result.results] == ["applied"] * len(rest)
        assert result.last_seq == len(box)
    finally:
        db.close()

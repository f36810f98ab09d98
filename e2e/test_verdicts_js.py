"""web/static/js/verdict.js and ledger.js in real Chromium: every shared vector of
tests/vectors/verdicts.json (which events/verdict.py and merge.py pass: tests/test_vectors.py),
each applied in the order listed and in reverse, then random op sets where Python's answer is
the expected one."""

from __future__ import annotations

import json
import random

import pytest
from playwright.sync_api import Page

from e2e.js_runner import Run, runner
from events import verdict
from tests.vectors import build

VECTORS = json.loads(build.VERDICTS_PATH.read_text(encoding="utf-8"))

# Each case gets a tablet of its own, enrolled in the vectors' event, holding exactly its ops.
PRELUDE = """
const { Outbox } = await import('/static/js/outbox.js');
const { Ledger, effectiveUses, lastStep, firstCheckin } = await import('/static/js/ledger.js');
const { judge, fromServer, colorOf } = await import('/static/js/verdict.js');
const ledgerWith = async (ops) => {
  const store = await Outbox.open('verdicts-' + Math.random());
  await store.saveEnrollment({
    device_id: 'dvself0000000001', device_name: 'Door', device_token: 't', key_id: 9,
    event: { id: arg.event_id, name: 'Pop-up', ends_at: 0 }, root_public_key: arg.root, rotation_key: arg.rotation,
    bundle: arg.bundle, campaigns: [],
  });
  const ledger = await Ledger.open(store);
  await ledger.applyPull({ ops, conflicts: [], cursor: ops.length, more: false, bundle: arg.bundle, campaigns: null });
  return ledger;
};
const state = async (text, subject, ops) => {
  const voucher = (await ledgerWith(ops)).voucher(subject);
  return { uses: effectiveUses(voucher, text).map((use) => use.op_id), void: voucher?.voided?.op_id ?? null,
           last_step: lastStep(voucher, text) };
};
const firsts = async (subject, ops) => {
  const attendee = (await ledgerWith(ops)).attendee(subject);
  const checkin = firstCheckin(attendee);
  return { register: attendee?.registered?.op_id ?? null, register_at_ms: attendee?.registered?.at_ms ?? null,
           checkin: checkin?.op_id ?? null, checkin_at_ms: checkin?.at_ms ?? null };
};
const both = async (f, ops) => [await f(ops), await f([...ops].reverse())];
"""


@pytest.fixture
def run(page: Page, live_server) -> Run:
    return runner(
        page,
        live_server.url,
        PRELUDE,
        {
            "event_id": VECTORS["event_id"],
            "root": VECTORS["root_public_key"],
            "bundle": VECTORS["bundle"],
            "rotation": VECTORS["rotation_key"],
            "retired": VECTORS["retired_rotation_keys"],
        },
    )


def test_uses_and_the_first_void(run: Run) -> None:
    results = run(
        """
      const out = [];
      for (const v of arg.cases) out.push(await both((ops) => state(v.text, v.ops[0].subject, ops), v.ops));
      return out;
    """,
        {"cases": VECTORS["uses"]},
    )
    for vector, (listed, reversed_) in zip(VECTORS["uses"], results, strict=True):
        assert listed == vector["expect"], vector["name"]
        assert reversed_ == vector["expect"], vector["name"]


def test_the_first_registration_and_check_in(run: Run) -> None:
    results = run(
        """
      const out = [];
      for (const v of arg.cases) out.push(await both((ops) => firsts(v.subject, ops), v.ops));
      return out;
    """,
        {"cases": VECTORS["first"]},
    )
    for vector, (listed, reversed_) in zip(VECTORS["first"], results, strict=True):
        assert listed == vector["expect"], vector["name"]
        assert reversed_ == vector["expect"], vector["name"]


def test_every_verdict_offline_and_online(run: Run) -> None:
    results = run(
        """
      const out = [];
      for (const v of arg.cases) {
        const ledger = await ledgerWith(v.ops);
        const local = await judge(v.scan, {
          ledger, nowSeconds: v.now_ms / 1000, rotationKey: v.rotation ? arg.rotation : null,
          retiredKeys: v.rotation ? arg.retired : [],
        });
        const shown = { color: local.color, reason: local.reason, uses_before: local.usesBefore, step: local.step };
        const server = v.online && fromServer(local, v.online);
        out.push({ shown, online: server && { color: server.color, reason: server.reason, uses_before: server.usesBefore } });
      }
      return out;
    """,
        {"cases": VECTORS["verdicts"]},
    )
    for vector, result in zip(VECTORS["verdicts"], results, strict=True):
        assert result["shown"] == vector["expect"], vector["name"]
        online = vector["online"]
        if online is None:
            assert result["online"] is None
        else:
            assert result["online"] == {
                "color": verdict.color(online["reason"]),
                "reason": online["reason"] or None,
                "uses_before": online["uses_before"],
            }, vector["name"]


def test_every_reason_has_the_server_s_colour(run: Run) -> None:
    colors = run(
        "return Object.fromEntries(Object.keys(arg.colors).map((r) => [r, colorOf(r)]));", {"colors": VECTORS["colors"]}
    )
    assert colors == VECTORS["colors"]


def test_a_tablet_without_a_trust_list_refuses_everything(run: Run) -> None:
    scan = VECTORS["verdicts"][0]["scan"]
    result = run(
        """
      const ledger = await ledgerWith([]);
      ledger.bundle = null;
      const local = await judge(arg.scan, { ledger, nowSeconds: arg.now, rotationKey: arg.rotation });
      return [local.color, local.reason];
    """,
        {"scan": scan, "now": VECTORS["verdicts"][0]["now_ms"] / 1000},
    )
    assert result == ["red", "no_bundle"]


def random_voucher_ops(rng: random.Random, op: build.Ops, text: str, forged: str) -> list[dict]:
    subject = build.tokens.decode(text).token.id
    ops: list[dict] = []
    for _ in range(rng.randint(1, 9)):
        at = dict(
            device=rng.randrange(3),
            hlc_s=rng.choice([1, 1, 2, rng.randint(-50, 50)]),
            counter=rng.choice([0, 0, 1, 2]),
            corrected_s=rng.choice(["same", None, rng.randint(-50, 50)]),
        )
        kind = rng.choice(["redeem", "redeem", "redeem", "void", "undo", "issue"])
        if kind == "redeem":
            data = build.redeemed(
                rng.choice([text, text, text, forged]),
                step=rng.choice([None, rng.randint(0, 30)]),
                outcome=rng.choice(["accepted", "accepted", "refused"]),
            )
            ops.append(op("redeem", subject, data, **at))
        elif kind == "undo" and ops:
            target = rng.choice(ops)["op_id"]
            ops.append(op("void", subject, {"reason": "mistake", "redeem_op_id": target}, **at))
        elif kind == "void":
            ops.append(op("void", subject, {"reason": "lost"}, **at))
        else:
            ops.append(op("issue", subject, {"token": text}, **at))
    return ops


def random_attendee_ops(rng: random.Random, op: build.Ops, subject: str) -> list[dict]:
    ops = []
    for n in range(rng.randint(1, 6)):
        at = dict(
            device=rng.randrange(3),
            hlc_s=rng.choice([1, 1, rng.randint(-50, 50)]),
            counter=rng.choice([0, 0, 1]),
            corrected_s=rng.choice(["same", None, rng.randint(-50, 50)]),
        )
        if rng.random() < 0.5:
            ops.append(op("register", subject, {"name": f"Person {n}", "consent": True}, **at))
        else:
            ops.append(op("checkin", subject, {"method": "scan", "shown": {"verdict": "green"}}, **at))
    return ops


def possible(ops: list[dict]) -> None:
    """Two ops of one device never share a stamp (its clock moves on): move the counter on where they would."""
    seen = set()
    for o in ops:
        while (o["device_id"], o["hlc_ms"], o["hlc_counter"]) in seen:
            o["hlc_counter"] += 1
        seen.add((o["device_id"], o["hlc_ms"], o["hlc_counter"]))


def test_random_histories_agree_with_python(run: Run) -> None:
    rng = random.Random(17)
    op = build.Ops()
    text = build.issue(60, max_uses=3)
    forged = build.resigned(build.raw(text), signer=build.STRANGER)
    vouchers = [random_voucher_ops(rng, op, text, forged) for _ in range(150)]
    attendees = [random_attendee_ops(rng, op, "ATTENDEE00000077") for _ in range(150)]
    for ops in vouchers + attendees:
        possible(ops)
    results = run(
        """
      const uses = [], firstsOf = [];
      for (const ops of arg.vouchers) uses.push(await state(arg.text, ops[0].subject, ops));
      for (const ops of arg.attendees) firstsOf.push(await firsts('ATTENDEE00000077', ops));
      return { uses, firsts: firstsOf };
    """,
        {"vouchers": vouchers, "attendees": attendees, "text": text},
    )
    assert results["uses"] == [build.voucher_state_of(text, ops) for ops in vouchers]
    assert results["firsts"] == [build.first_of(ops) for ops in attendees]

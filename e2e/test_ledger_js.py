"""web/static/js/ledger.js and verdict.js in Chromium: what a tablet makes of the ops it holds.

One page.evaluate per test, on a throwaway IndexedDB database, so each runs in well under a second.
"""

from __future__ import annotations

import time

from playwright.sync_api import Page

from events import campaigns, registry, tokens
from events.db import open_database
from events.keys import b64url

# A tablet "enrolled" straight into a fresh IndexedDB database, and op makers in the pull format.
PRELUDE = """
const { Outbox } = await import('/static/js/outbox.js');
const { Ledger, effectiveUses, lastStep, checkedInAt } = await import('/static/js/ledger.js');
const store = await Outbox.open('ledger-test-' + Math.random());
await store.saveEnrollment({
  device_id: 'dvself0000000001', device_name: 'Door', device_token: 't', key_id: 9,
  event: { id: arg.event_id, name: 'Pop-up', ends_at: 0 }, root_public_key: arg.root, rotation_key: arg.rotation,
  bundle: arg.bundle, campaigns: [],
});
let seq = 0;
const op = (kind, subject, data, extra = {}) => ({
  kind, subject, data, op_id: 'op' + String(++seq).padStart(14, '0'), device_id: 'dvother000000001', device_seq: seq,
  hlc_ms: 1000 + seq, hlc_counter: 0, device_time_ms: 1000 + seq, corrected_time_ms: 1000 + seq, clerk: 'Bo', ...extra,
});
const page = (ops, conflicts = []) => ({ ops, conflicts, cursor: seq, more: false, bundle: arg.bundle, campaigns: null });
const ledger = await Ledger.open(store);
"""


def setup(live_server) -> dict:
    db = open_database(live_server.db_path)
    try:
        event_id = live_server.demo.event.id
        now = int(time.time())
        number = [c.number for c in campaigns.list_campaigns(db, event_id) if c.title == "Free coffee"][0]
        texts = [campaigns.issue_voucher(db, event_id, number, now=now).text for _ in range(2)]
        return {
            "event_id": event_id,
            "root": b64url(registry.root_public_key(db, event_id)),
            "rotation": b64url(registry.rotation_key(db, event_id)),
            "bundle": registry.signed_trust_bundle(db, event_id, now=now).to_json(),
            "texts": texts,
            "ids": [tokens.decode(t).token.id for t in texts],
            "now": now,
        }
    finally:
        db.close()


def run(page: Page, live_server, body: str):
    page.goto(live_server.url + "/")
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", setup(live_server))


def test_a_pull_page_applied_twice_changes_nothing(page: Page, live_server) -> None:
    result = run(
        page,
        live_server,
        """
      const [id] = arg.ids;
      const ops = [
        op('register', 'ATTENDEE00000001', { name: 'Li <b>Wei</b>', consent: true, phone: '138 0013 8000' }),
        op('checkin', 'ATTENDEE00000001', { method: 'search', shown: { verdict: 'green' } }),
        op('issue', id, { token: arg.texts[0], attendee_id: 'ATTENDEE00000001' }),
        op('redeem', id, { token: arg.texts[0], outcome: 'accepted', shown: { verdict: 'green' } }),
        op('redeem', id, { token: arg.texts[0], outcome: 'refused', shown: { verdict: 'amber', reason: 'used_up' } }),
      ];
      await ledger.applyPull(page(ops));
      const once = JSON.stringify([...ledger.attendees.values(), ...ledger.vouchers.values()]);
      await ledger.applyPull(page(ops));
      const reopened = await Ledger.open(store);
      const twice = JSON.stringify([...reopened.attendees.values(), ...reopened.vouchers.values()]);
      return { same: once === twice, uses: effectiveUses(reopened.voucher(id)).length,
               found: reopened.search('8000').map((a) => a.name), byName: reopened.search('li <B>').length,
               checkedIn: checkedInAt(reopened.attendee('ATTENDEE00000001')) };
    """,
    )
    assert result == {"same": True, "uses": 1, "found": ["Li <b>Wei</b>"], "byName": 1, "checkedIn": 1002}


def test_first_registration_wins_whatever_the_order(page: Page, live_server) -> None:
    result = run(
        page,
        live_server,
        """
      const late = op('register', 'ATTENDEE00000002', { name: 'Later', consent: true }, { hlc_ms: 9000 });
      const early = op('register', 'ATTENDEE00000002', { name: 'Earlier', consent: true }, { hlc_ms: 5000 });
      await ledger.applyPull(page([late]));
      await ledger.applyPull(page([early]));
      return ledger.attendee('ATTENDEE00000002').name;
    """,
    )
    assert result == "Earlier"


def test_undo_gives_a_use_back_and_a_void_stops_the_voucher(page: Page, live_server) -> None:
    result = run(
        page,
        live_server,
        """
      const { judge } = await import('/static/js/verdict.js');
      const [a, b] = arg.ids;
      const use = op('redeem', a, { token: arg.texts[0], outcome: 'accepted', shown: { verdict: 'green' }, code_step: 7 });
      await ledger.applyPull(page([use]));
      const used = await judge(arg.texts[0], { ledger, nowSeconds: arg.now });
      await ledger.applyPull(page([op('void', a, { reason: 'mistake', redeem_op_id: use.op_id })]));
      const undone = await judge(arg.texts[0], { ledger, nowSeconds: arg.now });
      await ledger.applyPull(page([op('void', b, { reason: 'fraud' })]));
      const voided = await judge(arg.texts[1], { ledger, nowSeconds: arg.now });
      return { used: [used.color, used.reason, used.usesBefore], undone: [undone.color, lastStep(ledger.voucher(a))],
               voided: [voided.color, voided.reason] };
    """,
    )
    assert result == {"used": ["amber", "used_up", 1], "undone": ["green", None], "voided": ["red", "voided"]}


def test_a_bundle_that_does_not_verify_is_not_taken(page: Page, live_server) -> None:
    result = run(
        page,
        live_server,
        """
      const before = ledger.bundle.seq;
      const forged = { ...arg.bundle, signature: arg.bundle.signature.slice(0, -4) + 'AAAA' };
      await ledger.applyPull({ ...page([]), bundle: forged });
      const reopened = await Ledger.open(store);
      return { problem: ledger.bundleProblem, kept: ledger.bundle?.seq === before, stored: reopened.bundle?.seq === before };
    """,
    )
    assert result == {"problem": "bad_signature", "kept": True, "stored": True}


def test_a_wipe_forgets_the_ledger_too(page: Page, live_server) -> None:
    result = run(
        page,
        live_server,
        """
      await ledger.applyPull(page([op('register', 'ATTENDEE00000003', { name: 'Ana', consent: true })]));
      await store.wipe();
      const stores = await store.transaction('readonly', async (s) => Promise.all(
        Object.values(s).map((os) => new Promise((ok) => { const r = os.count(); r.onsuccess = () => ok(r.result); }))));
      return { device: await store.device() ?? null, counts: stores };
    """,
    )
    assert result == {"device": None, "counts": [0, 0, 0, 0, 0, 0]}  # outbox, sent, meta and the ledger's


def test_what_a_tablet_does_next_comes_after_what_it_pulled(page: Page, live_server) -> None:
    result = run(
        page,
        live_server,
        """
      const now = Date.now();
      const ahead = op('register', 'ATTENDEE00000004', { name: 'Ahead', consent: true }, { hlc_ms: now + 20_000, hlc_counter: 3 });
      const broken = op('register', 'ATTENDEE00000005', { name: 'Broken', consent: true }, { hlc_ms: now + 3_600_000 });
      await ledger.applyPull(page([ahead, broken]));  // the second is beyond the drift guard
      const next = await store.record({ kind: 'checkin', subject: 'ATTENDEE00000004', clerk: 'Mei',
                                        data: { method: 'search', shown: { verdict: 'green' } } });
      return { ms: next.hlc_ms - now, counter: next.hlc_counter, named: ledger.attendee('ATTENDEE00000005').name };
    """,
    )
    # The clock jumped to the other tablet's stamp (20 s ahead), not to the broken one (1 h).
    assert result == {"ms": 20_000, "counter": 5, "named": "Broken"}


def test_a_ledger_kept_before_protocol_2_forgets_numbers_and_pass_texts(page: Page, live_server) -> None:
    """An update must not leave on a tablet what protocol 2 no longer gives it."""
    result = run(
        page,
        live_server,
        """
      const device = await store.device();
      await store.transaction('readwrite', async (stores) => {
        stores.meta.put({ ...device, phone_search_key: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, 'device');
        stores.attendees.put({ id: 'ATTENDEEOLD00001', name: 'Li Wei', phone: '+86 138 0013 8000', pass_token: 'PPOLDPASS',
                               registered: { op_id: 'op1', hlc_ms: 1, hlc_counter: 0, device_id: 'dvx', at_ms: 1 }, checkins: {} });
      });
      const reopened = await Ledger.open(store);
      const stored = await store.transaction('readonly', (stores) => new Promise((ok) => {
        const r = stores.attendees.get('ATTENDEEOLD00001'); r.onsuccess = () => ok(r.result);
      }));
      const { phoneSearchHash } = await import('/static/js/ledger.js');
      return {
        stored, inMemory: reopened.attendee('ATTENDEEOLD00001'),
        expected: await phoneSearchHash('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '13800138000'),
        byNumber: (await reopened.find('138 0013 8000')).map((a) => a.id),
        byLast4: reopened.search('8000').map((a) => a.id),
      };
    """,
    )
    for row in (result["stored"], result["inMemory"]):
        assert "phone" not in row and "pass_token" not in row
        assert row["phone_hash"] == result["expected"] != "" and row["phone_last4"] == "8000"
    assert result["byNumber"] == result["byLast4"] == ["ATTENDEEOLD00001"]

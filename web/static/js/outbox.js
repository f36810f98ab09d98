// The tablet's outbox and device state, in IndexedDB (docs/sync-protocol.md, "Push").
//
// Object stores in the database "poppass":
//   outbox — the ops not yet acknowledged by the server, keyed by their device_seq;
//   sent   — the ops the server acknowledged and the redemptions it decided online, kept
//            KEEP_SENT_MS so that they can go out again if the server's database is restored
//            from a backup (docs/sync-protocol.md, "After a restore"), keyed by op_id;
//   meta   — small named values: the enrollment ("device"), the next device_seq ("next_seq"),
//            the hybrid logical clock ("hlc"), the pull cursor ("cursor"), the clock offset
//            ("clock_offset_ms"), the trust bundle ("bundle"), the campaigns ("campaigns") and
//            the history of the server's log the cursor belongs to ("log_id");
//   attendees, vouchers, conflicts — what the tablet knows of the event (ledger.js), kept in
//            the same database so that an op and its effect on them commit together.
// Dependency-free, like token.js: the tablet must work with the network off.

export const DB_NAME = "poppass";
const VERSION = 3;
const OUTBOX = "outbox";
const SENT = "sent";
const META = "meta";
export const LEDGER_STORES = ["attendees", "vouchers", "conflicts"];
const STORES = [OUTBOX, SENT, META, ...LEDGER_STORES];
// How long an acknowledged op stays on the tablet: longer than an event day and the night after
// it, so a server whose database is lost during a weekend pop-up and restored the next morning
// from its last backup gets every op back; short enough that a stolen tablet holds few of the
// walk-ins' numbers it typed (docs/security.md).
export const KEEP_SENT_MS = 72 * 3600 * 1000;
const MAX_COUNTER = 0xffff; // events/hlc.py MAX_COUNTER

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new DOMException("transaction aborted", "AbortError"));
  });
}

export function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The next stamp of the hybrid logical clock, as events/hlc.py HybridClock.now: it follows the
// corrected wall clock, and when that stands still or goes back (a clock set back, two ops in one
// millisecond) the counter moves instead, so stamps never go backwards.
export function nextStamp(hlc, wallMs) {
  if (wallMs > hlc.ms) return { ms: wallMs, counter: 0 };
  if (hlc.counter + 1 > MAX_COUNTER) return { ms: hlc.ms + 1, counter: 0 };
  return { ms: hlc.ms, counter: hlc.counter + 1 };
}

// Merges a stamp seen on a pulled op (events/hlc.py HybridClock.receive), so that whatever this
// tablet does next is ordered after what it has seen. A stamp more than `maxDriftMs` ahead of the
// corrected clock is another tablet's broken clock: it is not followed (null).
export const MAX_DRIFT_MS = 60_000;

// Past MAX_COUNTER the clock moves on a millisecond, as nextStamp does: a counter the push schema
// refuses would wedge the outbox (docs/adr/0008; vectors in tests/vectors/hlc.json).
export function receiveStamp(hlc, remote, wallMs, maxDriftMs = MAX_DRIFT_MS) {
  if (remote.ms - wallMs > maxDriftMs) return null;
  const top = Math.max(hlc.ms, remote.ms, wallMs);
  let counter = 0;
  if (top === hlc.ms && top === remote.ms) counter = Math.max(hlc.counter, remote.counter) + 1;
  else if (top === hlc.ms) counter = hlc.counter + 1;
  else if (top === remote.ms) counter = remote.counter + 1;
  return counter > MAX_COUNTER ? { ms: top + 1, counter: 0 } : { ms: top, counter };
}

// Inside a transaction: the next HLC stamp on the corrected clock, stored, with the op's clock
// fields (hlc_ms, hlc_counter, device_time_ms, corrected_time_ms).
async function advanceClock(meta, now) {
  const [hlc, offset] = await Promise.all(["hlc", "clock_offset_ms"].map((key) => request(meta.get(key))));
  return stampWith(meta, now, hlc, offset);
}

// The next stamp from the clock as read in this transaction (hlc, clock_offset_ms), kept in it.
function stampWith(meta, now, hlc, offset) {
  const corrected = Number.isSafeInteger(offset) ? now + offset : null;
  const stamp = nextStamp(hlc ?? { ms: 0, counter: 0 }, corrected ?? now);
  meta.put(stamp, "hlc");
  return { hlc_ms: stamp.ms, hlc_counter: stamp.counter, device_time_ms: now, corrected_time_ms: corrected };
}

export class Outbox {
  constructor(db) {
    this.db = db;
  }

  static async open(name = DB_NAME) {
    const opening = indexedDB.open(name, VERSION);
    opening.onupgradeneeded = () => {
      const db = opening.result;
      if (!db.objectStoreNames.contains(OUTBOX)) db.createObjectStore(OUTBOX, { keyPath: "device_seq" });
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
      if (!db.objectStoreNames.contains(SENT))
        db.createObjectStore(SENT, { keyPath: "op_id" }).createIndex("acked_at", "acked_at");
      for (const name of LEDGER_STORES) {
        if (!db.objectStoreNames.contains(name)) db.createObjectStore(name, { keyPath: "id" });
      }
    };
    const db = await request(opening);
    // Another tab upgrading the schema must not be blocked by this one.
    db.onversionchange = () => db.close();
    return new Outbox(db);
  }

  close() {
    this.db.close();
  }

  // Runs `body(stores)` in one transaction and resolves once it has committed, so a caller never
  // acts on a write that could still be rolled back.
  async _tx(mode, body) {
    const tx = this.db.transaction(STORES, mode);
    const done = finished(tx);
    let result;
    try {
      result = await body(Object.fromEntries(STORES.map((name) => [name, tx.objectStore(name)])));
    } catch (error) {
      try {
        tx.abort();
      } catch {
        // already finished
      }
      await done.catch(() => {});
      throw error;
    }
    await done;
    return result;
  }

  async _get(key) {
    return this._tx("readonly", ({ meta }) => request(meta.get(key)));
  }

  // --- enrollment ---------------------------------------------------------------------------

  // Keeps what the enrollment answer gives the tablet (and, optionally, its non-extractable
  // private CryptoKey, which IndexedDB stores as is). Re-enrolling after `unknown_device` keeps
  // the outbox: its ops are renumbered from 1 for the new device id (op_ids stay, so nothing the
  // server already stored is stored twice). Ops of another event are never carried over.
  async saveEnrollment(enrollment, { privateKey = null, now = Date.now() } = {}) {
    const device = {
      device_id: enrollment.device_id,
      device_name: enrollment.device_name ?? "",
      device_token: enrollment.device_token,
      key_id: enrollment.key_id,
      event: enrollment.event,
      root_public_key: enrollment.root_public_key ?? null,
      rotation_key: enrollment.rotation_key ?? null,
      // Which rotation key is current, and the ones revocations retired (newest first): kept
      // only to tell a retired key's code from a wrong one (verdict.js).
      rotation_epoch: enrollment.rotation_epoch ?? 1,
      retired_rotation_keys: [],
      // The key of the phone numbers' search hashes (ledger.js phoneSearchHash).
      phone_search_key: enrollment.phone_search_key ?? null,
      private_key: privateKey,
    };
    return this._tx("readwrite", async (stores) => {
      const { outbox, meta, sent } = stores;
      const previous = await request(meta.get("device"));
      const unsent = await request(outbox.getAll());
      if (unsent.length && previous && previous.event?.id !== device.event?.id) {
        throw new Error("the outbox holds ops of another event: push or wipe them before enrolling elsewhere");
      }
      let ops = unsent;
      if (!previous || previous.event?.id !== device.event?.id) {
        meta.put(0, "cursor");
        for (const name of LEDGER_STORES) stores[name].clear();
        meta.delete("bundle"); // another event's bundle would not verify under this root anyway
      } else {
        // Enrolled again in the same event (the server did not know this tablet: its database
        // went back to a backup older than the enrollment): what it kept goes out again too.
        const { pushed, decided } = sentAgain(await request(sent.getAll()), 0);
        ops = [...pushed, ...unsent, ...decided];
      }
      sent.clear();
      meta.delete("log_id");
      if (enrollment.log_id) meta.put(enrollment.log_id, "log_id");
      // Checked against root_public_key before any use (ledger.js), like every pulled bundle.
      if (enrollment.bundle) meta.put(enrollment.bundle, "bundle");
      if (Array.isArray(enrollment.campaigns)) meta.put(enrollment.campaigns, "campaigns");
      await request(outbox.clear());
      for (const [index, op] of ops.entries()) outbox.put({ ...op, device_seq: index + 1 });
      meta.put(ops.length + 1, "next_seq");
      meta.put(device, "device");
      // The enrollment's server time is the first clock offset estimate.
      if (Number.isSafeInteger(enrollment.server_time_ms)) meta.put(enrollment.server_time_ms - now, "clock_offset_ms");
      return device;
    });
  }

  device() {
    return this._get("device");
  }

  // --- recording ----------------------------------------------------------------------------

  // Stamps an op (next device_seq, HLC on the corrected clock) and stores it, together with the
  // new counters, in ONE transaction: if the tablet dies mid-way, neither the op nor the counter
  // moved, so a device_seq is never handed out twice.
  // `op`: {kind, subject, clerk, data} and optionally op_id (an online redemption's fallback
  // reuses the op_id it sent to /redeem). `project(stores, stored)`, if given, applies the op to
  // the tablet's projections in the same transaction. Returns the stored op.
  async record(op, { now = Date.now(), project = null } = {}) {
    return this._tx("readwrite", async (stores) => {
      const { outbox, meta } = stores;
      // Everything the op needs in one round trip to IndexedDB: a scan's verdict waits for it.
      const [device, nextSeq, hlc, offset] = await Promise.all(
        ["device", "next_seq", "hlc", "clock_offset_ms"].map((key) => request(meta.get(key))),
      );
      if (!device) throw new Error("not enrolled");
      const seq = nextSeq ?? 1;
      const stored = {
        kind: op.kind,
        op_id: op.op_id ?? randomId("op"),
        device_seq: seq,
        subject: op.subject,
        ...stampWith(meta, now, hlc, offset),
        clerk: op.clerk,
        data: op.data,
      };
      outbox.add(stored); // add, not put: an existing seq is a bug, and aborts the transaction
      meta.put(seq + 1, "next_seq");
      if (project) await project(stores, stored);
      return stored;
    });
  }

  // The next HLC stamp and clock readings for an op that does not go through the outbox (an
  // online redemption the server decides and stores itself).
  stamp({ now = Date.now() } = {}) {
    return this._tx("readwrite", ({ meta }) => advanceClock(meta, now));
  }

  // --- pushing ------------------------------------------------------------------------------

  // The oldest `limit` unacknowledged ops, in device_seq order.
  pending(limit = 1000, from = 1) {
    return this._tx("readonly", ({ outbox }) => request(outbox.getAll(IDBKeyRange.lowerBound(from), limit)));
  }

  count() {
    return this._tx("readonly", ({ outbox }) => request(outbox.count()));
  }

  // The server applied every op up to `lastSeq`: they move from the outbox to the kept ops, and
  // the offset it measured is kept, in the same transaction. Kept ops older than KEEP_SENT_MS go.
  acknowledge(lastSeq, clockOffsetMs, { now = Date.now() } = {}) {
    return this._tx("readwrite", async ({ outbox, sent, meta }) => {
      if (lastSeq >= 1) {
        const range = IDBKeyRange.upperBound(lastSeq);
        for (const op of await request(outbox.getAll(range)))
          sent.put({ op_id: op.op_id, op, acked_at: now, decided: false });
        outbox.delete(range);
      }
      sent.index("acked_at").openCursor(IDBKeyRange.upperBound(now - KEEP_SENT_MS)).onsuccess = (event) => {
        const cursor = event.target.result;
        if (cursor) {
          cursor.delete();
          cursor.continue();
        }
      };
      if (Number.isSafeInteger(clockOffsetMs)) meta.put(clockOffsetMs, "clock_offset_ms");
    });
  }

  // A redemption the server decided online (and stored itself): kept like an acknowledged op,
  // as the redeem op the tablet would send again after a restore (`decided_by` the device,
  // with what the server answered as what the clerk was shown).
  keepDecided(op, { now = Date.now() } = {}) {
    return this._tx("readwrite", ({ sent }) => {
      sent.put({ op_id: op.op_id, op, acked_at: now, decided: true });
    });
  }

  // The ops this tablet keeps of what it sent: the pushed ones in device_seq order, then the
  // online decisions.
  kept() {
    return this._tx("readonly", async ({ sent }) => {
      const { pushed, decided } = sentAgain(await request(sent.getAll()), 0);
      return [...pushed, ...decided];
    });
  }

  logId() {
    return this._get("log_id").then((value) => value ?? null);
  }

  saveLogId(logId) {
    return this._tx("readwrite", ({ meta }) => {
      meta.put(logId, "log_id");
    });
  }

  // `409 log_changed`: the server's database went back to a backup (docs/sync-protocol.md, "After
  // a restore"). Every kept op after `lastSeq` goes back to the outbox ahead of the unsent ones,
  // with the same numbers, then the online decisions as ordinary redeem ops; the tablet pulls
  // again from the start (its conflicts too are rebuilt: the server's may have changed under
  // other ids). Ops numbered after `lastSeq` that are no longer kept are lost: counted, and the
  // rest renumbered so the queue moves. Returns {requeued, lost}.
  recover({ lastSeq, logId }) {
    return this._tx("readwrite", async ({ outbox, sent, meta, conflicts }) => {
      const [unsent, kept, nextSeq] = await Promise.all([
        request(outbox.getAll()),
        request(sent.getAll()),
        request(meta.get("next_seq")),
      ]);
      const { pushed, decided } = sentAgain(kept, lastSeq);
      const numbered = [...pushed, ...unsent];
      // Numbers the server lost and this tablet no longer keeps (older than KEEP_SENT_MS).
      const lost = Math.max(0, (numbered[0]?.device_seq ?? nextSeq ?? lastSeq + 1) - lastSeq - 1);
      const seen = new Set(numbered.map((op) => op.op_id));
      const queue = [...numbered, ...decided.filter((op) => !seen.has(op.op_id))];
      await request(outbox.clear());
      for (const [index, op] of queue.entries()) outbox.put({ ...op, device_seq: lastSeq + 1 + index });
      for (const row of kept) if (row.decided || row.op.device_seq > lastSeq) sent.delete(row.op_id);
      meta.put(lastSeq + 1 + queue.length, "next_seq");
      meta.put(0, "cursor");
      meta.put(logId, "log_id");
      conflicts.clear();
      return { requeued: pushed.length + decided.length, lost };
    });
  }

  // `409 seq_reused`: our counter went backwards (the server applied up to `lastSeq` ops we do
  // not know as such). Every op still in the outbox gets a number after `lastSeq`, in its order;
  // one the server did store under its old number comes back `duplicate_op_id`, never twice.
  // Also used for a `409 gap` whose missing ops are no longer here (renumberFrom(resend_from)).
  renumberAfter(lastSeq) {
    return this.renumberFrom(lastSeq + 1);
  }

  renumberFrom(firstSeq) {
    return this._tx("readwrite", async ({ outbox, meta }) => {
      const ops = await request(outbox.getAll());
      await request(outbox.clear());
      for (const [index, op] of ops.entries()) outbox.put({ ...op, device_seq: firstSeq + index });
      meta.put(firstSeq + ops.length, "next_seq");
      return ops.length;
    });
  }

  // Drops ops below `seq` (the server has them: a gap answer says so).
  dropBefore(seq) {
    return this._tx("readwrite", ({ outbox }) => {
      if (seq > 1) outbox.delete(IDBKeyRange.upperBound(seq, true));
    });
  }

  nextSeq() {
    return this._get("next_seq").then((value) => value ?? 1);
  }

  // --- pulling and clock --------------------------------------------------------------------

  cursor() {
    return this._get("cursor").then((value) => value ?? 0);
  }

  saveCursor(cursor) {
    return this._tx("readwrite", ({ meta }) => {
      meta.put(cursor, "cursor");
    });
  }

  clockOffset() {
    return this._get("clock_offset_ms").then((value) => (Number.isSafeInteger(value) ? value : null));
  }

  saveClockOffset(offsetMs) {
    return this._tx("readwrite", ({ meta }) => {
      meta.put(offsetMs, "clock_offset_ms");
    });
  }

  // The answer of GET /api/v1/rotation-keys: after another tablet's revocation the event's
  // rotation key is new, and the one this tablet held is retired (and the phone search key, for
  // a tablet enrolled before protocol 2).
  saveRotationKeys(answer) {
    return this._tx("readwrite", async ({ meta }) => {
      const device = await request(meta.get("device"));
      if (!device) return null;
      const updated = {
        ...device,
        rotation_key: answer.rotation_key,
        rotation_epoch: answer.rotation_epoch,
        retired_rotation_keys: answer.retired.map((retired) => retired.rotation_key),
        phone_search_key: answer.phone_search_key ?? device.phone_search_key ?? null,
      };
      meta.put(updated, "device");
      return updated;
    });
  }

  // --- revocation ---------------------------------------------------------------------------

  // Any other read or write over every store, in one transaction (ledger.js).
  transaction(mode, body) {
    return this._tx(mode, body);
  }

  // `403 device_revoked`: erase everything the tablet holds (outbox, token, keys, counters,
  // attendees, vouchers, conflicts).
  wipe() {
    return this._tx("readwrite", (stores) => {
      for (const store of Object.values(stores)) store.clear();
    });
  }
}

// Of the kept ops, those to send again: the pushed ones after `lastSeq`, in their order, and the
// online decisions (which get new numbers), in the order they were made.
function sentAgain(kept, lastSeq) {
  const pushed = kept.filter((row) => !row.decided && row.op.device_seq > lastSeq).map((row) => row.op);
  pushed.sort((a, b) => a.device_seq - b.device_seq);
  const decided = kept.filter((row) => row.decided).map((row) => row.op);
  decided.sort((a, b) => a.hlc_ms - b.hlc_ms || a.hlc_counter - b.hlc_counter);
  return { pushed, decided };
}

export function openOutbox(name = DB_NAME) {
  return Outbox.open(name);
}

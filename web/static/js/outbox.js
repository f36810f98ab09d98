// The tablet's outbox and device state, in IndexedDB (docs/sync-protocol.md, "Push").
//
// Two object stores in the database "poppass":
//   outbox — the ops not yet acknowledged by the server, keyed by their device_seq;
//   meta   — small named values: the enrollment ("device"), the next device_seq ("next_seq"),
//            the hybrid logical clock ("hlc"), the pull cursor ("cursor") and the clock offset
//            ("clock_offset_ms").
// Dependency-free, like token.js: the tablet must work with the network off.

export const DB_NAME = "poppass";
const VERSION = 1;
const OUTBOX = "outbox";
const META = "meta";
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

function randomId(prefix) {
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
    const tx = this.db.transaction([OUTBOX, META], mode);
    const done = finished(tx);
    let result;
    try {
      result = await body({ outbox: tx.objectStore(OUTBOX), meta: tx.objectStore(META) });
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
      private_key: privateKey,
    };
    return this._tx("readwrite", async ({ outbox, meta }) => {
      const previous = await request(meta.get("device"));
      const ops = await request(outbox.getAll());
      if (ops.length && previous && previous.event?.id !== device.event?.id) {
        throw new Error("the outbox holds ops of another event: push or wipe them before enrolling elsewhere");
      }
      if (!previous || previous.event?.id !== device.event?.id) meta.put(0, "cursor");
      await request(outbox.clear());
      ops.forEach((op, index) => outbox.put({ ...op, device_seq: index + 1 }));
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
  // reuses the op_id it sent to /redeem). Returns the stored op.
  async record(op, { now = Date.now() } = {}) {
    return this._tx("readwrite", async ({ outbox, meta }) => {
      const [device, nextSeq, hlc, offset] = await Promise.all(
        ["device", "next_seq", "hlc", "clock_offset_ms"].map((key) => request(meta.get(key))),
      );
      if (!device) throw new Error("not enrolled");
      const seq = nextSeq ?? 1;
      const hasOffset = Number.isSafeInteger(offset);
      const corrected = hasOffset ? now + offset : null;
      const stamp = nextStamp(hlc ?? { ms: 0, counter: 0 }, corrected ?? now);
      const stored = {
        kind: op.kind,
        op_id: op.op_id ?? randomId("op"),
        device_seq: seq,
        subject: op.subject,
        hlc_ms: stamp.ms,
        hlc_counter: stamp.counter,
        device_time_ms: now,
        corrected_time_ms: corrected,
        clerk: op.clerk,
        data: op.data,
      };
      outbox.add(stored); // add, not put: an existing seq is a bug, and aborts the transaction
      meta.put(seq + 1, "next_seq");
      meta.put(stamp, "hlc");
      return stored;
    });
  }

  // --- pushing ------------------------------------------------------------------------------

  // The oldest `limit` unacknowledged ops, in device_seq order.
  pending(limit = 1000, from = 1) {
    return this._tx("readonly", ({ outbox }) => request(outbox.getAll(IDBKeyRange.lowerBound(from), limit)));
  }

  count() {
    return this._tx("readonly", ({ outbox }) => request(outbox.count()));
  }

  // The server applied every op up to `lastSeq`: they leave the outbox, and the offset it
  // measured is kept, in the same transaction.
  acknowledge(lastSeq, clockOffsetMs) {
    return this._tx("readwrite", ({ outbox, meta }) => {
      if (lastSeq >= 1) outbox.delete(IDBKeyRange.upperBound(lastSeq));
      if (Number.isSafeInteger(clockOffsetMs)) meta.put(clockOffsetMs, "clock_offset_ms");
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
      ops.forEach((op, index) => outbox.put({ ...op, device_seq: firstSeq + index }));
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

  // --- revocation ---------------------------------------------------------------------------

  // `403 device_revoked`: erase everything the tablet holds (outbox, token, keys, counters).
  wipe() {
    return this._tx("readwrite", ({ outbox, meta }) => {
      outbox.clear();
      meta.clear();
    });
  }
}

export function openOutbox(name = DB_NAME) {
  return Outbox.open(name);
}

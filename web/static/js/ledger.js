// What the tablet knows of its event, offline: attendees (with their check-ins), vouchers (with
// the uses and voids it has seen), conflicts, campaigns and the trust bundle. Built from the
// tablet's own ops, as it records them, and from every op it pulls from the others; kept in
// IndexedDB next to the outbox (outbox.js) and mirrored in memory for instant lookups.
//
// An op changes the stores in the same transaction that records it (own ops) or that applies its
// pull page, so the outbox and what the screens show can never disagree after a crash. Applying
// an op twice changes nothing: everything is keyed by op_id.

import { SHORT_CODE_LEN, shortCode } from "./manual-entry.js";
import { receiveStamp } from "./outbox.js";
import { base64UrlDecode, base64UrlEncode, decode, verifyBundle } from "./token.js";

const SEARCH_LIMIT = 30;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

// Name search ignores case, width and accents' composition; phone search ignores everything
// but digits.
export function searchKey(text) {
  return String(text ?? "")
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .trim();
}

function digits(text) {
  return String(text ?? "").replace(/\D/g, "");
}

// What the tablet holds of a phone number (protocol 2, docs/sync-protocol.md, Pull): never the
// number, but a keyed hash of its last 8 digits, for a clerk who is told the whole number, and
// its last 4 digits, to show and to search by. The rule of events/phone_search.py; shared
// vectors in tests/vectors/tokens.json ("phone_search").
const PHONE_CONTEXT = new TextEncoder().encode("PopPass phone search v1\n");
const HASHED_DIGITS = 8;
const SHOWN_DIGITS = 4;

function phoneDigits(phone) {
  return String(phone ?? "")
    .normalize("NFKC")
    .replace(/[^0-9]/g, "");
}

/** The last 4 digits of a number, or "" when it has fewer. */
export function lastDigits(phone) {
  const number = phoneDigits(phone);
  return number.length >= SHOWN_DIGITS ? number.slice(-SHOWN_DIGITS) : "";
}

/** The number's search hash under the event's key (base64url), or "" below 8 digits or without a key. */
export async function phoneSearchHash(key, phone) {
  const number = phoneDigits(phone);
  if (!key || number.length < HASHED_DIGITS) return "";
  const secret = await crypto.subtle.importKey("raw", base64UrlDecode(key), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const message = new Uint8Array([...PHONE_CONTEXT, ...new TextEncoder().encode(number.slice(-HASHED_DIGITS))]);
  const digest = new Uint8Array(await crypto.subtle.sign("HMAC", secret, message));
  return base64UrlEncode(digest.slice(0, 16));
}

function newAttendee(id) {
  return { id, name: "", phone_hash: "", phone_last4: "", registered: null, checkins: {} };
}

// `touched`: this tablet issued, redeemed or voided it (its conflicts concern this clerk).
function newVoucher(id) {
  return { id, text: null, attendee_id: null, uses: {}, undone: {}, voided: null, touched: false };
}

const STATUS_ORDER = { open: 0, resolved: 1, cleared: 2 };

function actedAt(op) {
  return op.corrected_time_ms ?? op.hlc_ms;
}

// The order of ops across devices, as the server's (events/hlc.py order_key): HLC, then counter,
// then device. A record kept before uses carried their HLC falls back to its time.
function earlier(a, b) {
  const [am, bm] = [a.hlc_ms ?? a.at_ms, b.hlc_ms ?? b.at_ms];
  if (am !== bm) return am < bm;
  const [ac, bc] = [a.hlc_counter ?? 0, b.hlc_counter ?? 0];
  if (ac !== bc) return ac < bc;
  return (a.device_id ?? "") < (b.device_id ?? "");
}

function byOrder(a, b) {
  if (earlier(a, b)) return -1;
  return earlier(b, a) ? 1 : 0;
}

function stampOf(op) {
  return {
    op_id: op.op_id,
    at_ms: actedAt(op),
    hlc_ms: op.hlc_ms,
    hlc_counter: op.hlc_counter,
    device_id: op.device_id,
  };
}

/**
 * The uses that count (events/merge.py uses_of): accepted, of this very token `text` when given
 * (another text under the same id is not this voucher), not undone; in HLC order. A use after a
 * void of the whole voucher still counts: it was honoured, and the server flags it.
 */
export function effectiveUses(voucher, text = null) {
  if (!voucher) return [];
  return Object.entries(voucher.uses)
    .filter(([opId, use]) => !voucher.undone[opId] && (text === null || use.token === undefined || use.token === text))
    .map(([op_id, use]) => ({ op_id, ...use }))
    .sort(byOrder);
}

/** The latest rotating-code step accepted for this voucher, or null. */
export function lastStep(voucher, text = null) {
  const steps = effectiveUses(voucher, text)
    .map((use) => use.step)
    .filter((step) => Number.isInteger(step));
  return steps.length ? Math.max(...steps) : null;
}

/** When the attendee's official check-in happened (their first by HLC, as events/figures.py
 * counts them and events/verdict.py first says), or null. */
export function checkedInAt(attendee) {
  return firstCheckin(attendee)?.at_ms ?? null;
}

/** The attendee's first check-in by HLC ({op_id, at_ms, device_id, …}), or null. */
export function firstCheckin(attendee) {
  const checkins = Object.entries(attendee?.checkins ?? {}).map(([op_id, checkin]) => ({ op_id, ...checkin }));
  return checkins.length ? checkins.sort(byOrder)[0] : null;
}

export class Ledger {
  constructor(store, device) {
    this.store = store;
    this.device = device;
    this.attendees = new Map();
    this.vouchers = new Map();
    this.byShortCode = new Map(); // short voucher code → ids of the vouchers whose text is known
    this.conflicts = new Map();
    this.campaigns = [];
    this.bundle = null; // verified (token.js verifyBundle), or null
    this.bundleProblem = null; // why the last bundle offered was not taken
    this._typedPhones = new Map(); // attendee id → search hash of the number typed here, being recorded
  }

  static async open(store) {
    const device = await store.device();
    if (!device) return null;
    const ledger = new Ledger(store, device);
    const loaded = await store.transaction("readonly", async (stores) => {
      const [attendees, vouchers, conflicts, campaigns, bundle] = await Promise.all([
        request(stores.attendees.getAll()),
        request(stores.vouchers.getAll()),
        request(stores.conflicts.getAll()),
        request(stores.meta.get("campaigns")),
        request(stores.meta.get("bundle")),
      ]);
      return { attendees, vouchers, conflicts, campaigns, bundle };
    });
    for (const row of loaded.attendees) ledger.attendees.set(row.id, row);
    await ledger._forgetNumbers(loaded.attendees.filter((row) => "phone" in row || "pass_token" in row));
    for (const row of loaded.vouchers) ledger._setVoucher(row);
    for (const row of loaded.conflicts) ledger.conflicts.set(row.id, row);
    ledger.campaigns = Array.isArray(loaded.campaigns) ? loaded.campaigns : [];
    if (loaded.bundle) await ledger._takeBundle(loaded.bundle, 0);
    return ledger;
  }

  // --- the trust bundle ---------------------------------------------------------------------

  // Verified against the root key from enrollment; never one older than the one in use.
  async _takeBundle(signed, minSeq) {
    try {
      this.bundle = await verifyBundle(signed, this.device.root_public_key, { eventId: this.device.event?.id, minSeq });
      this.bundleProblem = null;
      return true;
    } catch (error) {
      this.bundleProblem = error.reason ?? String(error);
      return false;
    }
  }

  // --- applying ops -------------------------------------------------------------------------

  // The changed records for `ops`, computed on copies: memory changes only once they are stored.
  _changes(ops) {
    const attendees = new Map();
    const vouchers = new Map();
    const attendee = (id) => {
      if (!attendees.has(id)) attendees.set(id, structuredClone(this.attendees.get(id) ?? newAttendee(id)));
      return attendees.get(id);
    };
    const voucher = (id) => {
      if (!vouchers.has(id)) vouchers.set(id, structuredClone(this.vouchers.get(id) ?? newVoucher(id)));
      return vouchers.get(id);
    };
    for (const raw of ops) {
      const op = { ...raw, device_id: raw.device_id ?? this.device.device_id };
      const data = op.data ?? {};
      const mine = op.device_id === this.device.device_id;
      if (op.kind === "register") {
        const row = attendee(op.subject);
        const stamp = stampOf(op);
        // The attendee as first registered wins, as on the server (events/verdict.py first).
        if (!row.registered || earlier(stamp, row.registered)) {
          // A pulled op carries the hash and last digits; this tablet's own has the number it
          // typed, which stays in the outbox until pushed and never enters the ledger.
          Object.assign(row, {
            name: data.name ?? "",
            phone_hash: data.phone_hash ?? this._typedPhones.get(op.subject) ?? "",
            phone_last4: data.phone_last4 ?? lastDigits(data.phone),
            registered: stamp,
          });
        }
      } else if (op.kind === "checkin") {
        const { op_id: _, ...stamp } = stampOf(op);
        attendee(op.subject).checkins[op.op_id] = { ...stamp, clerk: op.clerk };
      } else if (op.kind === "issue") {
        if (!data.token) continue; // a pass's issue: its text is not pulled
        const row = voucher(op.subject);
        row.text ??= data.token ?? null;
        row.attendee_id ??= data.attendee_id ?? null;
        if (mine) row.touched = true;
      } else if (op.kind === "redeem") {
        const row = voucher(op.subject);
        row.text ??= data.token ?? null;
        if (mine) row.touched = true;
        if (data.outcome === "accepted") {
          const { op_id: _, ...stamp } = stampOf(op);
          row.uses[op.op_id] = { ...stamp, clerk: op.clerk, step: data.code_step ?? null, token: data.token ?? null };
        }
      } else if (op.kind === "void") {
        const row = voucher(op.subject);
        if (mine) row.touched = true;
        if (data.redeem_op_id) row.undone[data.redeem_op_id] = true;
        // The first void of the whole voucher, by HLC (events/merge.py first_void).
        else if (!row.voided || earlier(op, row.voided)) row.voided = stampOf(op);
      }
    }
    return { attendees, vouchers };
  }

  _put(stores, changes) {
    for (const row of changes.attendees.values()) stores.attendees.put(row);
    for (const row of changes.vouchers.values()) stores.vouchers.put(row);
  }

  _adopt(changes) {
    for (const [id, row] of changes.attendees) this.attendees.set(id, row);
    for (const row of changes.vouchers.values()) this._setVoucher(row);
  }

  _setVoucher(row) {
    this.vouchers.set(row.id, row);
    if (!row.text) return; // a void pulled before its voucher: nothing to type it by yet
    const key = shortCode(row.id);
    if (!this.byShortCode.has(key)) this.byShortCode.set(key, new Set());
    this.byShortCode.get(key).add(row.id);
  }

  /**
   * Record an op in the outbox (through the sync client, which then pushes it) and apply it
   * here, in one transaction. Resolves with the stored op once both are safe.
   */
  async record(client, op) {
    if (op.kind === "register" && op.data?.phone) {
      this._typedPhones.set(op.subject, await phoneSearchHash(await this._phoneKey(), op.data.phone));
    }
    let changes = null;
    try {
      const stored = await client.record(op, {
        project: (stores, recorded) => {
          changes = this._changes([recorded]);
          this._put(stores, changes);
        },
      });
      this._adopt(changes);
      return stored;
    } finally {
      this._typedPhones.delete(op.subject);
    }
  }

  // A ledger kept before protocol 2 held numbers and pass texts: it keeps only what protocol 2
  // gives (the search hash, the last 4 digits) from its first opening after the update.
  async _forgetNumbers(rows) {
    if (!rows.length) return;
    const key = await this._phoneKey();
    const kept = [];
    for (const { phone, pass_token: _, ...row } of rows) {
      kept.push({
        ...row,
        phone_hash: row.phone_hash || (await phoneSearchHash(key, phone)),
        phone_last4: row.phone_last4 || lastDigits(phone),
      });
    }
    await this.store.transaction("readwrite", async (stores) => {
      for (const row of kept) stores.attendees.put(row);
    });
    for (const row of kept) this.attendees.set(row.id, row);
  }

  // Read when needed: a tablet enrolled before protocol 2 gets its key at a later sync.
  async _phoneKey() {
    return (await this.store.device())?.phone_search_key ?? this.device.phone_search_key ?? null;
  }

  /** After a restore (sync-client.js onLogChanged): the stored conflicts are already cleared,
   * and the pull from the start brings the server's. */
  forgetConflicts() {
    this.conflicts.clear();
  }

  /** An op this tablet did not queue (an online redemption the server decided and stored). */
  async applyDecided(op) {
    const changes = this._changes([op]);
    await this.store.transaction("readwrite", (stores) => this._put(stores, changes));
    this._adopt(changes);
  }

  /** A pull page (sync-client.js onPull): its ops, conflicts, campaigns and bundle. */
  async applyPull(page) {
    if (page.bundle) await this._takeBundle(page.bundle, this.bundle?.seq ?? 0);
    const changes = this._changes(page.ops ?? []);
    const conflicts = page.conflicts ?? [];
    const campaigns = Array.isArray(page.campaigns) ? page.campaigns : null;
    const bundle = this.bundleProblem ? null : page.bundle;
    const ops = page.ops ?? [];
    const now = Date.now();
    await this.store.transaction("readwrite", async (stores) => {
      this._put(stores, changes);
      if (ops.length) {
        // What this tablet does next comes after what it has now seen (HLC receive).
        const [hlc, offset] = await Promise.all(["hlc", "clock_offset_ms"].map((key) => request(stores.meta.get(key))));
        const wall = now + (Number.isSafeInteger(offset) ? offset : 0);
        let clock = hlc ?? { ms: 0, counter: 0 };
        for (const op of ops) clock = receiveStamp(clock, { ms: op.hlc_ms, counter: op.hlc_counter }, wall) ?? clock;
        stores.meta.put(clock, "hlc");
      }
      for (const conflict of conflicts) stores.conflicts.put(conflict);
      if (campaigns) stores.meta.put(campaigns, "campaigns");
      if (bundle) stores.meta.put(bundle, "bundle");
    });
    this._adopt(changes);
    for (const conflict of conflicts) this.conflicts.set(conflict.id, conflict);
    if (campaigns) this.campaigns = campaigns;
  }

  // --- reading ------------------------------------------------------------------------------

  attendee(id) {
    return this.attendees.get(id) ?? null;
  }

  voucher(id) {
    return this.vouchers.get(id) ?? null;
  }

  /** The texts of the vouchers this tablet holds whose id starts with `prefix` (manual entry). */
  vouchersStartingWith(prefix) {
    const ids =
      prefix.length === SHORT_CODE_LEN
        ? (this.byShortCode.get(prefix) ?? [])
        : [...this.vouchers.values()].filter((row) => row.text && row.id.startsWith(prefix)).map((row) => row.id);
    return [...ids].map((id) => this.vouchers.get(id).text);
  }

  /** The text of the voucher with this token id, or null. A pass's text is not kept here: a pass
   * is scanned (its signature proves it), or its holder found by name or phone on Check-in. */
  token(id) {
    return this.vouchers.get(id)?.text ?? null;
  }

  campaign(number) {
    return this.campaigns.find((campaign) => campaign.number === number) ?? null;
  }

  /** How many vouchers of a campaign this tablet knows the attendee holds (its own and pulled). */
  heldBy(attendeeId, campaignNumber) {
    let held = 0;
    for (const voucher of this.vouchers.values()) {
      if (voucher.attendee_id !== attendeeId || !voucher.text) continue;
      try {
        if (decode(voucher.text).token.campaign === campaignNumber) held += 1;
      } catch {
        // a malformed text on record holds nothing
      }
    }
    return held;
  }

  /** Open conflicts about a voucher. */
  conflictsAbout(tokenId) {
    return [...this.conflicts.values()].filter((c) => c.subject === tokenId && c.status === "open");
  }

  /** Whether this tablet issued, redeemed or voided the voucher (a ledger from before the
   * `touched` mark still knows its own redemptions). */
  touched(tokenId) {
    const voucher = this.vouchers.get(tokenId);
    if (!voucher) return false;
    return voucher.touched || Object.values(voucher.uses).some((use) => use.device_id === this.device.device_id);
  }

  /** Conflicts about the vouchers this tablet touched, whatever their status: open ones first,
   * then the newest. A resolved one stays listed, so the clerk sees it was settled. */
  conflictsTouched() {
    return [...this.conflicts.values()]
      .filter((c) => this.touched(c.subject))
      .sort((a, b) => (STATUS_ORDER[a.status] ?? 3) - (STATUS_ORDER[b.status] ?? 3) || b.id - a.id);
  }

  /** This tablet's own uses of a voucher (redemptions it accepted), in order. */
  usesHere(tokenId) {
    const voucher = this.vouchers.get(tokenId);
    return effectiveUses(voucher).filter((use) => use.device_id === this.device.device_id);
  }

  /** Registered attendees whose name contains the query, or whose number is the query's (its
   * search hash, `phoneHash`, from `find`), or whose last 4 digits are the query's 4 digits. */
  search(query, limit = SEARCH_LIMIT, phoneHash = "") {
    const key = searchKey(query);
    if (!key) return [];
    const number = digits(query);
    const found = [];
    for (const attendee of this.attendees.values()) {
      if (!attendee.registered) continue;
      const byName = searchKey(attendee.name).includes(key);
      const byPhone =
        (phoneHash !== "" && attendee.phone_hash === phoneHash) ||
        (number.length === SHOWN_DIGITS && attendee.phone_last4 === number);
      if (byName || byPhone) found.push(attendee);
    }
    found.sort((a, b) => searchKey(a.name).localeCompare(searchKey(b.name)) || a.id.localeCompare(b.id));
    return found.slice(0, limit);
  }

  /** `search`, with the typed number's search hash computed first. */
  async find(query, limit = SEARCH_LIMIT) {
    return this.search(query, limit, await phoneSearchHash(await this._phoneKey(), query));
  }
}

// The tablet's side of sync (docs/sync-protocol.md): push the outbox, then pull everyone
// else's ops, whenever there may be a network — on load, on `online`, when the page becomes
// visible, on a timer and after each recorded op. Background Sync is at most a hint: the page
// itself drives every sync, so a browser without it (or one that never fires it) loses nothing.
//
// One sync at a time: a sync asked for while one runs makes that one run once more at its end,
// so an op recorded mid-push is never left waiting for the timer. Across tabs of the same
// tablet, a Web Lock keeps two pages from pushing the same outbox at once.

import { openOutbox } from "./outbox.js";
import { colorOf } from "./verdict.js";

export const PROTOCOL = 3;
export const MAX_BATCH = 1000; // the server's limit per push

// Why the client stopped on its own: it needs a person (enroll again) or it must forget all.
export const NOT_ENROLLED = "not_enrolled";
export const REVOKED = "revoked";
// The network is up (navigator.onLine) but the server did not answer, or answered 5xx: not
// "offline", which is a tablet with no network at all.
export const UNREACHABLE = "unreachable";

// network down, 5xx: keep everything, try again later (not before `retryAfterMs`, when the
// server said how long: a 503 on a full disk, a 429)
class Retry extends Error {
  constructor(message, retryAfterMs = 0) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}
// Where call() leaves a 503's or 429's Retry-After (in ms) on the answer's body: a symbol, so no
// JSON field can collide with it.
const RETRY_AFTER = Symbol("retryAfterMs");
const RETRY_AFTER_MAX_MS = 10 * 60_000; // a header asking for hours is not believed past this

function retryAfterMs(value) {
  if (!value) return 0;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now(); // seconds or a date
  return Number.isFinite(ms) ? Math.min(RETRY_AFTER_MAX_MS, Math.max(0, ms)) : 0;
}
class Halt extends Error {} // 401, 403, 400: retrying the same request cannot help

async function call(baseUrl, method, path, { token, body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit", // the bearer token is the credential, never a cookie
    });
  } catch (error) {
    throw new Retry(`network: ${error?.message ?? error}`);
  }
  let json = null;
  try {
    json = await response.json();
  } catch {
    // an HTML error page or a cut connection: the status alone decides
  }
  const answer = json ?? {};
  if (response.status === 503 || response.status === 429)
    answer[RETRY_AFTER] = retryAfterMs(response.headers.get("Retry-After"));
  return { status: response.status, body: answer };
}

// Enroll this tablet with a one-time code and its Ed25519 public key (raw, base64url); keeps
// the answer in the store. Throws an Error whose `reason` is the server's `error` on refusal.
export async function enroll(store, { code, publicKey, privateKey = null, baseUrl = "" }) {
  const sentAt = Date.now();
  const { status, body } = await call(baseUrl, "POST", "/api/v1/enroll", {
    body: { protocol: PROTOCOL, code, public_key: publicKey },
  });
  if (status !== 201) {
    const error = new Error(`enrollment refused: ${body.error ?? status}`);
    error.reason = body.error ?? String(status);
    throw error;
  }
  await store.saveEnrollment(body, { privateKey, now: sentAt });
  return body;
}

export class SyncClient extends EventTarget {
  // store: an Outbox (outbox.js); onPull(page): applies a pull page to the tablet's projections
  // (may be async; the cursor is saved only after it resolves); onLogChanged({requeued, lost}):
  // the server's database went back to a backup, and the tablet's conflicts were forgotten.
  constructor({
    store,
    onPull = async () => {},
    onRevoked = () => {},
    onLogChanged = async () => {},
    baseUrl = "",
    batchSize = MAX_BATCH,
    intervalMs = 30_000,
    retryMinMs = 1_000,
    retryMaxMs = 15_000, // a server back after an outage is noticed within ~20 s, not minutes
    pullLimit = MAX_BATCH,
    lastSyncAt = null, // what the page kept from an earlier visit, shown until this one syncs
    clerk = () => "", // who is on shift: sent with each pull, so the console can name them
  } = {}) {
    super();
    this.store = store;
    this.onPull = onPull;
    this.onRevoked = onRevoked;
    this.onLogChanged = onLogChanged;
    this.baseUrl = baseUrl;
    this.maxBatch = Math.min(batchSize, MAX_BATCH);
    this.batchSize = this.maxBatch;
    this.intervalMs = intervalMs;
    this.retryMinMs = retryMinMs;
    this.retryMaxMs = retryMaxMs;
    this.pullLimit = pullLimit;
    this.clerk = clerk;
    this.failures = 0;
    this._running = null;
    this._again = false;
    this._timer = null;
    this._retry = null;
    this._listeners = [];
    this.status = {
      state: "idle", // idle | syncing | offline | unreachable | error | not_enrolled | revoked
      online: typeof navigator === "undefined" ? true : navigator.onLine,
      pending: 0,
      lastSyncAt, // Date.now() of the last complete push + pull
      clockOffsetMs: null,
      lastError: null,
      warning: null,
    };
  }

  static async open(options = {}) {
    const store = options.store ?? (await openOutbox());
    return new SyncClient({ ...options, store });
  }

  // --- status -------------------------------------------------------------------------------

  _set(changes) {
    Object.assign(this.status, changes);
    this.dispatchEvent(new CustomEvent("status", { detail: { ...this.status } }));
  }

  async refreshStatus() {
    const [pending, offset] = await Promise.all([this.store.count(), this.store.clockOffset()]);
    this._set({ pending, clockOffsetMs: offset });
    return { ...this.status };
  }

  get stopped() {
    return this.status.state === NOT_ENROLLED || this.status.state === REVOKED;
  }

  // --- recording ----------------------------------------------------------------------------

  // Stores the op first (it is safe once this resolves), then asks for a sync without waiting.
  // `options` go to Outbox.record (its `project` hook).
  async record(op, options = {}) {
    const stored = await this.store.record(op, options);
    this._set({ pending: this.status.pending + 1 });
    this.sync().catch(() => {});
    return stored;
  }

  // --- online redemption --------------------------------------------------------------------

  /**
   * Ask the server to decide a redemption (docs/sync-protocol.md, "Online redemption").
   * `op`: {op_id, subject, clerk, token, code}. Resolves with the server's answer, or with null
   * when there is no answer within `timeoutMs` (or no network, or an error): the caller then
   * decides locally and queues the op with the same op_id, which the server stores once.
   */
  async redeemOnline(op, { timeoutMs = 1500 } = {}) {
    if (this.stopped) return null;
    const device = await this.store.device();
    if (!device) return null;
    const [stamp, logId] = await Promise.all([this.store.stamp(), this.store.logId()]);
    const body = {
      protocol: PROTOCOL,
      device_id: device.device_id,
      sent_at_ms: Date.now(),
      op_id: op.op_id,
      subject: op.subject,
      ...stamp,
      clerk: op.clerk,
      token: op.token,
    };
    if (op.code) body.code = op.code;
    if (logId) body.log_id = logId;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const response = await fetch(`${this.baseUrl}/api/v1/redeem`, {
        method: "POST",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/json",
          Authorization: `Bearer ${device.device_token}`,
        },
        body: JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        signal: abort.signal,
      });
      const answer = await response.json().catch(() => ({}));
      if (response.status === 200 && (answer.outcome === "accepted" || answer.outcome === "refused")) {
        // Stored by the server, not queued here: kept so that it goes out again after a restore.
        const shown = { verdict: answer.outcome === "accepted" ? "green" : colorOf(answer.reason || "refused") };
        if (answer.reason) shown.reason = String(answer.reason).slice(0, 200);
        await this.store
          .keepDecided({
            kind: "redeem",
            op_id: op.op_id,
            device_seq: 0,
            subject: op.subject,
            ...stamp,
            clerk: op.clerk,
            data: { token: op.token, outcome: answer.outcome, shown },
          })
          .catch(() => {});
        return answer;
      }
      // The server's database was restored: decide here (the caller queues the op) and catch up.
      if (response.status === 409 && answer.error === "log_changed") this.sync().catch(() => {});
      if (response.status === 401 || (response.status === 403 && answer.wipe === true)) {
        await this._refuse(response.status, answer).catch(() => {});
      }
      return null;
    } catch {
      return null; // timed out or offline
    } finally {
      clearTimeout(timer);
    }
  }

  // --- triggers -----------------------------------------------------------------------------

  start() {
    if (this._listeners.length) return this.sync();
    const on = (target, type, handler) => {
      target.addEventListener(type, handler);
      this._listeners.push(() => target.removeEventListener(type, handler));
    };
    on(window, "online", () => {
      this._set({ online: true });
      this.failures = 0; // the network is back: no reason to wait out the backoff
      this.sync();
    });
    on(window, "offline", () => this._set({ online: false, state: this.stopped ? this.status.state : "offline" }));
    on(document, "visibilitychange", () => {
      if (document.visibilityState === "visible") this.sync();
    });
    this._timer = setInterval(() => this.sync(), this.intervalMs);
    this.refreshStatus().catch(() => {});
    return this.sync();
  }

  // After a new enrollment (not_enrolled) the client may sync again. A revoked one may not.
  resume() {
    if (this.status.state === NOT_ENROLLED) this._set({ state: "idle", lastError: null });
    return this.start();
  }

  stop() {
    for (const remove of this._listeners.splice(0)) remove();
    clearInterval(this._timer);
    clearTimeout(this._retry);
    this._timer = this._retry = null;
  }

  // --- sync ---------------------------------------------------------------------------------

  // Push then pull. Resolves (never rejects) with the status once a sync that started after this
  // call has finished.
  sync() {
    if (this.stopped) return Promise.resolve({ ...this.status });
    // Surely offline: no request can succeed, and the `online` event brings the next sync.
    // (navigator.onLine true proves nothing, so everything else is tried.)
    if (typeof navigator !== "undefined" && navigator.onLine === false) {
      this._set({ state: "offline", online: false });
      return this.refreshStatus().catch(() => ({ ...this.status }));
    }
    if (this._running) {
      this._again = true;
      return this._running;
    }
    this._running = (async () => {
      try {
        do {
          this._again = false;
          await this._locked(() => this._once());
        } while (this._again && !this.stopped);
      } finally {
        this._running = null;
      }
      return { ...this.status };
    })();
    return this._running;
  }

  _locked(body) {
    if (typeof navigator !== "undefined" && navigator.locks) return navigator.locks.request("poppass-sync", body);
    return body();
  }

  async _once() {
    clearTimeout(this._retry);
    this._retry = null;
    this._set({ state: "syncing" });
    try {
      await this._push();
      await this._pull();
      this.failures = 0;
      this.batchSize = this.maxBatch;
      this._set({ state: "idle", online: true, lastSyncAt: Date.now(), lastError: null });
    } catch (error) {
      if (error instanceof Retry) {
        this.failures += 1;
        const delay = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** (this.failures - 1));
        const jittered = Math.round(delay * (0.75 + Math.random() * 0.5)); // many tablets, one Wi-Fi
        // A server that said when to come back (503 disk_full, 429) is not asked sooner.
        this._retry = setTimeout(() => this.sync(), Math.max(jittered, error.retryAfterMs));
        // A failed fetch with navigator.onLine false is no network; with it true (or a 5xx), the
        // network is there and the server is not.
        const offline =
          /^network/.test(error.message) && typeof navigator !== "undefined" && navigator.onLine === false;
        this._set({ state: offline ? "offline" : UNREACHABLE, online: !offline, lastError: error.message });
      } else if (error instanceof Halt) {
        // state already set by whoever halted
      } else {
        this._set({ state: "error", lastError: `${error?.name ?? "Error"}: ${error?.message ?? error}` });
      }
    }
    if (!this.stopped) await this.refreshStatus().catch(() => {});
  }

  async _refuse(status, body) {
    if (status === 403 && body.wipe === true) {
      // Remembered before the wipe: a page closed halfway through still knows why it is empty.
      this.onRevoked();
      await this.store.wipe();
      this.stop();
      this._set({ state: REVOKED, lastError: body.error ?? "device_revoked", pending: 0, clockOffsetMs: null });
      throw new Halt(REVOKED);
    }
    if (status === 401) {
      // Keep the outbox: after a new enrollment its ops go out under the new device id.
      this.stop();
      this._set({ state: NOT_ENROLLED, lastError: body.error ?? "unauthorized" });
      throw new Halt(NOT_ENROLLED);
    }
    if (status >= 500 || status === 0 || status === 429 || status === 408) {
      throw new Retry(`server: ${status} ${body.error ?? ""}`.trim(), body[RETRY_AFTER] ?? 0);
    }
    // 400 and anything unexpected: a bug on one side; resending it unchanged cannot help, and
    // the op stays in the outbox for a fixed client to send.
    this._set({ state: "error", lastError: `${status} ${body.error ?? ""} ${body.where ?? ""}`.trim() });
    throw new Halt(String(status));
  }

  async _device() {
    const device = await this.store.device();
    if (!device) {
      this.stop();
      this._set({ state: NOT_ENROLLED, lastError: "not enrolled" });
      throw new Halt(NOT_ENROLLED);
    }
    return device;
  }

  async _push() {
    const device = await this._device();
    let stuck = 0; // 409s in a row: a server and a client that disagree must not loop forever
    for (;;) {
      const ops = await this.store.pending(this.batchSize);
      if (!ops.length) return;
      const [total, logId] = await Promise.all([this.store.count(), this.store.logId()]);
      const body = {
        protocol: PROTOCOL,
        device_id: device.device_id,
        sent_at_ms: Date.now(), // the tablet's own clock, uncorrected: the server measures from it
        ops,
        pending: total - ops.length,
      };
      if (logId) body.log_id = logId;
      const answer = await call(this.baseUrl, "POST", "/api/v1/push", { token: device.device_token, body });
      const { status } = answer;
      const reply = answer.body;
      if (status === 200) {
        stuck = 0;
        await this.store.acknowledge(reply.last_seq, reply.clock_offset_ms);
        if (!logId && typeof reply.log_id === "string") await this.store.saveLogId(reply.log_id);
        this._set({ pending: Math.max(0, total - ops.filter((op) => op.device_seq <= reply.last_seq).length) });
        if (reply.last_seq < ops[ops.length - 1].device_seq) {
          // The server answered 200 but did not apply the whole batch: never spin on it.
          throw new Retry(`server: applied up to ${reply.last_seq} of ${ops[ops.length - 1].device_seq}`);
        }
        if (Number.isSafeInteger(reply.clock_offset_ms)) this._set({ clockOffsetMs: reply.clock_offset_ms });
        continue;
      }
      if (status === 409 && reply.error === "log_changed" && stuck < 3) {
        stuck += 1;
        await this._recover(reply);
        continue;
      }
      if (status === 409 && ++stuck > 3) {
        this._set({ state: "error", lastError: `409 ${reply.error} repeated` });
        throw new Halt("409");
      }
      if (status === 409 && reply.error === "gap" && Number.isSafeInteger(reply.resend_from)) {
        if (ops[0].device_seq < reply.resend_from) {
          await this.store.dropBefore(reply.resend_from); // the server has those already
        } else {
          // The server has not got resend_from … ops[0] − 1 and neither have we any more (e.g.
          // the server's database went back to a backup after it acknowledged them). They
          // cannot be sent again; renumbering what we still hold keeps the queue moving.
          await this.store.renumberFrom(reply.resend_from);
          this._set({ warning: `gap: ops ${reply.resend_from}–${ops[0].device_seq - 1} were lost` });
        }
        continue;
      }
      if (status === 409 && reply.error === "seq_reused" && Number.isSafeInteger(reply.last_seq)) {
        await this.store.renumberAfter(reply.last_seq);
        continue;
      }
      if (status === 413 && ops.length > 1) {
        this.batchSize = Math.max(1, Math.floor(ops.length / 2));
        continue;
      }
      await this._refuse(status, reply);
    }
  }

  async _pull() {
    const device = await this._device();
    let after = await this.store.cursor();
    let restores = 0;
    for (;;) {
      const sentAt = Date.now();
      const onShift = (this.clerk() || "").slice(0, 80);
      const logId = await this.store.logId();
      const query =
        `after=${after}&limit=${this.pullLimit}&sent_at_ms=${sentAt}` +
        (onShift ? `&clerk=${encodeURIComponent(onShift)}` : "") +
        (logId ? `&log=${encodeURIComponent(logId)}` : "");
      const answer = await call(this.baseUrl, "GET", `/api/v1/pull?${query}`, { token: device.device_token });
      if (answer.status === 409 && answer.body.error === "log_changed" && restores++ < 3) {
        // Nothing to push had hidden the restore until now: send again what was kept, then pull
        // from the start.
        await this._recover(answer.body);
        await this._push();
        after = await this.store.cursor();
        continue;
      }
      if (answer.status !== 200) await this._refuse(answer.status, answer.body);
      const page = answer.body;
      if (!logId && typeof page.log_id === "string") await this.store.saveLogId(page.log_id);
      // Applied first, cursor second: a crash in between pulls the same page again, harmlessly.
      await this.onPull(page);
      await this.store.saveCursor(page.cursor);
      if (Number.isSafeInteger(page.server_time_ms)) {
        // The server records server now − sent_at_ms for this pull; the tablet keeps the same.
        const offset = page.server_time_ms - sentAt;
        await this.store.saveClockOffset(offset);
        this._set({ clockOffsetMs: offset });
      }
      if (!page.more || page.cursor <= after) {
        await this._rotationKeys(device, page.rotation_epoch);
        return;
      }
      after = page.cursor;
    }
  }

  // `409 log_changed` (docs/sync-protocol.md, "After a restore"): the kept ops go back into the
  // outbox, the cursor to the start, the conflicts are forgotten until pulled again.
  async _recover(reply) {
    if (!Number.isSafeInteger(reply.last_seq) || typeof reply.log_id !== "string") {
      this._set({ state: "error", lastError: "409 log_changed without last_seq or log_id" });
      throw new Halt("409");
    }
    const outcome = await this.store.recover({ lastSeq: reply.last_seq, logId: reply.log_id });
    await this.onLogChanged(outcome);
    this._set({
      pending: await this.store.count(),
      warning: outcome.lost ? `restore: ${outcome.lost} ops were older than the tablet keeps, and are lost` : null,
    });
  }

  // The pull names the event's rotation epoch, never its keys: when it is not the one this
  // tablet holds (a tablet was revoked), fetch the keys (docs/sync-protocol.md, "Rotation keys");
  // so does a tablet enrolled before protocol 2, which has no phone search key.
  async _rotationKeys(device, epoch) {
    const current = !Number.isSafeInteger(epoch) || epoch === (device.rotation_epoch ?? 1);
    if (current && device.phone_search_key) return;
    const answer = await call(this.baseUrl, "GET", "/api/v1/rotation-keys", { token: device.device_token });
    if (answer.status !== 200) await this._refuse(answer.status, answer.body);
    await this.store.saveRotationKeys(answer.body);
  }
}

// The attendee's wallet on their phone: draws each rotating voucher's QR with its current TOTP
// code (the voucher's own secret is on the page; the event's rotation key never is) and shows
// that code in digits beside the voucher's short code, for a clerk to type; counts
// down to the next code and to the end of each voucher's validity, keeps a copy of the page for
// offline use, and listens for the server's live state (redeemed, voided…) over a websocket.
import { _, loadCatalogue } from "./i18n.js";
import { qrSvg } from "./qr-encode.js";
import { totp } from "./token.js";

const STEP_SECONDS = 15;
export const WALLET_CACHE = "poppass-wallets"; // kept across app updates (web/static/sw.js)
const STATE_KEY = "poppass.wallet-state:";
const OFFSET_KEY = "poppass.wallet-clock-offset";
// Within a step either way the tablets accept the code anyway; beyond it the server's time
// (measured over the live channel) corrects a phone whose clock is wrong.
const OFFSET_APPLIED_BEYOND_MS = STEP_SECONDS * 1000;
const RETRY_MS = [1000, 2000, 5000, 10000, 30000];

const wallet = document.getElementById("wallet");
const items = () => [...wallet.querySelectorAll(".wallet-item")];

function clockOffsetMs() {
  const offset = Number(localStorage.getItem(OFFSET_KEY) || 0);
  return Math.abs(offset) > OFFSET_APPLIED_BEYOND_MS ? offset : 0;
}

export function nowMs() {
  return Date.now() + clockOffsetMs();
}

function timeOfDay(ms) {
  return new Date(ms).toLocaleTimeString(document.documentElement.lang || undefined, {
    hour: "2-digit",
    minute: "2-digit",
  });
}

// --- rotating codes ---------------------------------------------------------------------------

async function drawRotating(item) {
  const seconds = Math.floor(nowMs() / 1000);
  const step = Math.floor(seconds / STEP_SECONDS);
  const figure = item.querySelector(".wallet-qr");
  if (figure.dataset.step !== String(step)) {
    const code = await totp(item.dataset.secret, step * STEP_SECONDS);
    // The token, a hyphen, the code (docs/token-format.md): all QR alphanumeric characters.
    const text = `${item.dataset.token}-${code}`;
    figure.replaceChildren(await qrSvg(text, { label: _("Voucher code, changes every 15 seconds") }));
    figure.dataset.step = String(step);
    figure.dataset.code = code;
    figure.dataset.text = text;
    // The same code, to be read aloud when the camera cannot read the screen: "123 456".
    const digits = item.querySelector(".rotating-digits");
    digits.textContent = `${code.slice(0, 3)} ${code.slice(3)}`;
    digits.setAttribute("aria-label", code.split("").join(" "));
  }
  const left = STEP_SECONDS - (seconds % STEP_SECONDS);
  item.querySelector(".rotating-countdown").textContent = _("New code in %(seconds)s s", { seconds: left });
}

// --- validity ---------------------------------------------------------------------------------

function duration(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return _("%(hours)s h %(minutes)s min", { hours: h, minutes: m });
  return `${m}:${String(s).padStart(2, "0")}`;
}

function showValidity(item) {
  const ends = item.querySelector(".validity-countdown");
  const until = Number(item.dataset.validUntil || 0);
  const from = Number(item.dataset.validFrom || 0);
  const now = Math.floor(nowMs() / 1000);
  const state = item.dataset.state;
  if (state === "valid" && until && now >= until) setState(item, "expired", _("Expired"));
  else if (state === "not_yet_valid" && now >= from && (!until || now < until)) setState(item, "valid", _("Valid"));
  if (!until || item.dataset.state !== "valid") ends.textContent = "";
  else ends.textContent = _("%(time)s left", { time: duration(until - now) });
}

function setState(item, state, label) {
  item.dataset.state = state;
  const badge = item.querySelector(".wallet-state");
  badge.dataset.state = state;
  badge.textContent = label;
}

// --- the live state ---------------------------------------------------------------------------

const stateKey = () => STATE_KEY + wallet.dataset.livePath;
// When the state on screen was last true: the page's rendering, or the newest snapshot heard.
let lastHeardMs = Number(wallet.dataset.renderedAtMs);

function applySnapshot(snapshot) {
  const known = new Map(items().map((item) => [item.dataset.id, item]));
  for (const entry of snapshot.items) {
    const item = known.get(entry.id);
    if (item) setState(item, entry.state, entry.label);
  }
  return snapshot.items.some((entry) => !known.has(entry.id));
}

function restoreSnapshot() {
  // A copy of the page from the cache may be older than the last state the phone heard.
  try {
    const saved = JSON.parse(localStorage.getItem(stateKey()) || "null");
    if (saved && saved.server_time_ms > lastHeardMs) {
      applySnapshot(saved);
      lastHeardMs = saved.server_time_ms;
    }
  } catch {
    // A damaged copy: the page's own state stands.
  }
}

function showLive(state) {
  const line = document.getElementById("wallet-live");
  line.dataset.state = state;
  line.textContent =
    state === "live"
      ? _("Live: this page updates by itself")
      : _("Offline: as of %(time)s", { time: timeOfDay(lastHeardMs) });
}

function connect() {
  let socket = null;
  let attempt = 0;
  let retry = null;

  const open = () => {
    clearTimeout(retry);
    if (socket && socket.readyState <= WebSocket.OPEN) return;
    if (navigator.onLine === false) {
      showLive("offline");
      return; // the "online" event opens it, without an error first
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}${wallet.dataset.livePath}`);
    socket.addEventListener("message", (event) => {
      const snapshot = JSON.parse(event.data);
      if (snapshot.type !== "state") return;
      attempt = 0;
      lastHeardMs = snapshot.server_time_ms;
      localStorage.setItem(OFFSET_KEY, String(snapshot.server_time_ms - Date.now()));
      localStorage.setItem(stateKey(), event.data);
      showLive("live");
      // A voucher given to this attendee since the page was drawn: draw the page again.
      if (applySnapshot(snapshot) && navigator.onLine !== false) location.reload();
      else if (
        Number.isSafeInteger(snapshot.rotation_epoch) &&
        String(snapshot.rotation_epoch) !== wallet.dataset.rotationEpoch
      ) {
        refreshSecrets().catch((error) => console.warn("PopPass: the new voucher codes could not be fetched", error));
      }
    });
    socket.addEventListener("close", (event) => {
      showLive("offline");
      if (event.code === 4404) return; // this wallet no longer exists: nothing to wait for
      retry = setTimeout(open, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
    });
  };
  // Back online, or back to the phone's screen: reconnect now rather than at the next retry.
  window.addEventListener("online", open);
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && open());
  open();
}

// --- new secrets ------------------------------------------------------------------------------

// A tablet was revoked: the event's rotation key it held is retired, and with it every rotating
// voucher's secret (docs/adr/0007). The page from the server carries the new ones; they replace
// the old in place (no reload: the attendee may be holding the phone up to a camera), and that
// page becomes the offline copy, so a wallet opened later offline shows working codes too.
let refreshing = null;
function refreshSecrets() {
  refreshing ??= (async () => {
    const response = await fetch(location.pathname, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) return;
    const copy = response.clone();
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("wallet");
    if (!fresh) return;
    for (const item of items()) {
      const secret = fresh.querySelector(`.wallet-item[data-id="${CSS.escape(item.dataset.id)}"]`)?.dataset.secret;
      if (item.dataset.rotating !== "true" || !secret || secret === item.dataset.secret) continue;
      item.dataset.secret = secret;
      delete item.querySelector(".wallet-qr").dataset.step; // the next tick draws the new code
    }
    wallet.dataset.rotationEpoch = fresh.dataset.rotationEpoch;
    await tick();
    if ("caches" in window) await (await caches.open(WALLET_CACHE)).put(location.pathname, copy);
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

// --- offline copy -----------------------------------------------------------------------------

async function keepOfflineCopy() {
  if (!("serviceWorker" in navigator) || !("caches" in window)) return;
  await navigator.serviceWorker.ready;
  // Stored here, not left to the worker: the first visit came before it, and even a page it
  // controls may have been claimed after its navigation, or its copy may still be on the way.
  if (navigator.onLine !== false) {
    const cache = await caches.open(WALLET_CACHE);
    const response = await fetch(location.pathname, { cache: "no-store", credentials: "same-origin" });
    if (response.ok) await cache.put(location.pathname, response);
  }
  document.body.dataset.walletCached = "true";
}

// --- the clock --------------------------------------------------------------------------------

// A used, expired or voided voucher keeps its last code, greyed out: no fresh code to try again.
const SHOWS_CODES = new Set(["valid", "not_yet_valid"]);

async function tick() {
  for (const item of items()) {
    if (item.dataset.rotating === "true") {
      if (SHOWS_CODES.has(item.dataset.state) || !item.querySelector(".wallet-qr svg")) await drawRotating(item);
      else item.querySelector(".rotating-countdown").textContent = "";
    }
    showValidity(item);
  }
}

function schedule() {
  // Once a second: the countdowns move, and a new step draws a new code on time.
  setTimeout(
    async () => {
      await tick();
      schedule();
    },
    1000 - (nowMs() % 1000),
  );
}

async function start() {
  await loadCatalogue();
  restoreSnapshot();
  await tick();
  // Time to first QR, from navigation start (bench/wallet.py reads it).
  performance.mark("poppass:wallet-first-qr");
  document.body.dataset.walletReady = "true";
  schedule();
  connect();
  keepOfflineCopy().catch((error) => console.warn("PopPass: no offline copy of the wallet", error));
}

start();

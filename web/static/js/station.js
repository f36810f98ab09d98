// The station page: enrolls the tablet once, then keeps it syncing and shows the sync badge.
// The tablet's identity lives in IndexedDB (outbox.js); the page is the same for every tablet.
import { _, language, loadCatalogue } from "./i18n.js";
import { openOutbox } from "./outbox.js";
import { REVOKED, SyncClient, enroll } from "./sync-client.js";

const CLERK_KEY = "poppass.clerk";
// DESIGN.md, "Clocks": warn the clerk past two minutes of skew.
const SKEW_WARN_MS = 120_000;

const $ = (id) => document.getElementById(id);

function show(id) {
  for (const section of ["enroll", "ready", "revoked"]) $(section).hidden = section !== id;
}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

async function newKeyPair() {
  // Non-extractable: the private key never leaves this browser, not even to our own code.
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: base64url(raw) };
}

function clockTime(ms) {
  return new Intl.DateTimeFormat(language(), { hour: "2-digit", minute: "2-digit" }).format(new Date(ms));
}

function renderBadge(status) {
  const badge = $("sync-badge");
  const parts = [];
  if (status.state === "syncing") parts.push(_("Syncing…"));
  else if (status.online && status.state !== "offline") parts.push(_("Online"));
  else parts.push(_("Offline"));
  parts.push(_("%(count)s waiting", { count: status.pending }));
  parts.push(status.lastSyncAt ? _("last sync %(time)s", { time: clockTime(status.lastSyncAt) }) : _("not synced yet"));
  if (status.clockOffsetMs !== null && Math.abs(status.clockOffsetMs) > SKEW_WARN_MS) {
    parts.push(_("Clock is off by %(minutes)s min: check the tablet's time", { minutes: Math.round(status.clockOffsetMs / 60_000) }));
  }
  badge.textContent = parts.join(" · ");
  badge.dataset.state = status.online && status.state !== "offline" ? status.state : "offline";
  badge.dataset.clock = status.clockOffsetMs !== null && Math.abs(status.clockOffsetMs) > SKEW_WARN_MS ? "warn" : "ok";
}

function showReady(device) {
  $("ready-event").textContent = device.event?.name ?? "";
  $("ready-tablet").textContent = device.device_name;
  $("ready-clerk").textContent = localStorage.getItem(CLERK_KEY) ?? "";
  $("clerk-name").value = localStorage.getItem(CLERK_KEY) ?? "";
  show("ready");
}

function startSync(store) {
  const client = new SyncClient({ store });
  client.addEventListener("status", () => {
    renderBadge(client.status);
    if (client.status.state === REVOKED) {
      localStorage.removeItem(CLERK_KEY);
      show("revoked");
    }
  });
  renderBadge(client.status);
  client.start();
  return client;
}

const ENROLL_ERRORS = {
  invalid_code: () => _("That code is not valid. Check it and try again."),
  code_used: () => _("That code was already used. Ask the organizer for a new one."),
  code_expired: () => _("That code has expired. Ask the organizer for a new one."),
};

async function main() {
  await loadCatalogue(language());
  const store = await openOutbox();
  const device = await store.device();
  if (device) {
    showReady(device);
    startSync(store);
  } else {
    $("sync-badge").textContent = _("Not enrolled");
    show("enroll");
  }

  $("enroll").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const error = $("enroll-error");
    error.hidden = true;
    form.querySelector("button").disabled = true;
    try {
      const { privateKey, publicKey } = await newKeyPair();
      await enroll(store, { code: form.code.value.trim(), publicKey, privateKey });
      localStorage.setItem(CLERK_KEY, form.clerk.value.trim());
      showReady(await store.device());
      startSync(store);
    } catch (failure) {
      const words = ENROLL_ERRORS[failure.reason];
      error.textContent = words ? words() : _("Could not reach the server. Check the network and try again.");
      error.hidden = false;
    } finally {
      form.querySelector("button").disabled = false;
    }
  });

  $("clerk-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = event.currentTarget.clerk.value.trim();
    if (!name) return;
    localStorage.setItem(CLERK_KEY, name);
    $("ready-clerk").textContent = name;
  });
}

main();

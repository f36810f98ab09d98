// What every station screen shares: the tablet's stores, its ledger, one sync client, the sync
// badge, the clerk on shift and the corrected clock. Each screen's module calls openStation()
// and gets them ready to use, with the network on or off.
import { _, language, loadCatalogue } from "./i18n.js";
import { Ledger } from "./ledger.js";
import { openOutbox } from "./outbox.js";
import { REVOKED, SyncClient, UNREACHABLE } from "./sync-client.js";

export const CLERK_KEY = "poppass.clerk";
const REVOKED_KEY = "poppass.revoked";
// The last complete sync, kept on the tablet so a reload (offline, say) still tells the clerk
// how old what the tablet holds is: {device_id, at} in Date.now() milliseconds.
export const LAST_SYNC_KEY = "poppass.last-sync";
// The verdict sounds and vibrations are off while this is "1" (the switch in the station bar).
export const MUTE_KEY = "poppass.muted";
// docs/sync-protocol.md, "Clocks": warn the clerk past two minutes of skew.
export const SKEW_WARN_MS = 120_000;

export const $ = (id) => document.getElementById(id);

// The voucher conflicts a tablet pulls (docs/sync-protocol.md, "Conflicts"), in the clerk's words:
// the same messages as the console's (server/reasons.py), so one translation serves both.
export function conflictWords(kind) {
  switch (kind) {
    case "over_redemption":
      return _("Used more times than allowed");
    case "redeemed_after_void":
      return _("Redeemed after it was cancelled");
    case "out_of_window":
      return _("Redeemed outside its validity");
    case "untrusted_issuer":
      return _("Issued by a device that is not trusted");
    default:
      return _("Conflict");
  }
}

export function conflictStatusWords(status) {
  if (status === "resolved") return _("Resolved by the organizer");
  if (status === "cleared") return _("Cleared: nothing left to decide");
  return _("Open: the organizer will decide");
}

// The nav's count of open conflicts about vouchers this tablet touched.
function renderConflictCount(ledger) {
  const count = $("nav-conflicts-count");
  if (!count) return;
  const open = ledger.conflictsTouched().filter((c) => c.status === "open").length;
  count.textContent = open ? String(open) : "";
  count.hidden = !open;
}

export function clockTime(ms) {
  return new Intl.DateTimeFormat(language(), { hour: "2-digit", minute: "2-digit" }).format(new Date(ms));
}

export function clerk() {
  return localStorage.getItem(CLERK_KEY) ?? "";
}

export function setClerk(name) {
  localStorage.setItem(CLERK_KEY, name);
  const bar = $("bar-clerk");
  if (bar) bar.textContent = name;
}

export function isMuted() {
  return localStorage.getItem(MUTE_KEY) === "1";
}

export function setMuted(muted) {
  if (muted) localStorage.setItem(MUTE_KEY, "1");
  else localStorage.removeItem(MUTE_KEY);
}

function wireMuteSwitch() {
  const box = $("station-mute");
  if (!box) return;
  box.checked = isMuted();
  box.addEventListener("change", () => setMuted(box.checked));
}

/** A campaign's title, terms and value in the page's language (`texts`, sent by the server
 * beside each campaign), each falling back to the campaign's own field. */
export function campaignTexts(campaign, lang = language()) {
  const texts = campaign?.texts?.[lang] ?? {};
  return {
    title: texts.title || campaign?.title || "",
    terms: texts.terms || campaign?.terms || "",
    value: texts.value || campaign?.value || "",
  };
}

function savedLastSync(deviceId) {
  try {
    const saved = JSON.parse(localStorage.getItem(LAST_SYNC_KEY) ?? "null");
    return saved?.device_id === deviceId && Number.isSafeInteger(saved.at) ? saved.at : null;
  } catch {
    return null;
  }
}

export function wasRevoked() {
  return localStorage.getItem(REVOKED_KEY) === "1";
}

export function forgetRevocation() {
  localStorage.removeItem(REVOKED_KEY);
}

// "offline": the tablet has no network at all; "unreachable": it has one, but the server does
// not answer (down, or the venue Wi-Fi has no way to it). The clerk calls someone different.
function connectionState(status) {
  if (status.state === "offline" || !status.online) return "offline";
  if (status.state === UNREACHABLE) return UNREACHABLE;
  return status.state;
}

function renderBadge(status) {
  const badge = $("sync-badge");
  if (!badge) return;
  const parts = [];
  const state = connectionState(status);
  if (state === "syncing") parts.push(_("Syncing…"));
  else if (state === "offline") parts.push(_("Offline"));
  else if (state === UNREACHABLE) parts.push(_("Server unreachable"));
  else parts.push(_("Online"));
  parts.push(_("%(count)s waiting", { count: status.pending }));
  parts.push(status.lastSyncAt ? _("last sync %(time)s", { time: clockTime(status.lastSyncAt) }) : _("not synced yet"));
  const skewed = status.clockOffsetMs !== null && Math.abs(status.clockOffsetMs) > SKEW_WARN_MS;
  if (skewed) {
    parts.push(
      _("Clock is off by %(minutes)s min: check the tablet's time", {
        minutes: Math.round(status.clockOffsetMs / 60_000),
      }),
    );
  }
  badge.textContent = parts.join(" · ");
  badge.dataset.state = state;
  badge.dataset.clock = skewed ? "warn" : "ok";
  badge.dataset.pending = String(status.pending);
}

/**
 * Open the tablet's state. Resolves to null when the tablet is not enrolled (the screen then
 * shows where to set it up), else to {store, device, ledger, client, nowMs(), nowSeconds(),
 * record(op)}: `record` stamps the clerk and applies the op to the ledger with the outbox.
 */
export async function openStation() {
  await loadCatalogue(language());
  wireMuteSwitch();
  const store = await openOutbox();
  const device = await store.device();
  if (!device) {
    const badge = $("sync-badge");
    if (badge) badge.textContent = _("Not enrolled");
    return { store, device: null };
  }
  const ledger = await Ledger.open(store);
  // After each pull page the screens re-read what they show from the ledger ("poppass:pulled").
  const onPull = async (page) => {
    await ledger.applyPull(page);
    renderConflictCount(ledger);
    document.dispatchEvent(new CustomEvent("poppass:pulled"));
  };
  // The server's database was restored: its conflicts come again with the pull from the start.
  const onLogChanged = async () => {
    ledger.forgetConflicts();
    renderConflictCount(ledger);
  };
  const client = new SyncClient({
    store,
    onPull,
    onLogChanged,
    onRevoked: rememberRevocation,
    clerk,
    lastSyncAt: savedLastSync(device.device_id),
  });
  let offsetMs = (await store.clockOffset()) ?? 0;
  client.addEventListener("status", () => {
    renderBadge(client.status);
    const { lastSyncAt } = client.status;
    if (lastSyncAt && lastSyncAt !== savedLastSync(device.device_id)) {
      localStorage.setItem(LAST_SYNC_KEY, JSON.stringify({ device_id: device.device_id, at: lastSyncAt }));
    }
    if (client.status.clockOffsetMs !== null) offsetMs = client.status.clockOffsetMs;
    if (client.status.state === REVOKED) window.location.replace("/station");
  });
  const nav = $("station-nav");
  if (nav) nav.hidden = false;
  setClerk(clerk());
  renderBadge(client.status);
  renderConflictCount(ledger);
  client.start();
  const nowMs = () => Date.now() + offsetMs;
  // Every op carries a clerk: the one on shift, else the tablet's name.
  const clerkName = () => clerk() || device.device_name || "?";
  return {
    store,
    device,
    ledger,
    client,
    nowMs,
    nowSeconds: () => nowMs() / 1000,
    // Measured at the last sync; null before the first one.
    clockOffsetMs: () => client.status.clockOffsetMs,
    clerkName,
    record: (op) => ledger.record(client, { ...op, clerk: clerkName() }),
  };
}

/** Marks the screen as ready for input: every listener is attached (tests wait for it). */
export function ready() {
  document.body.dataset.stationReady = "true";
}

function rememberRevocation() {
  localStorage.removeItem(CLERK_KEY);
  localStorage.removeItem(LAST_SYNC_KEY);
  localStorage.setItem(REVOKED_KEY, "1");
}

/** A screen that needs an enrolled tablet shows where to set it up instead (the home page says
 * why, when the tablet was revoked). */
export function needsEnrollment() {
  if (wasRevoked()) {
    window.location.replace("/station");
    return;
  }
  const notice = $("needs-enrollment");
  if (notice) notice.hidden = false;
  // Everything that needs the tablet's identity goes, the camera with it (never a black box).
  for (const element of document.querySelectorAll(
    "[data-station] > .card, [data-station] > form, [data-station] > .scan-panes",
  )) {
    element.hidden = true;
  }
  ready();
}

/** Phone numbers on screen: enough to tell two people apart, no more. */
/** A phone's last 4 digits (all a tablet holds of it) as the clerk sees them: ···8000. */
export function maskedPhone(phone) {
  const digits = String(phone ?? "").replace(/\D/g, "");
  return digits.length >= 4 ? `···${digits.slice(-4)}` : "";
}

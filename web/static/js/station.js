// The station's home: enrolls the tablet once (a non-extractable Ed25519 key made here, a
// one-time code from the organizer), then shows the event, the tablet and the clerk on shift.
import { _ } from "./i18n.js";
import { startScanner } from "./scanner.js";
import { $, clerk, forgetRevocation, openStation, ready, setClerk, wasRevoked } from "./station-app.js";
import { enroll } from "./sync-client.js";
import { base64UrlEncode } from "./token.js";

// An enrollment QR holds the code itself or a link to this page with `?code=`.
const CODE_PATTERN = /^[A-Z0-9 -]{12,32}$/i;

export function codeFrom(scanned) {
  const text = String(scanned ?? "").trim();
  try {
    const url = new URL(text);
    if (url.pathname === "/station" && url.searchParams.get("code")) return url.searchParams.get("code");
  } catch {
    // not a URL
  }
  return CODE_PATTERN.test(text) ? text : null;
}

function show(id) {
  for (const section of ["enroll", "ready", "revoked"]) $(section).hidden = section !== id;
}

async function newKeyPair() {
  // Non-extractable: the private key never leaves this browser, not even to our own code.
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: base64UrlEncode(raw) };
}

function showReady(device) {
  $("ready-event").textContent = device.event?.name ?? "";
  $("ready-tablet").textContent = device.device_name;
  $("ready-clerk").textContent = clerk();
  $("clerk-name").value = clerk();
  show("ready");
}

const ENROLL_ERRORS = {
  invalid_code: () => _("That code is not valid. Check it and try again."),
  code_used: () => _("That code was already used. Ask the organizer for a new one."),
  code_expired: () => _("That code has expired. Ask the organizer for a new one."),
};

async function main() {
  const station = await openStation();
  if (station.device) {
    showReady(station.device);
  } else {
    show(wasRevoked() ? "revoked" : "enroll");
    if (wasRevoked()) $("enroll").hidden = false; // it may be enrolled again with a new code
  }

  // Opened from the organizer's enrollment QR with a phone-style camera app: the code is in the URL.
  const linked = codeFrom(window.location.href);
  if (linked && !station.device) $("enroll-code").value = linked;

  let stopCamera = null;
  $("enroll-scan").addEventListener("click", async () => {
    const video = $("enroll-camera");
    if (stopCamera) return;
    video.hidden = false;
    try {
      stopCamera = await startScanner(video, {
        onScan: (text) => {
          const code = codeFrom(text);
          if (!code) return;
          $("enroll-code").value = code;
          stopCamera?.();
          stopCamera = null;
          video.hidden = true;
          $("enroll-clerk").focus();
        },
      });
    } catch {
      video.hidden = true;
      $("enroll-error").textContent = _("No camera could be opened: type the code instead.");
      $("enroll-error").hidden = false;
    }
  });

  $("enroll").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const error = $("enroll-error");
    error.hidden = true;
    form.querySelector("button").disabled = true;
    try {
      const { privateKey, publicKey } = await newKeyPair();
      await enroll(station.store, { code: form.code.value.trim(), publicKey, privateKey });
      setClerk(form.clerk.value.trim());
      forgetRevocation();
      // A tablet holds ops nobody else has yet: ask the browser never to evict them.
      await navigator.storage?.persist?.().catch(() => false);
      window.location.assign("/station/scan");
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
    setClerk(name);
    $("ready-clerk").textContent = name;
  });
  ready();
}

main();

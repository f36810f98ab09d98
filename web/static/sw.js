// PopPass service worker: served from the root (/sw.js) so it controls the whole app.
//
// VERSION is filled in by the server (server/controllers/pwa.py) with a hash of everything
// under web/static and of the translation catalogues, so any change to an asset changes this
// file, which makes browsers install the new worker with a fresh cache; activation deletes
// every older "poppass-shell-*" cache. Nobody has to remember to bump it.
const VERSION = "__SHELL_VERSION__";
const CACHE = `poppass-shell-${VERSION}`;
const CACHE_PREFIX = "poppass-shell-";
// Attendees' wallet pages (each holds that attendee's tokens and voucher secrets, nobody
// else's): kept apart from the shell so that an app update does not throw them away.
const WALLET_CACHE = "poppass-wallets";

// What every browser needs offline, attendees' phones and tablets alike.
// cache.addAll() is atomic: one 404 here and the install fails silently, so every entry must be
// a route the server really answers with 200 (e2e/test_pwa.py checks).
const COMMON_SHELL = [
  "/",
  "/static/css/app.css",
  "/static/js/i18n.js",
  "/static/js/token.js",
  "/static/js/pwa.js",
  "/static/js/qr-encode.js",
  "/static/vendor/qrcode-generator-2.0.4.min.js",
  "/static/icons/icon.svg",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
  "/manifest.webmanifest",
  "/i18n/en.json",
  "/i18n/zh-CN.json",
];
// Only attendees' pages (event page, sign-up, wallet, voucher): a tablet never loads them, and
// its pages carry no htmx, so it does not precache them (the station's precache stays under 120 KB
// gzipped: docs/adr/0006-scripts-minified-at-start-up.md).
const PUBLIC_SHELL = ["/static/css/public.css", "/static/vendor/htmx-2.0.11.min.js", "/static/js/wallet.js"];
// Only the clerk's station: precached when a station page installs the worker or asks for it
// (pwa.js), so an attendee's phone never downloads the tablet app and its QR decoder.
const STATION_SHELL = [
  "/station",
  "/station/scan",
  "/station/checkin",
  "/station/register",
  "/station/issue",
  "/station/conflicts",
  "/static/css/station.css",
  "/static/js/reasons.js",
  "/static/js/outbox.js",
  "/static/js/sync-client.js",
  "/static/js/station.js",
  "/static/js/station-app.js",
  "/static/js/station-scan.js",
  "/static/js/station-verdict.js",
  "/static/js/station-checkin.js",
  "/static/js/station-register.js",
  "/static/js/station-issue.js",
  "/static/js/station-qr.js",
  "/static/js/station-conflicts.js",
  "/static/js/ledger.js",
  "/static/js/manual-entry.js",
  "/static/js/verdict.js",
  "/static/js/mint.js",
  "/static/js/scanner.js",
  "/static/js/qr-decode.js",
  "/static/js/qr-decode-worker.js",
  "/static/vendor/jsQR-1.4.0.min.js",
];

// How long a page request waits for the network before the cached copy is served.
const NETWORK_TIMEOUT_MS = 1500;

const fresh = (urls) => urls.map((url) => new Request(url, { cache: "reload" }));

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const tablet = windows.some((client) => new URL(client.url).pathname.startsWith("/station"));
      const cache = await caches.open(CACHE);
      await cache.addAll(fresh([...COMMON_SHELL, ...(tablet ? STATION_SHELL : PUBLIC_SHELL)]));
      await self.skipWaiting();
    })(),
  );
});

// A station page in a browser whose worker was installed from another page: fetch what is missing.
async function precacheStation() {
  const cache = await caches.open(CACHE);
  const missing = [];
  for (const url of STATION_SHELL) if (!(await cache.match(url, { ignoreVary: true }))) missing.push(url);
  if (missing.length) await cache.addAll(fresh(missing));
}

self.addEventListener("message", (event) => {
  if (event.data?.type !== "precache-station") return;
  event.waitUntil(
    precacheStation()
      .then(() => event.source?.postMessage({ type: "station-precached" }))
      .catch((error) => event.source?.postMessage({ type: "station-precache-failed", error: String(error) })),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE).map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // The sync client handles network errors itself: the API never sees a cached answer.
  if (url.pathname.startsWith("/api/")) return;
  // An htmx fragment must never be answered with a cached full page: network only.
  if (request.headers.get("HX-Request") === "true") return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(event));
  } else {
    event.respondWith(networkFirst(event));
  }
});

function cacheable(response) {
  return response?.ok && response.type === "basic";
}

async function cacheFirst(event) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(event.request, { ignoreVary: true });
  if (cached) return cached;
  const response = await fetch(event.request);
  if (cacheable(response)) event.waitUntil(cache.put(event.request, response.clone()));
  return response;
}

function networkFirst(event) {
  const request = event.request;
  const url = new URL(request.url);
  const isWallet = url.pathname.startsWith("/wallet/");
  const cacheName = isWallet ? WALLET_CACHE : CACHE;
  // Started now, not after a race: a slow answer still refreshes the cache for next time.
  const network = fetch(request);
  event.waitUntil(
    network
      .then((response) => {
        if (!cacheable(response)) return undefined;
        const copy = response.clone(); // now, before the page starts reading the body
        // A wallet is kept under its path alone: a ?claim_refused=… visit refreshes the same copy.
        return caches.open(cacheName).then((cache) => cache.put(isWallet ? url.pathname : request, copy));
      })
      .catch(() => undefined),
  );
  return (async () => {
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), NETWORK_TIMEOUT_MS);
    });
    try {
      const first = await Promise.race([network, timeout]);
      if (first) return first;
    } catch {
      // Offline or refused: fall through to the cache.
    } finally {
      clearTimeout(timer);
    }
    // Only full pages are ever stored (fragments never reach here), so Vary can be ignored.
    // A station screen is the same page whatever its query (?attendee=…): JS reads the query.
    const cached = isWallet
      ? await caches.match(url.pathname, { cacheName: WALLET_CACHE, ignoreVary: true })
      : ((await caches.match(request, { cacheName: CACHE, ignoreVary: true })) ??
        (url.pathname.startsWith("/station")
          ? await caches.match(url.pathname, { cacheName: CACHE, ignoreVary: true })
          : undefined));
    if (cached) return cached;
    return network; // Nothing cached: wait for the network, or its error.
  })();
}

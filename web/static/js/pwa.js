// Makes PopPass an installable, offline-capable app: registers the root service worker and
// asks once for persistent storage, so the browser does not evict IndexedDB (the outbox,
// projections, keys) under storage pressure. On a station page it also makes sure the worker
// holds the whole station (sw.js precaches it only for tablets). No UI.

const PERSIST_ASKED = "poppass.persist-asked";

async function register() {
  if (!("serviceWorker" in navigator)) return;
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (error) {
    console.warn("PopPass: service worker registration failed", error);
  }
}

async function persistStorage() {
  if (!navigator.storage?.persist) return;
  try {
    if (await navigator.storage.persisted()) return;
    if (localStorage.getItem(PERSIST_ASKED)) return;
    localStorage.setItem(PERSIST_ASKED, "1");
    await navigator.storage.persist();
  } catch {
    // Storage access can be refused (private modes, policies): nothing to show for it.
  }
}

// Resolves once the station's screens and modules are in the worker's cache (html[data-station-precached]).
async function precacheStation() {
  if (!("serviceWorker" in navigator) || !location.pathname.startsWith("/station")) return;
  const registration = await navigator.serviceWorker.ready;
  const answered = new Promise((resolve) => {
    navigator.serviceWorker.addEventListener("message", function listen(event) {
      if (!String(event.data?.type).startsWith("station-precache")) return;
      navigator.serviceWorker.removeEventListener("message", listen);
      resolve(event.data);
    });
  });
  navigator.serviceWorker.startMessages();
  registration.active.postMessage({ type: "precache-station" });
  const answer = await answered;
  if (answer.type === "station-precached") document.documentElement.dataset.stationPrecached = "true";
  else console.warn("PopPass: the station could not be stored for offline use", answer.error);
}

register();
persistStorage();
precacheStation();

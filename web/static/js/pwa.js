// Makes PopPass an installable, offline-capable app: registers the root service worker and
// asks once for persistent storage, so the browser does not evict IndexedDB (the outbox,
// projections, keys) under storage pressure. No UI.

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
  if (!navigator.storage || !navigator.storage.persist) return;
  try {
    if (await navigator.storage.persisted()) return;
    if (localStorage.getItem(PERSIST_ASKED)) return;
    localStorage.setItem(PERSIST_ASKED, "1");
    await navigator.storage.persist();
  } catch (error) {
    // Storage access can be refused (private modes, policies): nothing to show for it.
  }
}

register();
persistStorage();

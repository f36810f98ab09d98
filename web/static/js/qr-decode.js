// jsQR as an ES module. The vendored jsQR is a UMD file, not a module: loaded by a classic
// <script> (same origin, so `script-src 'self'` allows it) it sets `globalThis.jsQR`. This
// module adds that tag on first use unless the page already has it; nothing is fetched from
// anywhere but /static/vendor (see web/static/vendor/README.md).
export const JSQR_SRC = "/static/vendor/jsQR-1.4.0.min.js";

let loading = null;

/** Resolve to the jsQR function, loading the vendored script once. */
export function loadJsQR() {
  if (typeof globalThis.jsQR === "function") return Promise.resolve(globalThis.jsQR);
  if (loading) return loading;
  loading = new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = JSQR_SRC;
    script.async = true;
    script.addEventListener("load", () => {
      if (typeof globalThis.jsQR === "function") resolve(globalThis.jsQR);
      else reject(new Error(`${JSQR_SRC} did not define jsQR`));
    });
    script.addEventListener("error", () => reject(new Error(`could not load ${JSQR_SRC}`)));
    document.head.append(script);
  }).catch((error) => {
    loading = null; // let a later call try again
    throw error;
  });
  return loading;
}

/**
 * Decode one QR code from RGBA pixels, or return null. Vouchers are dark on light, so inverted
 * codes are not tried: that halves the work per frame.
 */
export function decodeImageData(jsQR, imageData, { inversionAttempts = "dontInvert" } = {}) {
  const found = jsQR(imageData.data, imageData.width, imageData.height, { inversionAttempts });
  return found ? found.data : null;
}

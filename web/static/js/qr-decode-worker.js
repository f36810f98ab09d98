// Decodes camera frames off the page's thread, so a frame being decoded (10–20 ms with jsQR at
// 640 px) never delays a verdict the clerk is waiting for (bench/station_scan.py measured p95
// doubling with the decoder on the page's thread). A classic worker: jsQR is a UMD script.
// Message in: {id, bitmap} (an ImageBitmap, transferred); out: {id, text} (text or null).
importScripts("/static/vendor/jsQR-1.4.0.min.js");

let canvas = null;
let context = null;

self.addEventListener("message", (event) => {
  const { id, bitmap } = event.data;
  let text = null;
  try {
    if (!canvas || canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      context = canvas.getContext("2d", { willReadFrequently: true });
    }
    context.drawImage(bitmap, 0, 0);
    const image = context.getImageData(0, 0, bitmap.width, bitmap.height);
    // Vouchers are dark on light: inverted codes are not tried (qr-decode.js does the same).
    const found = self.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    text = found ? found.data : null;
  } finally {
    bitmap.close();
  }
  self.postMessage({ id, text });
});

// The camera scanner: frames from the (rear) camera, QR codes decoded, each distinct code
// handed to `onScan` once. BarcodeDetector is used where the browser has it for QR codes;
// everywhere else (Chromium on Linux, Firefox) the vendored jsQR decodes, in a worker
// (qr-decode-worker.js) where the browser has one with OffscreenCanvas, else in the page.
// verdictFor() turns a scanned text into the clerk's green or red with token.js.
import { decodeImageData, loadJsQR } from "./qr-decode.js";
import { parseScan, Reason, TokenError, verify } from "./token.js";

const MAX_WIDTH = 640;
const REPEAT_MS = 2000;
const WORKER_SRC = "/static/js/qr-decode-worker.js";

// jsQR off the page's thread: frames go to the worker as transferred ImageBitmaps. Resolves to
// decode(video, w, h) → text or null, or to null where the browser cannot do it.
function workerDecoder() {
  if (typeof Worker !== "function" || typeof OffscreenCanvas !== "function" || typeof createImageBitmap !== "function")
    return null;
  const worker = new Worker(WORKER_SRC);
  const waiting = new Map();
  let next = 0;
  worker.addEventListener("message", (event) => {
    waiting.get(event.data.id)?.(event.data.text);
    waiting.delete(event.data.id);
  });
  return {
    async decode(video, w, h) {
      const bitmap = await createImageBitmap(video, { resizeWidth: w, resizeHeight: h });
      const id = next++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        worker.postMessage({ id, bitmap }, [bitmap]);
      });
    },
    stop: () => worker.terminate(),
  };
}

async function openCamera() {
  const rear = {
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: false,
  };
  try {
    return await navigator.mediaDevices.getUserMedia(rear);
  } catch (error) {
    // Permission refusals are final; anything else (odd constraints, odd devices): any camera.
    if (error?.name === "NotAllowedError" || error?.name === "SecurityError") throw error;
    return navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  }
}

async function barcodeDetector() {
  if (!("BarcodeDetector" in globalThis)) return null;
  try {
    const formats = await globalThis.BarcodeDetector.getSupportedFormats();
    return formats.includes("qr_code") ? new globalThis.BarcodeDetector({ formats: ["qr_code"] }) : null;
  } catch {
    return null;
  }
}

function makeCanvas(width, height) {
  if (typeof OffscreenCanvas === "function") return new OffscreenCanvas(width, height);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

/**
 * Open the camera into `video` and scan it `fps` times a second at most.
 * `onScan(text, {decodeMs, decoder})` is called once per distinct code: a code is not reported
 * again while it stays in view, nor within `repeatMs` of when it was last seen.
 * While `busy()` is true no frame is taken: the page is handling a code (a typed one, say) and
 * its verdict must not wait behind a frame's capture; a scanned code already holds the loop
 * until `onScan` resolves.
 * Resolves to `stop()`, which ends scanning and releases the camera.
 */
export async function startScanner(
  video,
  { onScan, busy = () => false, fps = 12, repeatMs = REPEAT_MS, maxWidth = MAX_WIDTH } = {},
) {
  if (typeof onScan !== "function") throw new TypeError("onScan must be a function");
  const [stream, detector] = await Promise.all([openCamera(), barcodeDetector()]);
  const offThread = detector ? null : workerDecoder();
  const jsQR = offThread ? null : await loadJsQR(); // in the page: BarcodeDetector's fallback, or no worker
  let stopped = false;
  let timer = null;
  let canvas = null;
  let context = null;
  let last = { text: null, seenAt: -Infinity };

  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    offThread?.stop();
    for (const track of stream.getTracks()) track.stop();
    if (video.srcObject === stream) video.srcObject = null;
  };

  video.muted = true;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.srcObject = stream;
  try {
    await video.play();
  } catch (error) {
    stop();
    throw error;
  }

  const decodeFrame = async () => {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height || video.readyState < video.HAVE_CURRENT_DATA) return null;
    const scale = Math.min(1, maxWidth / width);
    const w = Math.round(width * scale);
    const h = Math.round(height * scale);
    if (offThread) {
      const text = await offThread.decode(video, w, h);
      return text === null ? null : { text, decoder: "jsQR (worker)" };
    }
    if (!canvas || canvas.width !== w || canvas.height !== h) {
      canvas = makeCanvas(w, h);
      context = canvas.getContext("2d", { willReadFrequently: true });
    }
    context.drawImage(video, 0, 0, w, h);
    if (detector) {
      try {
        const codes = await detector.detect(canvas);
        if (codes.length > 0) return { text: codes[0].rawValue, decoder: "BarcodeDetector" };
        return null;
      } catch {
        // Fall through to jsQR for this frame.
      }
    }
    const text = decodeImageData(jsQR, context.getImageData(0, 0, w, h));
    return text === null ? null : { text, decoder: "jsQR" };
  };

  const interval = 1000 / fps;
  const tick = async () => {
    if (stopped) return;
    const started = performance.now();
    try {
      const found = busy() ? null : await decodeFrame();
      const decodeMs = performance.now() - started;
      if (found && !stopped) {
        const now = performance.now();
        const repeat = found.text === last.text && now - last.seenAt < repeatMs;
        last = { text: found.text, seenAt: now };
        if (!repeat) {
          try {
            await onScan(found.text, { decodeMs, decoder: found.decoder });
          } catch (error) {
            console.error("onScan failed", error);
          }
        }
      }
    } catch (error) {
      console.error("scanner frame failed", error);
    }
    if (!stopped) timer = setTimeout(tick, Math.max(0, interval - (performance.now() - started)));
  };
  timer = setTimeout(tick, 0);
  return stop;
}

/**
 * The clerk's verdict on a scanned text at `nowSeconds` (corrected Unix time):
 * `{color: "green", reason: null, token, code}` or `{color: "red", reason, token: null, code}`.
 * Never throws for bad input; a missing clock is a programming error and does throw.
 */
export async function verdictFor(text, bundle, nowSeconds) {
  if (typeof nowSeconds !== "number" || !Number.isFinite(nowSeconds))
    throw new TypeError("nowSeconds must be a number");
  let code = null;
  try {
    const scan = parseScan(text);
    code = scan.code;
    const token = await verify(scan.text, bundle, { now: nowSeconds });
    return { color: "green", reason: null, token, code };
  } catch (error) {
    const reason = error instanceof TokenError ? error.reason : Reason.MALFORMED;
    return { color: "red", reason, token: null, code };
  }
}

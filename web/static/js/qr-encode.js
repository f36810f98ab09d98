// QR codes drawn in the browser, offline: an attendee's pass QR, a voucher's claim QR on a tablet.
// The encoder is the vendored qrcode-generator (an ES module, imported on first use; see
// web/static/vendor/README.md). The picture is built with DOM calls, not markup strings: the CSP
// allows no inline script or style, and nothing in `text` can ever be read as markup.
//
// The same codes are drawn server-side by segno (events/qr.py): error correction M by default, the
// smallest version that fits, one segment in numeric, alphanumeric or byte mode, a quiet zone of
// 4 modules. Token text is upper-case base32 so that it stays in alphanumeric mode (version 6;
// the URL form version 7 for hosts up to 21 characters; docs/token-format.md).
export const QRCODE_SRC = "/static/vendor/qrcode-generator-2.0.4.min.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const QUIET_ZONE = 4;
const LEVELS = ["L", "M", "Q", "H"];
// Characters at version 40, per level (ISO/IEC 18004 table 7): more never fits.
const CAPACITY = {
  Numeric: { L: 7089, M: 5596, Q: 3993, H: 3057 },
  Alphanumeric: { L: 4296, M: 3391, Q: 2420, H: 1852 },
  Byte: { L: 2953, M: 2331, Q: 1663, H: 1273 },
};
const NUMERIC = /^[0-9]+$/;
const ALPHANUMERIC = /^[0-9A-Z $%*+\-./:]+$/;

let loading = null;

/** Resolve to the qrcode-generator factory, importing the vendored module once. */
export function loadEncoder() {
  if (!loading) {
    loading = import(QRCODE_SRC)
      .then((module) => {
        if (typeof module.default !== "function") throw new Error(`${QRCODE_SRC} did not export qrcode`);
        return module.default;
      })
      .catch((error) => {
        loading = null; // let a later call try again
        throw error;
      });
  }
  return loading;
}

/** The QR mode segno would choose for `text` as one segment. */
export function qrMode(text) {
  if (NUMERIC.test(text)) return "Numeric";
  if (ALPHANUMERIC.test(text)) return "Alphanumeric";
  return "Byte";
}

// Byte mode carries UTF-8. The library's own stringToBytes keeps only the low 8 bits of each
// UTF-16 unit, so it is handed a "binary string" of the UTF-8 bytes, one char per byte.
function binaryString(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x2000) out += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  return out;
}

async function encode(text, ecc) {
  if (typeof text !== "string") throw new TypeError("QR text must be a string");
  if (text === "") throw new RangeError("QR text is empty");
  if (!LEVELS.includes(ecc))
    throw new RangeError(`QR error correction must be one of ${LEVELS.join(", ")}, not ${ecc}`);
  const mode = qrMode(text);
  let data = text;
  if (mode === "Byte") data = binaryString(new TextEncoder().encode(text));
  const capacity = CAPACITY[mode][ecc];
  if (data.length > capacity) {
    throw new RangeError(
      `QR text too long: ${data.length} ${mode === "Byte" ? "bytes" : "characters"} in ${mode.toLowerCase()} mode, ` +
        `at most ${capacity} fit at error correction ${ecc}`,
    );
  }
  const qrcode = await loadEncoder();
  const code = qrcode(0, ecc); // type number 0: the smallest version that fits
  code.addData(data, mode);
  try {
    code.make();
  } catch (error) {
    // The library throws bare strings ("code length overflow. (…)").
    if (typeof error === "string") throw new RangeError(`QR text does not fit: ${error}`);
    throw error;
  }
  return code;
}

/** The QR version (1–40) chosen for `text`: the smallest that fits at this error correction. */
export async function qrVersion(text, { ecc = "M" } = {}) {
  const code = await encode(text, ecc);
  return (code.getModuleCount() - 17) / 4;
}

/**
 * An <svg> of the QR code for `text`: black modules on a white background with a quiet zone of 4
 * modules, one unit per module in the viewBox. It has no width or height, so it fills its box;
 * set them (attributes or CSS) to size it. Throws RangeError for empty text or text that does
 * not fit version 40.
 */
export async function qrSvg(text, { ecc = "M", label = "" } = {}) {
  const code = await encode(text, ecc);
  const count = code.getModuleCount();
  const size = count + 2 * QUIET_ZONE;

  // One subpath per horizontal run of dark modules.
  const d = [];
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; ) {
      if (!code.isDark(row, col)) {
        col += 1;
        continue;
      }
      const start = col;
      while (col < count && code.isDark(row, col)) col += 1;
      d.push(`M${start + QUIET_ZONE} ${row + QUIET_ZONE}h${col - start}v1h${start - col}z`);
    }
  }

  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label || "QR code");
  const background = document.createElementNS(SVG_NS, "rect");
  background.setAttribute("width", String(size));
  background.setAttribute("height", String(size));
  background.setAttribute("fill", "#fff");
  const modules = document.createElementNS(SVG_NS, "path");
  modules.setAttribute("d", d.join(""));
  modules.setAttribute("fill", "#000");
  svg.append(background, modules);
  return svg;
}

// What a clerk types when the camera cannot read a phone: the short voucher code under the
// wallet's QR ("ABCD EFGH", the first 8 characters of the token id) and the 6 digits beside it,
// or the 16-character id, or the whole code. parse() reads the two fields, resolve() finds the
// token's text among what this tablet holds (vouchers pulled from every tablet and from online
// sign-ups, not only its own), and the Scan screen judges the result exactly like a scan.
//
// The same rule as events/manual_entry.py; tests/vectors/manual.json keeps the two identical
// (docs/token-format.md, "Typed codes").

export const SHORT_CODE_LEN = 8;
export const TOKEN_ID_LEN = 16;
const DIGITS = 6;
// Spaces (NFKC turns ideographic and no-break spaces into U+0020) and every kind of dash.
const SEPARATORS = /[ \t\r\n\-\u2010-\u2015\u2212]/g;
const WHITESPACE = /[ \t\r\n]/g;
// Outside RFC 4648's base32 alphabet, so reading them as the letters they look like never
// changes a valid code.
const CONFUSABLES = { 0: "O", 1: "I", 8: "B" };
const BASE32 = /^[A-Z2-7]+$/;
const CODE = new RegExp(`^[0-9]{${DIGITS}}$`);

export const MALFORMED_CODE = "malformed_code";
export const UNKNOWN_SHORT_CODE = "unknown_short_code";
export const AMBIGUOUS_SHORT_CODE = "ambiguous_short_code";
export const UNKNOWN_ID = "unknown_id";

const asciiUpper = (text) => text.replace(/[a-z]/g, (c) => c.toUpperCase());

/** The short voucher code of a token id (16 characters of A–Z 2–7): its first 8 characters. */
export function shortCode(tokenId) {
  return tokenId.slice(0, SHORT_CODE_LEN);
}

/** Halves split by a space, to be read aloud: "ABCD EFGH", "123 456". */
export function grouped(code) {
  const half = Math.floor(code.length / 2);
  return `${code.slice(0, half)} ${code.slice(half)}`;
}

/** Width folded, separators dropped, a–z upper-cased, 0/1/8 read as O/I/B. */
export function normalized(typed) {
  return asciiUpper(String(typed).normalize("NFKC").replace(SEPARATORS, "")).replace(/[018]/g, (c) => CONFUSABLES[c]);
}

/**
 * The two fields of the manual form → {kind: "short" | "id" | "text", value, code} or
 * {reason: "malformed_code"} when the digits are neither empty nor 6 digits.
 */
export function parse(typed, digits = "") {
  typed = typeof typed === "string" ? typed : "";
  digits = typeof digits === "string" ? digits : "";
  const code = digits.normalize("NFKC").replace(SEPARATORS, "") || null;
  if (code !== null && !CODE.test(code)) return { reason: MALFORMED_CODE };
  const candidate = normalized(typed);
  if (BASE32.test(candidate)) {
    if (candidate.length === SHORT_CODE_LEN) return { kind: "short", value: candidate, code };
    if (candidate.length === TOKEN_ID_LEN) return { kind: "id", value: candidate, code };
  }
  // The whole code: a hyphen may start its rotating suffix and a URL holds digits, so only
  // whitespace goes; parseScan and decode judge the rest, as for a scan.
  return { kind: "text", value: asciiUpper(typed.normalize("NFKC").replace(WHITESPACE, "")), code };
}

/**
 * The text a scan would have given, from what the tablet holds: {text} or {reason}.
 * `holds.vouchersStartingWith(prefix)` → the texts of the vouchers whose id starts so;
 * `holds.token(id)` → the text of the voucher or pass with that id, or null.
 */
export function resolve(entry, holds) {
  if (entry.reason) return entry;
  let text = entry.value;
  if (entry.kind === "short") {
    const found = holds.vouchersStartingWith(entry.value);
    if (found.length === 0) return { reason: UNKNOWN_SHORT_CODE };
    if (found.length > 1) return { reason: AMBIGUOUS_SHORT_CODE };
    [text] = found;
  } else if (entry.kind === "id") {
    text = holds.token(entry.value);
    if (!text) return { reason: UNKNOWN_ID };
  }
  return { text: entry.code ? `${text}-${entry.code}` : text };
}

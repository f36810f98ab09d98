// PopPass token verification for the browser: the same rules as events/tokens.py,
// events/trust.py and events/rotating.py, so that a tablet with no network gives the same
// answer, for the same reason, as the server. docs/token-format.md is the contract and
// tests/vectors/tokens.json (run by e2e/test_token_js.py) keeps the two implementations equal.
//
// Dependency-free on purpose: it runs from /static under `script-src 'self'` with no build
// step. WebCrypto (crypto.subtle) only exists in secure contexts: HTTPS, or localhost in tests.
//
// Bad input (anything scanned, typed or received) only ever raises TokenError, BundleError or
// CodeError. TypeError and RangeError mean the calling code is wrong (no clock, a rotation key
// of the wrong length), the cases where Python raises TypeError or ValueError.

const FORMAT_VERSION = 1;
const PREFIX = "PP";
const BODY_LEN = 27;
const SIGNATURE_LEN = 64;
const PUBLIC_KEY_LEN = 32;
const ENCODED_LEN = 146; // ceil(91 * 8 / 5) base32 characters, no padding
const ID_LEN = 10;
const OPEN_ENDED = 0xffffff;
const MAX_KEY_ID = 0xffff;
const MAX_EVENT_ID_BYTES = 255;
// Anything longer than a URL form with a generous host is garbage; refuse it before any work.
const MAX_INPUT_CHARS = 1024;
const MAX_PAYLOAD_CHARS = 1_000_000;
const BUNDLE_FORMAT = 1;

const HEADER_RESERVED = 0x08;
const HEADER_ROTATING = 0x04;
const HEADER_TYPE = 0x03;
const TOKEN_TYPES = { 1: "voucher", 2: "pass" };

const CODE_DIGITS = 6;
const CODE_STEP_SECONDS = 15;
const CODE_WINDOW = 1;
const ROTATION_KEY_LEN = 32;

// These mirror Python's regular expressions character for character. Python's `.` stops only
// at "\n" (JavaScript's also stops at "\r", U+2028 and U+2029), hence [^\n].
const BASE32_TEXT = /^[A-Z2-7]+$/;
const URL_FORM = /^HTTPS?:\/\/[A-Z0-9.\-:[\]]+\/V\/([A-Z2-7]+)$/;
const ROTATING_SUFFIX = /^([^\n]*)-([0-9]{6})$/;
const CODE = /^[0-9]{6}$/;

const encoder = new TextEncoder();
const TOKEN_CONTEXT = encoder.encode("PopPass token v1\n");
const BUNDLE_CONTEXT = encoder.encode("PopPass trust bundle v1\n");
const DERIVATION_CONTEXT = encoder.encode("PopPass rotating code v1\n");

/** Why a token was refused. The strings are a contract with the server and the docs. */
export const Reason = Object.freeze({
  MALFORMED: "malformed",
  UNSUPPORTED_VERSION: "unsupported_version",
  WRONG_EVENT: "wrong_event",
  UNKNOWN_KEY: "unknown_key",
  BAD_SIGNATURE: "bad_signature",
  REVOKED_KEY: "revoked_key",
  NOT_YET_VALID: "not_yet_valid",
  EXPIRED: "expired",
});

/** Why a trust bundle was refused (events/trust.py). */
export const BundleReason = Object.freeze({
  MALFORMED: "malformed",
  BAD_SIGNATURE: "bad_signature",
  WRONG_EVENT: "wrong_event",
  STALE: "stale",
});

/** Why a rotating code was refused (events/rotating.py). */
export const CodeReason = Object.freeze({
  MALFORMED_CODE: "malformed_code",
  BAD_CODE: "bad_code",
  CODE_REPLAYED: "code_replayed",
  ROTATION_KEY_RETIRED: "rotation_key_retired",
});

class RefusalError extends Error {
  constructor(reason, detail = "") {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = new.target.name;
    this.reason = reason;
    this.detail = detail;
  }
}

/** A token that must not be accepted; `reason` is one of Reason. */
export class TokenError extends RefusalError {}
/** A trust bundle that must not be used; `reason` is one of BundleReason. */
export class BundleError extends RefusalError {}
/** A rotating code that must not be accepted; `reason` is one of CodeReason. */
export class CodeError extends RefusalError {}

// ---------------------------------------------------------------------------------------------
// Scanning and decoding

/**
 * Accept what a scanner or a clerk may hand over: text form, URL form, rotating form.
 * Only shape is checked here; decode() and verify() do the rest.
 * @returns {{text: string, code: string | null}}
 */
export function parseScan(raw) {
  if (typeof raw !== "string") throw new TokenError(Reason.MALFORMED, "not text");
  if (longerThan(raw, MAX_INPUT_CHARS)) throw new TokenError(Reason.MALFORMED, "far too long to be a token");
  let text = raw;
  let code = null;
  const rotating = ROTATING_SUFFIX.exec(text);
  if (rotating) [, text, code] = rotating;
  const url = URL_FORM.exec(text);
  if (url) text = PREFIX + url[1];
  return Object.freeze({ text, code });
}

/**
 * Parse the text form without verifying it. Raises TokenError(malformed | unsupported_version).
 * The token's fields use the snake_case names of the vectors and of Python's Token.
 */
export function decode(text) {
  if (typeof text !== "string") throw new TokenError(Reason.MALFORMED, "not text");
  if (longerThan(text, MAX_INPUT_CHARS)) throw new TokenError(Reason.MALFORMED, "far too long to be a token");
  if (!text.startsWith(PREFIX)) throw new TokenError(Reason.MALFORMED, `does not start with ${PREFIX}`);
  const encoded = text.slice(PREFIX.length);
  if (!BASE32_TEXT.test(encoded)) throw new TokenError(Reason.MALFORMED, "not upper-case base32");
  if (encoded.length !== ENCODED_LEN) {
    const kind = encoded.length < ENCODED_LEN ? "truncated" : "too long";
    throw new TokenError(Reason.MALFORMED, `${kind}: ${encoded.length} of ${ENCODED_LEN} characters`);
  }
  const raw = base32Decode(encoded);
  // Non-zero unused bits: another spelling of the same bytes is not accepted.
  if (raw === null) throw new TokenError(Reason.MALFORMED, "not canonical base32");
  const body = raw.slice(0, BODY_LEN);
  const signature = raw.slice(BODY_LEN);
  const view = new DataView(body.buffer);
  const header = body[0];
  if (header >> 4 !== FORMAT_VERSION) {
    throw new TokenError(Reason.UNSUPPORTED_VERSION, `format version ${header >> 4}`);
  }
  if (header & HEADER_RESERVED) throw new TokenError(Reason.MALFORMED, "reserved header bit set");
  const type = TOKEN_TYPES[header & HEADER_TYPE];
  if (type === undefined) throw new TokenError(Reason.MALFORMED, "unknown token type");
  const keyId = view.getUint16(1);
  if (keyId === 0) throw new TokenError(Reason.MALFORMED, "key id 0");
  const fromMinutes = uint24(body, 21);
  const untilMinutes = uint24(body, 24);
  if (untilMinutes !== OPEN_ENDED && untilMinutes <= fromMinutes) {
    throw new TokenError(Reason.MALFORMED, "empty validity window");
  }
  const issuedAt = view.getUint32(17);
  const base = issuedAt - (issuedAt % 60);
  const tokenId = body.slice(5, 5 + ID_LEN);
  const token = Object.freeze({
    type,
    key_id: keyId,
    id: base32Encode(tokenId),
    campaign: body[15],
    max_uses: body[16],
    issued_at: issuedAt,
    valid_from: base + 60 * fromMinutes,
    valid_until: untilMinutes === OPEN_ENDED ? null : base + 60 * untilMinutes,
    rotating: Boolean(header & HEADER_ROTATING),
    token_id: tokenId,
  });
  return Object.freeze({ token, eventTag: body.slice(3, 5), body, signature });
}

// ---------------------------------------------------------------------------------------------
// Verification

/**
 * Decode and fully verify a token against a bundle from verifyBundle() at (corrected) time
 * `now`, in Unix seconds. Checks run in the order of docs/token-format.md.
 */
export async function verify(text, bundle, { now } = {}) {
  const token = await authenticate(text, bundle);
  checkTime(token, { now, tolerance: bundle.policy.validity_tolerance_s });
  return token;
}

/** Everything but the clock: is this a genuine token of this event from a trusted key? */
export async function authenticate(text, bundle) {
  const decoded = decode(text);
  const token = decoded.token;
  const trust = await trustOf(bundle);
  if (!equalBytes(decoded.eventTag, trust.eventTag)) {
    throw new TokenError(Reason.WRONG_EVENT, "issued for another event");
  }
  const key = bundle.keys.get(token.key_id);
  if (key === undefined) {
    throw new TokenError(Reason.UNKNOWN_KEY, `key ${token.key_id} is not in the trust bundle`);
  }
  const message = concatBytes(trust.messagePrefix, decoded.body);
  if (!(await signatureIsValid(key.public_key, decoded.signature, message))) {
    throw new TokenError(Reason.BAD_SIGNATURE, "signature does not match");
  }
  if (key.status === "revoked" && !key.allowlist.has(token.id)) {
    throw new TokenError(Reason.REVOKED_KEY, `key ${token.key_id} was revoked`);
  }
  return token;
}

/** Raise not_yet_valid or expired; `tolerance` seconds forgive a slightly wrong clock. */
export function checkTime(token, { now, tolerance } = {}) {
  // Without these every comparison below is false and an expired token would pass.
  requireNumber(now, "now");
  requireNumber(tolerance, "tolerance");
  if (now + tolerance < token.valid_from) {
    throw new TokenError(Reason.NOT_YET_VALID, `valid from ${token.valid_from}`);
  }
  if (token.valid_until !== null && now - tolerance >= token.valid_until) {
    throw new TokenError(Reason.EXPIRED, `expired at ${token.valid_until}`);
  }
}

// What a bundle lets authenticate() skip on every scan: the event tag, the signing-message
// prefix and the imported keys. Weak, so a replaced bundle takes its cache with it.
const trustCache = new WeakMap();
const cryptoKeyCache = new WeakMap();

function trustOf(bundle) {
  if (
    !isObject(bundle) ||
    typeof bundle.event_id !== "string" ||
    !(bundle.keys instanceof Map) ||
    !isObject(bundle.policy)
  ) {
    return Promise.reject(new BundleError(BundleReason.MALFORMED, "not a bundle from verifyBundle"));
  }
  let trust = trustCache.get(bundle);
  if (trust === undefined) {
    trust = (async () => {
      const eventId = encoder.encode(bundle.event_id); // vetted by verifyBundle: 1-255 bytes
      return {
        eventTag: (await sha256(eventId)).slice(0, 2),
        messagePrefix: concatBytes(TOKEN_CONTEXT, [eventId.length], eventId),
      };
    })();
    trustCache.set(bundle, trust);
  }
  return trust;
}

/** True only for a good Ed25519 signature; a malformed key or signature is simply false. */
async function signatureIsValid(publicKey, signature, message) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LEN || signature.length !== SIGNATURE_LEN) {
    return false;
  }
  let key = cryptoKeyCache.get(publicKey);
  if (key === undefined) {
    key = crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]).catch(() => null);
    cryptoKeyCache.set(publicKey, key);
  }
  const imported = await key;
  if (imported === null) return false;
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, imported, signature, message);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Trust bundle

const POLICY_DEFAULTS = Object.freeze({
  skew_warn_s: 120,
  skew_refuse_issue_s: 600,
  validity_tolerance_s: 60,
});

/**
 * Check a signed bundle ({payload, signature}, as parsed JSON) and return its contents:
 * {event_id, seq, issued_at, keys: Map<kid, key>, policy}, each key being
 * {key_id, public_key: Uint8Array, device_id, status, valid_from, revoked_at, allowlist: Set}.
 *
 * `rootPublicKey` is the event's root key as base64url (or raw bytes); one that does not
 * decode to 32 bytes verifies nothing, as in Python. Raises BundleError with reason
 * malformed, bad_signature, wrong_event or stale, exactly like verify_bundle.
 */
export async function verifyBundle(signed, rootPublicKey, { eventId, minSeq = 0 } = {}) {
  if (!isObject(signed)) throw new BundleError(BundleReason.MALFORMED, "a signed bundle is an object");
  const payload = ownValue(signed, "payload");
  const signature = ownValue(signed, "signature");
  if (typeof payload !== "string" || typeof signature !== "string") {
    throw new BundleError(BundleReason.MALFORMED, "payload and signature must be strings");
  }
  if (longerThan(payload, MAX_PAYLOAD_CHARS)) throw new BundleError(BundleReason.MALFORMED, "payload too large");
  const signatureBytes = base64UrlDecode(signature);
  if (signatureBytes === null) throw new BundleError(BundleReason.MALFORMED, "signature is not base64url");
  const rootKey = typeof rootPublicKey === "string" ? base64UrlDecode(rootPublicKey) : rootPublicKey;
  // A lone surrogate becomes U+FFFD here, so such a payload fails the signature check, as in
  // Python (where it cannot be encoded at all).
  const message = concatBytes(BUNDLE_CONTEXT, encoder.encode(payload));
  if (!(await signatureIsValid(rootKey, signatureBytes, message))) {
    throw new BundleError(BundleReason.BAD_SIGNATURE, "not signed by this event's root key");
  }
  let bundle;
  try {
    bundle = parsePayload(payload);
  } catch (error) {
    // Signed by our root yet not of the schema: a bug on the server side, never a crash here.
    throw new BundleError(BundleReason.MALFORMED, `payload: ${error.message}`);
  }
  if (bundle.event_id !== eventId) {
    throw new BundleError(BundleReason.WRONG_EVENT, `bundle is for event ${JSON.stringify(bundle.event_id)}`);
  }
  if (bundle.seq < minSeq) {
    throw new BundleError(BundleReason.STALE, `bundle seq ${bundle.seq} is older than ${minSeq}`);
  }
  return bundle;
}

// A bundle holds only integers a double represents exactly: Python refuses float literals
// (1.0, 1E0) while JSON.parse cannot tell them from 1, so the reviver reads each number's
// source text where the browser offers it (Chromium 114+, Firefox 135+).
const INT_LITERAL = /^-?(?:0|[1-9][0-9]*)$/;

function parseJson(text) {
  return JSON.parse(text, (_key, value, context) => {
    if (typeof value === "number") {
      const source = context?.source;
      if ((source !== undefined && !INT_LITERAL.test(source)) || !Number.isSafeInteger(value)) {
        throw new SyntaxError(`numbers in a bundle are integers, not ${String(source ?? value).slice(0, 20)}`);
      }
    }
    return value;
  });
}

/** The schema of docs/token-format.md, as strictly as trust._parse_payload applies it. */
function parsePayload(payload) {
  const body = object(parseJson(payload), "payload");
  if (integer(body, "format") !== BUNDLE_FORMAT) throw new Error("unknown bundle format");
  const keys = new Map();
  for (const raw of list(body, "keys")) {
    const item = object(raw, "key");
    const deviceId = field(item, "device_id");
    if (deviceId !== null && typeof deviceId !== "string") throw new Error("device_id is text or null");
    const status = field(item, "status");
    if (status !== "active" && status !== "revoked") throw new Error("unknown key status");
    const allowlist = list(item, "allowlist");
    if (!allowlist.every((id) => typeof id === "string")) throw new Error("allowlist entries are text");
    const publicKey = field(item, "public_key");
    if (typeof publicKey !== "string") throw new Error("public_key is base64url text");
    const keyId = integer(item, "kid");
    const validFrom = integer(item, "valid_from");
    const revokedAt = field(item, "revoked_at") === null ? null : integer(item, "revoked_at");
    const publicKeyBytes = base64UrlDecode(publicKey);
    if (publicKeyBytes === null) throw new Error("not canonical base64url");
    if (!(keyId >= 1 && keyId <= MAX_KEY_ID)) throw new Error(`key id out of range: ${keyId}`);
    if (!isAcceptablePublicKey(publicKeyBytes)) throw new Error("not a usable Ed25519 public key");
    if (keys.has(keyId)) throw new Error(`key id ${keyId} listed twice`);
    keys.set(
      keyId,
      Object.freeze({
        key_id: keyId,
        public_key: publicKeyBytes,
        device_id: deviceId,
        status,
        valid_from: validFrom,
        revoked_at: revokedAt,
        allowlist: new Set(allowlist),
      }),
    );
  }
  const rawPolicy = object(field(body, "policy"), "policy");
  // Unknown policy fields are ignored, so a newer server does not break older tablets.
  const policy = { ...POLICY_DEFAULTS };
  for (const name of Object.keys(POLICY_DEFAULTS)) {
    if (Object.hasOwn(rawPolicy, name)) policy[name] = integer(rawPolicy, name);
  }
  if (Object.values(policy).some((value) => value < 0)) throw new Error("policy values are not negative");
  const eventId = checkEventId(field(body, "event_id"));
  return Object.freeze({
    event_id: eventId,
    seq: integer(body, "seq"),
    issued_at: integer(body, "issued_at"),
    keys,
    policy: Object.freeze(policy),
  });
}

function field(holder, name) {
  if (!Object.hasOwn(holder, name)) throw new Error(`no ${name}`);
  return holder[name];
}

function object(value, what) {
  if (!isObject(value)) throw new Error(`${what} is not an object`);
  return value;
}

function list(holder, name) {
  const value = field(holder, name);
  if (!Array.isArray(value)) throw new Error(`${name} is not a list`);
  return value;
}

function integer(holder, name) {
  const value = field(holder, name);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} is not an integer`);
  return value === 0 ? 0 : value; // -0 reads as 0, as Python's int("-0") does
}

/** Event ids are 1-255 bytes of UTF-8: they are length-prefixed in every signed token. */
function checkEventId(eventId) {
  if (typeof eventId !== "string") throw new Error("an event id is text");
  if (!eventId.isWellFormed()) throw new Error("an event id is valid Unicode");
  const size = encoder.encode(eventId).length;
  if (size < 1 || size > MAX_EVENT_ID_BYTES) throw new Error("an event id is 1 to 255 bytes of UTF-8");
  return eventId;
}

// Ed25519 curve arithmetic, only to vet public keys (as events/keys.py does): WebCrypto accepts
// small-order keys, under which one fixed signature verifies every message.
const P = 2n ** 255n - 19n;
const modP = (n) => ((n % P) + P) % P;
const D = modP(-121665n * modPow(121666n, P - 2n));
const SQRT_M1 = modPow(2n, (P - 1n) / 4n);

function modPow(base, exponent) {
  let result = 1n;
  base = modP(base);
  while (exponent > 0n) {
    if (exponent & 1n) result = (result * base) % P;
    base = (base * base) % P;
    exponent >>= 1n;
  }
  return result;
}

// RFC 8032 5.1.3, refusing non-canonical encodings; null if not a point.
function decodePoint(bytes) {
  let y = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) y = (y << 8n) | BigInt(bytes[i]);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  if (y >= P) return null;
  const u = modP(y * y - 1n);
  const v = modP(D * y * y + 1n);
  let x = modP(u * modPow(v, 3n) * modPow(u * modPow(v, 7n), (P - 5n) / 8n));
  if (modP(v * x * x) === modP(-u)) x = modP(x * SQRT_M1);
  if (modP(v * x * x) !== u) return null;
  if (x === 0n && sign === 1n) return null;
  return [(x & 1n) !== sign ? P - x : x, y];
}

function addPoints([x1, y1], [x2, y2]) {
  const t = modP(D * x1 * x2 * y1 * y2);
  return [modP((x1 * y2 + y1 * x2) * modPow(1n + t, P - 2n)), modP((y1 * y2 + x1 * x2) * modPow(1n - t, P - 2n))];
}

/** A canonical encoding of a curve point whose order is not small (8·P is not the identity). */
export function isAcceptablePublicKey(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== PUBLIC_KEY_LEN) return false;
  let point = decodePoint(bytes);
  if (point === null) return false;
  for (let i = 0; i < 3; i++) point = addPoints(point, point);
  return !(point[0] === 0n && point[1] === 1n);
}

// ---------------------------------------------------------------------------------------------
// Rotating code

/**
 * The voucher's TOTP secret in base32 (32 characters): the first 20 bytes of
 * HMAC-SHA256(rotation key, "PopPass rotating code v1\n" + token id).
 */
export async function voucherSecret(rotationKey, tokenId) {
  if (!(rotationKey instanceof Uint8Array) || rotationKey.length !== ROTATION_KEY_LEN) {
    throw new RangeError("the rotation key is 32 bytes");
  }
  if (!(tokenId instanceof Uint8Array)) throw new TypeError("the token id is bytes");
  const digest = await hmac("SHA-256", rotationKey, concatBytes(DERIVATION_CONTEXT, tokenId));
  return base32Encode(digest.slice(0, 20));
}

/**
 * RFC 6238 TOTP with HMAC-SHA1, as pyotp computes it: the same secrets, digits (6 to 10),
 * steps (at most 120 s) and times (from the epoch to year 10000) are accepted; anything else
 * is a RangeError, where pyotp raises ValueError.
 */
export async function totp(secret, timeSeconds, { digits = CODE_DIGITS, step = CODE_STEP_SECONDS } = {}) {
  return (await totpGenerator(secret, { digits, step }))(timeSeconds);
}

/**
 * Accept `code` if it matches a step within ±`window` of `now` newer than `lastStep`,
 * nearest step first. Raises CodeError(malformed_code | bad_code | code_replayed). A code for a
 * step at or before the last accepted one is a replay (an old screenshot), even if that exact
 * step was never shown to this tablet.
 * @returns {Promise<{step: number}>}
 */
export async function checkCode(secret, code, { now, lastStep = null, window = CODE_WINDOW } = {}) {
  if (typeof code !== "string" || !CODE.test(code)) {
    throw new CodeError(CodeReason.MALFORMED_CODE, "a rotating code is 6 digits");
  }
  const codeAt = await totpGenerator(secret, { digits: CODE_DIGITS, step: CODE_STEP_SECONDS });
  requireNumber(now, "now");
  if (!Number.isInteger(window)) throw new TypeError("window must be an integer");
  const current = Math.floor(Math.trunc(now) / CODE_STEP_SECONDS);
  for (let distance = 0; distance <= window; distance++) {
    for (const step of distance === 0 ? [current] : [current - distance, current + distance]) {
      if (step < 0) continue; // steps before the Unix epoch do not exist
      if (equalText(await codeAt(step * CODE_STEP_SECONDS), code)) {
        if (lastStep !== null && lastStep !== undefined && step <= lastStep) {
          throw new CodeError(CodeReason.CODE_REPLAYED, `step ${step} is not after ${lastStep}`);
        }
        return Object.freeze({ step });
      }
    }
  }
  throw new CodeError(CodeReason.BAD_CODE, "does not match the current code");
}

/**
 * `checkCode` with the voucher's secret under the current rotation key; a code that misses it
 * but matches the voucher's secret under a retired key (same window, whatever the last step) is
 * CodeError(rotation_key_retired): a revoked tablet's key, or a phone that has not fetched its
 * new secret. Never accepted. `keys`: {current, retired: [...]}, raw 32-byte keys.
 * The rule of events/rotating.py check_voucher_code (vectors: tokens.json "rotation_epochs").
 * @returns {Promise<{step: number}>}
 */
export async function checkVoucherCode(keys, tokenId, code, { now, lastStep = null } = {}) {
  try {
    return await checkCode(await voucherSecret(keys.current, tokenId), code, { now, lastStep });
  } catch (error) {
    if (!(error instanceof CodeError) || error.reason !== CodeReason.BAD_CODE) throw error;
    for (const retired of keys.retired ?? []) {
      try {
        await checkCode(await voucherSecret(retired, tokenId), code, { now });
      } catch (missed) {
        if (missed instanceof CodeError) continue;
        throw missed;
      }
      throw new CodeError(CodeReason.ROTATION_KEY_RETIRED, "made with a rotation key retired by a revocation");
    }
    throw error;
  }
}

const PYOTP_TIME_LIMIT = 253402300800; // 10000-01-01 00:00:00 UTC, exclusive

async function totpGenerator(secret, { digits, step }) {
  if (!Number.isInteger(digits) || digits < 6 || digits > 10) throw new RangeError("digits must be between 6 and 10");
  if (typeof step !== "number" || !(step > 0 && step <= 120)) {
    throw new RangeError("the step must be positive and at most 120 seconds");
  }
  const secretBytes = pyotpSecretBytes(secret);
  const key = await crypto.subtle.importKey("raw", secretBytes, { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  return async (timeSeconds) => {
    requireNumber(timeSeconds, "time");
    if (!(timeSeconds >= 0 && timeSeconds < PYOTP_TIME_LIMIT)) {
      throw new RangeError("time must be at or after the Unix epoch and before year 10000 UTC");
    }
    const counter = Math.trunc(Math.trunc(timeSeconds) / step);
    const message = new Uint8Array(8);
    const view = new DataView(message.buffer);
    view.setUint32(0, Math.floor(counter / 2 ** 32));
    view.setUint32(4, counter % 2 ** 32);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
    const offset = mac[mac.length - 1] & 0x0f;
    const binary = (mac[offset] & 0x7f) * 2 ** 24 + (mac[offset + 1] << 16) + (mac[offset + 2] << 8) + mac[offset + 3];
    return String(binary % 10 ** digits).padStart(digits, "0");
  };
}

// pyotp's byte_secret(): case-insensitive base32, padding optional, unused bits ignored, and at
// least 112 bits (which also keeps WebCrypto from seeing the empty HMAC key it refuses).
function pyotpSecretBytes(secret) {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the test is that every character is ASCII
  if (typeof secret !== "string" || !/^[\x00-\x7f]*$/.test(secret)) throw new RangeError("the secret is not base32");
  const padded = secret.toUpperCase() + "=".repeat((8 - (secret.length % 8)) % 8);
  const data = padded.replace(/=+$/, "");
  if (![0, 1, 3, 4, 6].includes(padded.length - data.length)) throw new RangeError("the secret has incorrect padding");
  const bytes = base32DecodeBits(data, { canonical: false });
  if (bytes === null) throw new RangeError("the secret is not base32");
  if (bytes.length < 14) throw new RangeError("secrets must be at least 112 bits after decoding");
  return bytes;
}

async function hmac(hash, key, message) {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", imported, message));
}

// ---------------------------------------------------------------------------------------------
// Encodings

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE32_VALUES = valueTable(BASE32_ALPHABET);
const BASE64URL_VALUES = valueTable(BASE64URL_ALPHABET);

/** RFC 4648 base32, upper case, no padding. */
export function base32Encode(bytes) {
  return encodeBits(bytes, BASE32_ALPHABET, 5);
}

/**
 * Strict inverse of base32Encode: upper case, no padding, unused bits zero, so each byte
 * string has one spelling. Returns null for anything else.
 */
export function base32Decode(text) {
  return base32DecodeBits(text, { canonical: true });
}

/** Base64url without padding: how the bundle carries keys and signatures. */
export function base64UrlEncode(bytes) {
  return encodeBits(bytes, BASE64URL_ALPHABET, 6);
}

/** Strict inverse of base64UrlEncode (like keys.from_b64url); null for anything else. */
export function base64UrlDecode(text) {
  if (typeof text !== "string" || text.length % 4 === 1) return null;
  return decodeBits(text, BASE64URL_VALUES, 6, true);
}

function base32DecodeBits(text, { canonical }) {
  // Lengths 1, 3 and 6 mod 8 leave a whole character of unused bits: never an encoding.
  if (typeof text !== "string" || [1, 3, 6].includes(text.length % 8)) return null;
  return decodeBits(text, BASE32_VALUES, 5, canonical);
}

function encodeBits(bytes, alphabet, width) {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= width) {
      bits -= width;
      out += alphabet[(acc >> bits) & ((1 << width) - 1)];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(acc << (width - bits)) & ((1 << width) - 1)];
  return out;
}

function decodeBits(text, values, width, canonical) {
  const out = new Uint8Array(Math.floor((text.length * width) / 8));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? values[code] : -1;
    if (value < 0) return null;
    acc = (acc << width) | value;
    bits += width;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  return canonical && acc !== 0 ? null : out;
}

function valueTable(alphabet) {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

// Python's len() counts code points, JavaScript's .length UTF-16 units; count like Python, but
// without walking a megabyte string that is too long either way.
function longerThan(text, max) {
  if (text.length <= max) return false;
  if (text.length > 2 * max) return true;
  let count = 0;
  for (const _ of text) if (++count > max) return true;
  return false;
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function ownValue(object, name) {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

function requireNumber(value, name) {
  if (typeof value !== "number" || Number.isNaN(value)) throw new TypeError(`${name} must be a number`);
}

function uint24(bytes, offset) {
  return (bytes[offset] << 16) | (bytes[offset + 1] << 8) | bytes[offset + 2];
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

// Constant time, as hmac.compare_digest in Python: a code must not be guessable digit by digit.
function equalText(a, b) {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

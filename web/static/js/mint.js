// PopPass token issuing for the browser: an enrolled tablet signs vouchers and passes with its
// own Ed25519 key, byte for byte as events/tokens.py issue() would with the same key and inputs
// (Ed25519 is deterministic, so e2e/test_mint_js.py compares the texts). docs/token-format.md
// is the contract; the encoding helpers come from token.js so that the two cannot drift.
//
// Dependency-free, WebCrypto only, for `script-src 'self'` with no build step. The private key
// is a CryptoKey the tablet generated as non-extractable: this module only ever asks WebCrypto
// to sign with it and never sees its bytes.
//
// Wrong arguments are the calling code's bug, as in Python: RangeError where Python raises
// ValueError (a value out of range, an empty or too distant window), TypeError for a value of
// the wrong kind.

import { base32Encode } from "./token.js";

const FORMAT_VERSION = 1;
const PREFIX = "PP";
const BODY_LEN = 27;
const ID_LEN = 10;
const MAX_KEY_ID = 0xffff;
const MAX_EVENT_ID_BYTES = 255;
const OPEN_ENDED = 0xffffff;
const MAX_OFFSET_MINUTES = OPEN_ENDED - 1;
const HEADER_ROTATING = 0x04;

/** The type numbers of the header; token.js decode() names them 'voucher' and 'pass'. */
export const TokenType = Object.freeze({ VOUCHER: 1, PASS: 2 });
const TYPE_NAMES = Object.freeze({ voucher: TokenType.VOUCHER, pass: TokenType.PASS });

const encoder = new TextEncoder();
const TOKEN_CONTEXT = encoder.encode("PopPass token v1\n");

/** 80 random bits: a fresh token id. */
export function newTokenId() {
  return crypto.getRandomValues(new Uint8Array(ID_LEN));
}

/**
 * Sign a token and return its text form ("PP" + 146 base32 characters).
 *
 * Times are Unix seconds. The window is stored in whole minutes from the minute of issue and
 * rounded outwards (opens up to 59 s early, closes up to 59 s late), never inwards; a null
 * validFrom opens it at the issue minute, a null validUntil leaves it open-ended.
 * `type` is TokenType.VOUCHER / PASS or 'voucher' / 'pass'.
 */
export async function mintToken({
  privateKey,
  keyId,
  eventId,
  type,
  issuedAt,
  validFrom = null,
  validUntil = null,
  campaign = 0,
  maxUses = 0,
  rotating = false,
  tokenId = null,
} = {}) {
  // Checked in the order of tokens.issue(), so that both refuse the same call the same way.
  const id = tokenId === null ? newTokenId() : tokenId;
  if (!(id instanceof Uint8Array)) throw new TypeError("a token id is a Uint8Array");
  if (id.length !== ID_LEN) throw new RangeError("a token id is 10 bytes");
  requireInteger(keyId, "key id");
  if (!(keyId >= 1 && keyId <= MAX_KEY_ID)) throw new RangeError("key id out of range");
  requireInteger(issuedAt, "issue time");
  if (!(issuedAt > 0 && issuedAt < 2 ** 32)) throw new RangeError("issue time out of range");
  requireInteger(campaign, "campaign");
  requireInteger(maxUses, "max uses");
  if (!(campaign >= 0 && campaign <= 0xff && maxUses >= 0 && maxUses <= 0xff)) {
    throw new RangeError("campaign and max uses are 0..255");
  }
  if (validFrom !== null) requireInteger(validFrom, "valid from");
  if (validUntil !== null) requireInteger(validUntil, "valid until");
  const base = issuedAt - (issuedAt % 60);
  const fromMinutes = validFrom === null ? 0 : Math.max(0, floorMinutes(validFrom - base));
  let untilMinutes = OPEN_ENDED;
  if (validUntil !== null) {
    untilMinutes = -floorMinutes(base - validUntil); // ceiling
    if (untilMinutes <= fromMinutes) throw new RangeError("validity window is empty");
  }
  if (fromMinutes > MAX_OFFSET_MINUTES || (validUntil !== null && untilMinutes > MAX_OFFSET_MINUTES)) {
    throw new RangeError("validity window too far from the issue time");
  }
  if (typeof rotating !== "boolean") throw new TypeError("rotating is true or false");
  const typeNumber = tokenType(type);
  const rawEventId = eventIdBytes(eventId);
  if (!(privateKey instanceof CryptoKey) || privateKey.type !== "private" || privateKey.algorithm.name !== "Ed25519") {
    throw new TypeError("the signing key is an Ed25519 private CryptoKey");
  }

  const eventTag = new Uint8Array(await crypto.subtle.digest("SHA-256", rawEventId)).subarray(0, 2);
  const body = new Uint8Array(BODY_LEN);
  const view = new DataView(body.buffer);
  body[0] = (FORMAT_VERSION << 4) | (rotating ? HEADER_ROTATING : 0) | typeNumber;
  view.setUint16(1, keyId);
  body.set(eventTag, 3);
  body.set(id, 5);
  body[15] = campaign;
  body[16] = maxUses;
  view.setUint32(17, issuedAt);
  setUint24(body, 21, fromMinutes);
  setUint24(body, 24, untilMinutes);

  const message = new Uint8Array(TOKEN_CONTEXT.length + 1 + rawEventId.length + BODY_LEN);
  message.set(TOKEN_CONTEXT);
  message[TOKEN_CONTEXT.length] = rawEventId.length;
  message.set(rawEventId, TOKEN_CONTEXT.length + 1);
  message.set(body, TOKEN_CONTEXT.length + 1 + rawEventId.length);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, privateKey, message));

  const token = new Uint8Array(BODY_LEN + signature.length);
  token.set(body);
  token.set(signature, BODY_LEN);
  return PREFIX + base32Encode(token);
}

function tokenType(type) {
  if (typeof type !== "string" && typeof type !== "number") {
    throw new TypeError("a token type is TokenType.VOUCHER, TokenType.PASS, 'voucher' or 'pass'");
  }
  const number = typeof type === "string" ? Object.hasOwn(TYPE_NAMES, type) && TYPE_NAMES[type] : type;
  // Python packs any integer here and leaves decode() to refuse the token; refusing to sign
  // one that no verifier would accept is kinder.
  if (number !== TokenType.VOUCHER && number !== TokenType.PASS) {
    throw new RangeError(`unknown token type ${JSON.stringify(type)}`);
  }
  return number;
}

// The same rule as trust.check_event_id: the id is length-prefixed with one byte.
function eventIdBytes(eventId) {
  if (typeof eventId !== "string") throw new TypeError("an event id is text");
  // TextEncoder would silently turn a lone surrogate into U+FFFD and sign another id.
  if (!eventId.isWellFormed()) throw new RangeError("an event id is valid Unicode");
  const raw = encoder.encode(eventId);
  if (raw.length < 1 || raw.length > MAX_EVENT_ID_BYTES) {
    throw new RangeError("an event id is 1 to 255 bytes of UTF-8");
  }
  return raw;
}

function requireInteger(value, name) {
  if (!Number.isInteger(value)) throw new TypeError(`${name} must be an integer number`);
}

// Python's `// 60`, exact for integers: floating division can round a quotient just below an
// integer up to it once the seconds are large.
function floorMinutes(seconds) {
  const remainder = ((seconds % 60) + 60) % 60;
  return (seconds - remainder) / 60;
}

function setUint24(bytes, offset, value) {
  bytes[offset] = value >>> 16;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = value & 0xff;
}

// The clerk's verdict on a scanned or typed code, decided on the tablet alone: the signature
// against the trust bundle, the validity window on the corrected clock, the rotating code (a
// step at or before the last one accepted here is a replay), and the uses this tablet has seen
// (its own and those pulled from the others). The rule the server applies online
// (events/verdict.py judge_voucher, judge_pass), held to it by tests/vectors/verdicts.json, so
// online and offline verdicts read the same.
//
//   green — accept: check the attendee in, or honour the voucher;
//   amber — genuine, but nothing to do: already checked in, voucher already used;
//   red   — refuse, with the reason in words (reasons.js).

import { checkedInAt, effectiveUses, lastStep } from "./ledger.js";
import { base64UrlDecode, CodeError, checkVoucherCode, parseScan, Reason, TokenError, verify } from "./token.js";

export const ALREADY_CHECKED_IN = "already_checked_in";
export const USED_UP = "used_up";
export const VOIDED = "voided";
export const NO_BUNDLE = "no_bundle";

// Genuine, but nothing to do: the clerk is told, not warned (events/verdict.py AMBER).
const AMBER = new Set([ALREADY_CHECKED_IN, USED_UP]);

/** The colour for a reason: green (none), amber (nothing to do), red (refuse), as events/verdict.py color. */
export function colorOf(reason) {
  if (!reason) return "green";
  return AMBER.has(reason) ? "amber" : "red";
}

/**
 * `text`: what the camera read or the clerk typed. `ledger`: ledger.js. `nowSeconds`: the
 * corrected Unix time. `rotationKey`: the event's current rotation key, `retiredKeys` the ones
 * revocations retired (base64url, from enrollment and GET /api/v1/rotation-keys).
 * Resolves to {color, reason, kind ("pass" | "voucher" | null), text (the token's text form),
 * tokenId, token, code, step, attendee, usesBefore, maxUses, checkedInAt}. Never throws for bad
 * input.
 */
export async function judge(text, { ledger, nowSeconds, rotationKey, retiredKeys = [] }) {
  const verdict = {
    color: "red",
    reason: Reason.MALFORMED,
    kind: null,
    text: null,
    tokenId: null,
    token: null,
    code: null,
    step: null,
    attendee: null,
    usesBefore: 0,
    maxUses: 0,
    checkedInAt: null,
  };
  const decided = (reason, extra = {}) => ({ ...verdict, ...extra, reason, color: colorOf(reason) });
  if (!ledger.bundle) return decided(NO_BUNDLE);
  let token;
  try {
    const scan = parseScan(text);
    verdict.code = scan.code;
    verdict.text = scan.text;
    token = await verify(scan.text, ledger.bundle, { now: nowSeconds });
  } catch (error) {
    if (error instanceof TokenError) return decided(error.reason);
    throw error;
  }
  const tokenId = token.id;
  Object.assign(verdict, { token, tokenId, kind: token.type, maxUses: token.max_uses });

  if (token.type === "pass") {
    // An attendee's id is the id of their pass (docs/sync-protocol.md, register).
    const attendee = ledger.attendee(tokenId);
    const at = checkedInAt(attendee);
    Object.assign(verdict, { attendee, checkedInAt: at });
    return decided(at !== null ? ALREADY_CHECKED_IN : null);
  }

  const voucher = ledger.voucher(tokenId);
  const uses = effectiveUses(voucher, verdict.text);
  verdict.usesBefore = uses.length;
  verdict.attendee = voucher?.attendee_id ? ledger.attendee(voucher.attendee_id) : null;
  if (voucher?.voided) return decided(VOIDED);
  if (token.max_uses && uses.length >= token.max_uses) return decided(USED_UP, { uses });
  if (token.rotating) {
    if (!rotationKey) return decided("malformed_code");
    try {
      const keys = { current: base64UrlDecode(rotationKey), retired: retiredKeys.map(base64UrlDecode) };
      const { step } = await checkVoucherCode(keys, token.token_id, verdict.code, {
        now: nowSeconds,
        lastStep: lastStep(voucher, verdict.text),
      });
      verdict.step = step;
    } catch (error) {
      if (error instanceof CodeError) return decided(error.reason);
      throw error;
    }
  }
  return decided(null);
}

/** The verdict the server gave online (POST /api/v1/redeem), in the same shape. */
export function fromServer(local, answer) {
  const accepted = answer.outcome === "accepted";
  const reason = accepted ? null : answer.reason || Reason.MALFORMED;
  return {
    ...local,
    color: colorOf(reason),
    reason,
    usesBefore: answer.uses_before ?? local.usesBefore,
    decidedBy: "server",
  };
}

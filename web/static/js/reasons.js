// Why a token was refused, in words for the clerk's verdict screen. The messages are the
// server's (server/reasons.py), so one translation serves both.
import { _ } from "./i18n.js";

export function reasonWords(reason) {
  switch (reason) {
    case "malformed":
      return _("This is not a PopPass code, or part of it is missing.");
    case "unsupported_version":
      return _("This code was made by a newer version of PopPass.");
    case "wrong_event":
      return _("This code belongs to another event.");
    case "unknown_key":
      return _("This code was signed by a device this event does not know.");
    case "bad_signature":
      return _("This code has been altered or forged.");
    case "revoked_key":
      return _("This code was signed by a device that has been revoked.");
    case "not_yet_valid":
      return _("This voucher is not valid yet.");
    case "expired":
      return _("This voucher has expired.");
    case "bad_code":
      return _("The rotating code does not match: ask for the live screen, not a screenshot.");
    case "code_replayed":
      return _("This rotating code was already used: ask for the live screen.");
    case "rotation_key_retired":
      return _(
        "This code was made with a key that is no longer used: ask the attendee to open their wallet with network, then scan the new code.",
      );
    case "malformed_code":
      return _("The rotating code is missing or unreadable.");
    case "used_up":
      return _("This voucher has already been used.");
    case "voided":
      return _("This voucher was cancelled.");
    default:
      return _("This code cannot be accepted.");
  }
}

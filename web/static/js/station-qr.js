// A token on the tablet's screen as a QR code a phone camera opens: the upper-case URL form
// (docs/token-format.md), drawn offline by qr-encode.js.
import { qrSvg } from "./qr-encode.js";

export function tokenUrl(text) {
  const scheme = window.location.protocol.replace(":", "").toUpperCase();
  return `${scheme}://${window.location.host.toUpperCase()}/V/${text.slice(2)}`;
}

/** Fill `figure` with the QR of `text` (the token's text form) and keep the text on it. */
export async function showTokenQr(figure, text, label) {
  figure.replaceChildren(await qrSvg(tokenUrl(text), { label }));
  figure.dataset.token = text;
}

/** The 16-character token id in groups of four, as the voucher page prints it. */
export function groupedId(id) {
  return id.match(/.{1,4}/g).join(" ");
}

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

/** The whole QR in view (below the sticky status row), and the clerk's next step under it: on a
 * phone the words above the QR scroll away first, so a short screen still shows both. */
export function showWithNextStep(qr, nextStep) {
  window.scrollTo(0, 0);
  qr.scrollIntoView({ block: "nearest" });
  nextStep.scrollIntoView({ block: "nearest" });
}

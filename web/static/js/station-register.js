// The Register screen: a walk-in gets a pass signed by this tablet's key, recorded with a
// `register` op (and a check-in, usually), and shown as a QR they photograph or open.
import { _ } from "./i18n.js";
import { mintToken, TokenType } from "./mint.js";
import { $, needsEnrollment, openStation, ready } from "./station-app.js";
import { groupedId, showTokenQr, showWithNextStep } from "./station-qr.js";
import { decode } from "./token.js";

async function main() {
  const station = await openStation();
  if (!station.device) return needsEnrollment();
  const { device } = station;
  const form = $("register");
  const error = $("register-error");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const name = form.name.value.trim();
    const phone = form.phone.value.trim();
    const email = form.email.value.trim();
    if (!name || (!phone && !email)) {
      error.textContent = _("Enter their name and a phone number or an email.");
      error.hidden = false;
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const issuedAt = Math.floor(station.nowSeconds());
      const endsAt = device.event?.ends_at;
      const pass = await mintToken({
        privateKey: device.private_key,
        keyId: device.key_id,
        eventId: device.event.id,
        type: TokenType.PASS,
        issuedAt,
        validFrom: issuedAt,
        validUntil: Number.isInteger(endsAt) && endsAt > issuedAt + 60 ? endsAt : null,
      });
      // An attendee's id is the id of their pass (docs/sync-protocol.md, register).
      const id = decode(pass).token.id;
      const data = { name, consent: form.consent.checked, pass_token: pass };
      if (phone) data.phone = phone;
      if (email) data.email = email;
      await station.record({ kind: "register", subject: id, data });
      if (form.checkin.checked) {
        await station.record({
          kind: "checkin",
          subject: id,
          data: { method: "search", shown: { verdict: "green" }, pass_token: pass },
        });
      }
      $("registered-name").textContent = name;
      await showTokenQr($("pass-qr"), pass, _("Pass of %(name)s", { name }));
      $("pass-id").textContent = groupedId(id);
      $("issue-to").href = `/station/issue?attendee=${encodeURIComponent(id)}`;
      form.hidden = true;
      $("registered").hidden = false;
      showWithNextStep($("pass-qr"), $("register-another"));
      form.reset();
      form.checkin.checked = true;
    } catch (failure) {
      console.error(failure);
      error.textContent = _("Could not register: %(problem)s", { problem: failure?.message ?? String(failure) });
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  $("register-another").addEventListener("click", () => {
    $("registered").hidden = true;
    form.hidden = false;
    form.name.focus();
  });
  ready();
}

main();

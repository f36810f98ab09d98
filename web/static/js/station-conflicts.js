// The Conflicts screen: the conflicts about vouchers this tablet touched (issued, redeemed or
// voided), as the last pull left them. Re-drawn after each pull, so a decision the organizer
// takes shows here at the tablet's next sync.
import { _ } from "./i18n.js";
import {
  $,
  clockTime,
  conflictStatusWords,
  conflictWords,
  needsEnrollment,
  openStation,
  ready,
} from "./station-app.js";

async function main() {
  const station = await openStation();
  if (!station.device) return needsEnrollment();
  const { ledger } = station;

  const render = () => {
    const found = ledger.conflictsTouched();
    const list = $("conflicts");
    list.replaceChildren();
    for (const conflict of found) {
      const row = $("conflict-row").content.firstElementChild.cloneNode(true);
      row.dataset.conflict = String(conflict.id);
      row.dataset.kind = conflict.kind;
      row.dataset.status = conflict.status;
      row.dataset.voucher = conflict.subject;
      row.querySelector(".conflict-kind").textContent = conflictWords(conflict.kind);
      row.querySelector(".conflict-status").textContent = conflictStatusWords(conflict.status);
      row.querySelector(".conflict-voucher").textContent = conflict.subject;
      const holder = ledger.attendee(ledger.voucher(conflict.subject)?.attendee_id)?.name;
      row.querySelector(".conflict-holder").textContent = holder ?? "";
      const uses = ledger.usesHere(conflict.subject).map((use) => clockTime(use.at_ms));
      row.querySelector(".conflict-uses").textContent = uses.length
        ? _("Redeemed here at %(times)s", { times: uses.join(", ") })
        : "";
      list.append(row);
    }
    const open = found.filter((c) => c.status === "open").length;
    $("conflicts-status").textContent = found.length
      ? _("%(open)s open, %(all)s in all", { open, all: found.length })
      : _("No conflict about this tablet's vouchers.");
  };

  document.addEventListener("poppass:pulled", render);
  render();
  ready();
}

main();

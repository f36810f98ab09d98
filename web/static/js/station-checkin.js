// The Check-in screen: find an attendee by name or phone in what the tablet knows, check them in.
// The answer is the same full-screen verdict as a scanned pass (station-verdict.js).
import { _ } from "./i18n.js";
import { checkedInAt } from "./ledger.js";
import { $, clockTime, maskedPhone, needsEnrollment, openStation, ready } from "./station-app.js";
import { verdictScreen } from "./station-verdict.js";

async function main() {
  const station = await openStation();
  if (!station.device) return needsEnrollment();
  const { ledger } = station;
  const query = $("search-query");

  const screen = verdictScreen({
    backTo: (seconds) => _("Back to the search in %(seconds)s s", { seconds }),
    onClose: () => query.focus({ preventScroll: true }),
  });

  // The search is async (a typed number is hashed first): only the latest one is drawn.
  let searches = 0;
  const render = async () => {
    const mine = ++searches;
    const found = await ledger.find(query.value);
    if (mine !== searches) return;
    const list = $("results");
    list.replaceChildren();
    for (const attendee of found) {
      const row = $("result-row").content.firstElementChild.cloneNode(true);
      row.querySelector(".result-name").textContent = attendee.name;
      row.querySelector(".result-phone").textContent = maskedPhone(attendee.phone_last4);
      const at = checkedInAt(attendee);
      row.querySelector(".result-state").textContent =
        at === null ? "" : _("checked in %(time)s", { time: clockTime(at) });
      row.dataset.attendee = attendee.id;
      const button = row.querySelector(".result-checkin");
      button.disabled = at !== null;
      button.addEventListener("click", () => checkIn(attendee.id));
      list.append(row);
    }
    $("search-status").textContent = query.value.trim()
      ? found.length
        ? _("%(count)s found", { count: found.length })
        : _("Nobody found. Register them as a walk-in?")
      : "";
  };

  const checkIn = async (id) => {
    const attendee = ledger.attendee(id);
    const at = checkedInAt(attendee);
    const phone = maskedPhone(attendee.phone_last4);
    if (at !== null) {
      screen.show({
        color: "amber",
        kind: "pass",
        reason: "already_checked_in",
        what: _("Already checked in"),
        name: attendee.name,
        detail: _("Checked in at %(time)s.", { time: clockTime(at) }),
      });
      return;
    }
    await station.record({ kind: "checkin", subject: id, data: { method: "search", shown: { verdict: "green" } } });
    screen.show({ color: "green", kind: "pass", what: _("Checked in"), name: attendee.name, detail: phone });
    render();
  };

  query.addEventListener("input", render);
  // A tablet just enrolled, or back online, learns of attendees while the clerk waits on a
  // search: the list follows without retyping.
  document.addEventListener("poppass:pulled", render);
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    render();
  });
  render(); // whatever was typed while the ledger was loading
  query.focus();
  ready();
}

main();

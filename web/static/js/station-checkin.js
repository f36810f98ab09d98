// The Check-in screen: find an attendee by name or phone in what the tablet knows, check them in.
import { _ } from "./i18n.js";
import { checkedInAt } from "./ledger.js";
import { $, clockTime, maskedPhone, needsEnrollment, openStation, ready } from "./station-app.js";

async function main() {
  const station = await openStation();
  if (!station.device) return needsEnrollment();
  const { ledger } = station;
  const query = $("search-query");

  const say = (color, text) => {
    const verdict = $("checkin-verdict");
    verdict.className = `verdict verdict-${color}`;
    verdict.dataset.color = color;
    verdict.textContent = text;
    verdict.hidden = false;
  };

  const render = () => {
    const found = ledger.search(query.value);
    const list = $("results");
    list.replaceChildren();
    for (const attendee of found) {
      const row = $("result-row").content.firstElementChild.cloneNode(true);
      row.querySelector(".result-name").textContent = attendee.name;
      row.querySelector(".result-phone").textContent = maskedPhone(attendee.phone);
      const at = checkedInAt(attendee);
      row.querySelector(".result-state").textContent = at === null ? "" : _("checked in %(time)s", { time: clockTime(at) });
      row.dataset.attendee = attendee.id;
      const button = row.querySelector(".result-checkin");
      button.disabled = at !== null;
      button.addEventListener("click", () => checkIn(attendee.id));
      list.append(row);
    }
    $("search-status").textContent = query.value.trim()
      ? found.length ? _("%(count)s found", { count: found.length }) : _("Nobody found. Register them as a walk-in?")
      : "";
  };

  const checkIn = async (id) => {
    const attendee = ledger.attendee(id);
    const at = checkedInAt(attendee);
    if (at !== null) {
      say("amber", _("%(name)s was already checked in at %(time)s.", { name: attendee.name, time: clockTime(at) }));
      return;
    }
    await station.record({ kind: "checkin", subject: id, data: { method: "search", shown: { verdict: "green" } } });
    say("green", _("%(name)s is checked in.", { name: attendee.name }));
    render();
  };

  query.addEventListener("input", render);
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    render();
  });
  render(); // whatever was typed while the ledger was loading
  query.focus();
  ready();
}

main();

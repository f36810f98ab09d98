// The Scan screen: every code the camera reads (or the clerk types) gets a full-screen verdict.
// A pass checks its attendee in; a voucher is redeemed. Online, the server decides a redemption
// (no double use across tablets); when it has not answered within 1.5 s, or offline, the tablet
// decides alone (verdict.js) and the op waits in the outbox with the same op_id.
import { _ } from "./i18n.js";
import { checkedInAt, effectiveUses } from "./ledger.js";
import {
  AMBIGUOUS_SHORT_CODE,
  parse as parseTyped,
  resolve as resolveTyped,
  UNKNOWN_ID,
  UNKNOWN_SHORT_CODE,
} from "./manual-entry.js";
import { randomId } from "./outbox.js";
import { reasonWords } from "./reasons.js";
import { startScanner } from "./scanner.js";
import { $, campaignTexts, clockTime, conflictWords, needsEnrollment, openStation, ready } from "./station-app.js";
import { colorWord, verdictScreen } from "./station-verdict.js";
import { UNREACHABLE } from "./sync-client.js";
import { ALREADY_CHECKED_IN, fromServer, judge, NO_BUNDLE, USED_UP } from "./verdict.js";

export const ONLINE_TIMEOUT_MS = 1500;

function shown(verdict) {
  return { verdict: verdict.color, reason: verdict.reason ?? "", prior_uses_seen: verdict.usesBefore ?? 0 };
}

function words(verdict) {
  if (verdict.reason === ALREADY_CHECKED_IN) {
    return _("Checked in at %(time)s.", { time: clockTime(verdict.checkedInAt) });
  }
  if (verdict.reason === USED_UP && verdict.uses?.length) {
    return _("Used at %(time)s.", { time: clockTime(verdict.uses[verdict.uses.length - 1].at_ms) });
  }
  if (verdict.reason === NO_BUNDLE) return _("This tablet has no trust list yet: connect it to the network once.");
  if (verdict.reason === UNKNOWN_ID)
    return _("This code is not on this tablet yet: scan the QR or type the whole code.");
  if (verdict.reason === UNKNOWN_SHORT_CODE) return _("Not found on this tablet: sync it, or type the whole code.");
  if (verdict.reason === AMBIGUOUS_SHORT_CODE) return _("Several vouchers start like this: type the whole code.");
  return verdict.reason ? reasonWords(verdict.reason) : "";
}

// Under the one word of the colour: what happened, in a few words.
function whatHappened(verdict) {
  if (verdict.color === "green") return verdict.kind === "pass" ? _("Checked in") : _("Hand over");
  if (verdict.color === "amber") return verdict.kind === "pass" ? _("Already checked in") : _("Already used");
  return "";
}

function usesLine(verdict, accepted) {
  if (verdict.kind !== "voucher" || !verdict.token) return "";
  if (!verdict.maxUses) return _("Unlimited uses");
  const left = Math.max(0, verdict.maxUses - verdict.usesBefore - (accepted ? 1 : 0));
  return _("Uses left: %(left)s of %(max)s", { left, max: verdict.maxUses });
}

async function main() {
  const station = await openStation();
  if (!station.device) return needsEnrollment();
  const { ledger, client, device } = station;
  let current = null; // {verdict, redeemOpId} while the verdict screen is up
  const screen = verdictScreen({
    backTo: (seconds) => _("Back to scanning in %(seconds)s s", { seconds }),
    onClose: () => {
      $("undo-form").hidden = true;
      current = null;
    },
  });

  const showVerdict = (verdict, { redeemOpId = null, title = null } = {}) => {
    const accepted = verdict.color === "green";
    const name = verdict.attendee?.name;
    // What to hand over: the voucher's campaign as this tablet holds it, in the page's language.
    const campaign = verdict.kind === "voucher" && verdict.token ? ledger.campaign(verdict.token.campaign) : null;
    const texts = campaignTexts(campaign);
    // What the tablet learnt at its last pull: the organizer has this voucher on their list.
    const open = verdict.kind === "voucher" && verdict.tokenId ? ledger.conflictsAbout(verdict.tokenId) : [];
    $("verdict").dataset.conflicts = open.map((c) => c.kind).join(" ");
    $("verdict-undo").hidden = !(accepted && verdict.kind === "voucher" && redeemOpId);
    $("undo-form").hidden = true;
    screen.show({
      color: verdict.color,
      reason: verdict.reason,
      kind: verdict.kind,
      decidedBy: verdict.decidedBy,
      title: title ?? colorWord(verdict.color),
      what: whatHappened(verdict),
      campaign: texts.title,
      value: texts.value,
      name: name || (verdict.kind === "pass" ? _("Not on this tablet yet") : ""),
      detail: words(verdict),
      uses: usesLine(verdict, accepted),
      conflicts: open.length
        ? _("Open conflict: %(what)s. The organizer will decide.", {
            what: open.map((c) => conflictWords(c.kind)).join(", "),
          })
        : "",
    });
    current = { verdict, redeemOpId };
  };

  // A voucher: ask the server when online and the tablet sees nothing wrong; otherwise (or
  // without an answer in time) the local verdict stands and is queued.
  const redeem = async (verdict) => {
    const opId = randomId("op");
    const unanswered = ["offline", UNREACHABLE].includes(client.status.state); // no need to wait 1.5 s to learn it again
    if (verdict.color === "green" && navigator.onLine && !unanswered) {
      const answer = await client.redeemOnline(
        { op_id: opId, subject: verdict.tokenId, clerk: station.clerkName(), token: verdict.text, code: verdict.code },
        { timeoutMs: ONLINE_TIMEOUT_MS },
      );
      if (answer) {
        const decided = fromServer(verdict, answer);
        const stamp = station.nowMs();
        await ledger.applyDecided({
          kind: "redeem",
          op_id: opId,
          subject: verdict.tokenId,
          hlc_ms: stamp,
          hlc_counter: 0,
          corrected_time_ms: stamp,
          clerk: station.clerkName(),
          data: { token: verdict.text, outcome: answer.outcome, code_step: verdict.step, decided_by: "server" },
        });
        return { verdict: decided, opId };
      }
    }
    const data = {
      token: verdict.text,
      outcome: verdict.color === "green" ? "accepted" : "refused",
      shown: shown(verdict),
    };
    if (verdict.step !== null) data.code_step = verdict.step;
    await station.record({ kind: "redeem", op_id: opId, subject: verdict.tokenId, data });
    return { verdict, opId };
  };

  let handling = false; // from a code handed over to its verdict on screen: the camera waits
  const handle = async (text) => {
    if (current || handling) return; // one verdict at a time: it goes by itself, or the clerk taps Next
    handling = true;
    try {
      await decide(text);
    } finally {
      handling = false;
    }
  };
  const decide = async (text) => {
    const started = performance.now();
    // Read at each scan: a sync may have brought new rotation keys since the page opened.
    const keys = (await station.store.device()) ?? device;
    let verdict = await judge(text, {
      ledger,
      nowSeconds: station.nowSeconds(),
      rotationKey: keys.rotation_key,
      retiredKeys: keys.retired_rotation_keys ?? [],
    });
    let redeemOpId = null;
    if (verdict.kind === "pass" && verdict.color === "green") {
      await station.record({
        kind: "checkin",
        subject: verdict.tokenId,
        data: { method: "scan", shown: shown(verdict), pass_token: verdict.text },
      });
    } else if (verdict.kind === "voucher" && verdict.token) {
      ({ verdict, opId: redeemOpId } = await redeem(verdict));
    }
    showVerdict(verdict, { redeemOpId });
    performance.measure("poppass:scan-to-verdict", { start: started, end: performance.now() });
  };

  $("verdict-undo").addEventListener("click", () => {
    screen.hold(); // the clerk is undoing: the verdict must not go away under their finger
    $("undo-form").hidden = false;
    $("undo-reason").focus();
  });
  $("undo-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current?.redeemOpId) return;
    const { verdict, redeemOpId } = current;
    await station.record({
      kind: "void",
      subject: verdict.tokenId,
      data: { reason: $("undo-reason").value, redeem_op_id: redeemOpId },
    });
    showVerdict(
      {
        ...verdict,
        color: "amber",
        reason: null,
        usesBefore: effectiveUses(ledger.voucher(verdict.tokenId), verdict.text).length,
      },
      { redeemOpId: null, title: _("Undone") },
    );
    $("verdict-what").textContent = _("Redemption undone: take the item back");
  });

  const checkInTyped = async (attendee) => {
    if (current || handling) return;
    const at = checkedInAt(attendee);
    const verdict = { kind: "pass", tokenId: attendee.id, attendee, checkedInAt: at, token: null };
    if (at !== null) {
      showVerdict({ ...verdict, color: "amber", reason: ALREADY_CHECKED_IN });
      return;
    }
    await station.record({
      kind: "checkin",
      subject: attendee.id,
      data: { method: "search", shown: { verdict: "green" } },
    });
    showVerdict({ ...verdict, color: "green", reason: null });
  };

  $("manual").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget; // gone once the handler awaits
    // Short code + digits, a token id or the whole code (manual-entry.js), resolved from what
    // this tablet holds, then judged exactly like a scan.
    const entry = parseTyped($("manual-code").value, $("manual-rotating").value);
    // A pass's id (printed under its QR): the tablet keeps no pass texts (a pass is proven by
    // its signature when scanned), so a typed one finds its attendee, as Check-in's search does.
    const attendee = entry.kind === "id" && !ledger.voucher(entry.value) ? ledger.attendee(entry.value) : null;
    if (attendee?.registered) {
      await checkInTyped(attendee);
      form.reset();
      return;
    }
    const typed = resolveTyped(entry, ledger);
    if (typed.reason) {
      showVerdict({ color: "red", reason: typed.reason, kind: null });
      return;
    }
    await handle(typed.text);
    form.reset();
  });

  const status = $("camera-status");
  let stop = null;
  const startCamera = async () => {
    $("camera-start").hidden = true;
    try {
      stop = await startScanner($("camera"), { onScan: (text) => handle(text), busy: () => handling });
      status.textContent = _("Point the camera at a pass or a voucher.");
    } catch (error) {
      status.textContent =
        error?.name === "NotAllowedError"
          ? _("The camera is not allowed: allow it in the browser, or type the code below.")
          : _("No camera could be opened: type the code below.");
      $("camera-start").hidden = false;
    }
  };
  $("camera-start").addEventListener("click", startCamera);
  window.addEventListener("pagehide", () => stop?.());
  startCamera();
  ready();
}

main();

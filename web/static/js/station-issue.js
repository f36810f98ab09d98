// The Issue screen: a voucher of a campaign, signed by this tablet's key with the campaign's
// terms inside it, recorded with an `issue` op, and shown as the claim QR the attendee's phone
// scans to keep it.
import { _ } from "./i18n.js";
import { mintToken, TokenType } from "./mint.js";
import { $, campaignTexts, clockTime, maskedPhone, needsEnrollment, openStation, ready } from "./station-app.js";
import { groupedId, showTokenQr, showWithNextStep } from "./station-qr.js";
import { decode } from "./token.js";

// docs/sync-protocol.md, "Clocks": past ten minutes of skew, no time-limited voucher until the clock is
// fixed and a sync has measured it again.
const SKEW_REFUSE_ISSUE_S = 600;

/** The validity of a voucher issued at `issuedAt`: as events/campaigns.py Campaign.window_for. */
export function windowFor(campaign, issuedAt) {
  const start = Math.max(issuedAt, campaign.valid_from || issuedAt);
  const ends = [campaign.valid_until, campaign.valid_minutes && issuedAt + 60 * campaign.valid_minutes].filter(
    (t) => t,
  );
  return { validFrom: start, validUntil: ends.length ? Math.min(...ends) : null };
}

async function main() {
  const station = await openStation();
  if (!station.device) return needsEnrollment();
  const { device, ledger } = station;
  const form = $("issue");
  const error = $("issue-error");

  const fail = (text) => {
    error.textContent = text;
    error.hidden = false;
  };

  const renderCampaigns = () => {
    const box = $("campaigns");
    box.replaceChildren();
    // Only campaigns clerks may give (a sign-up-only welcome voucher is not the counter's to hand out).
    const offered = ledger.campaigns.filter((campaign) => campaign.by_clerks !== false);
    for (const campaign of offered) {
      const choice = $("campaign-choice").content.firstElementChild.cloneNode(true);
      const radio = choice.querySelector("input");
      radio.value = String(campaign.number);
      const { title, terms } = campaignTexts(campaign);
      choice.querySelector(".campaign-title").textContent = title;
      choice.querySelector(".campaign-terms").textContent = terms ? ` — ${terms}` : "";
      box.append(choice);
    }
    if (offered.length === 1) box.querySelector("input").checked = true;
    $("no-campaigns").hidden = offered.length > 0;
  };

  const choose = (attendee) => {
    $("issue-attendee").value = attendee?.id ?? "";
    const chosen = $("issue-attendee-chosen");
    chosen.textContent = attendee ? _("To: %(name)s", { name: attendee.name || attendee.id }) : "";
    chosen.hidden = !attendee;
    $("issue-results").replaceChildren();
  };

  let searches = 0; // async (a typed number is hashed first): only the latest one is drawn
  const search = async () => {
    const mine = ++searches;
    const found = await ledger.find($("issue-attendee-query").value, 8);
    if (mine !== searches) return;
    const list = $("issue-results");
    list.replaceChildren();
    for (const attendee of found) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "result-pick";
      button.textContent = `${attendee.name} ${maskedPhone(attendee.phone_last4)}`.trim();
      button.addEventListener("click", () => choose(attendee));
      item.append(button);
      list.append(item);
    }
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const campaign = ledger.campaign(Number(new FormData(form).get("campaign")));
    if (!campaign) return fail(_("Choose a campaign."));
    const issuedAt = Math.floor(station.nowSeconds());
    const { validFrom, validUntil } = windowFor(campaign, issuedAt);
    if (validUntil !== null && validUntil <= validFrom + 60) return fail(_("This campaign has ended."));
    const attendeeId = $("issue-attendee").value || null;
    if (attendeeId && campaign.per_attendee && ledger.heldBy(attendeeId, campaign.number) >= campaign.per_attendee) {
      return fail(
        _("They already hold %(count)s of this voucher, the most one person may have.", {
          count: campaign.per_attendee,
        }),
      );
    }
    const offset = station.clockOffsetMs();
    const limit = (ledger.bundle?.policy?.skew_refuse_issue_s ?? SKEW_REFUSE_ISSUE_S) * 1000;
    if (validUntil !== null && (offset === null || Math.abs(offset) > limit)) {
      return fail(
        _(
          "The tablet's clock is off by %(minutes)s min. Set the right time and sync before issuing vouchers that expire.",
          { minutes: offset === null ? "?" : Math.round(offset / 60_000) },
        ),
      );
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const text = await mintToken({
        privateKey: device.private_key,
        keyId: device.key_id,
        eventId: device.event.id,
        type: TokenType.VOUCHER,
        issuedAt,
        validFrom,
        validUntil,
        campaign: campaign.number,
        maxUses: campaign.max_uses,
        rotating: Boolean(campaign.rotating),
      });
      const token = decode(text).token;
      const data = { token: text };
      if (attendeeId) data.attendee_id = attendeeId;
      await station.record({ kind: "issue", subject: token.id, data });
      const { title } = campaignTexts(campaign);
      $("issued-title").textContent = title;
      const attendee = attendeeId ? ledger.attendee(attendeeId) : null;
      $("issued-to").textContent = attendee ? _("To: %(name)s", { name: attendee.name }) : "";
      await showTokenQr($("claim-qr"), text, _("Voucher: %(title)s", { title }));
      $("claim-id").textContent = groupedId(token.id);
      $("claim-validity").textContent = token.valid_until
        ? _("Valid until %(time)s", { time: clockTime(token.valid_until * 1000) })
        : _("No end");
      form.hidden = true;
      $("issued").hidden = false;
      showWithNextStep($("claim-qr"), $("issue-another"));
    } catch (failure) {
      console.error(failure);
      fail(_("Could not issue: %(problem)s", { problem: failure?.message ?? String(failure) }));
    } finally {
      button.disabled = false;
    }
  });

  $("issue-another").addEventListener("click", () => {
    $("issued").hidden = true;
    form.hidden = false;
  });
  $("issue-attendee-query").addEventListener("input", search);
  if ($("issue-attendee-query").value) search(); // typed while the ledger was loading

  renderCampaigns();
  const preset = new URLSearchParams(window.location.search).get("attendee");
  if (preset && ledger.attendee(preset)) choose(ledger.attendee(preset));
  ready();
}

main();

"""What the clerk's tablet does with a campaign's settings: it offers only campaigns clerks may
give, and will not give one person more than their share, even offline."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from e2e.station import with_db
from events import campaigns, devices, registry


def test_the_tablet_keeps_to_a_campaigns_share_and_hides_sign_up_only_ones(new_station, live_server) -> None:
    def setup(db) -> str:  # an event of its own: the demo event's campaigns stay as other tests expect
        now = int(time.time())
        event = registry.create_event(
            db, name="Gift fair", venue="Hall", starts_at=now - 60, ends_at=now + 8 * 3600, now=now
        )
        campaigns.create_campaign(db, event.id, title="Tote bag, one each", per_attendee=1, rotating=False, now=now)
        campaigns.create_campaign(db, event.id, title="Online only gift", welcome=True, by_clerks=False, now=now)
        return devices.create_enrollment_code(db, event.id, name="Gift desk", now=now)

    tablet = new_station("Gift desk", "Yu", code=with_db(live_server, setup))
    tablet.offline()
    tablet.register(live_server.url, "Sun Li", "139 8888 0000")
    tablet.page.get_by_role("link", name="Give them a voucher").click()
    expect(tablet.page.get_by_role("radio", name=re.compile("Tote bag, one each"))).to_be_visible()
    expect(tablet.page.get_by_role("radio", name=re.compile("Online only gift"))).to_have_count(0)

    tablet.page.get_by_role("radio", name=re.compile("Tote bag, one each")).check()
    tablet.page.get_by_role("button", name="Issue", exact=True).click()
    expect(tablet.page.locator("#claim-qr svg")).to_be_visible()
    tablet.page.get_by_role("button", name="Issue another").click()
    tablet.page.get_by_role("radio", name=re.compile("Tote bag, one each")).check()
    tablet.page.get_by_role("button", name="Issue", exact=True).click()
    expect(tablet.page.locator("#issue-error")).to_have_text(
        "They already hold 1 of this voucher, the most one person may have."
    )

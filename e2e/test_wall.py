"""The live wall on a projector while five tablets work the door and the bar, through the real
server and Chromium: live updates without a reload, a cut websocket that catches up from the
snapshot, names as text, and the lucky draw."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from e2e.console import new_organizer, sign_in
from e2e.station import camera, new_station, tablet_browser, with_db  # noqa: F401 (fixtures)
from events import campaigns, draws

PROJECTOR = {"viewport": {"width": 1920, "height": 1080}, "locale": "en-US"}


def static_voucher(live_server) -> str:
    def make(db):
        event_id = live_server.demo.event.id
        campaign = campaigns.create_campaign(db, event_id, title="Wall coffee", value="a coffee", rotating=False,
                                             now=int(time.time()))
        return campaigns.issue_voucher(db, event_id, campaign.number, now=int(time.time())).text

    return with_db(live_server, make)


def counter(wall: Page, name: str):
    return wall.locator(f"#counter-{name} .value")


def test_the_wall_follows_five_tablets_live(browser: Browser, new_station, live_server) -> None:
    email = new_organizer(live_server)
    projector = browser.new_context(**PROJECTOR)
    wall = projector.new_page()
    errors: list[str] = []
    wall.on("pageerror", lambda error: errors.append(str(error)))
    # The wall's socket goes through here, so the test can cut it like a flaky venue network.
    cut = {"on": False, "sockets": []}

    def route(socket: WebSocketRoute) -> None:
        if cut["on"]:
            socket.close()
            return
        socket.connect_to_server()
        cut["sockets"].append(socket)

    wall.route_web_socket(re.compile(r".*/wall/socket$"), route)
    sign_in(wall, live_server, email)
    url = f"{live_server.url}/organizer/events/{live_server.demo.event.id}/wall"
    wall.goto(url)
    screen = wall.locator("#wall")
    expect(screen).to_have_attribute("data-state", "live")
    wall.evaluate("window.sameDocument = true")
    checked_in = int(counter(wall, "checked-in").text_content())
    redeemed = int(counter(wall, "redeemed").text_content())

    tablets = [new_station(f"Tablet {n}", f"Clerk {n}") for n in range(5)]
    # Each tablet registers a walk-in and checks them in (the Register screen does both).
    for n, tablet in enumerate(tablets):
        tablet.register(live_server.url, f"Walker{n} Person", f"1390000{n:04d}")
    expect(counter(wall, "checked-in")).to_have_text(str(checked_in + 5), timeout=10_000)
    for n in range(5):
        expect(wall.locator("#feed")).to_contain_text(f"Walker{n} P.")
    expect(wall.locator("#feed")).not_to_contain_text("Person")  # surnames are masked
    for n in range(5):
        expect(wall.locator("#wall-devices li", has_text=f"Tablet {n}")).to_have_attribute("data-state", "online")

    # A name with HTML in it is text on the wall.
    tablets[0].register(live_server.url, "<script>alert(1)</script> Zed", "13900009999")
    expect(wall.locator("#feed")).to_contain_text("<script>alert(1)</script> Z.")
    assert wall.locator("#feed script").count() == 0

    # The bar redeems a voucher online: the redeemed counter and the feed follow.
    bar = tablets[1]
    bar.go(live_server.url + "/station/scan")
    bar.type_code(static_voucher(live_server))
    expect(bar.verdict()).to_have_attribute("data-color", "green")
    expect(counter(wall, "redeemed")).to_have_text(str(redeemed + 1))
    expect(wall.locator("#feed li.feed-redeem").first).to_contain_text("redeemed Wall coffee")
    assert wall.evaluate("window.sameDocument") is True  # all of it without a reload

    # The socket is cut. Meanwhile two more people come in; the wall cannot know.
    cut["on"] = True
    cut["sockets"][-1].close()
    expect(screen).to_have_attribute("data-state", "reconnecting")
    tablets[2].register(live_server.url, "Late Comer", "13900008888")
    tablets[3].register(live_server.url, "Later Still", "13900007777")
    for tablet in tablets[2:4]:
        expect(tablet.badge()).to_contain_text("Online · 0 waiting", timeout=10_000)
    assert int(counter(wall, "checked-in").text_content()) == checked_in + 6
    # Restored: the next connect brings a snapshot with both.
    cut["on"] = False
    expect(screen).to_have_attribute("data-state", "live", timeout=10_000)
    expect(counter(wall, "checked-in")).to_have_text(str(checked_in + 8))
    expect(wall.locator("#feed")).to_contain_text("Late C.")
    expect(wall.locator("#feed")).to_contain_text("Later S.")
    assert wall.evaluate("window.sameDocument") is True

    # Light theme for a bright room.
    wall.get_by_role("link", name="Light").click()
    expect(wall.locator("body")).to_have_class(re.compile(r"\btheme-light\b"))
    expect(screen).to_have_attribute("data-state", "live")

    # The lucky draw: two winners with an animation, then a second draw without them.
    wall.get_by_label("Lucky draw: winners").fill("2")
    wall.get_by_role("button", name="Draw").click()
    stage = wall.locator("#draw-stage")
    expect(stage).to_be_visible()
    expect(stage).to_have_attribute("data-phase", "done", timeout=10_000)
    expect(wall.locator("#draw-winners-shown li")).to_have_count(2)
    first = with_db(live_server, lambda db: draws.latest_draw(db, live_server.demo.event.id))
    assert draws.replay(first) == first.winners
    wall.get_by_role("button", name="Close").click()
    expect(stage).to_be_hidden()
    wall.get_by_label("Lucky draw: winners").fill("2")
    wall.get_by_role("button", name="Draw").click()
    expect(stage).to_have_attribute("data-draw", str(first.id + 1))
    second = with_db(live_server, lambda db: draws.latest_draw(db, live_server.demo.event.id))
    assert not set(second.winners) & set(first.winners)
    wall.goto(f"{url}/draws/{first.id}")
    expect(wall.locator("#draw-seed")).to_have_text(first.seed)
    expect(wall.locator("#draw-replayed")).to_have_text("Drawn again from this record: the same winners.")

    assert errors == []
    projector.close()

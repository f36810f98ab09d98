"""The live wall on a projector while five tablets work the door and the bar, through the real
server and Chromium: live updates without a reload, a cut websocket that catches up from the
snapshot, names as text, and the lucky draw."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from e2e.console import hold_new_events, new_organizer, sign_in
from e2e.station import with_db
from events import campaigns, draws, registry, signup
from tests.support.tablet import enroll, push

PROJECTOR = {"viewport": {"width": 1920, "height": 1080}, "locale": "en-US"}


def static_voucher(live_server) -> str:
    def make(db):
        event_id = live_server.demo.event.id
        campaign = campaigns.create_campaign(
            db, event_id, title="Wall coffee", value="a coffee", rotating=False, now=int(time.time())
        )
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


# --- one screen on a projector ---------------------------------------------------------------

PANELS = (
    ".wall-head",
    "#counter-checked-in",
    "#counter-conflicts",
    ".feed-panel",
    ".chart-panel",
    ".funnel-panel",
    ".devices-panel",
    ".draw-panel",
    "#draw-form",
    "#draw-winners",
    "#winners li",
)


def event_under_way(db, organizer_email: str) -> str:
    """Four hours of an event: 60 people coming in over the first three (a few signed up online),
    a long name, an email-only winner of a past draw."""
    # Half a minute past a whole minute: arrivals are counted by the minute, so the first one
    # falls before the start and the chart spans a little over four hours, in 10-minute bins,
    # whatever second the test runs at (at :59 it used to span exactly four, in 5-minute bins).
    now = int(time.time()) // 60 * 60 - 30
    event = registry.create_event(
        db,
        name="Spring launch at the flagship store, with a very long name indeed",
        venue="Store 1F",
        starts_at=now - 3 * 3600,
        ends_at=now + 3600,
        timezone="Asia/Shanghai",
        now=now - 86400,
    )
    hold_new_events(db, organizer_email)
    campaigns.create_campaign(db, event.id, title="Tote bag", welcome=True, now=now - 86400)
    for n in range(6):
        signup.sign_up(
            db,
            event.id,
            signup.Applicant(f"Online Guest{n}", f"1370000{n:04d}", "", True),
            now_ms=(now - 4 * 3600) * 1000 + n,
        )
    doors = [
        enroll(db, event.id, name, now=now - 3 * 3600)
        for name in ("Front door", "Side door with a very long tablet name")
    ]
    start_ms = (now - 3 * 3600) * 1000
    for n in range(60):
        door = doors[n % 2]
        at = start_ms + n * 3 * 60_000
        name = (
            "Alexandrina Konstantinopoulou-Featherstonehaugh"
            if n == 7
            else (f"王小{n}" if n % 3 else f"Guest{n} Person")
        )
        person = (
            door.register(name, now_ms=at, email=f"guest{n}@example.com")["subject"]
            if n == 5
            else door.register(name, now_ms=at, phone=f"1380000{n:04d}")["subject"]
        )
        door.checkin(person, now_ms=at + 1000)
    for door in doors:
        push(db, door, int(time.time() * 1000))
    (organizer_id,) = db.execute("select id from organizers where email = ?", [organizer_email]).fetchone()
    draws.draw(db, event.id, drawn_by=organizer_id, wanted=3, now=now - 600)
    return event.id


def assert_one_screen(wall: Page, width: int, height: int) -> None:
    sizes = wall.evaluate(
        "[document.documentElement.scrollHeight, document.documentElement.scrollWidth, innerHeight, innerWidth]"
    )
    assert sizes[0] <= height and sizes[1] <= width, (width, height, sizes)
    for panel in PANELS:
        for box in [item.bounding_box() for item in wall.locator(panel).all()]:
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= height + 0.5, (panel, box, width, height)
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (panel, box, width, height)


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_wall_fits_one_projector_screen(browser: Browser, live_server, locale) -> None:
    email = new_organizer(live_server, name="WallFit")
    event_id = with_db(live_server, lambda db: event_under_way(db, email))
    event_start = with_db(live_server, lambda db: registry.get_event(db, event_id).starts_at)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="en-US")
    wall = context.new_page()
    sign_in(wall, live_server, email)  # its helper reads the English labels
    context.set_extra_http_headers({"Accept-Language": locale})
    wall.goto(f"{live_server.url}/organizer/events/{event_id}/wall")
    expect(wall.locator("#wall")).to_have_attribute("data-state", "live")
    assert wall.locator("html").get_attribute("lang") == locale.replace("en-US", "en")
    for width, height in ((1920, 1080), (1280, 720)):
        wall.set_viewport_size({"width": width, "height": height})
        # The page has taken the new size (the layout is CSS only: measuring it lays it out anew).
        wall.wait_for_function("([w, h]) => innerWidth === w && innerHeight === h", arg=[width, height])
        assert_one_screen(wall, width, height)
        # The chart spans the event's four hours (and more, if anyone came outside them) in bins of
        # one size (10 minutes: 4 hours in at most 48 bars), its bars across the plot, not one at the left.
        starts = [int(g.get_attribute("data-start")) for g in wall.locator("#wall-chart g.bin").all()]
        assert 16 <= len(starts) <= 48 and {
            int(g) for g in wall.locator("#wall-chart g.bin").evaluate_all("(gs) => gs.map((g) => g.dataset.size)")
        } == {600}
        assert starts[0] <= event_start and starts[-1] + 600 >= event_start + 4 * 3600
        bars = [
            bar.bounding_box()
            for bar in wall.locator("#wall-chart rect.chart-bar.arrivals").all()
            if int(bar.get_attribute("data-value"))
        ]
        plot = wall.locator("#wall-chart svg").bounding_box()
        assert len(bars) >= 12 and max(b["x"] for b in bars) - min(b["x"] for b in bars) > plot["width"] / 2
        assert all(b["height"] > 2 for b in bars)
        # Long names are cut on one line, not wrapped.
        title = wall.locator(".wall-head h1")
        assert (
            title.evaluate("(e) => getComputedStyle(e).whiteSpace") == "nowrap"
            and title.bounding_box()["height"] < height / 10
        )
    # The past draw: its winners large, the email-only one by a masked email, never a bare "?".
    expect(wall.locator("#winners li")).to_have_count(3)
    assert wall.locator("#winners").inner_text().count("@") <= 1 and "?" not in wall.locator("#winners").inner_text()
    size = wall.locator("#winners .winner-name").first.evaluate("(e) => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 30
    # Full screen (the projector's own size): still one screen.
    wall.locator("#fullscreen").click()
    wall.wait_for_function("document.fullscreenElement !== null")
    width, height = wall.evaluate("[innerWidth, innerHeight]")
    assert_one_screen(wall, width, height)
    context.close()


@pytest.mark.parametrize("reduced", [False, True])
def test_the_draw_reveal_ends_on_the_winners(browser: Browser, live_server, reduced) -> None:
    email = new_organizer(live_server, name="WallDraw")
    event_id = with_db(live_server, lambda db: event_under_way(db, email))
    context = browser.new_context(
        viewport={"width": 1280, "height": 720}, locale="en-US", reduced_motion="reduce" if reduced else "no-preference"
    )
    wall = context.new_page()
    sign_in(wall, live_server, email)
    wall.goto(f"{live_server.url}/organizer/events/{event_id}/wall")
    expect(wall.locator("#wall")).to_have_attribute("data-state", "live")
    wall.get_by_label("Lucky draw: winners").fill("2")
    # Whether the shuffle ran is seen in the page, not timed: the spinner is given names only by it.
    wall.evaluate("""() => {
      window.__shuffled = 0;
      new MutationObserver((records) => { window.__shuffled += records.filter((r) => r.addedNodes.length).length; })
        .observe(document.getElementById('draw-spinner'), { childList: true, characterData: true, subtree: true });
    }""")
    wall.get_by_role("button", name="Draw").click()
    stage = wall.locator("#draw-stage")
    expect(stage).to_be_visible()
    if not reduced:
        expect(stage).to_have_attribute("data-phase", "spinning")
        expect(wall.locator("#draw-spinner")).not_to_be_empty()
    expect(stage).to_have_attribute("data-phase", "done", timeout=10_000)
    # Reduced motion: no shuffle to sit through (not a name was spun); otherwise the names went round.
    assert (wall.evaluate("window.__shuffled") == 0) is reduced
    latest = with_db(live_server, lambda db: draws.latest_draw(db, event_id))
    shown = wall.locator("#draw-winners-shown li")
    expect(shown).to_have_count(2)
    expect(wall.locator("#draw-spinner")).to_be_hidden()
    assert [item.inner_text().split("\n")[0] for item in wall.locator("#winners li .winner-name").all()] == [
        item.inner_text() for item in shown.locator(".winner-name").all()
    ]
    assert len(latest.winners) == 2
    for item in shown.all():
        box = item.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 720
    assert shown.first.locator(".winner-name").evaluate("(e) => parseFloat(getComputedStyle(e).fontSize)") >= 60
    context.close()

"""The station as a clerk uses it at the counter, in real Chromium against the real server: the
full-screen verdict (what to hand over, to whom, uses left; back by itself, held by a touch),
its sound switch, the search check-in's verdict, the tablet that is not enrolled or was revoked,
the sync badge across an offline reload, and every QR of the station inside a 1280×800 screen."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from e2e.station import Station, with_db
from events import campaigns, devices, signup

TABLET = {"width": 1280, "height": 800}
PORTRAIT = {"width": 800, "height": 1280}
PHONE = {"width": 390, "height": 844}

# navigator.vibrate, recorded: the headless browser has no motor to feel.
RECORD_VIBRATIONS = """
window.__vibrations = [];
navigator.vibrate = (pattern) => { window.__vibrations.push(pattern); return true; };
"""


def campaign_with_value(live_server, title: str, value: str) -> None:
    """A campaign clerks give at the counter, made before the tablet enrolls (it pulls campaigns)."""
    with_db(
        live_server,
        lambda db: campaigns.create_campaign(
            db, live_server.demo.event.id, title=title, value=value, max_uses=2, rotating=False, now=int(time.time())
        ),
    )


def fully_inside_viewport(page: Page, selector: str) -> bool:
    return page.evaluate(
        """(selector) => {
          const box = document.querySelector(selector).getBoundingClientRect();
          return box.width > 0 && box.top >= 0 && box.left >= 0
            && box.bottom <= window.innerHeight && box.right <= window.innerWidth;
        }""",
        selector,
    )


def covers_the_screen(page: Page) -> bool:
    return page.evaluate(
        """() => {
          const box = document.getElementById('verdict').getBoundingClientRect();
          return box.top <= 0 && box.left <= 0 && box.right >= window.innerWidth && box.bottom >= window.innerHeight;
        }"""
    )


def shown(page: Page, selector: str) -> bool:
    """Seen by the clerk: laid out with a size and not invisible (the attribute alone proves nothing)."""
    return page.evaluate(
        """(selector) => {
          const element = document.querySelector(selector);
          if (!element) return false;
          const style = getComputedStyle(element);
          const box = element.getBoundingClientRect();
          return style.display !== 'none' && style.visibility !== 'hidden' && box.width > 0 && box.height > 0;
        }""",
        selector,
    )


def register(tablet: Station, base_url: str, name: str, phone: str, *, check_in: bool = True) -> str:
    """A walk-in registered on the Register screen; the pass's token text."""
    tablet.go(base_url + "/station/register")
    page = tablet.page
    page.get_by_label("Name").fill(name)
    page.get_by_label("Phone").fill(phone)
    page.get_by_label("They agree").check()
    if not check_in:
        page.get_by_label("Check them in now").uncheck()
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#registered")).to_be_visible()
    return page.locator("#pass-qr").get_attribute("data-token")


def issue_to(tablet: Station, base_url: str, campaign: str, person: str) -> str:
    """A voucher of `campaign` issued on the Issue screen to the attendee found as `person`; its text."""
    tablet.go(base_url + "/station/issue")
    page = tablet.page
    page.get_by_label(campaign).check()
    page.get_by_label("To (name or phone)").fill(person)
    page.locator("#issue-results").get_by_role("button").first.click()
    page.get_by_role("button", name="Issue", exact=True).click()
    expect(page.locator("#issued")).to_be_visible()
    return page.locator("#claim-qr").get_attribute("data-token")


def test_the_verdict_says_what_to_hand_over_goes_back_by_itself_and_a_touch_holds_it(new_station, live_server) -> None:
    title = f"Tote bag {time.time_ns()}"
    campaign_with_value(live_server, title, "¥50 off")
    tablet = new_station("Counter", "Mei")
    tablet.page.set_viewport_size(TABLET)
    tablet.offline()
    register(tablet, live_server.url, "Chen Jing", "+86 139 0000 1111")
    voucher = issue_to(tablet, live_server.url, title, "Chen Jing")

    # The verdict's countdowns run on Playwright's clock, which the test moves on, rather than
    # waiting seconds; it flows by itself too, as a real one.
    tablet.page.clock.install()
    tablet.go(live_server.url + "/station/scan")
    page = tablet.page
    tablet.type_code(voucher)
    verdict = tablet.verdict()
    expect(verdict).to_be_visible()
    expect(verdict).to_have_attribute("data-color", "green")
    expect(page.locator("#verdict-title")).to_have_text("Accepted")
    expect(page.locator("#verdict-campaign")).to_have_text(title)
    expect(page.locator("#verdict-value")).to_have_text("¥50 off")
    expect(page.locator("#verdict-name")).to_have_text("Chen Jing")
    expect(page.locator("#verdict-uses")).to_have_text("Uses left: 1 of 2")
    assert covers_the_screen(page)
    assert shown(page, ".verdict-icon-green") and not shown(page, ".verdict-icon-red")
    # Saturated: white text on a colour dark enough for it (axe's 4.5:1 is checked elsewhere).
    colors = page.evaluate(
        "() => [getComputedStyle(document.getElementById('verdict')).backgroundColor,"
        " getComputedStyle(document.getElementById('verdict-title')).color]"
    )
    assert colors == ["rgb(10, 110, 53)", "rgb(255, 255, 255)"]
    expect(page.locator("#verdict-countdown-text")).to_contain_text("Back to scanning in")
    # Green goes back to scanning by itself after 3 s: no tap needed.
    expect(verdict).to_be_hidden(timeout=5_000)

    tablet.type_code(voucher)  # the second and last use
    expect(verdict).to_have_attribute("data-color", "green")
    expect(page.locator("#verdict-uses")).to_have_text("Uses left: 0 of 2")
    page.get_by_role("button", name="Undo").click()  # a touch holds it, however long the clerk takes
    expect(verdict).to_have_attribute("data-held", "true")
    expect(page.locator("#verdict-countdown-text")).to_have_text("Held: tap Next when you are done.")
    page.clock.fast_forward(4_000)  # past the 3 s it would have gone by itself
    expect(verdict).to_be_visible()
    page.get_by_role("button", name="Undo the redemption").click()
    expect(page.locator("#verdict-title")).to_have_text("Undone")
    expect(verdict).to_have_attribute("data-color", "amber")
    tablet.next()

    tablet.type_code("HELLO WORLD")  # red stays longer (6 s): there is a reason to read
    expect(verdict).to_have_attribute("data-color", "red")
    assert shown(page, ".verdict-icon-red")
    page.clock.fast_forward(3_500)  # past green's 3 s
    expect(verdict).to_be_visible()
    page.clock.fast_forward(3_000)  # past its own 6 s
    expect(verdict).to_be_hidden()


def test_the_mute_switch_is_kept_on_the_tablet(new_station, live_server) -> None:
    tablet = new_station("Counter", "Bo")
    tablet.context.add_init_script(RECORD_VIBRATIONS)
    tablet.go(live_server.url + "/station/scan")
    page = tablet.page
    mute = page.get_by_role("switch", name="Mute verdict sounds")
    expect(mute).not_to_be_checked()
    tablet.type_code("HELLO WORLD")
    expect(tablet.verdict()).to_have_attribute("data-signal", "red")
    page.wait_for_function("() => window.__vibrations.length === 1")
    assert page.evaluate("() => window.__vibrations") == [[280, 120, 280]]
    tablet.next()

    mute.check()
    tablet.go(live_server.url + "/station/checkin")  # another screen, a new page: still muted
    expect(page.get_by_role("switch", name="Mute verdict sounds")).to_be_checked()
    tablet.go(live_server.url + "/station/scan")
    expect(page.get_by_role("switch", name="Mute verdict sounds")).to_be_checked()
    tablet.type_code("HELLO WORLD")
    expect(tablet.verdict()).to_have_attribute("data-signal", "muted")
    # The verdict queues its signal as a task when it shows; a task queued after it runs after it.
    page.evaluate("() => new Promise((done) => setTimeout(done, 0))")
    assert page.evaluate("() => window.__vibrations") == []
    tablet.next()


def test_a_check_in_found_by_search_gets_the_full_screen_verdict(new_station, live_server) -> None:
    tablet = new_station("Door", "Mei")
    tablet.page.set_viewport_size(TABLET)
    tablet.offline()
    register(tablet, live_server.url, "Ouyang Xiaoming Long-Surname", "+86 139 5555 7788", check_in=False)
    tablet.go(live_server.url + "/station/checkin")
    page = tablet.page
    page.get_by_label("Name or phone number").fill("7788")
    row = page.locator(".result").first
    expect(row).to_contain_text("Ouyang")
    row.get_by_role("button", name="Check in").click()
    expect(tablet.verdict()).to_be_visible()
    expect(tablet.verdict()).to_have_attribute("data-color", "green")
    expect(page.locator("#verdict-what")).to_have_text("Checked in")
    expect(page.locator("#verdict-name")).to_have_text("Ouyang Xiaoming Long-Surname")
    assert covers_the_screen(page)
    expect(page.locator("#verdict-countdown-text")).to_contain_text("Back to the search in")
    expect(tablet.verdict()).to_be_hidden(timeout=5_000)
    expect(row.get_by_role("button", name="Check in")).to_be_disabled()
    page.evaluate("() => document.querySelector('.result .result-checkin').disabled = false")
    row.get_by_role("button", name="Check in").click()  # a stale list: the tablet still knows
    expect(tablet.verdict()).to_have_attribute("data-color", "amber")
    expect(page.locator("#verdict-what")).to_have_text("Already checked in")
    tablet.next()


def test_two_codes_at_once_get_one_verdict_and_one_op(new_station, live_server) -> None:
    """A typed code submitted while another is still being decided (or a camera scan landing
    then) is ignored, as it is while a verdict is on screen: never two verdicts racing."""
    tablet = new_station("Door", "Mei")
    tablet.offline()
    first = register(tablet, live_server.url, "Ouyang Yi", "+86 139 5555 0101", check_in=False)
    second = register(tablet, live_server.url, "Ouyang Er", "+86 139 5555 0102", check_in=False)
    tablet.go(live_server.url + "/station/scan")
    tablet.wait_ready()
    before = len(tablet.outbox())
    tablet.page.evaluate(
        """([first, second]) => {
          const form = document.getElementById('manual');
          for (const text of [first, second]) {
            document.getElementById('manual-code').value = text;
            form.requestSubmit();  // both before the first one's IndexedDB answer
          }
        }""",
        [first, second],
    )
    expect(tablet.verdict()).to_have_attribute("data-color", "green")
    expect(tablet.page.locator("#verdict-name")).to_have_text("Ouyang Yi")
    tablet.next()
    checkins = [op for op in tablet.outbox()[before:] if op["kind"] == "checkin"]
    assert len(checkins) == 1


def test_the_search_list_follows_what_the_tablet_pulls_without_retyping(new_station, live_server) -> None:
    tablet = new_station("Door", "Mei")
    page = tablet.page
    tablet.go(live_server.url + "/station/checkin")
    page.get_by_label("Name or phone number").fill("Zhuge")
    expect(page.locator("#search-status")).to_have_text("Nobody found. Register them as a walk-in?")
    with_db(
        live_server,
        lambda db: signup.sign_up(
            db,
            live_server.demo.event.id,
            signup.Applicant("Zhuge Liang", "13900001234", "", True),
            now_ms=int(time.time() * 1000),
        ),
    )
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")  # the clerk looks again: it syncs
    expect(page.locator(".result .result-name")).to_have_text(["Zhuge Liang"])
    expect(page.locator("#search-status")).to_have_text("1 found")


def test_an_unenrolled_tablet_shows_no_nav_and_no_camera(tablet_browser, live_server) -> None:
    context = tablet_browser.new_context(locale="en-US", permissions=["camera"], viewport=TABLET)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/station/scan")
        page.locator("body[data-station-ready=true]").wait_for(state="attached")
        expect(page.locator("#needs-enrollment")).to_be_visible()
        assert not shown(page, "#station-nav")
        assert not shown(page, "#camera")
        assert not shown(page, "#manual")
        page.goto(live_server.url + "/station")
        page.locator("body[data-station-ready=true]").wait_for(state="attached")
        expect(page.get_by_role("heading", name="Set up this tablet")).to_be_visible()
        assert not shown(page, "#station-nav")
        assert not shown(page, "#enroll-camera")  # hidden until the clerk asks to scan
        assert not shown(page, "#revoked")
    finally:
        context.close()


def test_a_tablet_revoked_while_on_the_scan_screen_shows_its_notice(new_station, live_server) -> None:
    tablet = new_station("Lost", "Mei")
    tablet.page.set_viewport_size(TABLET)
    page = tablet.page
    device_id = page.evaluate(
        "async () => (await (await import('/static/js/outbox.js')).openOutbox()).device().then((d) => d.device_id)"
    )
    with_db(live_server, lambda db: devices.revoke_device(db, device_id, now=int(time.time())))
    # The clerk comes back to the tablet: the page becomes visible, which syncs, which is refused.
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    expect(page).to_have_url(live_server.url + "/station")
    expect(page.get_by_role("heading", name="This tablet was revoked")).to_be_visible()
    assert shown(page, "#revoked")
    assert not shown(page, "#station-nav")
    assert not shown(page, "#enroll-camera")
    expect(tablet.badge()).to_have_text("Not enrolled")


def test_the_badge_keeps_the_last_sync_across_an_offline_reload(new_station, live_server) -> None:
    tablet = new_station("Door", "Mei")
    badge = tablet.badge()
    tablet.offline()
    expect(badge).to_contain_text("Offline · 0 waiting · last sync")
    synced = badge.inner_text().rsplit("last sync ", 1)[1]
    tablet.page.reload()
    tablet.wait_ready()
    expect(badge).to_contain_text("Offline · 0 waiting · last sync " + synced)
    expect(badge).to_have_attribute("data-state", "offline")
    tablet.go(live_server.url + "/station/checkin")  # every screen, not just the one that synced
    expect(badge).to_contain_text("last sync " + synced)


def test_a_server_that_does_not_answer_is_not_offline(new_station, live_server) -> None:
    tablet = new_station("Door", "Mei")
    # Network up (the context is online), but nothing answers the sync API.
    tablet.page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
    tablet.page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    expect(tablet.badge()).to_contain_text("Server unreachable · 0 waiting · last sync")
    expect(tablet.badge()).to_have_attribute("data-state", "unreachable")
    tablet.offline()
    expect(tablet.badge()).to_contain_text("Offline")
    tablet.offline(False)
    tablet.page.unroute("**/api/v1/**")
    expect(tablet.badge()).to_contain_text("Online · 0 waiting", timeout=10_000)


@pytest.mark.parametrize("viewport", [TABLET, PORTRAIT, PHONE], ids=["landscape", "portrait", "phone"])
def test_every_qr_of_the_station_is_whole_on_the_screen_with_its_next_step(new_station, live_server, viewport) -> None:
    tablet = new_station("Door", "Mei")
    page = tablet.page
    page.set_viewport_size(viewport)
    tablet.offline()
    register(tablet, live_server.url, "Wang Fang", "+86 139 2222 3333")
    assert fully_inside_viewport(page, "#pass-qr")
    if viewport is not PHONE:  # on a phone the next step is a short scroll below the QR
        assert fully_inside_viewport(page, "#register-another")
    issue_to(tablet, live_server.url, "Free coffee", "Wang Fang")
    assert fully_inside_viewport(page, "#claim-qr")
    if viewport is not PHONE:
        assert fully_inside_viewport(page, "#issue-another")


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_tablet_layout_one_nav_row_side_by_side_and_rows_that_fit(new_station, live_server, language) -> None:
    tablet = new_station("Door", "Mei")
    page = tablet.page
    register(tablet, live_server.url, "Zhang San Feng Long Name", "+86 139 4444 5555", check_in=False)
    # Online from here: a page from the worker's cache would be in the language it was cached in.
    tablet.context.set_extra_http_headers({"Accept-Language": language})
    for viewport in (TABLET, PORTRAIT, PHONE):
        page.set_viewport_size(viewport)
        tablet.go(live_server.url + "/station/scan")
        expect(page.locator("html")).to_have_attribute("lang", language)
        tops = page.evaluate(
            "() => [...document.querySelectorAll('#station-nav a')].map((a) => a.getBoundingClientRect().top)"
        )
        if viewport is not PHONE:
            assert len(set(tops)) == 1, (viewport, tops)  # one row, Conflicts too
        camera, manual = (page.locator(selector).bounding_box() for selector in ("#camera", "#manual"))
        if viewport is TABLET:
            assert manual["x"] > camera["x"] + camera["width"] - 1  # side by side
            assert manual["y"] + manual["height"] <= viewport["height"]  # the typed code is above the fold
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]

        tablet.go(live_server.url + "/station/checkin")
        page.locator("#search-query").fill("5555")
        row = page.locator(".result").first
        expect(row).to_be_visible()
        overflow = page.evaluate(
            """() => {
              const row = document.querySelector('.result').getBoundingClientRect();
              const button = document.querySelector('.result .result-checkin').getBoundingClientRect();
              const name = document.querySelector('.result .result-name').getBoundingClientRect();
              return { out: button.right - row.right, nameWidth: name.width, page: document.documentElement.scrollWidth };
            }"""
        )
        assert overflow["out"] <= 0, (viewport, language, overflow)  # the button stays in its card
        assert overflow["nameWidth"] > 150, (viewport, language, overflow)  # not one word per line
        assert overflow["page"] <= viewport["width"]

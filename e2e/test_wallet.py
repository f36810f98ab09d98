"""The attendee's phone, in real Chromium against the real server: sign up, open the wallet, go
offline, reload, and the rotating QR still renders and rotates (the test drives the phone's clock
with Playwright's clock, it never sleeps); a tablet reads it through its fake camera.
"""

from __future__ import annotations

import io
import re
import time

import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from e2e.camera import y4m
from e2e.phone import PHONE, STEP_MS, rotating_voucher, sign_up
from e2e.station import with_db
from events import tokens


def shown(page: Page) -> tuple[int, str, str]:
    """The step, code and full QR text the phone shows now."""
    figure = rotating_voucher(page).locator(".wallet-qr")
    return int(figure.get_attribute("data-step")), figure.get_attribute("data-code"), figure.get_attribute("data-text")


def advance(page: Page, steps: int, before: int) -> tuple[int, str, str]:
    page.clock.fast_forward(steps * STEP_MS)
    expect(rotating_voucher(page).locator(".wallet-qr")).to_have_attribute("data-step", str(before + steps))
    return shown(page)


def test_the_wallet_works_offline_rotates_and_a_tablet_redeems_it(
    new_station, live_server, camera, tablet_browser
) -> None:
    door = new_station("Door", "Mei")
    phone = tablet_browser.new_context(**PHONE)
    phone.clock.install(time=time.time())  # a fake clock, on time for now
    page = sign_up(phone, live_server, "Li <i>Phone</i>", "139 0000 1111")
    expect(page.locator(".wallet-name")).to_have_text("Li <i>Phone</i>")  # text, not markup
    assert page.locator(".wallet-name i").count() == 0
    # Fits a 360 px screen: nothing wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    voucher = rotating_voucher(page)
    expect(voucher.locator("h2")).to_have_text("¥50 off your first purchase")
    expect(voucher.locator(".wallet-state")).to_have_text("Valid")
    expect(voucher.locator(".validity-countdown")).to_have_text(
        re.compile(r"^[34] h \d+ min left$")
    )  # 4 hours after issue
    token_id = voucher.get_attribute("data-id")

    # Offline, the phone's clock slips two steps back (nothing can correct it without the server)
    # and stops there: from now on the test moves it. (Playwright for Python takes times in
    # seconds, ticks in milliseconds.)
    phone.set_offline(True)
    real_step = int(time.time() * 1000) // STEP_MS
    phone.clock.set_system_time(((real_step - 2) * STEP_MS + 1000) / 1000)
    phone.clock.pause_at(((real_step - 2) * STEP_MS + 2000) / 1000)
    # Reloaded offline: the page comes from the service worker and still draws codes.
    response = page.reload()
    assert response is not None and response.from_service_worker
    page.locator("body[data-wallet-ready=true]").wait_for(state="attached")
    expect(page.locator("#wallet-live")).to_contain_text("Offline")
    expect(voucher.locator(".wallet-qr svg")).to_be_visible()
    old_step, old_code, old_text = shown(page)
    assert old_step == real_step - 2 and old_text == f"{voucher.get_attribute('data-token')}-{old_code}"
    expect(voucher.locator(".rotating-countdown")).to_have_text(re.compile(r"New code in \d+ s"))
    step, code, _ = advance(page, 1, old_step)
    assert code != old_code  # two different codes, one step apart
    # Now to the tablets' own time: a phone shows the current step.
    step, code, text = advance(page, int(time.time() * 1000) // STEP_MS - step, step)

    # An independent decoder reads the phone's screen.
    shot = voucher.locator(".wallet-qr").screenshot()
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))] == [text]

    # The tablet's camera sees an old code (two steps back): refused.
    y4m(old_text, camera)
    door.go(live_server.url + "/station/scan")
    expect(door.verdict()).to_have_attribute("data-color", "red", timeout=10_000)
    expect(door.verdict()).to_have_attribute("data-reason", "bad_code")
    door.next()
    # Off the Scan screen before the camera's picture changes: Chromium's fake camera re-reads the
    # file, and the old page would read the new code first.
    door.go(live_server.url + "/station/checkin")
    # The current code: accepted (the tablet is online: the server decides and records it).
    y4m(text, camera)
    door.go(live_server.url + "/station/scan")
    expect(door.verdict()).to_have_attribute("data-color", "green", timeout=10_000)
    expect(door.verdict()).to_have_attribute("data-decided-by", "server")

    # Back online, the wallet hears it was redeemed.
    phone.set_offline(False)
    expect(voucher.locator(".wallet-state")).to_have_text(re.compile(r"^Redeemed at \d"), timeout=10_000)
    expect(page.locator("#wallet-live")).to_contain_text("Live")
    expect(voucher).to_have_attribute("data-state", "redeemed")
    # A redeemed voucher stops offering fresh codes: its last one stays, greyed out.
    page.clock.fast_forward(STEP_MS)
    expect(voucher.locator(".rotating-countdown")).to_have_text("")
    assert shown(page)[0] == step
    assert (
        with_db(
            live_server,
            lambda db: db.execute(
                "select count(*) from ops where kind = 'redeem' and subject = ? and json_extract(data, '$.outcome') = 'accepted'",
                [token_id],
            ).fetchone()[0],
        )
        == 1
    )
    assert page.errors == []  # type: ignore[attr-defined]
    phone.close()


def test_the_live_wallet_flips_when_a_tablet_redeems_and_shows_nothing_of_others(
    new_station, live_server, tablet_browser
) -> None:
    door = new_station("Bar", "Bo")
    first = tablet_browser.new_context(**PHONE)
    mine = sign_up(first, live_server, "Wang <b>Fang</b>", "139 0000 2222")
    first_ids = [item.get_attribute("data-id") for item in mine.locator(".wallet-item").all()]
    first_texts = [item.get_attribute("data-token") for item in mine.locator(".wallet-item[data-rotating=true]").all()]
    expect(mine.locator("#wallet-live")).to_contain_text("Live")

    # A second attendee, on another phone: their wallet names nothing of the first.
    second = tablet_browser.new_context(**PHONE)
    theirs = sign_up(second, live_server, "Zhao Lei", "139 0000 3333")
    html = theirs.content()
    assert "Zhao Lei" in html and "Wang" not in html and "Fang" not in html
    assert not any(token_id in html for token_id in first_ids) and not any(text in html for text in first_texts)
    expect(theirs.locator("#wallet-live")).to_contain_text("Live")

    # The door checks the first attendee in with the pass the server signed at sign-up.
    door.go(live_server.url + "/station/scan")
    pass_card = mine.locator(".wallet-item[data-type=pass]")
    door.type_code(
        with_db(
            live_server,
            lambda db: db.execute(
                "select text from tokens where id = ?", [pass_card.get_attribute("data-id")]
            ).fetchone()[0],
        )
    )
    expect(door.verdict()).to_have_attribute("data-color", "green", timeout=10_000)
    expect(door.verdict()).to_have_attribute("data-kind", "pass")
    expect(door.page.locator("#verdict-what")).to_have_text("Checked in")
    door.next()
    expect(pass_card.locator(".wallet-state")).to_have_text(re.compile(r"^Checked in at \d"), timeout=10_000)

    # The bar redeems the first attendee's voucher by hand (the code under the QR and the 6 digits).
    voucher = rotating_voucher(mine)
    door.type_code(voucher.get_attribute("data-token"), voucher.locator(".wallet-qr").get_attribute("data-code"))
    expect(door.verdict()).to_have_attribute("data-color", "green", timeout=10_000)
    # Live: no reload.
    expect(voucher.locator(".wallet-state")).to_have_text(re.compile(r"^Redeemed at \d"), timeout=5_000)
    expect(rotating_voucher(theirs).locator(".wallet-state")).to_have_text("Valid")
    assert mine.errors == [] and theirs.errors == []  # type: ignore[attr-defined]
    first.close()
    second.close()


def test_the_sign_up_page_and_wallet_in_chinese(live_server, tablet_browser) -> None:
    context = tablet_browser.new_context(**{**PHONE, "locale": "zh-CN"})
    context.clock.install(time=time.time())
    page = context.new_page()
    page.goto(f"{live_server.url}/events/{live_server.demo.event.id}")
    page.get_by_label("姓名", exact=True).fill("陈小明")
    page.get_by_label("手机号", exact=True).fill("139 0000 4444")
    page.get_by_label("我同意").check()
    page.get_by_role("button", name="报名").click()
    page.locator("body[data-wallet-ready=true]").wait_for(state="attached")
    expect(page.get_by_role("heading", name="我的卡包")).to_be_visible()
    expect(rotating_voucher(page).locator(".rotating-countdown")).to_contain_text("秒后换码")
    expect(rotating_voucher(page).locator(".wallet-state")).to_have_text("有效")
    expect(rotating_voucher(page).locator(".validity-countdown")).to_contain_text("剩余")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # Five hours later the welcome voucher (4 hours after issue) has expired, with no server asked.
    context.set_offline(True)
    page.clock.fast_forward(5 * 3600 * 1000)
    expect(rotating_voucher(page).locator(".wallet-state")).to_have_text("已过期")
    expect(rotating_voucher(page).locator(".rotating-countdown")).to_have_text("")
    context.close()


def test_a_phone_camera_reading_a_tablets_claim_qr_adds_the_voucher(new_station, live_server, tablet_browser) -> None:
    phone = tablet_browser.new_context(**PHONE)
    wallet = sign_up(phone, live_server, "Chen Jing", "139 0000 5555")
    wallet_url = wallet.url
    counter = new_station("Counter", "Lan")  # enrolled after the sign-up: its first sync pulled it

    # The clerk hands out a coffee to whoever is at the counter: the tablet shows its claim QR.
    counter.go(live_server.url + "/station/issue")
    counter.page.get_by_label(re.compile("Free coffee")).check()
    counter.page.get_by_role("button", name="Issue", exact=True).click()
    claim_qr = counter.page.locator("#claim-qr")
    expect(claim_qr.locator("svg")).to_be_visible()
    token_id = tokens.decode(claim_qr.get_attribute("data-token")).token.id

    # The phone's camera app reads the QR off the tablet's screen and opens the address.
    (read,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(claim_qr.screenshot())))
    assert read.text.startswith("HTTP://127.0.0.1:") and "/V/" in read.text
    voucher_page = phone.new_page()
    voucher_page.goto(read.text)
    expect(voucher_page.get_by_role("heading", name="Free coffee")).to_be_visible()
    voucher_page.get_by_role("button", name="Add to my wallet").click()
    expect(voucher_page).to_have_url(f"{wallet_url}#item-{token_id}")
    card = voucher_page.locator(f"#item-{token_id}")
    expect(card.locator("h2")).to_have_text("Free coffee")
    expect(card.locator(".wallet-state")).to_have_text("Valid")
    expect(card.locator(".wallet-qr svg")).to_be_visible()  # a static QR: the campaign does not rotate
    # The wallet already open in the other tab hears of the new voucher and redraws itself.
    expect(wallet.locator(f"#item-{token_id}")).to_be_visible(timeout=10_000)

    # A voucher the clerk gives this attendee by name is in the wallet without scanning anything.
    counter.page.get_by_role("button", name="Issue another").click()
    counter.page.get_by_role("radio", name=re.compile("Free coffee")).check()
    counter.page.get_by_label("To (name or phone)").fill("Chen")
    counter.page.get_by_role("button", name=re.compile("^Chen Jing .*5555$")).click()  # not another Chen Jing
    counter.page.get_by_role("button", name="Issue", exact=True).click()
    expect(claim_qr.locator("svg")).to_be_visible()
    given = tokens.decode(claim_qr.get_attribute("data-token")).token.id
    assert given != token_id
    expect(wallet.locator(f"#item-{given}")).to_be_visible(timeout=10_000)
    voucher_page.goto(
        tokens.to_url(claim_qr.get_attribute("data-token"), live_server.url.split("//")[1], scheme="http")
    )
    expect(voucher_page.locator("#claim")).to_contain_text("This voucher is in your wallet.")
    phone.close()


def test_a_phone_whose_clock_is_wrong_still_shows_the_current_code(live_server, tablet_browser) -> None:
    phone = tablet_browser.new_context(**PHONE)
    phone.clock.install(time=time.time() - 140)  # two minutes and more behind, as phones sometimes are
    page = sign_up(phone, live_server, "Liu Yang", "139 0000 6666")
    expect(page.locator("#wallet-live")).to_contain_text("Live")  # the server's time has been heard
    # The next code drawn follows the server's clock, not the phone's.
    real_step = int(time.time() * 1000) // STEP_MS  # before the drawing: it may cross a step boundary
    page.clock.run_for(1000)
    figure = rotating_voucher(page).locator(".wallet-qr")
    expect(figure).to_have_attribute("data-step", re.compile(f"^({real_step}|{real_step + 1})$"))
    phone.close()

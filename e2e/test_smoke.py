"""The real server in real Chromium: pages render, the language switch works, assets load."""

from playwright.sync_api import Page, expect

from events import tokens


def test_home_lists_the_demo_event_and_switches_language(page: Page, live_server) -> None:
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="PopPass demo pop-up")).to_be_visible()
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name="活动")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    assert page.evaluate("typeof htmx") == "object"
    assert errors == []


def static_voucher(live_server):
    """A demo voucher that does not rotate: only those have a QR on their /V/ page."""
    return next(
        v for kind, v in live_server.demo.samples if kind != "pass" and not tokens.decode(v.text).token.rotating
    )


def test_voucher_page_from_the_url_form(page: Page, live_server) -> None:
    voucher = static_voucher(live_server)
    page.goto(live_server.url + tokens.url_path(voucher.text))
    expect(page.get_by_role("status")).to_contain_text("Valid")
    expect(page.locator("figure.qr svg")).to_be_visible()


def test_a_screenshot_of_the_voucher_qr_decodes_with_zxing(page: Page, live_server) -> None:
    """What the browser draws, not what segno wrote: proves a phone camera can read it."""
    import io

    import zxingcpp
    from PIL import Image

    voucher = static_voucher(live_server)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(live_server.url + tokens.url_path(voucher.text))
    shot = page.locator("figure.qr").screenshot()
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert [r.text for r in results] == [voucher.text]


def test_the_browser_catalogue_translates_offline_verdict_words(page: Page, live_server) -> None:
    page.goto(live_server.url + "/")
    words = page.evaluate(
        """async () => {
            const i18n = await import('/static/js/i18n.js');
            const { reasonWords } = await import('/static/js/reasons.js');
            const english = reasonWords('expired');
            await i18n.loadCatalogue('zh-CN');
            return [english, reasonWords('expired'), reasonWords('bad_code'), i18n._('%(n)s%% off', {n: 5})];
        }"""
    )
    assert words == [
        "This voucher has expired.",
        "此券已过期。",
        "动态码不匹配：请出示实时页面，而不是截图。",
        "5% off",
    ]

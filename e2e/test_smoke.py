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


def test_voucher_page_from_the_url_form(page: Page, live_server) -> None:
    _, voucher = live_server.demo.samples[1]
    page.goto(live_server.url + tokens.url_path(voucher.text))
    expect(page.get_by_role("status")).to_contain_text("Valid")
    expect(page.locator("figure.qr svg")).to_be_visible()

"""What the layout and accessibility checks share (e2e/test_layout.py, e2e/test_a11y.py): the
screen sizes and languages, one event with realistic data in it, one browser context per
(size, language) holding an enrolled tablet and a signed-in organizer, and the table of pages:
page id → how to bring that context to the state the page is checked in.

Adding a page is one row in PAGES: a function that takes the Screens of a (size, language) and
returns the Playwright page once it shows the state to check (docs/testing.md)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect
from playwright.sync_api import Error as PlaywrightError

from e2e.browser import CHROMIUM_ARGS, chromium_executable
from e2e.camera import camera_args, y4m
from e2e.console import ORGANIZATION, PASSWORD, new_organizer, sign_in
from e2e.station import with_db
from events import campaigns, devices, draws, imports, organizations, organizers, registry, signup, tokens
from server.auth import PENDING_COOKIE
from tests.support.tablet import enroll, push, redeem_twice

MIN_MS = 60_000


@dataclass(frozen=True)
class Size:
    name: str
    width: int
    height: int
    touch: bool

    @property
    def projector(self) -> bool:
        return self.name.startswith("projector")


# The screens PopPass is used on: the attendee's phone, the clerk's 10-inch tablet both ways, the
# organizer's laptop and the projector at its two usual resolutions. Layout does not depend on
# the pixel ratio, so every size is drawn at 1 (screenshots stay small). `is_mobile` stays off:
# with it Chromium zooms a too-wide page out to fit, which hides the overflow being checked.
SIZES = {
    size.name: size
    for size in (
        Size("phone", 390, 844, touch=True),
        Size("tablet", 1280, 800, touch=True),
        Size("tablet-portrait", 800, 1280, touch=True),
        Size("laptop", 1440, 900, touch=False),
        Size("projector", 1920, 1080, touch=False),
        Size("projector-720", 1280, 720, touch=False),
    )
}
LANGUAGES = ("en", "zh-CN")


@dataclass(frozen=True)
class World:
    """The event every page is looked at in, and the ids its pages need."""

    event_id: str
    wallet_static: str  # capabilities
    wallet_rotating: str
    voucher_static: str  # token texts
    voucher_rotating: str
    conflict_id: int
    draw_id: int
    campaign_number: int
    searched: str  # what the check-in search is given: it finds several people
    import_id: str  # a finished import, with a duplicate and a row left out in its report


# Names of the lengths and scripts a real queue brings (a long Greek-English double surname,
# Chinese names, an email-only sign-up).
PEOPLE = [
    ("Chen Jing", "13900000001", ""),
    ("陈静", "13900000002", ""),
    ("Chen Xiaoyu-Konstantinopoulou Whitfield", "13900000003", ""),
    ("王小明", "", "wang.xiaoming@example.com"),
    ("Li Na", "13900000005", ""),
    ("张伟", "13900000006", ""),
    ("Maria Fernanda Rodrigues da Silva", "13900000007", ""),
    ("刘洋", "13900000008", ""),
    ("Zhou Min", "13900000009", ""),
    ("黄丽", "13900000010", ""),
    ("Sun Hao", "13900000011", ""),
    ("吴静怡", "13900000012", ""),
]


def make_world(db, *, now: int) -> World:
    """A bilingual pop-up two hours in: a static welcome voucher for everyone, a rotating
    ¥50-off voucher, two tablets that checked people in and redeemed, an open conflict and a
    past lucky draw."""
    event = registry.create_event(
        db,
        name="Spring launch pop-up · 春季新品快闪店",
        venue="Jing'an Kerry Centre, L1 atrium",
        starts_at=now - 2 * 3600,
        ends_at=now + 6 * 3600,
        timezone="Asia/Shanghai",
        languages=["en", "zh-CN"],
        now=now - 3 * 3600,
    )
    tote = campaigns.create_campaign(
        db,
        event.id,
        title="Free tote bag",
        value="a canvas tote bag",
        terms="One per person, at the gift counter, while stocks last.",
        max_uses=1,
        rotating=False,
        welcome=True,
        now=now - 3 * 3600,
        texts={
            "zh-CN": {"title": "免费帆布袋", "value": "帆布袋一个", "terms": "每人一个，在礼品柜台领取，送完即止。"}
        },
    )
    fifty = campaigns.create_campaign(
        db,
        event.id,
        title="¥50 off your first purchase",
        value="¥50 off",
        terms="On purchases over ¥200; not with other offers.",
        max_uses=1,
        valid_minutes=8 * 60,
        rotating=True,
        welcome=True,
        now=now - 3 * 3600,
        texts={
            "zh-CN": {
                "title": "首次购物立减 50 元",
                "value": "立减 50 元",
                "terms": "满 200 元可用，不与其他优惠同享。",
            }
        },
    )
    start_ms = (now - 2 * 3600) * 1000
    signed = [
        signup.sign_up(db, event.id, signup.Applicant(name, phone, email, True), now_ms=start_ms + n * 5 * MIN_MS)
        for n, (name, phone, email) in enumerate(PEOPLE)
    ]
    # Everyone who signs up holds both: the tote voucher, and ¥50 off behind a rotating QR.
    (rotating,) = [
        row["text"]
        for row in db.query(
            "select text from tokens where type = 'voucher' and attendee_id = ? and campaign = ?",
            [signed[0].attendee_id, fifty.number],
        )
    ]
    door, bar = enroll(db, event.id, "Door", now=now - 2 * 3600), enroll(db, event.id, "Bar", now=now - 2 * 3600)
    for n, person in enumerate(signed[:9]):
        door.checkin(person.attendee_id, now_ms=start_ms + (10 + n * 11) * MIN_MS)
    for n, person in enumerate(signed[:5]):
        (text,) = [
            row["text"]
            for row in db.query(
                "select text from tokens where type = 'voucher' and attendee_id = ? and campaign = ?",
                [person.attendee_id, tote.number],
            )
        ]
        bar.redeem(text, now_ms=start_ms + (30 + n * 15) * MIN_MS)
    push(db, door, start_ms + 110 * MIN_MS)
    push(db, bar, start_ms + 110 * MIN_MS)
    redeem_twice(db, event.id, door, bar, now=now - 600, title="Limited poster")
    (conflict_id,) = [row["id"] for row in db.query("select id from conflicts where event_id = ?", [event.id])]
    host = organizers.create_organizer(
        db, email=f"host{time.time_ns()}@example.com", name="Mei", password="correct horse battery", now=now - 3 * 3600
    )
    draw = draws.draw(db, event.id, drawn_by=host.id, wanted=3, now=now - 300)
    static = campaigns.issue_voucher(db, event.id, tote.number, now=now)
    upload = imports.uploads_directory(db) / "layout-check.csv"
    upload.write_text(
        "姓名,手机\n陈静,13900000002\n<b>Nobody</b>,\nOuyang Mingyue 欧阳明月,13900000099\n", encoding="utf-8"
    )
    job = imports.create_job(
        db,
        event_id=event.id,
        organizer_id=host.id,
        filename="报名表 sign-ups (final).csv",
        path=upload,
        size=upload.stat().st_size,
        layout=imports.inspect_file(upload),
        now=now,
    )
    imports.start_job(db, job.id, {"name": 0, "phone": 1, "email": None}, now_ms=now * 1000)
    for _ in imports.run_job(db, job.id):
        pass
    return World(
        event_id=event.id,
        wallet_static=signed[1].capability,
        wallet_rotating=signed[0].capability,
        voucher_static=static.text,
        voucher_rotating=rotating,
        conflict_id=conflict_id,
        draw_id=draw.id,
        campaign_number=tote.number,
        searched="Chen",
        import_id=job.id,
    )


def fresh_static_voucher(live_server, world: World) -> str:
    return with_db(
        live_server,
        lambda db: campaigns.issue_voucher(db, world.event_id, world.campaign_number, now=int(time.time())).text,
    )


def v_path(text: str) -> str:
    """The /V/ address a phone camera opens from a voucher's QR."""
    return "/V/" + tokens.parse_scan(text).text.removeprefix(tokens.PREFIX)


_phones = itertools.count(1)


class Screens:
    """One (size, language): the contexts its pages are reached in, made when first needed.

    `main` is the clerk's tablet (enrolled) that is also the organizer's browser (signed in);
    `anonymous` has neither (the unenrolled station, the sign-in page, the public pages);
    `revoked` is a tablet that was enrolled then revoked."""

    def __init__(self, browser: Browser, live_server, world: World, size: Size, language: str) -> None:
        self.browser, self.live_server, self.world = browser, live_server, world
        self.size, self.language = size, language
        self.url = live_server.url
        self._contexts: dict[str, BrowserContext] = {}
        self._pages: dict[str, Page] = {}
        self.errors: list[str] = []

    def _context(self) -> BrowserContext:
        context = self.browser.new_context(
            viewport={"width": self.size.width, "height": self.size.height},
            device_scale_factor=1,
            has_touch=self.size.touch,
            locale=self.language,
            permissions=["camera"],
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(15_000)
        return context

    def _page(self, name: str, prepare: Callable[[Page], None] | None = None) -> Page:
        if name not in self._pages:
            context = self._contexts[name] = self._context()
            page = context.new_page()
            page.on("pageerror", lambda error: self.errors.append(f"{name}: {error}"))
            if prepare:
                prepare(page)
            self._pages[name] = page
        return self._pages[name]

    def main(self) -> Page:
        return self._page("main", self._enroll_and_sign_in)

    def anonymous(self) -> Page:
        return self._page("anonymous")

    def revoked(self) -> Page:
        return self._page("revoked", self._enroll_then_revoke)

    def _enroll(self, page: Page, name: str) -> None:
        code = with_db(
            self.live_server,
            lambda db: devices.create_enrollment_code(db, self.world.event_id, name=name, now=int(time.time())),
        )
        page.goto(self.url + "/station")
        page.locator("#enroll-code").fill(code)
        page.locator("#enroll-clerk").fill("Mei")
        page.locator("#enroll button[type=submit]").click()
        expect(page).to_have_url(self.url + "/station/scan")
        page.locator("html[data-station-precached=true]").wait_for(state="attached")

    def _enroll_and_sign_in(self, page: Page) -> None:
        self._enroll(page, f"Counter {self.size.name} {self.language}")
        # The sign-in helper reads English labels: the language is the browser's again after it.
        page.context.set_extra_http_headers({"Accept-Language": "en"})
        sign_in(page, self.live_server, new_organizer(self.live_server))
        page.context.set_extra_http_headers({})

    def _enroll_then_revoke(self, page: Page) -> None:
        self._enroll(page, f"Lost tablet {self.size.name}")
        device = page.evaluate("async () => (await (await import('/static/js/outbox.js')).openOutbox()).device()")
        with_db(self.live_server, lambda db: devices.revoke_device(db, device["device_id"], now=int(time.time())))
        # The next contact is told to wipe: the tablet remembers why before it erases itself. The
        # clerk looking at the tablet again makes that contact (a visible page syncs); its own sync
        # may have got there first and be reloading the page, which is just as good.
        try:
            page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
        except PlaywrightError:
            pass
        page.wait_for_function("() => localStorage.getItem('poppass.revoked') !== null")

    def close(self) -> None:
        for context in self._contexts.values():
            context.close()


# --- reaching each page's state ---------------------------------------------------------------


def station(screens: Screens, path: str) -> Page:
    page = screens.main()
    page.goto(screens.url + path)
    page.locator("body[data-station-ready=true]").wait_for(state="attached")
    return page


def scan_typed(page: Page, text: str) -> None:
    page.locator("#manual-code").fill(text)
    page.locator("#manual button[type=submit]").click()


def verdict(screens: Screens, color: str) -> Page:
    page = station(screens, "/station/scan")
    if color == "red":
        scan_typed(page, "HELLO WORLD")
    else:
        text = fresh_static_voucher(screens.live_server, screens.world)
        scan_typed(page, text)
        if color == "amber":  # the same voucher again: already used
            expect(page.locator("#verdict")).to_have_attribute("data-color", "green")
            page.locator("#verdict-next").click()  # Next closes it at once
            expect(page.locator("#verdict")).to_be_hidden()
            scan_typed(page, text)
    expect(page.locator("#verdict")).to_have_attribute("data-color", color)
    expect(page.locator("#verdict")).to_be_visible()
    hold_verdict(page)
    return page


def hold_verdict(page: Page) -> None:
    """A touch on the verdict holds it, as a clerk reading it would (on today's station; an older
    one simply keeps its verdict until Next)."""
    page.locator("#verdict").dispatch_event("pointerdown")


def station_home_unenrolled(screens: Screens) -> Page:
    page = screens.anonymous()
    page.goto(screens.url + "/station")
    page.locator("body[data-station-ready=true]").wait_for(state="attached")
    return page


def station_revoked(screens: Screens) -> Page:
    page = screens.revoked()
    # The tablet wipes itself and reloads on its own: wait for that, never navigate across it.
    page.locator("#revoked").wait_for(state="visible")
    page.wait_for_load_state("load")
    return page


def station_checkin_found(screens: Screens) -> Page:
    page = station(screens, "/station/checkin")
    page.locator("#search-query").fill(screens.world.searched)
    expect(page.locator("#results li")).not_to_have_count(0)
    return page


def station_register_pass(screens: Screens) -> Page:
    page = station(screens, "/station/register")
    page.locator("#register-name").fill("Ouyang Mingyue 欧阳明月")
    page.locator("#register-phone").fill(f"+86 137 {next(_phones):04d} {int(time.time()) % 10_000:04d}")
    page.locator("#register-consent").check()
    page.locator("#register button[type=submit]").click()
    expect(page.locator("#pass-qr svg")).to_be_visible()
    return page


def station_issue_claim(screens: Screens) -> Page:
    page = station(screens, "/station/issue")
    page.locator("#campaigns input[type=radio]").first.check()
    page.locator("#issue button[type=submit]").click()
    expect(page.locator("#claim-qr svg")).to_be_visible()
    return page


def station_conflicts(screens: Screens) -> Page:
    """A voucher this tablet redeemed that another tablet had redeemed offline: one open conflict."""
    page = station(screens, "/station/scan")
    text = fresh_static_voucher(screens.live_server, screens.world)
    scan_typed(page, text)
    expect(page.locator("#verdict")).to_have_attribute("data-color", "green")

    def elsewhere(db):
        other = enroll(db, screens.world.event_id, "Side door", now=int(time.time()))
        other.redeem(text, now_ms=int(time.time() * 1000) - 60_000)
        push(db, other, int(time.time() * 1000))

    with_db(screens.live_server, elsewhere)
    page = station(screens, "/station/conflicts")
    expect(page.locator("#conflicts li").first).to_be_visible()
    return page


def visit(which: str, path: Callable[[World], str], ready: str | None = None) -> Callable[[Screens], Page]:
    def reach(screens: Screens) -> Page:
        page = screens.main() if which == "main" else screens.anonymous()
        page.goto(screens.url + path(screens.world))
        if ready:
            page.locator(ready).first.wait_for(state="attached")
        return page

    return reach


def console(path: str, ready: str | None = None) -> Callable[[Screens], Page]:
    return visit("main", lambda world: f"/organizer/events/{world.event_id}{path}", ready)


def console_tablets_code(screens: Screens) -> Page:
    page = console("/tablets")(screens)
    page.locator("#devices").wait_for()
    page.locator("#tablet-name").fill("Counter 2 · 二号柜台")
    page.locator("#new-tablet button[type=submit]").click()
    expect(page.locator("#enrollment-qr svg")).to_be_visible()
    return page


def wall(screens: Screens) -> Page:
    page = console("/wall")(screens)
    expect(page.locator("#wall")).to_have_attribute("data-state", "live")
    return page


def console_account_new_codes(screens: Screens) -> Page:
    """New recovery codes, shown on the Account page this once."""
    page = visit("main", lambda w: "/organizer/account/")(screens)
    page.locator("#recovery-current").fill(PASSWORD)
    page.locator("#new-recovery-codes button[type=submit]").click()
    expect(page.locator("#recovery-code-list li")).to_have_count(organizers.RECOVERY_CODES)
    return page


def console_members_reset(screens: Screens) -> Page:
    """Another member's app and password reset: the one-time password to hand over."""

    def member(db) -> str:
        now = int(time.time())
        account = organizers.create_organizer(
            db, email=f"ouyang{time.time_ns()}@example.com", name="Ouyang Mingyue 欧阳明月", password=PASSWORD, now=now
        )
        organizations.add_member(
            db, organizations.find_organization(db, ORGANIZATION).id, account.id, organizations.STAFF, now=now
        )
        return account.id

    screens.main()  # signed in first: that makes the organization the member joins
    member_id = with_db(screens.live_server, member)
    page = visit("main", lambda w: "/organizer/members/")(screens)
    row = page.locator(f"#account-{member_id}")
    row.locator("summary").click()
    row.locator("input[name=second_factor]").check()
    row.locator("input[name=password]").check()
    row.locator("form[action$='/reset'] button[type=submit]").click()
    expect(page.locator("#one-time-password")).to_be_visible()
    return page


def organizer_code_recovery(screens: Screens) -> Page:
    """The code step of an enrolled account, with the recovery code form open."""

    def pending(db) -> str:
        """An enrolled account, and the pending sign-in its password step leaves (made here: that
        step's rate limit is per client address, and every browser here is 127.0.0.1)."""
        now = int(time.time())
        email = f"enrolled{time.time_ns()}@example.com"
        account = organizers.create_organizer(db, email=email, name="Mei", password=PASSWORD, now=now)
        first = organizers.check_password(db, email, PASSWORD, now=now)
        organizers.complete_sign_in(
            db, first.token, pyotp.TOTP(organizers.totp_secret(db, account.id)).at(now), now=now
        )
        return organizers.check_password(db, email, PASSWORD, now=now).token

    token = with_db(screens.live_server, pending)
    page = screens.anonymous()
    page.context.add_cookies([{"name": PENDING_COOKIE, "value": token, "url": screens.url}])
    page.goto(screens.url + "/organizer/login/code")
    page.locator("#use-recovery-code summary").click()
    expect(page.locator("#sign-in-recovery-input")).to_be_visible()
    return page


@dataclass(frozen=True)
class Screen:
    """A page in one state: how to reach it, who looks at it, and whether it must show a QR."""

    reach: Callable[[Screens], Page]
    audience: str  # station | public | console | wall
    qr: bool = False  # a QR code must be on it

    @property
    def qr_without_scrolling(self) -> bool:
        # A clerk turns the tablet to the attendee: no scrolling at that moment.
        return self.audience == "station"


PAGES: dict[str, Screen] = {
    "station-home-unenrolled": Screen(station_home_unenrolled, "station"),
    "station-home": Screen(lambda s: station(s, "/station"), "station"),
    "station-scan": Screen(lambda s: station(s, "/station/scan"), "station"),
    "station-checkin-found": Screen(station_checkin_found, "station"),
    "station-register-pass": Screen(station_register_pass, "station", qr=True),
    "station-issue-claim": Screen(station_issue_claim, "station", qr=True),
    "station-conflicts": Screen(station_conflicts, "station"),
    "station-revoked": Screen(station_revoked, "station"),
    "verdict-accepted": Screen(lambda s: verdict(s, "green"), "station"),
    "verdict-refused": Screen(lambda s: verdict(s, "red"), "station"),
    "verdict-check": Screen(lambda s: verdict(s, "amber"), "station"),
    "wallet-static": Screen(
        visit("anonymous", lambda w: f"/wallet/{w.wallet_static}", ".wallet-qr svg"), "public", qr=True
    ),
    "wallet-rotating": Screen(
        visit("anonymous", lambda w: f"/wallet/{w.wallet_rotating}", ".wallet-item[data-rotating=true] .wallet-qr svg"),
        "public",
        qr=True,
    ),
    "event-signup": Screen(visit("anonymous", lambda w: f"/events/{w.event_id}"), "public"),
    "voucher-static": Screen(visit("anonymous", lambda w: v_path(w.voucher_static)), "public", qr=True),
    # A rotating voucher's /V/ page should send the holder to their wallet, not show a QR.
    "voucher-rotating": Screen(visit("anonymous", lambda w: v_path(w.voucher_rotating)), "public"),
    "organizer-login": Screen(visit("anonymous", lambda w: "/organizer/login"), "console"),
    "console-home": Screen(visit("main", lambda w: "/organizer/"), "console"),
    "console-account": Screen(visit("main", lambda w: "/organizer/account/"), "console"),
    "console-account-new-codes": Screen(console_account_new_codes, "console"),
    "console-members": Screen(visit("main", lambda w: "/organizer/members/"), "console"),
    "console-members-reset": Screen(console_members_reset, "console"),
    "organizer-code-recovery": Screen(organizer_code_recovery, "console"),
    "console-event": Screen(console(""), "console"),
    "console-event-edit": Screen(console("/edit", "form"), "console"),
    "console-campaign": Screen(lambda s: console(f"/campaigns/{s.world.campaign_number}")(s), "console"),
    "console-tablets": Screen(console("/tablets", "#devices"), "console"),
    "console-tablets-code": Screen(console_tablets_code, "console", qr=True),
    "console-conflicts": Screen(console("/conflicts", "article.conflict"), "console"),
    "console-conflict": Screen(
        lambda s: console(f"/conflicts/{s.world.conflict_id}", "article.conflict")(s), "console"
    ),
    "console-import": Screen(console("/import"), "console"),
    "console-import-report": Screen(lambda s: console(f"/import/{s.world.import_id}")(s), "console"),
    "console-report": Screen(console("/report", "#report"), "console"),
    "console-draw": Screen(lambda s: console(f"/wall/draws/{s.world.draw_id}", "#draw-seed")(s), "console"),
    "wall": Screen(wall, "wall"),
}


@dataclass
class Shelf:
    """The Screens of the (size, language) being tested: the cases are ordered by size and
    language, so each context is made once and closed when the next (size, language) starts."""

    browser: Browser
    live_server: object
    world: World
    current: Screens | None = None

    def get(self, size: str, language: str) -> Screens:
        if self.current is None or (self.current.size.name, self.current.language) != (size, language):
            self.close()
            self.current = Screens(self.browser, self.live_server, self.world, SIZES[size], language)
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None


@pytest.fixture(scope="session")
def layout_world(live_server) -> World:
    return with_db(live_server, lambda db: make_world(db, now=int(time.time())))


@pytest.fixture(scope="session")
def layout_browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Chromium with a fake camera showing a blank picture: the Scan screen's camera starts as
    on a real tablet, and reads nothing."""
    camera = y4m(None, Path(tmp_path_factory.mktemp("layout-camera")) / "blank.y4m")
    browser = playwright.chromium.launch(
        executable_path=chromium_executable(), args=[*CHROMIUM_ARGS, *camera_args(camera)]
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def shelf(layout_browser: Browser, live_server, layout_world: World) -> Iterator[Shelf]:
    instance = Shelf(layout_browser, live_server, layout_world)
    yield instance
    instance.close()


def cases(sizes: list[str]) -> list:
    """(page, size, language) in the order that shares one context per (size, language)."""
    return [
        pytest.param(page_id, size, language, id=f"{page_id}-{size}-{language}")
        for size in sizes
        for language in LANGUAGES
        for page_id in PAGES
    ]


def expect_language(page: Page, language: str) -> None:
    """The page speaks the language asked for (else a Chinese case would test English)."""
    lang = page.evaluate("document.documentElement.lang")
    assert lang.split("-")[0] == language.split("-")[0], f"{page.url} is in {lang!r}, not {language}"

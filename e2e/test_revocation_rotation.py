"""A stolen tablet kept offline, in real Chromium against the real server: it is revoked from the
console, which retires the event's rotation key it held. A rotating code computed from the key in
its IndexedDB is refused by the server and by another tablet, online and offline; an attendee's
open wallet gets its new secrets over its live socket and shows a working code without a reload.
"""

from __future__ import annotations

import json
import time
import urllib.request

from playwright.sync_api import expect

from e2e.console import new_organizer, sign_in
from e2e.phone import PHONE, rotating_voucher, sign_up
from e2e.station import wait_in_page, with_db
from events import campaigns, registry, rotating, tokens
from events.keys import from_b64url

RETIRED_WORDS = (
    "This code was made with a key that is no longer used: ask the attendee to open their wallet with network, "
    "then scan the new code."
)


def held(station) -> dict:
    """What the tablet keeps in its IndexedDB about itself (outbox.js device record)."""
    return station.page.evaluate(
        """async () => {
          const device = await (await (await import('/static/js/outbox.js')).openOutbox()).device();
          return device && { device_id: device.device_id, device_token: device.device_token, rotation_key: device.rotation_key,
                             rotation_epoch: device.rotation_epoch, retired: device.retired_rotation_keys };
        }"""
    )


def code_from(rotation_key: str, text: str) -> str:
    return rotating.code_at(
        rotating.voucher_secret(from_b64url(rotation_key), tokens.decode(text).token.token_id), time.time()
    )


def test_a_revoked_tablets_rotation_key_is_refused_everywhere_and_open_wallets_recover(
    new_station, live_server, tablet_browser
) -> None:
    event_id = live_server.demo.event.id
    stolen = new_station("Stolen", "Mei")
    door = new_station("Door", "Bo")
    # An attendee whose wallet is open on their phone, live.
    phone = tablet_browser.new_context(**PHONE)
    wallet = sign_up(phone, live_server, "Chen Jing", "139 0000 7777")
    expect(wallet.locator("#wallet-live")).to_contain_text("Live")
    voucher = rotating_voucher(wallet)
    text = voucher.get_attribute("data-token")
    secret_before = voucher.get_attribute("data-secret")

    # The thief's tablet goes offline with everything it pulled; its rotation key is in IndexedDB.
    stolen.offline()
    taken = held(stolen)
    epoch = with_db(
        live_server, lambda db: registry.rotation_epoch(db, event_id)
    )  # earlier tests may have revoked some
    assert taken["rotation_epoch"] == epoch

    console = tablet_browser.new_context(locale="en-US").new_page()
    sign_in(console, live_server, new_organizer(live_server))
    console.goto(f"{live_server.url}/organizer/events/{event_id}/tablets")
    console.locator("#devices tr", has_text="Stolen").get_by_role("link", name="Revoke").click()
    console.get_by_role("button", name="Revoke the tablet").click()
    expect(console.locator("#devices tr", has_text="Stolen")).to_have_attribute("data-state", "revoked")
    assert with_db(live_server, lambda db: registry.rotation_keys(db, event_id).retired[0].key) == from_b64url(
        taken["rotation_key"]
    )

    # The open wallet is told over its socket and fetches its new secret: no reload.
    wallet.evaluate("window.notReloaded = true")
    expect(voucher).not_to_have_attribute("data-secret", secret_before, timeout=10_000)
    assert wallet.evaluate("window.notReloaded") is True
    current_key = with_db(live_server, lambda db: registry.rotation_key(db, event_id))
    token_id = tokens.decode(text).token.token_id
    assert voucher.get_attribute("data-secret") == rotating.voucher_secret(current_key, token_id)
    expect(voucher.locator(".wallet-qr")).to_have_attribute(
        "data-code", rotating.code_at(rotating.voucher_secret(current_key, token_id), time.time()), timeout=5_000
    )

    # The door tablet syncs (a page load does) and fetches the new key and the retired one.
    door.go(live_server.url + "/station/scan")
    wait_in_page(
        door.page,
        """async (epoch) => (await (await (await import('/static/js/outbox.js')).openOutbox()).device())
             ?.rotation_epoch === epoch""",
        epoch + 1,
    )
    assert held(door)["retired"][0] == taken["rotation_key"]

    # Online, the server refuses the thief's code: asked directly with the door's own token...
    body = {
        "protocol": 2,
        "device_id": held(door)["device_id"],
        "sent_at_ms": int(time.time() * 1000),
        "op_id": "opThiefOnline01",
        "subject": tokens.decode(text).token.id,
        "hlc_ms": int(time.time() * 1000),
        "hlc_counter": 0,
        "device_time_ms": int(time.time() * 1000),
        "corrected_time_ms": int(time.time() * 1000),
        "clerk": "Bo",
        "token": text,
        "code": code_from(taken["rotation_key"], text),
    }
    request = urllib.request.Request(
        live_server.url + "/api/v1/redeem",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {held(door)['device_token']}",
        },
    )
    with urllib.request.urlopen(request) as answer:
        assert json.load(answer)["reason"] == "rotation_key_retired"
    # ...and the door itself refuses it, online and offline, in words the clerk can act on.
    for offline in (False, True):
        door.offline(offline)
        door.go(live_server.url + "/station/scan")
        door.type_code(text, code_from(taken["rotation_key"], text))
        expect(door.verdict()).to_have_attribute("data-color", "red", timeout=10_000)
        expect(door.verdict()).to_have_attribute("data-reason", "rotation_key_retired")
        expect(door.page.locator("#verdict-detail")).to_have_text(RETIRED_WORDS)
        door.next()

    # The phone's new code is good (offline, decided by the door).
    door.type_code(text, voucher.locator(".wallet-qr").get_attribute("data-code"))
    expect(door.verdict()).to_have_attribute("data-color", "green", timeout=10_000)
    door.next()
    assert wallet.errors == []  # type: ignore[attr-defined]
    phone.close()


def test_a_tablet_that_has_not_synced_since_the_revocation_lets_the_server_decide(new_station, live_server) -> None:
    """Online, a tablet still holding the retired key finds the code good and asks the server,
    which refuses it: the server, not the tablet's copy of the keys, has the last word."""
    event_id = live_server.demo.event.id
    door = new_station("Door 3", "Li")
    with_db(live_server, lambda db: registry.retire_rotation_key(db, event_id, now=int(time.time())))
    now = int(time.time())
    text = with_db(
        live_server,
        lambda db: (
            campaigns.issue_voucher(
                db, event_id, next(c.number for c in campaigns.list_campaigns(db, event_id) if c.rotating), now=now
            ).text
        ),
    )
    retired = with_db(live_server, lambda db: registry.rotation_keys(db, event_id).retired[0].key)
    # Stop this page's syncs from bringing the new keys before the scan: the pull answers with
    # the epoch the tablet already holds.
    stale_epoch = held(door)["rotation_epoch"]

    def stale_pull(route) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, json={**answer.json(), "rotation_epoch": stale_epoch})

    door.page.route("**/api/v1/pull*", stale_pull)
    door.go(live_server.url + "/station/scan")
    door.type_code(
        text, rotating.code_at(rotating.voucher_secret(retired, tokens.decode(text).token.token_id), time.time())
    )
    expect(door.verdict()).to_have_attribute("data-color", "red", timeout=10_000)
    expect(door.verdict()).to_have_attribute("data-reason", "rotation_key_retired")
    expect(door.verdict()).to_have_attribute("data-decided-by", "server")
    door.next()
    assert held(door)["rotation_epoch"] == stale_epoch  # it really judged with the retired key


def test_a_tablet_holds_no_phone_number_and_no_pass_text_yet_finds_people_by_number(
    new_station, live_server, tablet_browser
) -> None:
    front = new_station("Front", "Mei")
    door = new_station("Door 4", "Bo")
    # A walk-in at the front (typed with the country code), and an attendee signed up online.
    front.register(live_server.url, "Sun Li", "+86 137 1111 4242")
    expect(front.page.locator("#registered")).to_be_visible()
    walk_in = tokens.decode(front.page.locator("#pass-qr").get_attribute("data-token")).token.id
    phone = tablet_browser.new_context(**PHONE)
    signed_up = sign_up(phone, live_server, "Zhou Min", "136 2222 9191")
    pass_id = signed_up.locator(".wallet-item[data-type=pass]").get_attribute("data-id")
    pass_text = with_db(
        live_server, lambda db: db.execute("select text from tokens where id = ?", [pass_id]).fetchone()[0]
    )
    expect(front.badge()).to_contain_text("Online · 0 waiting", timeout=15_000)

    door.go(live_server.url + "/station/checkin")
    page = door.page
    # Told the whole number, written another way: found; told its last 4 digits: found too.
    for typed, name, row_id in (
        ("13711114242", "Sun Li", walk_in),
        ("+86 136-2222-9191", "Zhou Min", pass_id),
        ("9191", "Zhou Min", pass_id),
    ):
        page.get_by_label("Name or phone number").fill(typed)
        row = page.locator(f'[data-attendee="{row_id}"]')
        expect(row).to_contain_text(name, timeout=10_000)
        expect(row).to_contain_text("···" + ("4242" if row_id == walk_in else "9191"))
    page.get_by_label("Name or phone number").fill("1371111")  # part of a number: no longer a search
    expect(page.locator("#search-status")).to_have_text("Nobody found. Register them as a walk-in?")

    # What either tablet keeps in IndexedDB: no number, no pass text.
    for station in (front, door):
        held_data = station.page.evaluate(
            """async () => {
              const { openOutbox } = await import('/static/js/outbox.js');
              const store = await openOutbox();
              const rows = await store.transaction('readonly', (s) => new Promise((ok) => {
                const all = {}; let left = 3;
                for (const name of ['attendees', 'vouchers', 'outbox']) {
                  const r = s[name].getAll(); r.onsuccess = () => { all[name] = r.result; if (--left === 0) ok(all); };
                }
              }));
              return JSON.stringify(rows);
            }"""
        )
        for secret in ("13711114242", "137 1111 4242", "13622229191", "136 2222 9191", pass_text):
            assert secret not in held_data, (secret, held_data[:300])

    # The pass's id typed on the Scan screen checks its holder in, as a search does.
    door.go(live_server.url + "/station/scan")
    door.type_code(pass_id)
    expect(door.verdict()).to_have_attribute("data-color", "green", timeout=10_000)
    expect(page.locator("#verdict-name")).to_have_text("Zhou Min")
    door.next()
    door.type_code(pass_id)
    expect(door.verdict()).to_have_attribute("data-color", "amber")
    door.next()
    phone.close()

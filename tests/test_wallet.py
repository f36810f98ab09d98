"""The attendee's wallet through the TestClient: the page, its states, claims, the live channel,
and that one attendee's capability shows nothing of another's."""

from __future__ import annotations

import re

import pytest
from litestar.exceptions import WebSocketDisconnect

from events import campaigns, keys, registry, rotating, signup, tokens
from tests.support.clock import NOW
from tests.support.device_api import code_for, enroll, online, push
from tests.support.wallet import held_tokens, sign_up

M = NOW * 1000


@pytest.fixture
def welcome(db, event):
    return campaigns.create_campaign(
        db,
        event.id,
        title="¥50 off",
        terms="Over ¥200.",
        max_uses=1,
        valid_minutes=240,
        rotating=True,
        welcome=True,
        now=NOW,
    )


@pytest.fixture
def coffee(db, event):
    return campaigns.create_campaign(db, event.id, title="Free coffee", max_uses=1, rotating=False, now=NOW)


def item(page: str, token_id: str) -> str:
    return re.search(rf'<article[^>]*id="item-{token_id}".*?</article>', page, re.S).group(0)


def test_the_wallet_shows_the_pass_and_the_welcome_voucher(client, db, event, welcome) -> None:
    me = sign_up(db, event)
    page = client.get(f"/wallet/{me.capability}")
    assert page.status_code == 200 and "Li Wei" in page.text and "My wallet" in page.text
    assert page.headers["cache-control"] == "private, no-cache" and "no-referrer" == page.headers["referrer-policy"]
    pass_card = item(page.text, me.attendee_id)
    assert "Attendee pass" in pass_card and "<svg" in pass_card  # static: drawn by the server
    (voucher_id,) = [k for k in held_tokens(db, me.attendee_id) if k != "pass"]
    card = item(page.text, voucher_id)
    assert "¥50 off" in card and "Over ¥200." in card and 'data-state="valid"' in card and ">Valid<" in card
    # Rotating: the phone draws it with this voucher's own secret, never the event's rotation key.
    secret = rotating.voucher_secret(
        registry.rotation_key(db, event.id), tokens.decode(held_tokens(db, me.attendee_id)[voucher_id]).token.token_id
    )
    assert f'data-secret="{secret}"' in card and "<svg" not in card
    assert keys.b64url(registry.rotation_key(db, event.id)) not in page.text
    assert registry.rotation_key(db, event.id).hex() not in page.text
    # Opening the wallet lets this browser find it again.
    assert f"wallet-{event.id}={me.capability}" in page.headers["set-cookie"]


def test_the_wallet_speaks_chinese(client, db, event, welcome) -> None:
    me = sign_up(db, event)
    page = client.get(f"/wallet/{me.capability}", headers={"Accept-Language": "zh-CN"})
    assert "我的卡包" in page.text and "有效" in page.text


@pytest.mark.parametrize("capability", ["x", "A" * 32, "<script>", "A" * 5000, "%00" * 3])
def test_an_unknown_capability_is_a_404(client, event, capability) -> None:
    assert client.get(f"/wallet/{capability}").status_code == 404


def test_a_second_attendee_sees_nothing_of_the_first(client, db, event, welcome, coffee) -> None:
    first = sign_up(db, event, name="Li <b>Wei</b>", phone="13800138000")
    second = sign_up(db, event, name="Zhang San", phone="13900139000")
    page = client.get(f"/wallet/{second.capability}").text
    # The whole name, escaped or not: "Li" alone can turn up by chance in the page's random
    # capability and CSRF token.
    assert (
        "Zhang San" in page
        and "Li &lt;b&gt;Wei" not in page
        and "Li <b>Wei" not in page
        and first.attendee_id not in page
    )
    for text in held_tokens(db, first.attendee_id).values():
        assert text not in page and tokens.decode(text).token.id not in page
    assert "&lt;b&gt;" in client.get(f"/wallet/{first.capability}").text  # and names are escaped


def test_states_redeemed_at_a_time_and_voided(client, db, event, coffee) -> None:
    tablet = enroll(client, db, event)
    me = sign_up(db, event)
    text, issue = tablet.issue_voucher(now_ms=M, campaign=coffee.number, attendee_id=me.attendee_id)
    used, _ = tablet.issue_voucher(now_ms=M, campaign=coffee.number, attendee_id=me.attendee_id)
    push(client, tablet)
    push(client, tablet, [tablet.redeem(used, now_ms=M + 2 * 60_000 + 5000)])
    push(client, tablet, [tablet.void(text, now_ms=M + 3000)])
    page = client.get(f"/wallet/{me.capability}").text
    assert ">Redeemed at 10:02" in item(page, tokens.decode(used).token.id)
    assert ">Voided by the organizer<" in item(page, tokens.decode(text).token.id)
    assert 'data-state="checked_in"' not in item(page, me.attendee_id)
    push(client, tablet, [tablet.checkin(me.attendee_id, now_ms=M + 60_000)])
    assert ">Checked in at 10:01" in item(client.get(f"/wallet/{me.capability}").text, me.attendee_id)


def test_a_multi_use_voucher_counts_its_uses(client, db, event) -> None:
    tablet = enroll(client, db, event)
    me = sign_up(db, event)
    text, _ = tablet.issue_voucher(now_ms=M, max_uses=3, attendee_id=me.attendee_id)
    push(client, tablet)
    push(client, tablet, [tablet.redeem(text, now_ms=M + 1000)])
    assert ">Valid · used 1 of 3<" in item(client.get(f"/wallet/{me.capability}").text, tokens.decode(text).token.id)


def test_an_expired_voucher_says_so(client, db, event, welcome, clock) -> None:
    me = sign_up(db, event)
    clock.now = NOW + 5 * 3600
    page = client.get(f"/wallet/{me.capability}").text
    (voucher_id,) = [k for k in held_tokens(db, me.attendee_id) if k != "pass"]
    assert ">Expired<" in item(page, voucher_id)


# --- claiming a tablet's voucher ---------------------------------------------------------------


def claim(client, capability: str, token: str):
    client.get(f"/wallet/{capability}")
    return client.post(
        f"/wallet/{capability}/claim",
        data={"token": token, "_csrf_token": client.cookies["csrftoken"]},
        follow_redirects=False,
    )


def test_a_claim_qr_read_by_the_phone_camera_adds_the_voucher(client, db, event, coffee) -> None:
    tablet = enroll(client, db, event)
    me = sign_up(db, event)
    text, _ = tablet.issue_voucher(now_ms=M, campaign=coffee.number)  # still offline: the server has not seen it
    url = tokens.to_url(text, "testserver.local", scheme="http")
    client.get(f"/wallet/{me.capability}")  # this browser holds the wallet
    voucher_page = client.get(url.split("TESTSERVER.LOCAL")[1])
    assert "Add to my wallet" in voucher_page.text and f'action="/wallet/{me.capability}/claim"' in voucher_page.text
    response = claim(client, me.capability, url)  # the URL form, as the camera read it
    token_id = tokens.decode(text).token.id
    assert response.status_code == 303 and response.headers["location"] == f"/wallet/{me.capability}#item-{token_id}"
    assert token_id in held_tokens(db, me.attendee_id)
    assert "This voucher is in your wallet." in client.get(url.split("TESTSERVER.LOCAL")[1]).text
    # The tablet's later push of the same issue op changes nothing.
    push(client, tablet)
    assert token_id in held_tokens(db, me.attendee_id)


def test_a_voucher_stays_in_the_first_wallet_that_claimed_it(client, db, event, coffee) -> None:
    tablet = enroll(client, db, event)
    first, second = sign_up(db, event, phone="13800138000"), sign_up(db, event, phone="13900139000")
    text, _ = tablet.issue_voucher(now_ms=M, campaign=coffee.number)
    assert claim(client, first.capability, text).status_code == 303
    refused = claim(client, second.capability, text)
    assert refused.headers["location"] == f"/wallet/{second.capability}?claim_refused=claimed_by_someone_else"
    assert "already in someone else" in client.get(refused.headers["location"]).text
    assert tokens.decode(text).token.id not in held_tokens(db, second.attendee_id)


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("HELLO WORLD", "malformed"),
        ("<img src=x onerror=alert(1)>", "malformed"),
        ("forged", "bad_signature"),
        ("pass", "not_a_voucher"),
    ],
)
def test_a_bad_claim_says_why_and_adds_nothing(client, db, event, coffee, bad, reason) -> None:
    me = sign_up(db, event)
    if bad == "forged":
        bad = tokens.issue(
            signing_key=keys.generate_private_key(),
            key_id=1,
            event_id=event.id,
            type=tokens.TokenType.VOUCHER,
            issued_at=NOW,
            max_uses=1,
        )
    elif bad == "pass":
        bad = held_tokens(db, me.attendee_id)["pass"]
    before = held_tokens(db, me.attendee_id)
    response = claim(client, me.capability, bad)
    assert response.headers["location"] == f"/wallet/{me.capability}?claim_refused={reason}"
    page = client.get(response.headers["location"]).text
    assert 'id="claim-refused"' in page and "<img src=x" not in page
    assert held_tokens(db, me.attendee_id) == before


def test_a_claim_needs_csrf_and_a_real_wallet(client, db, event, coffee) -> None:
    me = sign_up(db, event)
    text = campaigns.issue_voucher(db, event.id, coffee.number, now=NOW).text
    client.get("/")
    assert client.post(f"/wallet/{me.capability}/claim", data={"token": text}).status_code == 403
    response = client.post(
        "/wallet/" + "A" * 32 + "/claim", data={"token": text, "_csrf_token": client.cookies["csrftoken"]}
    )
    assert response.status_code == 404


def test_a_browser_without_a_wallet_is_offered_sign_up_with_the_voucher(client, db, event, coffee) -> None:
    text = campaigns.issue_voucher(db, event.id, coffee.number, now=NOW).text
    page = client.get(tokens.url_path(text)).text
    assert f'href="/events/{event.id}?claim={text}"' in page
    signup_page = client.get(f"/events/{event.id}?claim={text}").text
    assert f'name="claim" value="{text}"' in signup_page
    response = client.post(
        f"/events/{event.id}/signup",
        follow_redirects=False,
        data={
            "name": "Li",
            "phone": "13800138000",
            "consent": "yes",
            "claim": text,
            "_csrf_token": client.cookies["csrftoken"],
        },
    )
    attendee_id = signup.find_attendee(db, event.id, phone="13800138000")
    assert response.status_code == 303 and tokens.decode(text).token.id in held_tokens(db, attendee_id)


def test_a_rotating_code_read_by_a_phone_camera_opens_the_voucher_page(client, db, event, welcome) -> None:
    me = sign_up(db, event)
    (text,) = [t for k, t in held_tokens(db, me.attendee_id).items() if k != "pass"]
    assert client.get(tokens.url_path(text) + "-123456").status_code == 200


# --- the live channel --------------------------------------------------------------------------


def test_the_live_channel_sends_a_snapshot_then_the_redemption(client, db, event, welcome, coffee) -> None:
    tablet = enroll(client, db, event)
    me = sign_up(db, event)
    other = sign_up(db, event, phone="13900139000")
    (text,) = [t for k, t in held_tokens(db, me.attendee_id).items() if k != "pass"]
    token_id = tokens.decode(text).token.id
    with client.websocket_connect(f"/wallet/{me.capability}/live") as socket:
        snapshot = socket.receive_json()
        assert snapshot["type"] == "state" and {i["id"] for i in snapshot["items"]} == {me.attendee_id, token_id}
        # Someone else's voucher redeemed: nothing is sent to this wallet.
        (theirs,) = [t for k, t in held_tokens(db, other.attendee_id).items() if k != "pass"]
        online(client, tablet, theirs, op_id="opTheirs0001", code=code_for(db, event, theirs, NOW))
        # This attendee's voucher redeemed online: a fresh snapshot at once.
        online(client, tablet, text, op_id="opMine000001", code=code_for(db, event, text, NOW))
        update = socket.receive_json()
        mine = {i["id"]: i for i in update["items"]}
        assert mine[token_id]["state"] == "redeemed" and mine[token_id]["label"].startswith("Redeemed at 10:00")
        assert other.attendee_id not in str(update)
        # A voucher a tablet gives this attendee, pushed later, arrives too.
        given, _ = tablet.issue_voucher(now_ms=M, campaign=coffee.number, attendee_id=me.attendee_id)
        push(client, tablet)
        assert tokens.decode(given).token.id in {i["id"] for i in socket.receive_json()["items"]}


def test_a_claim_reaches_the_wallets_live_channel(client, db, event, coffee) -> None:
    me = sign_up(db, event)
    text = campaigns.issue_voucher(db, event.id, coffee.number, now=NOW).text
    with client.websocket_connect(f"/wallet/{me.capability}/live") as socket:
        assert [i["id"] for i in socket.receive_json()["items"]] == [me.attendee_id]
        claim(client, me.capability, text)
        assert tokens.decode(text).token.id in {i["id"] for i in socket.receive_json()["items"]}


def test_the_live_channel_of_an_unknown_wallet_closes(client, event) -> None:
    with client.websocket_connect("/wallet/" + "A" * 32 + "/live") as socket:
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4404


def test_a_phone_that_left_does_not_disturb_the_next_merge(client, db, event, welcome, caplog) -> None:
    tablet = enroll(client, db, event)
    me = sign_up(db, event)
    (text,) = [t for k, t in held_tokens(db, me.attendee_id).items() if k != "pass"]
    for _ in range(3):  # connect, hear the snapshot, leave
        with client.websocket_connect(f"/wallet/{me.capability}/live") as socket:
            socket.receive_json()
    assert (
        online(client, tablet, text, op_id="opAfterLeft1", code=code_for(db, event, text, NOW)).json()["outcome"]
        == "accepted"
    )
    with client.websocket_connect(f"/wallet/{me.capability}/live") as socket:  # a reconnect: the state now
        assert {i["id"]: i["state"] for i in socket.receive_json()["items"]}[tokens.decode(text).token.id] == "redeemed"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


# --- the fallback for a screen the camera cannot read ------------------------------------------


def test_a_rotating_voucher_shows_its_short_code_and_a_place_for_the_digits(client, db, event, welcome) -> None:
    me = sign_up(db, event)
    page = client.get(f"/wallet/{me.capability}").text
    (voucher_id,) = [k for k in held_tokens(db, me.attendee_id) if k != "pass"]
    card = item(page, voucher_id)
    short = voucher_id[:8]
    assert f">{short[:4]} {short[4:]}<" in card and f'aria-label="{" ".join(short)}"' in card
    assert 'class="mono rotating-digits"' in card and "Voucher code" in card and "Code now" in card
    # Neither the digits nor the countdown is a live region: they change every 15 seconds.
    assert re.search(r'<dl class="fallback-codes"[^>]*>', card) and 'aria-live="polite"' not in card
    # A static voucher keeps its QR and shows no fallback block.
    assert "fallback-codes" not in item(page, me.attendee_id)


def test_the_fallback_labels_speak_chinese(client, db, event, welcome) -> None:
    me = sign_up(db, event)
    page = client.get(f"/wallet/{me.capability}", headers={"Accept-Language": "zh-CN"}).text
    assert "券码" in page and "当前数字" in page


def test_the_page_of_a_rotating_voucher_shows_no_qr_and_sends_a_stranger_to_sign_up(client, db, event, welcome) -> None:
    issued = campaigns.issue_voucher(db, event.id, welcome.number, now=NOW)
    page = client.get(tokens.url_path(issued.text))
    assert page.status_code == 200 and 'id="rotating-notice"' in page.text and "<svg" not in page.text
    assert "Valid: show this code at the counter." not in page.text
    assert 'id="open-wallet-hint"' in page.text and f"/events/{event.id}?claim=" in page.text
    # Nor through its QR route: the counter would refuse a static QR.
    assert client.get(tokens.url_path(issued.text) + "/qr.svg").status_code == 404
    zh = client.get(tokens.url_path(issued.text), headers={"Accept-Language": "zh-CN"}).text
    assert "卡包" in zh and "柜台不接受这个页面" in zh and "Valid: show" not in zh


def test_the_page_of_a_rotating_voucher_redirects_its_holder_to_the_wallet(client, db, event, welcome) -> None:
    me = sign_up(db, event)
    ((voucher_id, text),) = [(k, v) for k, v in held_tokens(db, me.attendee_id).items() if k != "pass"]
    client.get(f"/wallet/{me.capability}")  # this phone holds the wallet (its cookie)
    response = client.get(tokens.url_path(text), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/wallet/{me.capability}#item-{voucher_id}"
    assert response.headers["cache-control"] == "private, no-store" and "Cookie" in response.headers["vary"]
    # The rotating form a phone camera may read off another screen goes to the same place.
    assert (
        client.get(tokens.url_path(text) + "-123456", follow_redirects=False).headers["location"]
        == response.headers["location"]
    )


def test_the_page_of_a_rotating_voucher_offers_another_wallet_to_keep_it(client, db, event, welcome) -> None:
    me = sign_up(db, event)
    issued = campaigns.issue_voucher(db, event.id, welcome.number, now=NOW)  # not in anyone's wallet yet
    client.get(f"/wallet/{me.capability}")
    page = client.get(tokens.url_path(issued.text), follow_redirects=False)
    assert page.status_code == 200 and "<svg" not in page.text and 'id="rotating-notice"' in page.text
    assert f'action="/wallet/{me.capability}/claim"' in page.text


def test_an_expired_rotating_voucher_page_says_so_without_a_qr(client, db, event, welcome, clock) -> None:
    issued = campaigns.issue_voucher(db, event.id, welcome.number, now=NOW)
    clock.now = NOW + 5 * 3600
    page = client.get(tokens.url_path(issued.text)).text
    assert "This voucher has expired." in page and "<svg" not in page and 'id="rotating-notice"' not in page

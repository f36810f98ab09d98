"""The live wall: masked names, its feed, the lucky draw, the page and its websocket."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import hmac
import json
import threading
import time
import tracemalloc
import unicodedata

import anyio
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.exceptions import WebSocketDisconnect

from events import audit, draws, figures, organizers, projections, report, wall
from server import live
from server.auth import WS_SIGN_IN_REQUIRED
from tests.support import scenarios
from tests.support.clock import NOW
from tests.support.examples import examples
from tests.support.organizer import PASSWORD, hold_new_events
from tests.support.scenarios import MIN, MS
from tests.support.tablet import enroll, push


@pytest.fixture
def scenario(db, event):
    return scenarios.two_tablets(db, event)  # tests/test_projections.py's event


@pytest.mark.parametrize(
    "name, masked",
    [
        ("Li Wei", "Li W."),
        ("Ana María López", "Ana M. L."),
        ("王小明", "王*明"),
        ("欧阳娜娜", "欧**娜"),
        ("王明", "王*"),
        ("王", "王"),
        ("Madonna", "Madonna"),
        ("  Li\u202e  Wei \n", "Li W."),  # control and bidi characters dropped
        ("", "?"),
    ],
)
def test_names_on_the_wall_are_masked(name, masked) -> None:
    assert wall.mask_name(name) == masked


def test_the_feed_lists_the_latest_check_ins_and_redemptions(db, event, scenario) -> None:
    items = wall.feed(db, event.id)
    # Arrival order, newest first: b's batch came after a's. The undone redemption is not news;
    # b's over-redemption was accepted on the spot, so it is.
    assert [(i.kind, i.name, i.device) for i in items] == [
        ("redeem", "Li W.", "Bo"),
        ("checkin", "Zhang S.", "Bo"),
        ("checkin", "Li W.", "Bo"),
        ("redeem", "Li W.", "Ann"),
        ("checkin", "Wang W.", "Ann"),
        ("checkin", "Li W.", "Ann"),
    ]
    assert [i.at_ms for i in items][-1] == MS + 5 * MIN
    assert len(wall.feed(db, event.id, limit=2)) == 2


def test_a_snapshot_holds_everything_the_wall_shows(db, event, scenario) -> None:
    shot = wall.snapshot(db, event.id, now=NOW + 2400)
    assert shot.counters == projections.counters(db, event.id)
    assert shot.funnel == projections.funnel(db, event.id)
    assert sorted(d.name for d in shot.devices) == ["Ann", "Bo"]
    assert shot.draw is None and shot.winners == [] and shot.position > 0


# --- the lucky draw -----------------------------------------------------------------------


@pytest.fixture
def mei(db):
    return organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)


@pytest.fixture
def crowd(db, event):
    """Twelve people checked in, one of them with two records (same phone), and one no-show."""
    tablet = enroll(db, event.id, "Door", now=NOW)
    ids = [tablet.register(f"Guest {n}", now_ms=MS + n, phone=f"1380000{n:04d}")["subject"] for n in range(12)]
    twin = tablet.register("Guest 0 again", now_ms=MS + 20, phone="13800000000")["subject"]
    absent = tablet.register("No Show", now_ms=MS + 21)["subject"]
    for n, attendee in enumerate([*ids, twin]):
        tablet.checkin(attendee, now_ms=MS + 100 + n)
    push(db, tablet, MS + 1000)
    return ids, twin, absent


def test_candidates_are_people_checked_in(db, event, crowd) -> None:
    ids, twin, absent = crowd
    # Guest 0 has two records: one candidate, under the smaller id.
    assert draws.candidates(db, event.id) == sorted([*ids[1:], min(ids[0], twin)])


def test_a_draw_is_recorded_and_can_be_drawn_again(db, event, mei, crowd) -> None:
    found = draws.draw(db, event.id, drawn_by=mei.id, wanted=3, now=NOW)
    assert (found.drawn_by_name, found.drawn_at, found.wanted, len(found.winners)) == ("Mei", NOW, 3, 3)
    assert draws.replay(found) == found.winners
    # Anyone can check it without PopPass: HMAC-SHA256(seed, id), lowest first.
    ranked = sorted(
        found.candidates, key=lambda a: hmac.new(found.seed.encode(), a.encode(), hashlib.sha256).hexdigest()
    )
    assert ranked[:3] == found.winners
    assert draws.get_draw(db, found.id) == found


def test_the_same_seed_gives_the_same_winners(db, event, mei, crowd) -> None:
    pool = draws.candidates(db, event.id)
    assert draws.pick("fixed-seed", pool, 4) == draws.pick("fixed-seed", list(reversed(pool)), 4)
    assert draws.pick("fixed-seed", pool, 4) != draws.pick("other-seed", pool, 4)


def test_no_one_wins_twice(db, event, mei, crowd) -> None:
    ids, twin, _ = crowd
    won: list[str] = []
    for wanted in (5, 5, 5):
        won += draws.draw(db, event.id, drawn_by=mei.id, wanted=wanted, now=NOW).winners
    assert len(won) == 12  # the third draw had only two people left
    groups = projections.person_groups(db, event.id)
    assert len({groups[w] for w in won}) == 12
    with pytest.raises(draws.DrawRefused) as refused:
        draws.draw(db, event.id, drawn_by=mei.id, wanted=1, now=NOW)
    assert refused.value.reason == "no_candidates"


@pytest.mark.parametrize("wanted", [0, -1, draws.MAX_WINNERS + 1])
def test_a_draw_needs_a_sensible_number_of_winners(db, event, mei, crowd, wanted) -> None:
    with pytest.raises(draws.DrawRefused) as refused:
        draws.draw(db, event.id, drawn_by=mei.id, wanted=wanted, now=NOW)
    assert refused.value.reason == "bad_count"
    assert draws.list_draws(db, event.id) == []


def test_nobody_checked_in_nobody_to_draw(db, event, mei) -> None:
    with pytest.raises(draws.DrawRefused):
        draws.draw(db, event.id, drawn_by=mei.id, wanted=1, now=NOW)


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=5),
    seeds=st.lists(st.text(min_size=1, max_size=8), min_size=5, max_size=5),
)
def test_draws_never_repeat_a_person_and_only_draw_those_who_came(db, event, mei, crowd, sizes, seeds) -> None:
    db.execute("delete from draws")
    ids, twin, absent = crowd
    groups = projections.person_groups(db, event.id)
    people: list[str] = []
    for wanted, seed in zip(sizes, seeds, strict=False):  # more seeds than draws
        try:
            people += [
                groups[w] for w in draws.draw(db, event.id, drawn_by=mei.id, wanted=wanted, now=NOW, seed=seed).winners
            ]
        except draws.DrawRefused:
            break
    assert len(people) == len(set(people)) == min(sum(sizes), 12)
    assert groups[absent] not in people


# --- the page --------------------------------------------------------------------------------


def wall_url(event) -> str:
    return f"/organizer/events/{event.id}/wall"


def test_the_wall_shows_the_counters_feed_and_tablets(client, db, event, signed_in, scenario) -> None:
    page = client.get(wall_url(event))
    assert page.status_code == 200
    html = page.text
    assert 'id="counter-checked-in"><span class="value">3<' in html
    assert 'id="counter-conflicts"' in html and "Open conflicts" in html
    assert "Zhang S." in html and "Zhang San" not in html  # masked
    assert f'data-socket="/organizer/events/{event.id}/wall/socket"' in html
    assert "theme-dark" in html and "?theme=light" in html
    assert "<svg" in html  # the per-15-minutes chart
    assert "Ann" in html and "Bo" in html


def test_the_wall_has_a_light_theme_and_an_htmx_fragment(client, event, signed_in) -> None:
    assert "theme-light" in client.get(wall_url(event) + "?theme=light").text
    assert "theme-dark" in client.get(wall_url(event) + "?theme=<b>").text
    fragment = client.get(wall_url(event), headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith("{#") is False and "<html" not in fragment and 'id="wall-live"' in fragment


def test_html_in_a_name_is_text_on_the_wall(client, db, event, signed_in) -> None:
    tablet = enroll(db, event.id, "<i>Door</i>", now=NOW)
    attendee = tablet.register("<script>alert(1)</script> Evil", now_ms=MS)["subject"]
    tablet.checkin(attendee, now_ms=MS + 1)
    push(db, tablet, MS + 2)
    html = client.get(wall_url(event)).text
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; E." in html
    assert "<i>Door</i>" not in html and "&lt;i&gt;Door&lt;/i&gt;" in html


def test_the_wall_speaks_chinese(client, event, signed_in) -> None:
    html = client.get(wall_url(event), headers={"Accept-Language": "zh-CN"}).text
    assert "已到场人数" in html and "现场登记" in html and "抽奖" in html


def test_an_unknown_event_has_no_wall(client, signed_in) -> None:
    assert client.get("/organizer/events/nope/wall").status_code == 404


# --- the socket ------------------------------------------------------------------------------


def socket_url(event) -> str:
    return f"/organizer/events/{event.id}/wall/socket"


def test_the_socket_sends_a_snapshot_then_one_after_each_merge(client, db, event, signed_in) -> None:
    tablet = enroll(db, event.id, "Door", now=NOW)
    with client.websocket_connect(socket_url(event)) as socket:
        first = socket.receive_json()
        assert "No check-in yet." in first["html"]
        attendee = tablet.register("Li Wei", now_ms=MS)["subject"]
        op = tablet.checkin(attendee, now_ms=MS + 1)
        response = client.post("/api/v1/push", json=tablet.batch(now_ms=MS + 2), headers=tablet.headers)
        assert response.status_code == 200, response.text
        second = socket.receive_json()
        assert second["position"] > first["position"]
        assert f'data-op="{op["op_id"]}"' in second["html"] and "Li W." in second["html"]


def test_a_reconnect_gets_the_full_snapshot(client, db, event, signed_in, scenario) -> None:
    with client.websocket_connect(socket_url(event)) as socket:
        first = socket.receive_json()
    with client.websocket_connect(socket_url(event)) as socket:
        assert socket.receive_json() == first


def test_a_draw_reaches_the_wall(client, db, event, signed_in, crowd) -> None:
    with client.websocket_connect(socket_url(event)) as socket:
        socket.receive_json()
        response = client.post(
            wall_url(event) + "/draws",
            data={"winners": "2", "_csrf_token": client.cookies["csrftoken"]},
            follow_redirects=False,
        )
        assert response.status_code == 303
        shown = socket.receive_json()["html"]
    found = draws.latest_draw(db, event.id)
    assert f'data-draw="{found.id}"' in shown and shown.count("phone ending") == 2
    sample = json.loads(shown.split("data-sample='", 1)[1].split("'", 1)[0].replace("&#34;", '"'))
    assert len(sample) == 12 and all(name.startswith("Guest ") for name in sample)


@pytest.mark.parametrize("credential", ["none", "device", "forged"])
def test_only_a_signed_in_organizer_opens_the_socket(client, db, event, credential) -> None:
    headers = {}
    if credential == "device":
        headers["Authorization"] = "Bearer " + enroll(db, event.id, "Door", now=NOW).token
    elif credential == "forged":
        client.cookies["poppass_organizer"] = "x" * 43
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(socket_url(event), headers=headers) as socket,
    ):
        socket.receive_json()
    assert closed.value.code == WS_SIGN_IN_REQUIRED


def test_another_site_cannot_open_the_socket(client, event, signed_in) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(socket_url(event), headers={"Origin": "https://evil.example"}) as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 4403


def test_an_unknown_event_closes_the_socket(client, signed_in) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/organizer/events/nope/wall/socket") as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 4404


@pytest.mark.slow  # seconds: a hundred and five sockets (deselected by scripts/test --fast)
def test_walls_that_come_and_go_leave_nothing_behind(client, db, event, signed_in, monkeypatch) -> None:
    """Hours of a projector reconnecting: every subscription ends with its socket, and the
    memory the cycle allocates comes back."""

    def cycle() -> None:
        with client.websocket_connect(socket_url(event)) as socket:
            socket.receive_json()

    def subscribers() -> int:
        # A wall's socket holds one litestar.channels.Subscriber while its handler runs; the plugin
        # keeps it until the handler unsubscribes. Counted through the garbage collector, which
        # sees every one alive, not through the plugin's private bookkeeping.
        gc.collect()
        return sum(isinstance(thing, Subscriber) for thing in gc.get_objects())

    none_open = subscribers()
    # Every subscription the plugin hands out and takes back, counted through its public methods
    # (start_subscription calls both): the event is set whenever as many ended as began.
    channels = client.app.plugins.get(ChannelsPlugin)
    opened, closed, all_closed = [0], [0], threading.Event()
    subscribe, unsubscribe = channels.subscribe, channels.unsubscribe

    async def counted_subscribe(*args, **kwargs) -> Subscriber:
        opened[0] += 1
        all_closed.clear()
        return await subscribe(*args, **kwargs)

    async def counted_unsubscribe(*args, **kwargs) -> None:
        await unsubscribe(*args, **kwargs)
        closed[0] += 1
        if closed[0] == opened[0]:
            all_closed.set()

    monkeypatch.setattr(channels, "subscribe", counted_subscribe)
    monkeypatch.setattr(channels, "unsubscribe", counted_unsubscribe)
    with client.websocket_connect(socket_url(event)) as socket:
        socket.receive_json()  # sent once subscribed
        assert subscribers() == none_open + 1  # what is counted is the wall's subscription
    for _ in range(5):
        cycle()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(100):
        cycle()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    # What PopPass and the channels plugin hold (the test client's threads are its own business).
    ours = [
        tracemalloc.Filter(True, pattern)
        for pattern in ("*/server/*", "*/events/*", "*/litestar/channels/*", "*/jinja2/*")
    ]
    grown = sum(stat.size_diff for stat in after.filter_traces(ours).compare_to(before.filter_traces(ours), "filename"))
    assert grown < 20_000, grown  # 100 walls: not 100 snapshots (each is ~10 KB of HTML)
    # The last socket's handler ends just after the client has closed it: wait for its unsubscribe
    # itself (counted as it happens), not for a while. Every subscription ended with its socket.
    assert all_closed.wait(60), "a wall's subscription outlived its socket"  # a guard against a hang
    assert opened == closed == [106]


def test_a_slow_wall_keeps_a_bounded_backlog(client, event) -> None:
    """A listener that reads nothing holds at most SUBSCRIBER_BACKLOG announcements."""
    channels = client.app.plugins.get(ChannelsPlugin)

    async def flood() -> int:
        channel = live.event_channel(event.id)
        async with channels.start_subscription(channel) as subscriber, channels.start_subscription(channel) as probe:
            for n in range(1000):
                live.announce(client.app, event.id, [f"op{n}"])
            # The plugin publishes from a task, handing each announcement to every subscriber at
            # once: when the probe, which keeps reading, has the last one, so has the slow one.
            with anyio.fail_after(10):
                async with contextlib.aclosing(probe.iter_events()) as arriving:
                    async for message in arriving:
                        if json.loads(message) == {"subjects": ["op999"]}:
                            break
            return subscriber.qsize

    with client.portal() as portal:
        assert portal.call(flood) == live.SUBSCRIBER_BACKLOG


def test_drawing_needs_csrf_and_a_number(client, db, event, signed_in, crowd) -> None:
    url = wall_url(event) + "/draws"
    assert client.post(url, data={"winners": "1"}).status_code == 403
    refused = client.post(url, data={"winners": "0", "_csrf_token": client.cookies["csrftoken"]})
    assert refused.status_code == 422 and "between 1 and 100" in refused.text
    assert draws.list_draws(db, event.id) == []


def test_drawing_with_htmx_answers_204_and_is_audited(client, db, event, signed_in, crowd) -> None:
    response = client.post(
        wall_url(event) + "/draws",
        data={"winners": "3", "_csrf_token": client.cookies["csrftoken"]},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204
    found = draws.latest_draw(db, event.id)
    (action,) = [a for a in audit.history(db, event.id) if a.action == "draw"]
    assert (action.organizer_name, action.detail["seed"], action.detail["winners"]) == (
        "Mei",
        found.seed,
        found.winners,
    )


def test_the_draw_record_shows_how_to_check_it(client, db, event, signed_in, crowd) -> None:
    found = draws.draw(db, event.id, drawn_by=signed_in.id, wanted=2, now=NOW)
    html = client.get(f"{wall_url(event)}/draws/{found.id}").text
    assert found.seed in html and "the same winners" in html and all(c in html for c in found.candidates)
    db.execute("update draws set winners = ? where id = ?", [json.dumps(list(reversed(found.winners))), found.id])
    assert "the record was changed" in client.get(f"{wall_url(event)}/draws/{found.id}").text
    assert client.get(f"{wall_url(event)}/draws/999").status_code == 404


def test_nobody_to_draw_says_so(client, event, signed_in) -> None:
    refused = client.post(wall_url(event) + "/draws", data={"winners": "1", "_csrf_token": client.cookies["csrftoken"]})
    assert refused.status_code == 422 and "No one is left to draw" in refused.text


# --- winners as the room sees them ----------------------------------------------------------


@pytest.mark.parametrize(
    "email, masked",
    [
        ("wei@example.com", "w•••@example.com"),
        ("a@b.cn", "a•••@b.cn"),
        ("王@例子.中国", "王•••@例子.中国"),
        ("", ""),
        ("not-an-email", ""),
        ("@example.com", ""),
    ],
)
def test_emails_on_the_wall_are_masked(email, masked) -> None:
    assert wall.mask_email(email) == masked


@pytest.mark.parametrize(
    "name, phone, email, shown",
    [
        ("Li Wei", "1111", "", ("Li W.", "1111", "phone")),
        ("王小明", "", "wang@example.com", ("王*明", "w•••@example.com", "email")),  # a hint, not just "王*明"
        ("", "", "wei@example.com", ("w•••@example.com", "", "")),  # no name: the masked email, never "?" or "王*"
        ("  \u200b ", "", "wei@example.com", ("w•••@example.com", "", "")),
        ("", "", "", ("?", "", "")),
        ("<b>Bo</b> Zed", "", "", ("<b>Bo</b> Z.", "", "")),  # text here; Jinja escapes it on the page
    ],
)
def test_a_winner_is_shown_sensibly(name, phone, email, shown) -> None:
    winner = wall.shown_winner(draws.Winner("a1", name, phone, email))
    assert (winner.name, winner.hint, winner.hint_kind) == shown


@settings(max_examples=examples(200), deadline=None)
@given(name=st.text(max_size=30), email=st.emails() | st.just(""))
@example(name="", email="sR@AsR.COM")
def test_a_shown_winner_never_shows_a_whole_email_or_surname(name, email) -> None:
    winner = wall.shown_winner(draws.Winner("a1", name, "", email))
    mailbox = email.rpartition("@")[0]
    if len(mailbox) > 1 and mailbox.lower() not in name.lower():
        # Only what stands before an "@" is the mailbox: the domain is shown whole, and may
        # happen to contain the mailbox's letters ("sR@AsR.COM").
        shown = [text.rpartition("@")[0] if "@" in text else text for text in (winner.name, winner.hint)]
        assert all(mailbox not in text for text in shown)
    assert winner.name  # never empty on the projector
    words = "".join(c for c in name if unicodedata.category(c)[0] != "C").split()  # as mask_name reads it
    if len(words) > 1 and len(words[-1]) > 1 and words[-1] not in words[0]:
        assert words[-1] not in winner.name.split()


def test_the_wall_shows_an_email_only_winner_by_their_masked_email(client, db, event, signed_in) -> None:
    mei = organizers.create_organizer(db, email="draws@example.com", name="Mei", password=PASSWORD, now=NOW)
    tablet = enroll(db, event.id, "Door", now=NOW)
    attendee = tablet.register("王明", now_ms=MS, email="wang.ming@example.com")["subject"]
    tablet.checkin(attendee, now_ms=MS + 1)
    push(db, tablet, MS + 2)
    draws.draw(db, event.id, drawn_by=mei.id, wanted=1, now=NOW)
    html = client.get(wall_url(event)).text
    assert '<strong class="winner-name">王*</strong> <span class="winner-hint">w•••@example.com</span>' in html
    assert "wang.ming" not in html


# --- one definition of each figure ------------------------------------------------------------


def test_the_wall_and_the_report_agree_on_every_figure(client, db, signed_in) -> None:
    event = scenarios.shanghai(db)
    scenarios.report_day(db, event)
    hold_new_events(db, signed_in)
    shot = wall.snapshot(db, event.id, now=NOW + 3600)
    built = report.build(db, event.id)
    assert shot.figures == built.figures == figures.figures(db, event.id)
    f = shot.figures
    # The report's hand-computed working (tests/test_report.py): 5 people, 3 signed up online, 2 walk-ins,
    # 3 came in (2 signed up, 1 walk-in), 4 holders of whom 3 came in, 3 of 5 vouchers redeemed.
    assert (f.people, f.signed_up, f.walk_ins, f.people_in, f.signed_up_in, f.walk_ins_in) == (5, 3, 2, 3, 2, 1)
    assert (f.vouchers_issued, f.vouchers_redeemed, f.voucher_holders, f.holders_in) == (5, 3, 4, 3)
    assert built.attendance == report.Attendance(6, 5, 3, 2, 3, 2, 1)
    assert (
        shot.counters.signed_up == built.attendance.signed_up
        and shot.counters.checked_in == built.attendance.checked_in
    )
    assert dict(shot.funnel) == {"registered": 5, "checked_in": 3, "voucher_issued": 4, "redeemed": f.redeemers}
    assert shot.chart == built.chart
    page = " ".join(client.get(wall_url(event)).text.split())
    assert (
        'id="counter-signed-up"><span class="value">3<' in page
        and 'id="counter-walk-ins"><span class="value">2<' in page
    )
    assert 'id="counter-checked-in"><span class="value">3<' in page


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["register", "checkin", "dismiss"]), st.integers(0, 7), st.integers(0, 3)),
        min_size=1,
        max_size=25,
    )
)
def test_figures_kept_between_readings_equal_figures_read_afresh(db, event, steps) -> None:
    """The wall's People follows the log's tail; read from scratch after every push, it must say
    the same (shared phones merge people, late earlier check-ins move arrivals)."""
    tablet = enroll(db, event.id, f"T{len(steps)}-{time.monotonic_ns()}", now=NOW)
    known: list[str] = []
    for n, (kind, who, phone) in enumerate(steps):
        at = MS + (len(steps) - n) * MIN  # later ops carry earlier times too
        if kind == "register" or not known:
            known.append(tablet.register(f"P{who}", now_ms=MS + n, phone=f"1380000{phone:04d}")["subject"])
        elif kind == "checkin":
            tablet.checkin(known[who % len(known)], now_ms=at)
        push(db, tablet, MS + 10 * MIN + n)
        kept = figures.people(db, event.id)
        fresh = figures.People(db, event.id)
        assert figures.figures(db, event.id, who=kept) == figures.figures(db, event.id, who=fresh)
        assert kept.groups() == fresh.groups()
        assert +kept.arrivals_by_minute == +fresh.arrivals_by_minute

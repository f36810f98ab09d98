"""The realistic demo event `poppass demo` seeds: a launch pop-up half way through its day.

Hundreds of people signed up online over the weeks before (through `events.signup`, the public
form's own path), four tablets with their clerks check them and walk-ins in (simulated tablets,
`events.tablet`, pushing their outboxes through `events.sync` as the station does), vouchers
are issued and redeemed (online redemptions through `sync.redeem_online`, offline ones as
device-decided ops), a Wi-Fi outage leaves two tablets redeeming the same coffee voucher (the
one open conflict), and the organizer ran a lucky draw an hour ago (`events.draws`). Nothing is
written beside the domain's functions, so the wall, the report, the conflicts page and the
console read it exactly as if real tablets had done it.

The whole day is one timeline replayed in time order with the time passed in, so the log's
order, HLC stamps and sync times are those of a real day. `random.Random(seed)` makes every
choice: the same seed and the same `now` give the same figures (ids and keys stay random, as
they must). Seeding happens once per database (setting `demo_seed_event_id`); later runs find
it. `events.demo.ensure_demo` is the other, minimal demo event the end-to-end tests use.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
from sqlite_utils import Database

from events import campaigns, draws, organizers, registry, rotating, settings, signup, sync, tokens
from events.db import write_transaction
from events.keys import b64url, private_key_bytes
from events.ops import decode_batch, decode_online_redeem
from events.tablet import Tablet, enroll

SEEDED_SETTING = "demo_seed_event_id"
TABLETS_SETTING = "demo_seed_tablets"  # the simulated tablets' identities, for `poppass demo --live`
SAMPLES_SETTING = "demo_seed_samples"  # the showcase attendee's wallet and pass, an unused voucher
DEFAULT_SEED = 14

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
STARTED_AGO_MS = 3 * HOUR_MS
LASTS_MS = 6 * HOUR_MS
QUARTER_S = 15 * 60

PRE_REGISTERED = (300, 340)  # people who sign up online before the doors open
WALK_INS = (150, 190)  # people registered at a tablet
AT_THE_DOOR = 0.08  # of the online sign-ups: on their phone at the door, during the event
COME_IN = 0.66  # of the people signed up beforehand, who have come by now
TOTE_CAP = 200
TOTE_KEEP = 14  # tote bags the clerks stop short of the cap by (so no over_cap conflict)
PULL_EVERY_MS = 300_000  # each idle tablet's timer sync (a pull); pushes after ops pull too
PUSH_AFTER_MS = 1_500  # a tablet pushes shortly after each op while online
QUIET_MS = 5_000  # the seeded day stops this long before `now`
OUTAGE = (125 * MINUTE_MS, 147 * MINUTE_MS)  # after the doors open: the back of the shop loses Wi-Fi
DRAW_AT_MS = 150 * MINUTE_MS
DRAW_WINNERS = 3

# Names as people type them: Chinese in characters, Chinese in pinyin, English.
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
_GIVEN = (
    "伟 芳 娜 敏 静 丽 强 磊 洋 艳 勇 军 杰 娟 涛 明 超 霞 平 刚 婷 欣怡 子涵 浩然 宇轩 雨桐 梓萱 俊杰 晓明 思远 "
    "佳怡 一诺 嘉懿 文博 雅琪 梦瑶 志强 海燕 建华 晨曦"
).split()
_PINYIN_SURNAMES = "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo".split()
_PINYIN_GIVEN = (
    "Wei Fang Na Min Jing Li Qiang Lei Yang Yan Jun Jie Tao Ming Chao Xia Ting Hao Yu Xin Yifan Zihan".split()
)
_FIRST = (
    "Emma Liam Olivia Noah Ava Ethan Sophia Mason Mia Lucas Chloe James Grace Daniel Zoe Ben Ruby Leo Ella Jack "
    "Nora Owen Ivy Sam Lily Hannah Oscar Maya Felix Aisha Mateo Priya Jonas Elena Kenji Sara"
).split()
_LAST = (
    "Smith Wong Lee Taylor Brown Wilson Tan Ng Lim Clarke Patel Müller García Kim Nguyen Singh O'Brien Rossi "
    "Dubois Santos Kowalski Yamamoto Haddad"
).split()
# Fuzz, as real forms receive it: signed up, never came in, so never on the projector.
FUZZ_NAMES = ("<script>alert('hi')</script>", "Robert'); DROP TABLE attendees;--", '<b>Bold</b> & "Co"')

# The tablets: name, clerks on shift (name, from minutes after the doors open), where they stand.
_TABLETS = (
    ("Entrance A", (("Wang Fang", 0), ("Chen Hao", 120)), "entrance"),
    ("Entrance B", (("Li Na", 0),), "entrance"),
    ("Gift counter", (("Tom Baker", 0),), "counter"),
    ("Coffee bar", (("Zhao Lei", 0), ("Emma Clarke", 150)), "bar"),
)
SHOWCASE = ("Chen Jing", "+86 139 0000 1234")  # the sample wallet's holder: came in, had a coffee


@dataclass(frozen=True)
class Sample:
    label: str
    path: str


@dataclass(frozen=True)
class SeededDemo:
    event: registry.Event
    created: bool  # False: the database already had it
    samples: list[Sample]


@dataclass
class _Person:
    name: str
    phone: str = ""
    email: str = ""
    attendee_id: str = ""
    pass_text: str = ""
    vouchers: dict[int, str] = field(default_factory=dict)  # campaign number -> voucher text
    signed_up_ms: int = 0
    arrives_ms: int | None = None
    scripted: bool = False  # what they do after coming in is written out, not drawn at random


@dataclass
class _Desk:
    """One tablet on the day: its clerk rota, where it stands, whether a sync is already due."""

    tablet: Tablet
    name: str
    role: str
    rota: tuple[tuple[str, int], ...]
    sync_due: bool = False
    cursor: int = 0


def ensure_seeded(db: Database, *, now: int, timezone: str = "UTC", seed: int = DEFAULT_SEED) -> SeededDemo:
    """Seed the realistic demo event once (its doors opened three hours before `now`, it closes
    three hours after); later calls find it and seed nothing."""
    event_id = settings.get(db, SEEDED_SETTING)
    if event_id is not None:
        return SeededDemo(registry.get_event(db, event_id), False, samples(db, event_id))
    event = _Day(db, now_ms=now * 1000, timezone=timezone, rng=random.Random(seed)).run()
    return SeededDemo(event, True, samples(db, event.id))


def samples(db: Database, event_id: str) -> list[Sample]:
    """Links worth opening first: the showcase attendee's wallet and pass, a voucher not yet used."""
    kept = json.loads(settings.get(db, f"{SAMPLES_SETTING}:{event_id}") or "{}")
    found = (
        [Sample("wallet of Chen Jing (checked in, had her coffee, ¥50 off still to use)", f"/wallet/{kept['wallet']}")]
        if kept.get("wallet")
        else []
    )
    for label, name in (("pass of Chen Jing", "pass"), ("a free-coffee voucher not yet used", "voucher")):
        token = campaigns.get_token(db, kept[name]) if name in kept else None
        if token is not None:
            found.append(Sample(label, tokens.url_path(token.text)))
    return found


def tablet_identities(db: Database, event_id: str) -> list[dict]:
    """The seeded tablets as they would keep themselves: device id, key, bearer token, clerk, role."""
    return json.loads(settings.get(db, f"{TABLETS_SETTING}:{event_id}") or "[]")


class _Day:
    """The event's day, replayed as one timeline of (time, order, action)."""

    def __init__(self, db: Database, *, now_ms: int, timezone: str, rng: random.Random) -> None:
        self.db, self.now_ms, self.rng = db, now_ms, rng
        # Doors open on a quarter hour about three hours ago, so the chart's bars line up with the day.
        self.start_ms = (now_ms - STARTED_AGO_MS) // (QUARTER_S * 1000) * (QUARTER_S * 1000)
        self.end_ms = self.start_ms + LASTS_MS
        self.timezone = timezone
        self.timeline: list[tuple[int, int, Callable[[int], None]]] = []
        self._order = itertools.count()
        self._phones: set[str] = set()
        self._emails = itertools.count(1)
        self.totes = 0
        self.desks: list[_Desk] = []
        self.samples: dict[str, str] = {}  # wallet capability, pass and voucher token ids

    # --- the timeline --------------------------------------------------------------------------

    def at(self, when_ms: int, action: Callable[[int], None]) -> None:
        """Schedule `action(when_ms)`. What would happen after `now` has not happened yet, nor
        in its last seconds: the tablets' final sync then carries everything."""
        if when_ms <= self.now_ms - QUIET_MS:
            heapq.heappush(self.timeline, (when_ms, next(self._order), action))

    def run(self) -> registry.Event:
        s = lambda ms: ms // 1000  # noqa: E731 - the registry and campaigns count in seconds
        created_ms = self.start_ms - 21 * DAY_MS
        with write_transaction(self.db):
            self.event = registry.create_event(
                self.db,
                name="Lumen Coffee × PopPass launch pop-up",
                venue="Lumen Coffee, Anfu Road 1F",
                starts_at=s(self.start_ms),
                ends_at=s(self.end_ms),
                timezone=self.timezone,
                languages=["en", "zh-CN"],
                now=s(created_ms),
            )
            self._campaigns(s(created_ms))
            self.rotation = registry.rotation_keys(self.db, self.event.id)
            people = self._online_sign_ups()
            walk_ins = [self._person() for _ in range(self.rng.randint(*WALK_INS))]
            self._enroll(s(self.start_ms - 45 * MINUTE_MS))
            for person in people:
                self.at(person.signed_up_ms, lambda t, p=person: self._sign_up(p, t))
            for person in walk_ins:
                self.at(self._arrival_time(), lambda t, p=person: self._walk_in(p, t))
            self.at(self.start_ms + DRAW_AT_MS, self._draw)
            twice = self.start_ms + OUTAGE[0] + 5 * MINUTE_MS
            self.at(twice, lambda t: self._double_redemption(self.twice, t))
            for index, desk in enumerate(self.desks):
                self.at(self.start_ms - 40 * MINUTE_MS + index * 7_000, lambda t, d=desk: self._timer_sync(d, t))
            while self.timeline:
                when_ms, _, action = heapq.heappop(self.timeline)
                action(when_ms)
            for index, desk in enumerate(self.desks):  # every tablet has just synced, as on a live day
                self._sync(desk, self.now_ms - QUIET_MS + (index + 1) * 1_000)
            settings.put(self.db, f"{SAMPLES_SETTING}:{self.event.id}", json.dumps(self.samples))
            settings.put(self.db, SEEDED_SETTING, self.event.id)
        return registry.get_event(self.db, self.event.id)  # as stored now (enrollments moved its bundle on)

    # --- set-up --------------------------------------------------------------------------------

    def _campaigns(self, now: int) -> None:
        window = dict(valid_from=self.event.starts_at, valid_until=self.event.ends_at)
        self.fifty = campaigns.create_campaign(
            self.db,
            self.event.id,
            title="¥50 off your first purchase",
            value="¥50 off",
            terms="One per person, on purchases over ¥200. Show the moving code in your wallet.",
            max_uses=1,
            rotating=True,
            welcome=True,
            by_clerks=False,
            now=now,
            **window,
            texts=_zh("首次消费立减 ¥50", "每人一次，消费满 ¥200 可用。请出示钱包里不断变化的码。", "立减 ¥50"),
        ).number
        self.coffee = campaigns.create_campaign(
            self.db,
            self.event.id,
            title="Free coffee",
            value="1 coffee",
            terms="At the coffee bar, while beans last.",
            max_uses=1,
            rotating=False,
            welcome=True,
            by_clerks=True,
            per_attendee=1,
            now=now,
            **window,
            texts=_zh("免费咖啡", "在咖啡吧领取，送完即止。", "咖啡一杯"),
        ).number
        self.tote = campaigns.create_campaign(
            self.db,
            self.event.id,
            title="Launch tote bag",
            value="Tote bag",
            terms="Handed out at the gift counter.",
            max_uses=1,
            rotating=False,
            by_clerks=True,
            per_attendee=1,
            cap=TOTE_CAP,
            now=now,
            **window,
            texts=_zh("开业纪念帆布袋", "在礼品柜台领取。", "帆布袋"),
        ).number
        self.flight = campaigns.create_campaign(
            self.db,
            self.event.id,
            title="Tasting flight",
            value="3 tastings",
            terms="Three single-origin tastings.",
            max_uses=3,
            rotating=False,
            by_clerks=True,
            now=now,
            **window,
            texts=_zh("品鉴套餐", "三款单一产地咖啡品鉴。", "品鉴三次"),
        ).number

    def _enroll(self, now: int) -> None:
        identities = []
        for name, rota, role in _TABLETS:
            tablet = enroll(self.db, self.event.id, name, now=now)
            tablet.clerk = rota[0][0]
            self.desks.append(_Desk(tablet, name, role, rota))
            identities.append(
                {
                    "device_id": tablet.device_id,
                    "name": name,
                    "role": role,
                    "key_id": tablet.key_id,
                    "private_key": b64url(private_key_bytes(tablet.private_key)),
                    "device_token": tablet.token,
                    "clerk": rota[-1][0],
                }
            )
        settings.put(self.db, f"{TABLETS_SETTING}:{self.event.id}", json.dumps(identities))

    def _person(self, name: str | None = None, phone: str | None = None) -> _Person:
        rng = self.rng
        if name is None:
            name = person_name(rng)
        person = _Person(name)
        if phone is not None:
            person.phone = phone
            self._phones.add(phone)
        contact = rng.random()
        if phone is None and contact < 0.82:
            while not person.phone or person.phone in self._phones:
                digits = "".join(rng.choice("0123456789") for _ in range(8))
                person.phone = f"+86 1{rng.choice('35789')}{rng.choice('0123456789')} {digits[:4]} {digits[4:]}"
            self._phones.add(person.phone)
        if phone is None and contact > 0.7:  # some give both, some only an email
            handle = "".join(c for c in name.lower() if c.isascii() and c.isalnum()) or "guest"
            person.email = f"{handle}{next(self._emails)}@{rng.choice(('example.com', 'example.org', 'example.cn'))}"
        return person

    def _online_sign_ups(self) -> list[_Person]:
        rng = self.rng
        showcase = self._person(*SHOWCASE)
        showcase.signed_up_ms = self.start_ms - 2 * DAY_MS - 3 * HOUR_MS
        showcase.arrives_ms = self.start_ms + 38 * MINUTE_MS
        showcase.scripted = True
        # The one open conflict's voucher holder: signs up at the door before the outage.
        self.twice = self._person("Jordan Lee", "+86 137 5555 0102")
        self.twice.signed_up_ms = self.start_ms + OUTAGE[0] - 25 * MINUTE_MS
        self.twice.arrives_ms = self.twice.signed_up_ms + 5 * MINUTE_MS
        self.twice.scripted = True
        people = [showcase, self.twice]
        for _ in range(rng.randint(*PRE_REGISTERED)):
            person = self._person()
            if rng.random() < AT_THE_DOOR:
                # On their phone in the queue: signed up, then checked in a few minutes later.
                person.signed_up_ms = self._arrival_time()
                person.arrives_ms = person.signed_up_ms + rng.randint(2, 12) * MINUTE_MS
            else:
                # Most sign up in the last days before, a few weeks ahead.
                person.signed_up_ms = self.start_ms - min(int(rng.expovariate(1 / (3 * DAY_MS))), 20 * DAY_MS) - HOUR_MS
                person.arrives_ms = self._arrival_time() if rng.random() < COME_IN else None
            people.append(person)
        for name in FUZZ_NAMES:
            person = self._person(name)
            person.signed_up_ms = self.start_ms - rng.randint(1, 10) * DAY_MS
            people.append(person)
        return people

    def _arrival_time(self) -> int:
        """When someone comes in: a queue at the opening, then a ramp up to a peak about an hour
        and three quarters in, tailing off towards the close (later ones have not come yet)."""
        if self.rng.random() < 0.06:
            return self.start_ms + int(self.rng.uniform(0, 20 * MINUTE_MS))
        return int(self.rng.triangular(self.start_ms, self.end_ms, self.start_ms + 105 * MINUTE_MS))

    # --- what happens on the day ----------------------------------------------------------------

    def _desk(self, role: str) -> _Desk:
        choices = [d for d in self.desks if d.role == role]
        return choices[0] if len(choices) == 1 else self.rng.choices(choices, weights=[55, 45][: len(choices)])[0]

    def _on_shift(self, desk: _Desk, now_ms: int) -> None:
        minutes = (now_ms - self.start_ms) // MINUTE_MS
        desk.tablet.clerk = [clerk for clerk, since in desk.rota if minutes >= since or since == 0][-1]

    def _online(self, desk: _Desk, now_ms: int) -> bool:
        out = desk.role != "entrance" and self.start_ms + OUTAGE[0] <= now_ms < self.start_ms + OUTAGE[1]
        return not out

    def _recorded(self, desk: _Desk, now_ms: int) -> None:
        """An op went into the outbox: push it soon, or when the Wi-Fi is back."""
        if desk.sync_due:
            return
        desk.sync_due = True
        when = now_ms + PUSH_AFTER_MS
        if not self._online(desk, when):
            when = self.start_ms + OUTAGE[1] + self.rng.randint(5_000, 40_000)
        self.at(when, lambda t: self._sync(desk, t))

    def _sync(self, desk: _Desk, now_ms: int) -> None:
        """What sync-client.js does: push the outbox, then pull what the others did."""
        desk.sync_due = False
        tablet = desk.tablet
        if tablet.outbox:
            batch = decode_batch(msgspec.json.encode(tablet.batch(now_ms=now_ms)))
            result = sync.push(self.db, tablet.device_id, batch, now_ms=now_ms)
            tablet.pushed(result.last_seq, result.clock_offset_ms)
        pulled = sync.pull(
            self.db,
            tablet.device_id,
            after=desk.cursor,
            now_ms=now_ms,
            sent_at_ms=now_ms + tablet.skew_ms,
            clerk=tablet.clerk,
        )  # who is on shift, as station-app.js sends with each pull
        tablet.pulled(pulled.ops, now_ms=now_ms)
        desk.cursor = pulled.cursor

    def _timer_sync(self, desk: _Desk, now_ms: int) -> None:
        if self._online(desk, now_ms):
            self._sync(desk, now_ms)
        self.at(now_ms + PULL_EVERY_MS + self.rng.randint(-5_000, 5_000), lambda t: self._timer_sync(desk, t))

    def _sign_up(self, person: _Person, now_ms: int) -> None:
        done = signup.sign_up(
            self.db, self.event.id, signup.Applicant(person.name, person.phone, person.email, True), now_ms=now_ms
        )
        person.attendee_id = done.attendee_id
        for token_id, campaign, text in self.db.execute(
            "select id, campaign, text from tokens where event_id = ? and (id = ? or attendee_id = ?)",
            [self.event.id, done.attendee_id, done.attendee_id],
        ):
            if token_id == done.attendee_id:
                person.pass_text = text
            else:
                person.vouchers[campaign] = text
        if (person.name, person.phone) == SHOWCASE:
            self.samples["wallet"] = done.capability or ""
            self.samples["pass"] = done.attendee_id
        elif person.arrives_ms is None and "voucher" not in self.samples and person.name not in FUZZ_NAMES:
            self.samples["voucher"] = tokens.decode(person.vouchers[self.coffee]).token.id
        if person.arrives_ms is not None:
            self.at(person.arrives_ms, lambda t: self._check_in(person, t))

    def _walk_in(self, person: _Person, now_ms: int) -> None:
        desk = self._desk("entrance")
        self._on_shift(desk, now_ms)
        person.pass_text = desk.tablet.mint_pass(now_ms=now_ms, valid_until=self.event.ends_at)
        register = desk.tablet.register(
            person.name, now_ms=now_ms, phone=person.phone, email=person.email, pass_token=person.pass_text
        )
        person.attendee_id = register["subject"]
        # The register screen checks the walk-in in at once (its "check in now" box is ticked).
        desk.tablet.checkin(person.attendee_id, now_ms=now_ms + 800, pass_token=person.pass_text, method="search")
        self._recorded(desk, now_ms)
        self._after_arrival(person, desk, now_ms)

    def _check_in(self, person: _Person, now_ms: int) -> None:
        desk = self._desk("entrance")
        self._on_shift(desk, now_ms)
        if self.rng.random() < 0.9:
            desk.tablet.checkin(person.attendee_id, now_ms=now_ms, pass_token=person.pass_text)
        else:  # a cracked screen or no wallet to hand: found by name instead
            desk.tablet.checkin(person.attendee_id, now_ms=now_ms)
        self._recorded(desk, now_ms)
        self._after_arrival(person, desk, now_ms)

    def _after_arrival(self, person: _Person, entrance: _Desk, now_ms: int) -> None:
        rng = self.rng
        if person.scripted:
            if (person.name, person.phone) == SHOWCASE:  # keeps the ¥50 voucher: the sample wallet shows it valid
                self.at(now_ms + 11 * MINUTE_MS, lambda t: self._redeem(person, self.coffee, "bar", t))
            return
        if self.totes < TOTE_CAP - TOTE_KEEP and rng.random() < 0.5:
            self.totes += 1
            remaining = (self.end_ms - now_ms) // MINUTE_MS
            text, _ = entrance.tablet.issue_voucher(
                now_ms=now_ms + 4_000, campaign=self.tote, attendee_id=person.attendee_id, minutes=remaining
            )
            person.vouchers[self.tote] = text
            if rng.random() < 0.8:
                self.at(
                    now_ms + rng.randint(3, 25) * MINUTE_MS, lambda t: self._redeem(person, self.tote, "counter", t)
                )
        if self.fifty in person.vouchers and rng.random() < 0.55:
            delay = max(4 * MINUTE_MS, int(rng.expovariate(1 / (25 * MINUTE_MS))))
            self.at(now_ms + delay, lambda t: self._redeem(person, self.fifty, "counter", t))
        if self.coffee in person.vouchers and rng.random() < 0.6:
            delay = max(3 * MINUTE_MS, int(rng.expovariate(1 / (15 * MINUTE_MS))))
            self.at(now_ms + delay, lambda t: self._redeem(person, self.coffee, "bar", t))
        elif self.coffee not in person.vouchers and rng.random() < 0.25:
            self.at(now_ms + rng.randint(5, 40) * MINUTE_MS, lambda t: self._tasting(person, t))

    def _tasting(self, person: _Person, now_ms: int) -> None:
        """A walk-in buys into the tasting flight at the bar: a three-use voucher, used as they go."""
        desk = self._desk("bar")
        self._on_shift(desk, now_ms)
        remaining = (self.end_ms - now_ms) // MINUTE_MS
        text, _ = desk.tablet.issue_voucher(
            now_ms=now_ms, campaign=self.flight, max_uses=3, attendee_id=person.attendee_id, minutes=remaining
        )
        person.vouchers[self.flight] = text
        self._recorded(desk, now_ms)
        later = now_ms
        for _ in range(self.rng.randint(1, 3)):
            later += self.rng.randint(2, 20) * MINUTE_MS
            self.at(later, lambda t: self._redeem(person, self.flight, "bar", t))

    def _redeem(self, person: _Person, campaign: int, role: str, now_ms: int) -> None:
        """At the counter: online, the server decides (the station asks it first); offline, the
        tablet's own verdict stands and the op waits in its outbox."""
        desk = self._desk(role)
        self._on_shift(desk, now_ms)
        text = person.vouchers[campaign]
        token = tokens.decode(text).token
        code = None
        if token.rotating:  # the code the attendee's wallet shows right now
            secret = rotating.voucher_secret(self.rotation.current, token.token_id)
            code = rotating.code_at(secret, now_ms / 1000)
        if self._online(desk, now_ms):
            body = desk.tablet.online_redeem(text, now_ms=now_ms, code=code)
            request = decode_online_redeem(msgspec.json.encode(body))
            decision = sync.redeem_online(
                self.db, desk.tablet.device_id, request, rotation=self.rotation, now_ms=now_ms
            )
            if decision.outcome == "accepted" and self.rng.random() < 0.015:
                # Redeemed by mistake (the wrong voucher on the phone): the clerk taps Undo.
                desk.tablet.void(text, now_ms=now_ms + 6_000, redeem_op_id=decision.op_id)
                self._recorded(desk, now_ms + 6_000)
            elif decision.outcome == "accepted" and campaign == self.coffee and self.rng.random() < 0.04:
                # A friend tries a screenshot of the same coffee voucher: the server says used up.
                self.at(now_ms + self.rng.randint(1, 9) * MINUTE_MS, lambda t: self._screenshot(person, role, t))
        else:
            step = rotating.step_at(now_ms / 1000) if token.rotating else None
            desk.tablet.redeem(text, now_ms=now_ms, code_step=step)
            self._recorded(desk, now_ms)

    def _screenshot(self, person: _Person, role: str, now_ms: int) -> None:
        """The same coffee voucher shown again, asked of the server: refused, used up. (Offline,
        the tablet would accept it; that is the one conflict, below, and only one is wanted.)"""
        desk = self._desk(role)
        if self._online(desk, now_ms):
            self._redeem(person, self.coffee, role, now_ms)

    def _double_redemption(self, person: _Person, now_ms: int) -> None:
        """During the outage someone has their free coffee at the bar, then shows the same voucher
        at the gift counter: both tablets, offline, accept it. When the Wi-Fi is back and both
        have pushed, that is an over_redemption conflict for the organizer to decide."""
        for offset_ms, role in ((0, "bar"), (50_000, "counter")):
            desk = self._desk(role)
            self._on_shift(desk, now_ms + offset_ms)
            desk.tablet.redeem(person.vouchers[self.coffee], now_ms=now_ms + offset_ms)
            self._recorded(desk, now_ms + offset_ms)

    def _draw(self, now_ms: int) -> None:
        """The organizer draws three winners from the people in the room at the time."""
        row = self.db.execute("select id from organizers order by created_at, id limit 1").fetchone()
        # Without an organizer yet, an account nobody can sign in to (its password is thrown
        # away): a draw records who drew it. `poppass create-organizer` makes yours.
        organizer_id = (
            row[0]
            if row
            else organizers.create_organizer(
                self.db,
                email="demo-organizer@example.com",
                name="Demo organizer",
                password=secrets.token_urlsafe(24),
                now=now_ms // 1000,
            ).id
        )
        draws.draw(
            self.db,
            self.event.id,
            drawn_by=organizer_id,
            wanted=DRAW_WINNERS,
            now=now_ms // 1000,
            seed=f"{self.rng.getrandbits(128):032x}",
        )


def person_name(rng: random.Random) -> str:
    """A name as people type it: Chinese in characters, Chinese in pinyin, or English."""
    style = rng.random()
    if style < 0.45:
        return rng.choice(_SURNAMES) + rng.choice(_GIVEN)
    if style < 0.6:
        return f"{rng.choice(_PINYIN_GIVEN)} {rng.choice(_PINYIN_SURNAMES)}"
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _zh(title: str, terms: str, value: str) -> dict[str, dict[str, str]]:
    """A campaign's Chinese texts (the event speaks English first, then Chinese): the wallet,
    the voucher page and the station show these on a zh-CN page."""
    return {"zh-CN": {"title": title, "terms": terms, "value": value}}


def tablet_for(identity: dict, event_id: str) -> Tablet:
    """A seeded tablet, back from its stored identity (as the station reads its IndexedDB)."""
    from events.keys import from_b64url, private_key_from_bytes

    return Tablet(
        event_id,
        clerk=identity["clerk"],
        private_key=private_key_from_bytes(from_b64url(identity["private_key"])),
    ).enrolled(
        {"device_id": identity["device_id"], "key_id": identity["key_id"], "device_token": identity["device_token"]}
    )

"""Fuzzing what arrives from outside: the op validator and the device API, with hypothesis.

- events.ops.decode_batch: any bytes, any JSON value, and genuine batches with one part
  replaced, removed or added give either a batch or InvalidInput, whose `where` names the
  culprit; valid batches round-trip.
- The device API through TestClient: any JSON body to /push, /redeem and /enroll, near-genuine
  ones, and any query string to /pull never get a 5xx, and a refused request writes nothing.
- The /V/ page: any code gives the "not valid" page, never a 5xx.

The token decoder's own fuzzing is in tests/test_tokens_properties.py; schemathesis checks the
answers against the OpenAPI schema in tests/test_fuzz_api.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_to_bytes

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlite_utils import Database

from events import campaigns, devices, ops, registry, tokens
from events.db import open_database
from server.app import create_app
from tests.support.clock import NOW, Clock
from tests.support.examples import examples
from tests.support.tablet import Tablet

M = NOW * 1000
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
# Near the real thing: the names and values a batch has, so the validator gets past its first check.
FIELD_NAMES = [
    "protocol",
    "device_id",
    "sent_at_ms",
    "ops",
    "pending",
    "kind",
    "op_id",
    "device_seq",
    "subject",
    "hlc_ms",
    "hlc_counter",
    "device_time_ms",
    "corrected_time_ms",
    "clerk",
    "data",
    "token",
    "outcome",
    "shown",
    "verdict",
    "name",
    "consent",
    "method",
    "reason",
    "code_step",
    "decided_by",
    "attendee_id",
    "log_id",
]
tricky = st.one_of(
    json_values,
    st.sampled_from(
        [
            0,
            -1,
            1,
            2**53 - 1,
            2**53,
            2**63,
            2**64,
            -(2**63) - 1,
            10**30,
            1.5,
            1e308,
            "",
            "A" * 2000,
            "\x00",
            "PP",
            "register",
            "redeem",
            "issue",
            "void",
            "checkin",
            "accepted",
            "server",
            True,
            [],
            {},
        ]
    ),
)


def _check_where(error: ops.InvalidInput) -> None:
    assert error.detail, "an InvalidInput says what is wrong"
    assert error.where == "" or error.where.startswith("$"), error.where


def _decode_or_refuse(body: bytes) -> ops.PushBatch | None:
    """decode_batch gives a batch or InvalidInput (with a JSON path), nothing else."""
    try:
        return ops.decode_batch(body)
    except ops.InvalidInput as error:
        _check_where(error)
        return None


# --- the op validator ----------------------------------------------------------------------------


@given(st.binary(max_size=500))
def test_any_bytes_are_a_batch_or_invalid_input(body: bytes) -> None:
    _decode_or_refuse(body)


@given(json_values)
def test_any_json_value_is_a_batch_or_invalid_input(value: object) -> None:
    _decode_or_refuse(json.dumps(value).encode())


def _genuine_batch(index: int) -> dict:
    """A batch a real tablet could send: each kind of op, with and without optional fields."""
    tablet = Tablet("evfuzz0001", clerk="Clerk")
    tablet.device_id, tablet.key_id = "dvfuzz000001", 2
    attendee = tablet.register("Li Wei", now_ms=M, phone="+86 138 0000 1111")
    tablet.checkin(attendee["subject"], now_ms=M + 1)
    text, _ = tablet.issue_voucher(now_ms=M + 2, attendee_id=attendee["subject"])
    redeem = tablet.redeem(text, now_ms=M + 3)
    tablet.void(text, now_ms=M + 4, redeem_op_id=redeem["op_id"])
    tablet.void(text, now_ms=M + 5)
    return tablet.batch(tablet.outbox[: 1 + index % len(tablet.outbox)], now_ms=M + 6)


def _paths(value: object, path: str = "$") -> Iterator[tuple[str, object]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _paths(item, f"{path}[{position}]")


def _set(document: dict, path: str, change: str, new: object) -> tuple[str, object]:
    """A deep copy of `document` with the value at `path` replaced, removed, or given a sibling;
    and the path of what changed (the sibling's, for an addition)."""
    copy = json.loads(json.dumps(document))
    steps = re.findall(r"\.([^.\[]+)|\[(\d+)\]", path)
    parent: object = None
    target: object = copy
    key: str | int | None = None
    for name, position in steps:
        parent, key = target, name if name else int(position)
        target = parent[key]  # type: ignore[index]
    if key is None:
        return path, new if change == "replace" else copy
    parent_path = path[: path.rindex("[" if isinstance(key, int) else ".")]
    if change == "replace":
        parent[key] = new  # type: ignore[index]
    elif change == "remove":
        del parent[key]  # type: ignore[arg-type]
    elif isinstance(parent, dict):
        parent["x_" + str(key)] = new
        path = f"{parent_path}.x_{key}"
    else:
        parent.append(new)  # type: ignore[union-attr]
        path = f"{parent_path}[{len(parent) - 1}]"  # type: ignore[arg-type]
    return path, copy


@st.composite
def mutated_batches(draw: st.DrawFn) -> tuple[dict, str, dict]:
    original = _genuine_batch(draw(st.integers(0, 5), label="ops"))
    paths = [path for path, _ in _paths(original)]
    path = draw(st.sampled_from(paths), label="path")
    change = draw(st.sampled_from(["replace", "replace", "remove", "add"]), label="change")
    new = draw(tricky, label="new")
    return original, *_set(original, path, change, new)


def _related(where: str, path: str) -> bool:
    """`where` names the changed part, something inside it, what contains it, or another field of
    the same op (a changed kind makes the subject or data wrong)."""
    if where.startswith(path) or path.startswith(where):
        return True
    op = re.match(r"\$\.ops\[\d+\]", path)
    return bool(op) and where.startswith(op.group(0))


@settings(max_examples=examples(300))
@given(mutated_batches())
def test_a_changed_batch_is_a_batch_or_refused_where_it_was_changed(case: tuple[dict, str, dict]) -> None:
    original, path, changed = case
    body = msgspec.json.encode(changed)
    try:
        batch = ops.decode_batch(body)
    except ops.InvalidInput as error:
        _check_where(error)
        assert _related(error.where, path), (error.where, path)
        return
    assert ops.decode_batch(ops.encode(batch)) == batch


# Valid batches, drawn from the schema's own constraints (not from a tablet): they round-trip.
identifiers = st.from_regex(r"[A-Za-z0-9_-]{8,64}", fullmatch=True)
token_ids = st.text(alphabet=BASE32, min_size=16, max_size=16)
millis = st.integers(0, 2**53 - 1)
shown = st.fixed_dictionaries(
    {"verdict": st.sampled_from(["green", "amber", "red"])},
    optional={"reason": st.text(min_size=1, max_size=200), "prior_uses_seen": st.integers(1, 10_000)},
)
token_text = st.text(min_size=1, max_size=1024)
DATA = {
    "register": st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=100), "consent": st.booleans()},
        optional={
            "phone": st.text(min_size=1, max_size=32),
            "email": st.text(min_size=1, max_size=254),
            "pass_token": token_text,
        },
    ),
    "checkin": st.fixed_dictionaries(
        {"method": st.sampled_from(["scan", "search"]), "shown": shown}, optional={"pass_token": token_text}
    ),
    "issue": st.fixed_dictionaries({"token": token_text}, optional={"attendee_id": identifiers}),
    "redeem": st.fixed_dictionaries(
        {"token": token_text, "outcome": st.sampled_from(["accepted", "refused"]), "shown": shown},
        optional={"code_step": st.integers(0, 2**53 - 1), "decided_by": st.just("server")},
    ),
    "void": st.fixed_dictionaries(
        {"reason": st.text(min_size=1, max_size=200)}, optional={"redeem_op_id": identifiers}
    ),
}


@st.composite
def valid_ops(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(ops.KINDS))
    return {
        "kind": kind,
        "op_id": draw(identifiers),
        "device_seq": draw(st.integers(1, 2**53 - 1)),
        "subject": draw(token_ids if kind in ("issue", "redeem", "void") else identifiers),
        "hlc_ms": draw(millis),
        "hlc_counter": draw(st.integers(0, 0xFFFF)),
        "device_time_ms": draw(millis),
        "corrected_time_ms": draw(st.none() | millis),
        "clerk": draw(st.text(min_size=1, max_size=80)),
        "data": draw(DATA[kind]),
    }


valid_batches = st.fixed_dictionaries(
    {
        "protocol": st.sampled_from([1, 2, 3]),
        "device_id": identifiers,
        "sent_at_ms": millis,
        "ops": st.lists(valid_ops(), max_size=5),
        "pending": st.integers(0, 2**53 - 1),
        "log_id": st.none() | identifiers,
    }
)


@given(valid_batches)
def test_a_valid_batch_round_trips(wire: dict) -> None:
    batch = ops.decode_batch(msgspec.json.encode(wire))
    assert msgspec.to_builtins(batch) == wire
    assert ops.decode_batch(ops.encode(batch)) == batch
    assert [op.kind for op in batch.ops] == [op["kind"] for op in wire["ops"]]


# --- the device API through HTTP -----------------------------------------------------------------


@dataclass
class Api:
    client: TestClient
    db: Database
    event: registry.Event
    voucher: str  # a genuine server-issued voucher of the event

    def tablet(self) -> Tablet:
        """A newly enrolled tablet, so each example starts from device_seq 1."""
        tablet = Tablet(self.event.id)
        code = devices.create_enrollment_code(self.db, self.event.id, name="Fuzz", now=NOW)
        response = self.client.post(
            "/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": tablet.public_key}
        )
        assert response.status_code == 201
        return tablet.enrolled(response.json())

    def ops_count(self) -> int:
        return self.db["ops"].count


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    """One app for the module (hypothesis runs many examples per test); each example enrolls its
    own tablet where the state of one matters."""
    db = open_database(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    event = registry.create_event(db, name="Fuzz", venue="Hall", starts_at=NOW - 3600, ends_at=NOW + 8 * 3600, now=NOW)
    campaign = campaigns.create_campaign(db, event.id, title="¥50 off", max_uses=2, rotating=False, now=NOW)
    voucher = campaigns.issue_voucher(db, event.id, campaign.number, now=NOW).text
    with TestClient(create_app(db, clock=Clock())) as client:
        yield Api(client, db, event, voucher)
    db.close()


def _post(api: Api, path: str, body: bytes, tablet: Tablet | None) -> tuple[int, int]:
    """POST raw JSON; returns the status and how many ops the request stored."""
    before = api.ops_count()
    headers = {"content-type": "application/json", **(tablet.headers if tablet else {})}
    response = api.client.post(path, content=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text, body[:300])
    assert response.headers["content-type"].startswith("application/json")
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)
    return response.status_code, api.ops_count() - before


@settings(max_examples=examples(80))
@given(path=st.sampled_from(["/api/v1/push", "/api/v1/redeem", "/api/v1/enroll"]), value=json_values)
def test_any_json_body_gets_a_4xx_and_writes_nothing(api: Api, path: str, value: object) -> None:
    status, stored = _post(api, path, json.dumps(value).encode(), api.tablet())
    assert status >= 400 and stored == 0


@settings(max_examples=examples(150))
@given(case=mutated_batches())
def test_a_changed_push_never_fails_the_server_and_a_refused_one_writes_nothing(api: Api, case) -> None:
    _, path, changed = case
    tablet = api.tablet()
    body = json.loads(json.dumps(changed).replace("dvfuzz000001", tablet.device_id).replace("evfuzz0001", api.event.id))
    status, stored = _post(api, "/api/v1/push", msgspec.json.encode(body), tablet)
    if status != 200:
        assert stored == 0, f"a refused push ({status}) stored {stored} ops"


@st.composite
def changed_online_redeems(draw: st.DrawFn) -> tuple[str, object]:
    return draw(
        st.sampled_from(
            [
                "protocol",
                "device_id",
                "sent_at_ms",
                "op_id",
                "subject",
                "hlc_ms",
                "hlc_counter",
                "device_time_ms",
                "corrected_time_ms",
                "clerk",
                "token",
                "code",
                "extra",
            ]
        )
    ), draw(tricky)


@settings(max_examples=examples(120))
@given(change=changed_online_redeems(), drop=st.booleans())
def test_a_changed_online_redemption_never_fails_the_server_and_a_refused_one_writes_nothing(
    api: Api, change: tuple[str, object], drop: bool
) -> None:
    tablet = api.tablet()
    body = {
        "protocol": 1,
        "device_id": tablet.device_id,
        "sent_at_ms": M,
        "op_id": f"op{tablet.device_id}",
        "subject": tokens.decode(api.voucher).token.id,
        "hlc_ms": M,
        "hlc_counter": 0,
        "device_time_ms": M,
        "corrected_time_ms": M,
        "clerk": "Clerk",
        "token": api.voucher,
    }
    field, value = change
    if drop:
        body.pop(field, None)
    else:
        body[field] = value
    status, stored = _post(api, "/api/v1/redeem", msgspec.json.encode(body), tablet)
    if status != 200:
        assert stored == 0


query_values = st.one_of(
    st.integers().map(str), st.text(max_size=30), st.sampled_from(["", "null", "1e3", "0x10", "-0", str(2**63)])
)


@settings(max_examples=examples(150))
@given(
    params=st.dictionaries(
        st.sampled_from(["after", "limit", "sent_at_ms", "cursor", "after[]", "log"]),
        query_values | identifiers,
        max_size=4,
    )
)
def test_any_query_string_to_pull_is_answered_or_refused_with_a_400(api: Api, params: dict[str, str]) -> None:
    tablet = api.tablet()
    response = api.client.get("/api/v1/pull", params=params, headers=tablet.headers)
    assert response.status_code in (200, 400, 409), (response.status_code, response.text)
    if response.status_code == 400:
        assert response.json()["error"] == "invalid"
    if response.status_code == 409:  # a well-formed log id that is not the current one
        assert response.json()["error"] == "log_changed" and ops.is_identifier(params["log"])


@settings(max_examples=examples(100))
@given(code=st.one_of(st.text(max_size=200), st.text(alphabet=BASE32 + "-0123456789", max_size=200)))
def test_any_code_on_the_voucher_page_is_refused_not_a_server_error(api: Api, code: str) -> None:
    for path in (f"/V/{quote(code, safe='')}", f"/V/{quote(code, safe='')}/qr.svg"):
        response = api.client.get(path)
        assert response.status_code < 500, (path, response.status_code)
    if code:
        assert api.client.get(f"/V/{quote(code, safe='')}").status_code in (404, 405)


# --- the class: bytes that are not UTF-8, integers beyond 64 bits, trailing whitespace -----------
# (tests/test_bad_input.py has one test per case found by probing; these cover the kind of input,
# wherever it goes: a JSON string, a form field, a query value, a path segment.)

not_utf8 = st.binary(min_size=1, max_size=8).filter(lambda b: not _is_utf8(b))
WHITESPACE = st.sampled_from(["\n", " ", "\t", "\r", "\r\n", "\x0b", "\x0c", "\u00a0", "\u2028", "\u3000"])
# Bytes that stay inside the JSON string they are put in (no closing quote, no escape).
not_utf8_in_a_string = not_utf8.filter(lambda b: b'"' not in b and b"\\" not in b)
beyond_64_bits = st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _strings(value: object, path: str = "$") -> Iterator[tuple[str, str]]:
    yield from ((p, v) for p, v in _paths(value, path) if isinstance(v, str))


@settings(max_examples=examples(200))
@given(data=st.data(), ops_in=st.integers(0, 5), raw=not_utf8_in_a_string)
def test_bytes_that_are_not_utf8_in_any_string_of_a_batch_are_invalid_input(data, ops_in: int, raw: bytes) -> None:
    batch = _genuine_batch(ops_in)
    path, _ = data.draw(st.sampled_from(list(_strings(batch))), label="string")
    marker = "\u2603MARKER\u2603"
    _, changed = _set(batch, path, "replace", marker)
    at = data.draw(st.sampled_from(["start", "end"]))
    body = msgspec.json.encode(changed).replace(marker.encode(), raw if at == "start" else b"x" + raw)
    with pytest.raises(ops.InvalidInput) as refused:
        ops.decode_batch(body)
    assert "not UTF-8" in refused.value.detail or "not JSON" in refused.value.detail, refused.value.detail


# What must be exact: identifiers, token ids, and the online redemption's 6 digits.
IDENTIFIER_PATH = re.compile(r"\$\.(device_id|ops\[\d+\]\.(op_id|subject|data\.(attendee_id|redeem_op_id)))$")


@settings(max_examples=examples(200))
@given(data=st.data(), ops_in=st.integers(0, 5), suffix=WHITESPACE, prefix=st.booleans())
def test_whitespace_around_any_identifier_of_a_batch_is_refused_there(
    data, ops_in: int, suffix: str, prefix: bool
) -> None:
    batch = _genuine_batch(ops_in)
    path, value = data.draw(st.sampled_from([(p, v) for p, v in _strings(batch) if IDENTIFIER_PATH.match(p)]))
    _, changed = _set(batch, path, "replace", suffix + value if prefix else value + suffix)
    with pytest.raises(ops.InvalidInput) as refused:
        ops.decode_batch(msgspec.json.encode(changed))
    assert refused.value.where == path or (path.endswith("subject") and refused.value.where.startswith(path[:-8]))


@settings(max_examples=examples(200))
@given(data=st.data(), ops_in=st.integers(0, 5), number=beyond_64_bits)
def test_an_integer_beyond_64_bits_in_any_number_of_a_batch_is_refused_there(data, ops_in: int, number: int) -> None:
    batch = _genuine_batch(ops_in)
    numbers = [p for p, v in _paths(batch) if isinstance(v, int) and not isinstance(v, bool)]
    path = data.draw(st.sampled_from(numbers))
    _, changed = _set(batch, path, "replace", number)
    with pytest.raises(ops.InvalidInput) as refused:
        ops.decode_batch(json.dumps(changed).encode())
    assert refused.value.where == path or refused.value.where == "", (refused.value.where, path)


@settings(max_examples=examples(80))
@given(
    path=st.sampled_from(["/api/v1/push", "/api/v1/redeem", "/api/v1/enroll"]),
    raw=not_utf8_in_a_string,
    field=st.sampled_from(["device_id", "code", "public_key", "clerk", "token", "op_id"]),
)
def test_the_device_api_answers_bytes_that_are_not_utf8_with_400_invalid(
    api: Api, path: str, raw: bytes, field: str
) -> None:
    tablet = api.tablet()
    body = msgspec.json.encode({"protocol": 1, "device_id": tablet.device_id, field: "\u2603"}).replace(
        "\u2603".encode(), raw
    )
    status, stored = _post(api, path, body, tablet)
    assert status == 400 and stored == 0


# --- every route of the app, from its route table (a new route is fuzzed without being listed) ---


@dataclass
class Site:
    client: TestClient = field(repr=False)
    db: Database = field(repr=False)
    values: dict[str, str] = field(repr=False)  # a real value for each path parameter's name
    routes: list[tuple[str, frozenset[str], dict[str, type]]] = field(repr=False)

    def rows(self) -> dict[str, int]:
        return {
            t: self.db[t].count for t in self.db.table_names() if not t.startswith(("organizer_session", "sqlite_"))
        }

    def url(self, template: str, **given: str) -> str:
        def fill(match: re.Match) -> str:
            name = match.group(1)
            return given.get(name, self.values.get(name, "1"))

        return re.sub(r"\{(\w+):\w+\}", fill, template)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    from litestar.routes import HTTPRoute

    from events import organizers
    from tests.support.organizer import PASSWORD, sign_in

    db = open_database(tmp_path_factory.mktemp("site") / "site.db")
    event = registry.create_event(db, name="Fuzz", venue="Hall", starts_at=NOW - 3600, ends_at=NOW + 8 * 3600, now=NOW)
    campaigns.create_campaign(db, event.id, title="T", max_uses=1, rotating=False, now=NOW)
    mei = organizers.create_organizer(db, email="mei@example.com", name="Mei", password=PASSWORD, now=NOW)
    app = create_app(db, clock=Clock())
    with TestClient(app) as client:
        assert sign_in(client, db, mei.id).status_code == 200  # enrolled: the recovery codes are shown once
        routes = [
            (r.path, frozenset(r.methods) - {"OPTIONS", "HEAD"}, {p.name: p.type for p in r.path_parameters.values()})
            for r in app.routes
            if isinstance(r, HTTPRoute)
        ]
        values = {"event_id": event.id, "number": "1", "file_path": "css/app.css", "name": "station.js", "code": "PP"}
        yield Site(client, db, values, routes)
    db.close()


def _quoted(raw: bytes) -> str:
    return "".join(f"%{b:02X}" for b in raw)


path_segments = st.one_of(
    not_utf8.map(_quoted),
    beyond_64_bits.map(str),
    st.tuples(st.sampled_from(["1", "evfuzz", "PP"]), WHITESPACE).map(lambda t: t[0] + quote(t[1], safe="")),
    st.sampled_from(["1_0", "+1", "01", "-0", "١"]).map(lambda s: quote(s, safe="")),
    st.text(max_size=20).map(lambda s: quote(s, safe="")).filter(bool),
)


@settings(max_examples=examples(300))
@given(data=st.data(), segment=path_segments)
def test_any_path_segment_on_any_route_is_a_4xx_not_a_server_error(site: Site, data, segment: str) -> None:
    template, methods, params = data.draw(st.sampled_from([r for r in site.routes if r[2]]), label="route")
    name = data.draw(st.sampled_from(sorted(params)), label="param")
    url = site.url(template, **{name: segment})
    before = site.rows()
    for method in sorted(methods):
        response = site.client.request(
            method, url, data={"_csrf_token": site.client.cookies["csrftoken"]}, follow_redirects=False
        )
        assert response.status_code < 500, (method, url, response.status_code)
        if params[name] is int and (
            segment.lstrip("-").isdigit()
            and int(segment) not in range(-(2**63), 2**63)
            or not re.fullmatch(r"-?[0-9]+", segment)
            or segment != str(int(segment))
        ):
            assert response.status_code in (404, 405), (method, url, response.status_code)
    assert site.rows() == before or not any(params[n] is int for n in params)


form_values = st.one_of(
    st.text(max_size=30).map(lambda s: quote(s, safe="").encode()),
    not_utf8.map(lambda b: _quoted(b).encode()),
    not_utf8,
    beyond_64_bits.map(lambda n: str(n).encode()),
)
FORM_FIELDS = [
    "name",
    "venue",
    "starts",
    "ends",
    "timezone",
    "languages",
    "title",
    "value",
    "terms",
    "max_uses",
    "valid_from",
    "valid_until",
    "valid_minutes",
    "per_attendee",
    "cap",
    "welcome",
    "by_clerks",
    "rotating",
    "decision",
    "note",
    "minutes",
    "confirm",
    "winners",
    "phone",
    "email",
    "consent",
    "claim",
    "token",
    "language",
    "next",
    "password",
    "code",
    "x",
]


@settings(max_examples=examples(300))
@given(data=st.data(), fields=st.dictionaries(st.sampled_from(FORM_FIELDS), form_values, min_size=1, max_size=5))
def test_any_form_field_on_any_route_is_answered_and_one_not_utf8_is_400_storing_nothing(
    site: Site, data, fields
) -> None:
    template, _, _ = data.draw(st.sampled_from([r for r in site.routes if "POST" in r[1]]), label="route")
    if template == "/organizer/logout":
        return  # signing out would end the fuzzing of the console
    body = b"&".join(name.encode() + b"=" + value for name, value in fields.items())
    body += b"&_csrf_token=" + site.client.cookies["csrftoken"].encode()
    before = site.rows()
    response = site.client.post(
        site.url(template),
        content=body,
        follow_redirects=False,
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
    )
    assert response.status_code < 500, (template, body, response.status_code)
    if not all(_is_utf8(unquote_to_bytes(value)) and value.isascii() for value in fields.values()):
        assert response.status_code == 400, (template, body, response.status_code)
        assert site.rows() == before


@settings(max_examples=examples(200))
@given(
    data=st.data(),
    params=st.dictionaries(
        st.sampled_from(["after", "limit", "claim", "next", "theme", "status", "saved", "claim_refused", "clerk", "x"]),
        form_values,
        min_size=1,
        max_size=3,
    ),
)
def test_any_query_value_on_any_route_is_answered_and_one_not_utf8_is_400(site: Site, data, params) -> None:
    template, methods, _ = data.draw(st.sampled_from([r for r in site.routes if "GET" in r[1]]), label="route")
    # A URL carries bytes percent-encoded (the test client would encode a raw one as UTF-8).
    params = {name: value if value.isascii() else _quoted(value).encode() for name, value in params.items()}
    query = b"&".join(name.encode() + b"=" + value for name, value in params.items())
    url = site.url(template) + "?" + query.decode("ascii")
    response = site.client.get(url, follow_redirects=False, headers={"accept": "text/html"})
    assert response.status_code < 500, (url, response.status_code)
    if not all(_is_utf8(unquote_to_bytes(value)) and value.isascii() for value in params.values()):
        assert response.status_code == 400, (url, response.status_code)

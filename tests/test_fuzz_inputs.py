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
from dataclasses import dataclass
from urllib.parse import quote

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlite_utils import Database

from events import campaigns, devices, ops, registry, tokens
from events.db import open_database
from server.app import create_app
from tests.conftest import NOW, Clock
from tests.tablet import Tablet

M = NOW * 1000
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
# Near the real thing: the names and values a batch has, so the validator gets past its first check.
FIELD_NAMES = ["protocol", "device_id", "sent_at_ms", "ops", "pending", "kind", "op_id", "device_seq", "subject",
               "hlc_ms", "hlc_counter", "device_time_ms", "corrected_time_ms", "clerk", "data", "token", "outcome",
               "shown", "verdict", "name", "consent", "method", "reason", "code_step", "decided_by", "attendee_id"]
tricky = st.one_of(
    json_values,
    st.sampled_from([0, -1, 1, 2**53 - 1, 2**53, 2**63, 2**64, -(2**63) - 1, 10**30, 1.5, 1e308, "", "A" * 2000,
                     "\x00", "PP", "register", "redeem", "issue", "void", "checkin", "accepted", "server", True, [], {}]),
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


@settings(max_examples=300)
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
        optional={"phone": st.text(min_size=1, max_size=32), "email": st.text(min_size=1, max_size=254),
                  "pass_token": token_text},
    ),
    "checkin": st.fixed_dictionaries({"method": st.sampled_from(["scan", "search"]), "shown": shown},
                                     optional={"pass_token": token_text}),
    "issue": st.fixed_dictionaries({"token": token_text}, optional={"attendee_id": identifiers}),
    "redeem": st.fixed_dictionaries(
        {"token": token_text, "outcome": st.sampled_from(["accepted", "refused"]), "shown": shown},
        optional={"code_step": st.integers(0, 2**53 - 1), "decided_by": st.just("server")},
    ),
    "void": st.fixed_dictionaries({"reason": st.text(min_size=1, max_size=200)}, optional={"redeem_op_id": identifiers}),
}


@st.composite
def valid_ops(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(ops.KINDS))
    return {
        "kind": kind, "op_id": draw(identifiers), "device_seq": draw(st.integers(1, 2**53 - 1)),
        "subject": draw(token_ids if kind in ("issue", "redeem", "void") else identifiers),
        "hlc_ms": draw(millis), "hlc_counter": draw(st.integers(0, 0xFFFF)), "device_time_ms": draw(millis),
        "corrected_time_ms": draw(st.none() | millis), "clerk": draw(st.text(min_size=1, max_size=80)),
        "data": draw(DATA[kind]),
    }


valid_batches = st.fixed_dictionaries({
    "protocol": st.just(1), "device_id": identifiers, "sent_at_ms": millis,
    "ops": st.lists(valid_ops(), max_size=5), "pending": st.integers(0, 2**53 - 1),
})


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
        response = self.client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": tablet.public_key})
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


@settings(max_examples=80)
@given(path=st.sampled_from(["/api/v1/push", "/api/v1/redeem", "/api/v1/enroll"]), value=json_values)
def test_any_json_body_gets_a_4xx_and_writes_nothing(api: Api, path: str, value: object) -> None:
    status, stored = _post(api, path, json.dumps(value).encode(), api.tablet())
    assert status >= 400 and stored == 0


@settings(max_examples=150)
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
    return draw(st.sampled_from(["protocol", "device_id", "sent_at_ms", "op_id", "subject", "hlc_ms", "hlc_counter",
                                 "device_time_ms", "corrected_time_ms", "clerk", "token", "code", "extra"])), draw(tricky)


@settings(max_examples=120)
@given(change=changed_online_redeems(), drop=st.booleans())
def test_a_changed_online_redemption_never_fails_the_server_and_a_refused_one_writes_nothing(
    api: Api, change: tuple[str, object], drop: bool
) -> None:
    tablet = api.tablet()
    body = {
        "protocol": 1, "device_id": tablet.device_id, "sent_at_ms": M, "op_id": f"op{tablet.device_id}",
        "subject": tokens.decode(api.voucher).token.id, "hlc_ms": M, "hlc_counter": 0, "device_time_ms": M,
        "corrected_time_ms": M, "clerk": "Clerk", "token": api.voucher,
    }
    field, value = change
    if drop:
        body.pop(field, None)
    else:
        body[field] = value
    status, stored = _post(api, "/api/v1/redeem", msgspec.json.encode(body), tablet)
    if status != 200:
        assert stored == 0


query_values = st.one_of(st.integers().map(str), st.text(max_size=30), st.sampled_from(["", "null", "1e3", "0x10", "-0", str(2**63)]))


@settings(max_examples=150)
@given(params=st.dictionaries(st.sampled_from(["after", "limit", "sent_at_ms", "cursor", "after[]"]), query_values, max_size=4))
def test_any_query_string_to_pull_is_answered_or_refused_with_a_400(api: Api, params: dict[str, str]) -> None:
    tablet = api.tablet()
    response = api.client.get("/api/v1/pull", params=params, headers=tablet.headers)
    assert response.status_code in (200, 400), (response.status_code, response.text)
    if response.status_code == 400:
        assert response.json()["error"] == "invalid"


@settings(max_examples=100)
@given(code=st.one_of(st.text(max_size=200), st.text(alphabet=BASE32 + "-0123456789", max_size=200)))
def test_any_code_on_the_voucher_page_is_refused_not_a_server_error(api: Api, code: str) -> None:
    for path in (f"/V/{quote(code, safe='')}", f"/V/{quote(code, safe='')}/qr.svg"):
        response = api.client.get(path)
        assert response.status_code < 500, (path, response.status_code)
    if code:
        assert api.client.get(f"/V/{quote(code, safe='')}").status_code in (404, 405)

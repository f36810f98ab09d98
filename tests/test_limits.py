"""Every documented limit, at its edge: just inside is accepted, just outside is refused with
the documented error, and nothing is written. docs/limits.md is the list; a test below keeps
the two in step (each limit's name and value appear there).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from events import campaigns, conflicts, draws, imports, ops, organizers, registry, signup, sync
from server.app import MAX_BODY_BYTES, SIGN_INS_PER_MINUTE, SIGN_UPS_PER_MINUTE, create_app
from server.controllers.console_import import MAX_UPLOAD_BYTES
from server.controllers.sync_api import PUSH_MAX_BYTES
from tests.support.clock import NOW
from tests.support.device_api import M
from tests.support.tablet import enroll

DOC = Path(__file__).resolve().parent.parent / "docs" / "limits.md"

# name in docs/limits.md -> value in the code
LIMITS = {
    "MAX_BODY_BYTES": MAX_BODY_BYTES,
    "PUSH_MAX_BYTES": PUSH_MAX_BYTES,
    "MAX_OPS_PER_BATCH": ops.MAX_OPS_PER_BATCH,
    "PULL_LIMIT": sync.PULL_LIMIT,
    "MAX_UPLOAD_BYTES": MAX_UPLOAD_BYTES,
    "MAX_ROWS": imports.MAX_ROWS,
    "SIGN_UPS_PER_MINUTE": SIGN_UPS_PER_MINUTE,
    "SIGN_INS_PER_MINUTE": SIGN_INS_PER_MINUTE,
    "MAX_FAILURES": organizers.MAX_FAILURES,
    "PASSWORD_MAX": organizers.PASSWORD_MAX,
    "signup.NAME_MAX": signup.NAME_MAX,
    "signup.PHONE_MAX": signup.PHONE_MAX,
    "signup.EMAIL_MAX": signup.EMAIL_MAX,
    "registry.NAME_MAX": registry.NAME_MAX,
    "registry.VENUE_MAX": registry.VENUE_MAX,
    "TITLE_MAX": campaigns.TITLE_MAX,
    "TERMS_MAX": campaigns.TERMS_MAX,
    "VALUE_MAX": campaigns.VALUE_MAX,
    "NOTE_MAX": conflicts.NOTE_MAX,
    "MAX_WINNERS": draws.MAX_WINNERS,
}


def test_every_limit_is_documented_with_its_value() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, value in LIMITS.items():
        row = next((line for line in text.splitlines() if f"`{name}`" in line), None)
        assert row is not None, f"docs/limits.md does not list {name}"
        assert re.search(rf"\b{value:,}\b|\b{value}\b", row), f"docs/limits.md gives {name} another value than {value}"


# --- the device API ---------------------------------------------------------------------------


@pytest.fixture
def tablet(client, db, event):
    return enroll(db, event.id, "Door", now=NOW)


def ops_count(db) -> int:
    return db.execute("select count(*) from ops").fetchone()[0]


def push(client, tablet, ops_: list[dict]):
    return client.post("/api/v1/push", json=tablet.batch(ops_, now_ms=M), headers=tablet.headers)


def test_a_batch_of_the_most_ops_is_taken_and_one_more_is_refused(client, db, tablet) -> None:
    batch = [tablet.register(f"Guest {n}", now_ms=M + n) for n in range(ops.MAX_OPS_PER_BATCH + 1)]
    refused = push(client, tablet, batch)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid"
    assert refused.json()["where"] == "$.ops" and "1000" in refused.json()["detail"]
    assert ops_count(db) == 0
    assert push(client, tablet, batch[: ops.MAX_OPS_PER_BATCH]).status_code == 200
    assert ops_count(db) == ops.MAX_OPS_PER_BATCH


def test_a_push_may_exceed_the_general_body_limit_but_not_its_own(client, db, tablet) -> None:
    batch = [
        tablet.register("G" * 100, now_ms=M + n, email=f"{'e' * 200}{n}@example.com")
        for n in range(ops.MAX_OPS_PER_BATCH)
    ]
    # Over the 1 MiB every other route takes, under the push's 2 MiB (JSON may end in whitespace).
    body = json.dumps(tablet.batch(batch, now_ms=M)).encode()
    body += b" " * (MAX_BODY_BYTES + 1 - len(body))
    assert MAX_BODY_BYTES < len(body) < PUSH_MAX_BYTES
    headers = {**tablet.headers, "content-type": "application/json"}
    assert client.post("/api/v1/push", content=body, headers=headers).status_code == 200
    assert ops_count(db) == ops.MAX_OPS_PER_BATCH
    huge = client.post("/api/v1/push", content=b"{" + b" " * PUSH_MAX_BYTES + b"}", headers=headers)
    assert huge.status_code == 413 and huge.json()["error"] == "too_large"


@pytest.mark.parametrize(
    "field, make, limit",
    [
        ("$.ops[0].data.name", lambda t, n: t.register("N" * n, now_ms=M), 100),
        ("$.ops[0].clerk", lambda t, n: {**t.register("Li", now_ms=M), "clerk": "C" * n}, 80),
        ("$.ops[0].data.phone", lambda t, n: t.register("Li", now_ms=M, phone="1" * n), 32),
        ("$.ops[0].data.email", lambda t, n: t.register("Li", now_ms=M, email="e" * (n - 12) + "@example.com"), 254),
    ],
)
def test_string_lengths_in_ops(client, db, tablet, field, make, limit) -> None:
    refused = push(client, tablet, [make(tablet, limit + 1)])
    assert refused.status_code == 400 and refused.json()["where"] == field, refused.json()
    assert ops_count(db) == 0
    tablet.seq = 0
    accepted = push(client, tablet, [make(tablet, limit)])
    assert accepted.status_code == 200, accepted.json()


@pytest.mark.parametrize("limit, status", [(sync.PULL_LIMIT, 200), (sync.PULL_LIMIT + 1, 400), (0, 400)])
def test_a_pull_page_is_at_most_pull_limit(client, tablet, limit, status) -> None:
    assert client.get(f"/api/v1/pull?limit={limit}", headers=tablet.headers).status_code == status


# --- public forms -------------------------------------------------------------------------------


def csrf(client) -> str:
    client.get("/organizer/login")
    return client.cookies["csrftoken"]


def test_every_route_refuses_a_body_over_a_megabyte(client) -> None:
    token = csrf(client)
    for path in ("/language", "/organizer/login"):
        response = client.post(
            path,
            content=b"x=" + b"a" * MAX_BODY_BYTES,
            headers={"content-type": "application/x-www-form-urlencoded", "x-csrftoken": token},
        )
        assert response.status_code == 413, path


@pytest.mark.parametrize(
    "field, limit", [("name", signup.NAME_MAX), ("phone", signup.PHONE_MAX), ("email", signup.EMAIL_MAX)]
)
def test_sign_up_field_lengths(client, db, event, field, limit) -> None:
    fill = {"name": "N" * (limit + 1), "phone": "1" * (limit + 1), "email": "e" * (limit - 11) + "@example.com"}[field]
    form = {"name": "Li", "phone": "13800138000", "consent": "yes", "_csrf_token": csrf(client), field: fill}
    refused = client.post(f"/events/{event.id}/signup", data=form, follow_redirects=False)
    assert refused.status_code == 422 and f'id="sign-up-{field}-error"' in refused.text
    assert db.execute("select count(*) from attendees").fetchone()[0] == 0


def test_the_sign_up_rate_limit_is_thirty_a_minute(db, event, clock) -> None:
    from litestar.testing import TestClient

    with TestClient(create_app(db, clock=clock)) as client:
        token = csrf(client)
        statuses = [
            client.post(
                f"/events/{event.id}/signup",
                follow_redirects=False,
                data={"name": f"Guest {n}", "phone": f"1380000{n:04d}", "consent": "yes", "_csrf_token": token},
            ).status_code
            for n in range(SIGN_UPS_PER_MINUTE + 1)
        ]
        assert statuses == [303] * SIGN_UPS_PER_MINUTE + [429]
        assert db.execute("select count(*) from attendees").fetchone()[0] == SIGN_UPS_PER_MINUTE


def test_the_sign_in_rate_limit_is_twenty_a_minute(client) -> None:
    token = csrf(client)
    statuses = [
        client.post(
            "/organizer/login",
            data={"email": f"x{n}@example.com", "password": "p", "_csrf_token": token},
            follow_redirects=False,
        ).status_code
        for n in range(SIGN_INS_PER_MINUTE + 1)
    ]
    assert statuses == [401] * SIGN_INS_PER_MINUTE + [429]


def test_a_draw_takes_at_most_max_winners(db, event) -> None:
    mei = organizers.create_organizer(
        db, email="mei@example.com", name="Mei", password="correct horse battery", now=NOW
    )
    with pytest.raises(draws.DrawRefused):
        draws.draw(db, event.id, drawn_by=mei.id, wanted=draws.MAX_WINNERS + 1, now=NOW)

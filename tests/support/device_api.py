"""The device API (`/api/v1`, docs/sync-protocol.md) called through a TestClient, as a tablet calls it."""

from __future__ import annotations

from events import campaigns, devices, registry, rotating, tokens
from tests.support.clock import NOW
from tests.support.tablet import Tablet

M = NOW * 1000  # the test clock, in milliseconds


def enroll(client, db, event, name: str = "Front desk") -> Tablet:
    tablet = Tablet(event.id)
    code = devices.create_enrollment_code(db, event.id, name=name, now=NOW)
    response = client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": tablet.public_key})
    assert response.status_code == 201, response.text
    return tablet.enrolled(response.json())


def push(client, tablet: Tablet, ops: list[dict] | None = None, **changes):
    return client.post("/api/v1/push", json={**tablet.batch(ops, now_ms=M), **changes}, headers=tablet.headers)


def pull(client, tablet: Tablet, **params):
    return client.get("/api/v1/pull", params=params, headers=tablet.headers)


def voucher(db, event, *, max_uses: int = 1, rotating: bool = False) -> str:
    campaign = campaigns.create_campaign(db, event.id, title="¥50 off", max_uses=max_uses, rotating=rotating, now=NOW)
    return campaigns.issue_voucher(db, event.id, campaign.number, now=NOW).text


def online(client, tablet: Tablet, text: str, *, op_id: str = "opOnline0001", code: str | None = None, **changes):
    body = {
        "protocol": 1,
        "device_id": tablet.device_id,
        "sent_at_ms": M,
        "op_id": op_id,
        "subject": tokens.decode(text).token.id,
        "hlc_ms": M,
        "hlc_counter": 0,
        "device_time_ms": M,
        "corrected_time_ms": M,
        "clerk": "Clerk",
        "token": text,
    }
    if code is not None:
        body["code"] = code
    return client.post("/api/v1/redeem", json={**body, **changes}, headers=tablet.headers)


def code_for(db, event, text: str, at: float) -> str:
    secret = rotating.voucher_secret(registry.rotation_key(db, event.id), tokens.decode(text).token.token_id)
    return rotating.code_at(secret, at)

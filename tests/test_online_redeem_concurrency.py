"""Online, the server decides: two tablets racing for the last use of a voucher get one yes.

Runs against the real server process (uvicorn on a real port, a real SQLite file) with
concurrent HTTP requests, so the guarantee is tested where it must hold, not in-process.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from events import campaigns, conflicts, registry
from events.db import open_database
from tests.support.live import free_port, start_server, stop, wait_until_up
from tests.support.tablet import Tablet, enroll, new_id

REQUESTS_PER_TABLET = 12


def post(url: str, body: dict, token: str) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return {"http_status": error.code, **json.loads(error.read())}


@pytest.mark.slow  # seconds: a real server, or a hundred sockets (deselected by scripts/test --fast)
def test_concurrent_online_redemptions_of_a_single_use_voucher(tmp_path) -> None:
    now = int(time.time())
    db = open_database(tmp_path / "race.db")
    event = registry.create_event(db, name="Race", venue="", starts_at=now - 60, ends_at=now + 3600, now=now)
    campaign = campaigns.create_campaign(db, event.id, title="Last tote bag", max_uses=1, rotating=False, now=now)
    voucher = campaigns.issue_voucher(db, event.id, campaign.number, now=now)
    tablets = [enroll(db, event.id, name, now=now) for name in ("A", "B")]
    db.close()

    port = free_port()
    process = start_server(tmp_path / "race.db", port, tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}/api/v1/redeem"
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process)

        def attempt(tablet: Tablet) -> dict:
            now_ms = int(time.time() * 1000)
            body = {
                "protocol": 1,
                "device_id": tablet.device_id,
                "sent_at_ms": now_ms,
                "op_id": new_id(),
                "subject": voucher.id,
                "hlc_ms": now_ms,
                "hlc_counter": 0,
                "device_time_ms": now_ms,
                "corrected_time_ms": now_ms,
                "clerk": tablet.clerk,
                "token": voucher.text,
            }
            return post(url, body, tablet.token)

        with ThreadPoolExecutor(max_workers=2 * REQUESTS_PER_TABLET) as pool:
            answers = list(pool.map(attempt, tablets * REQUESTS_PER_TABLET))
    finally:
        stop(process)

    outcomes = sorted((a.get("outcome"), a.get("reason")) for a in answers)
    assert outcomes == [("accepted", "")] + [("refused", "used_up")] * (2 * REQUESTS_PER_TABLET - 1)
    db = open_database(tmp_path / "race.db")
    accepted = db.execute(
        "select count(*) from ops where kind = 'redeem' and json_extract(data, '$.outcome') = 'accepted'"
    ).fetchone()[0]
    assert accepted == 1
    assert conflicts.list_conflicts(db, event.id) == []
    db.close()

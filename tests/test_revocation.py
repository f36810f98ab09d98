"""Revoking a lost tablet: what it synced stays valid, anything else it signed is untrusted."""

from __future__ import annotations

import pytest

from events import conflicts, devices, registry, tokens
from tests.support.clock import NOW
from tests.support.tablet import enroll, push

MS = NOW * 1000


def test_revocation_keeps_synced_vouchers_and_distrusts_the_rest(db, event) -> None:
    lost, door = enroll(db, event.id, "Lost", now=NOW), enroll(db, event.id, "Door", now=NOW)
    synced, issue_synced = lost.issue_voucher(now_ms=MS)
    unsynced, _ = lost.issue_voucher(now_ms=MS + 1000)
    # Only the first issue reaches the server before the tablet is lost.
    lost.outbox[:] = [issue_synced]
    push(db, lost, MS + 2000)
    forged = tokens.issue(
        signing_key=door.private_key,
        key_id=lost.key_id,
        event_id=event.id,
        type=tokens.TokenType.VOUCHER,
        issued_at=NOW,
        max_uses=1,
    )
    door.redeem(forged, now_ms=MS + 3000)  # a forgery under the lost tablet's key id, refused
    push(db, door, MS + 3500)

    allowlist = devices.revoke_device(db, lost.device_id, now=NOW + 10)
    assert allowlist == {tokens.decode(synced).token.id}
    with pytest.raises(devices.DeviceRefused) as refused:
        devices.authenticate(db, lost.token)
    assert refused.value.wipe

    door.redeem(synced, now_ms=MS + 20_000)
    door.redeem(unsynced, now_ms=MS + 21_000)
    push(db, door, MS + 22_000)
    found = {(c.kind, c.subject): c.detail for c in conflicts.list_conflicts(db, event.id)}
    assert found == {
        ("untrusted_issuer", tokens.decode(forged).token.id): {"why": "bad_signature"},
        ("untrusted_issuer", tokens.decode(unsynced).token.id): {"why": "revoked_key"},
    }
    bundle = registry.trust_bundle(db, event.id, now=NOW)
    assert bundle.keys[lost.key_id].allowlist == allowlist

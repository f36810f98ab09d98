"""Events, keys and the trust bundle as stored in SQLite."""

from __future__ import annotations

import pytest

from events import campaigns, keys, registry, tokens
from events.keys import KeyStatus
from events.trust import verify_bundle
from tests.support.clock import NOW


def test_an_event_gets_a_root_key_and_the_server_key(db, event) -> None:
    bundle = registry.trust_bundle(db, event.id, now=NOW)
    assert list(bundle.keys) == [1] and bundle.keys[1].device_id is None
    assert registry.root_public_key(db, event.id) != bundle.keys[1].public_key


def test_device_keys_get_new_ids_never_reused(db, event) -> None:
    first = registry.register_device_key(
        db, event.id, public_key=keys.public_key_bytes(keys.generate_private_key()), device_id="dv1", now=NOW
    )
    registry.revoke_key(db, event.id, first, now=NOW)
    second = registry.register_device_key(
        db, event.id, public_key=keys.public_key_bytes(keys.generate_private_key()), device_id="dv2", now=NOW
    )
    assert (first, second) == (2, 3)


def test_a_bad_public_key_is_refused(db, event) -> None:
    with pytest.raises(ValueError):
        registry.register_device_key(db, event.id, public_key=b"short", device_id="dv1", now=NOW)


def test_every_key_change_bumps_the_bundle_and_it_verifies(db, event) -> None:
    root = registry.root_public_key(db, event.id)
    seqs = [verify_bundle(registry.signed_trust_bundle(db, event.id, now=NOW).to_json(), root, event_id=event.id).seq]
    tablet = keys.generate_private_key()
    kid = registry.register_device_key(db, event.id, public_key=keys.public_key_bytes(tablet), device_id="dv1", now=NOW)
    seqs.append(registry.get_event(db, event.id).bundle_seq)
    registry.revoke_key(db, event.id, kid, now=NOW + 60, allowlist={"AAAAAAAAAAAAAAAA"})
    bundle = verify_bundle(
        registry.signed_trust_bundle(db, event.id, now=NOW).to_json(), root, event_id=event.id, min_seq=seqs[-1]
    )
    assert seqs == [1, 2] and bundle.seq == 3
    assert bundle.keys[kid].status is KeyStatus.REVOKED and bundle.keys[kid].allowlist == {"AAAAAAAAAAAAAAAA"}


def test_revoking_twice_is_an_error(db, event) -> None:
    with pytest.raises(LookupError):
        registry.revoke_key(db, event.id, 9, now=NOW)


def test_server_tokens_authenticate_against_their_own_event_only(db, event) -> None:
    other = registry.create_event(db, name="Other", venue="", starts_at=NOW, ends_at=NOW + 60, now=NOW)
    issued = campaigns.issue_pass(db, event.id, now=NOW)
    found, token = registry.authenticate_token(db, issued.text, now=NOW)
    assert (found.id, token.id) == (event.id, issued.id)
    foreign = tokens.issue(
        signing_key=registry.issuing_key(db, other.id),
        key_id=1,
        event_id="evnowhere",
        type=tokens.TokenType.PASS,
        issued_at=NOW,
    )
    with pytest.raises(tokens.TokenError) as raised:
        registry.authenticate_token(db, foreign, now=NOW)
    assert raised.value.reason is tokens.Reason.WRONG_EVENT


@pytest.mark.parametrize("bad", [dict(name=" "), dict(ends_at=NOW - 7200), dict(timezone="Mars/Olympus")])
def test_event_validation(db, bad) -> None:
    args = dict(name="E", venue="V", starts_at=NOW - 3600, ends_at=NOW, timezone="Asia/Shanghai", now=NOW)
    with pytest.raises(ValueError):
        registry.create_event(db, **{**args, **bad})


def test_unknown_event(db) -> None:
    with pytest.raises(registry.UnknownEvent):
        registry.get_event(db, "evnope")


@pytest.mark.parametrize("public_key", [bytes([1]) + bytes(31), bytes(32), b"\xff" * 32])
def test_small_order_or_invalid_keys_are_refused_at_registration(db, event, public_key) -> None:
    """One fixed signature verifies every message under a small-order key: anyone could forge."""
    with pytest.raises(ValueError):
        registry.register_device_key(db, event.id, public_key=public_key, device_id="dv1", now=NOW)

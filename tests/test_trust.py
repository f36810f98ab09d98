"""Trust bundles: signed by the event root, refused when forged, foreign, stale or garbage."""

from __future__ import annotations

import json

import pytest

from events import keys
from events.trust import BundleError, ClockPolicy, SignedBundle, sign_bundle, verify_bundle


def refusal(signed, root_public, **kwargs) -> str:
    with pytest.raises(BundleError) as raised:
        verify_bundle(signed, root_public, **{"event_id": "evtest", **kwargs})
    return raised.value.reason


def test_round_trip(signer) -> None:
    root, _, bundle = signer
    signed = sign_bundle(bundle, root)
    assert verify_bundle(signed.to_json(), keys.public_key_bytes(root), event_id="evtest") == bundle


def test_payload_is_plain_json_the_browser_can_parse(signer) -> None:
    root, _, bundle = signer
    payload = json.loads(sign_bundle(bundle, root).payload)
    assert payload["event_id"] == "evtest" and payload["keys"][0]["kid"] == 1
    assert payload["policy"] == ClockPolicy().to_json()


def test_a_bundle_signed_by_another_root(signer) -> None:
    root, _, bundle = signer
    foreign = sign_bundle(bundle, keys.generate_private_key())
    assert refusal(foreign, keys.public_key_bytes(root)) == "bad_signature"


def test_a_changed_payload(signer) -> None:
    root, _, bundle = signer
    signed = sign_bundle(bundle, root)
    changed = SignedBundle(signed.payload.replace('"active"', '"revoked"'), signed.signature)
    assert refusal(changed, keys.public_key_bytes(root)) == "bad_signature"


def test_a_bundle_for_another_event(signer) -> None:
    root, _, bundle = signer
    assert refusal(sign_bundle(bundle, root), keys.public_key_bytes(root), event_id="evother") == "wrong_event"


def test_an_older_bundle_cannot_replace_a_newer_one(signer) -> None:
    root, _, bundle = signer
    assert refusal(sign_bundle(bundle, root), keys.public_key_bytes(root), min_seq=2) == "stale"


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "text",
        42,
        [],
        {},
        {"payload": 1, "signature": "x"},
        {"payload": "{}", "signature": "!!"},
        {"payload": "x" * 1_000_001, "signature": "AAAA"},
    ],
)
def test_garbage_is_malformed_never_a_crash(signer, garbage) -> None:
    root, _, _ = signer
    assert refusal(garbage, keys.public_key_bytes(root)) == "malformed"


def test_a_validly_signed_but_unparseable_payload_is_malformed(signer) -> None:
    root, _, _ = signer
    for payload in ("not json", '{"format": 2}', '{"format": 1, "keys": "x"}'):
        signed = SignedBundle(payload, keys.b64url(root.sign(b"PopPass trust bundle v1\n" + payload.encode())))
        assert refusal(signed, keys.public_key_bytes(root)) == "malformed"

"""The trust bundle: which keys may sign tokens for an event, signed by the event's root key.

Tablets verify a bundle before they use it and keep the one with the highest `seq`, so a
replayed old bundle cannot bring a revoked key back. The signature covers the exact UTF-8
bytes of `payload`, which travels as a string: no canonical-JSON rules for the browser to
reproduce.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.keys import (
    KeyRecord,
    KeyStatus,
    b64url,
    from_b64url,
    signature_is_valid,
)

BUNDLE_FORMAT = 1
BUNDLE_CONTEXT = b"PopPass trust bundle v1\n"
# A bundle lists a few hundred keys at most; this bounds what a verifier parses.
MAX_PAYLOAD_CHARS = 1_000_000


class BundleError(Exception):
    """A trust bundle that must not be used; `reason` is machine-readable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ClockPolicy:
    """How much clock error the tablets tolerate (see DESIGN.md, "Clocks")."""

    skew_warn_s: int = 120
    skew_refuse_issue_s: int = 600
    validity_tolerance_s: int = 60
    code_step_s: int = 15
    code_window: int = 1

    def to_json(self) -> dict[str, int]:
        return {
            "skew_warn_s": self.skew_warn_s,
            "skew_refuse_issue_s": self.skew_refuse_issue_s,
            "validity_tolerance_s": self.validity_tolerance_s,
            "code_step_s": self.code_step_s,
            "code_window": self.code_window,
        }


@dataclass(frozen=True)
class TrustBundle:
    event_id: str
    seq: int
    issued_at: int
    keys: dict[int, KeyRecord]
    policy: ClockPolicy = field(default_factory=ClockPolicy)

    def to_payload(self) -> str:
        body = {
            "format": BUNDLE_FORMAT,
            "event_id": self.event_id,
            "seq": self.seq,
            "issued_at": self.issued_at,
            "keys": [_key_to_json(self.keys[k]) for k in sorted(self.keys)],
            "policy": self.policy.to_json(),
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class SignedBundle:
    payload: str
    signature: str

    def to_json(self) -> dict[str, str]:
        return {"payload": self.payload, "signature": self.signature}


def bundle_message(payload: str) -> bytes:
    return BUNDLE_CONTEXT + payload.encode("utf-8")


def sign_bundle(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> SignedBundle:
    payload = bundle.to_payload()
    return SignedBundle(payload, b64url(root_key.sign(bundle_message(payload))))


def verify_bundle(
    signed: object,
    root_public_key: bytes,
    *,
    event_id: str,
    min_seq: int = 0,
) -> TrustBundle:
    """Check a signed bundle (as parsed JSON or a SignedBundle) and return its contents.

    Raises BundleError with reason `malformed`, `bad_signature`, `wrong_event` or `stale`.
    """
    if isinstance(signed, SignedBundle):
        signed = signed.to_json()
    if not isinstance(signed, dict):
        raise BundleError("malformed", "a signed bundle is an object")
    payload, signature = signed.get("payload"), signed.get("signature")
    if not isinstance(payload, str) or not isinstance(signature, str):
        raise BundleError("malformed", "payload and signature must be strings")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise BundleError("malformed", "payload too large")
    try:
        signature_bytes = from_b64url(signature)
    except ValueError:
        raise BundleError("malformed", "signature is not base64url") from None
    if not signature_is_valid(root_public_key, signature_bytes, bundle_message(payload)):
        raise BundleError("bad_signature", "not signed by this event's root key")
    try:
        bundle = _parse_payload(json.loads(payload))
    except (ValueError, TypeError, KeyError) as exc:
        # Signed by our root yet unparseable: a bug on the server side, still never a crash here.
        raise BundleError("malformed", f"payload: {exc}") from None
    if bundle.event_id != event_id:
        raise BundleError("wrong_event", f"bundle is for event {bundle.event_id!r}")
    if bundle.seq < min_seq:
        raise BundleError("stale", f"bundle seq {bundle.seq} is older than {min_seq}")
    return bundle


def _key_to_json(key: KeyRecord) -> dict[str, object]:
    return {
        "kid": key.key_id,
        "public_key": b64url(key.public_key),
        "device_id": key.device_id,
        "status": str(key.status),
        "valid_from": key.valid_from,
        "revoked_at": key.revoked_at,
        "allowlist": sorted(key.allowlist),
    }


def _parse_payload(body: object) -> TrustBundle:
    if not isinstance(body, dict) or body.get("format") != BUNDLE_FORMAT:
        raise ValueError("unknown bundle format")
    keys: dict[int, KeyRecord] = {}
    for item in body["keys"]:
        key = KeyRecord(
            key_id=_int(item["kid"]),
            public_key=from_b64url(item["public_key"]),
            device_id=item["device_id"],
            status=KeyStatus(item["status"]),
            valid_from=_int(item["valid_from"]),
            revoked_at=None if item["revoked_at"] is None else _int(item["revoked_at"]),
            allowlist=frozenset(str(t) for t in item["allowlist"]),
        )
        keys[key.key_id] = key
    policy = ClockPolicy(**{k: _int(v) for k, v in body["policy"].items()})
    return TrustBundle(
        event_id=str(body["event_id"]),
        seq=_int(body["seq"]),
        issued_at=_int(body["issued_at"]),
        keys=keys,
        policy=policy,
    )


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value

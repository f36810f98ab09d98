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
    is_acceptable_public_key,
    signature_is_valid,
)
from events.refusal import Refusal

BUNDLE_FORMAT = 1
MAX_EVENT_ID_BYTES = 255
BUNDLE_CONTEXT = b"PopPass trust bundle v1\n"
# A bundle lists a few hundred keys at most; this bounds what a verifier parses.
MAX_PAYLOAD_CHARS = 1_000_000


class BundleError(Refusal):
    """A trust bundle that must not be used; `reason` is machine-readable."""


@dataclass(frozen=True)
class ClockPolicy:
    """How much clock error the tablets tolerate (docs/sync-protocol.md, "Clocks")."""

    skew_warn_s: int = 120
    skew_refuse_issue_s: int = 600
    validity_tolerance_s: int = 60

    def to_json(self) -> dict[str, int]:
        return {
            "skew_warn_s": self.skew_warn_s,
            "skew_refuse_issue_s": self.skew_refuse_issue_s,
            "validity_tolerance_s": self.validity_tolerance_s,
        }


@dataclass(frozen=True)
class TrustBundle:
    event_id: str
    seq: int
    issued_at: int
    keys: dict[int, KeyRecord]
    policy: ClockPolicy = field(default_factory=ClockPolicy)

    def __post_init__(self) -> None:
        check_event_id(self.event_id)

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
    try:
        message = bundle_message(payload)
    except UnicodeEncodeError:
        # A lone surrogate: no UTF-8 bytes were ever signed as this text.
        raise BundleError("bad_signature", "payload is not valid Unicode") from None
    if not signature_is_valid(root_public_key, signature_bytes, message):
        raise BundleError("bad_signature", "not signed by this event's root key")
    try:
        bundle = _parse_payload(_strict_json(payload))
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        # Signed by our root yet not of the schema: a bug on the server side, never a crash here.
        raise BundleError("malformed", f"payload: {exc}") from None
    if bundle.event_id != event_id:
        raise BundleError("wrong_event", f"bundle is for event {bundle.event_id!r}")
    if bundle.seq < min_seq:
        raise BundleError("stale", f"bundle seq {bundle.seq} is older than {min_seq}")
    return bundle


def check_event_id(event_id: object) -> str:
    """Event ids are 1-255 bytes of UTF-8: they are length-prefixed in every signed token."""
    if not isinstance(event_id, str):
        raise ValueError("an event id is text")
    try:
        size = len(event_id.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("an event id is valid Unicode") from None
    if not 1 <= size <= MAX_EVENT_ID_BYTES:
        raise ValueError("an event id is 1 to 255 bytes of UTF-8")
    return event_id


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


# The browser parses the same payload with JSON.parse, where every number is a double: so a
# bundle holds only integers a double represents exactly, and no NaN or Infinity.
MAX_SAFE_INTEGER = 2**53 - 1


def _refuse_float(text: str) -> float:
    raise ValueError(f"numbers in a bundle are integers, not {text[:20]}")


def _refuse_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


def _safe_int(text: str) -> int:
    if len(text) > 17 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise ValueError("integer out of range")
    return value


def _strict_json(payload: str) -> object:
    return json.loads(payload, parse_float=_refuse_float, parse_int=_safe_int, parse_constant=_refuse_constant)


def _parse_payload(body: object) -> TrustBundle:
    """The schema of docs/token-format.md, strictly; web/static/js/token.js applies the same."""
    body = _object(body, "payload")
    if _int(body, "format") != BUNDLE_FORMAT:
        raise ValueError("unknown bundle format")
    keys: dict[int, KeyRecord] = {}
    for item in _list(body, "keys"):
        item = _object(item, "key")
        device_id = item["device_id"]
        if device_id is not None and not isinstance(device_id, str):
            raise ValueError("device_id is text or null")
        status = item["status"]
        if status not in (KeyStatus.ACTIVE, KeyStatus.REVOKED):
            raise ValueError("unknown key status")
        allowlist = _list(item, "allowlist")
        if not all(isinstance(token_id, str) for token_id in allowlist):
            raise ValueError("allowlist entries are text")
        public_key = item["public_key"]
        if not isinstance(public_key, str):
            raise ValueError("public_key is base64url text")
        if not is_acceptable_public_key(from_b64url(public_key)):
            raise ValueError("not a usable Ed25519 public key")
        key = KeyRecord(
            key_id=_int(item, "kid"),
            public_key=from_b64url(public_key),
            device_id=device_id,
            status=KeyStatus(status),
            valid_from=_int(item, "valid_from"),
            revoked_at=None if item["revoked_at"] is None else _int(item, "revoked_at"),
            allowlist=frozenset(allowlist),
        )
        if key.key_id in keys:
            raise ValueError(f"key id {key.key_id} listed twice")
        keys[key.key_id] = key
    policy = _object(body["policy"], "policy")
    # Unknown policy fields are ignored, so a newer server does not break older tablets.
    known = {name: _int(policy, name) for name in ClockPolicy().to_json() if name in policy}
    if any(value < 0 for value in known.values()):
        raise ValueError("policy values are not negative")
    return TrustBundle(
        event_id=check_event_id(body["event_id"]),
        seq=_int(body, "seq"),
        issued_at=_int(body, "issued_at"),
        keys=keys,
        policy=ClockPolicy(**known),
    )


def _object(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


def _list(holder: dict, name: str) -> list:
    value = holder[name]
    if not isinstance(value, list):
        raise ValueError(f"{name} is not a list")
    return value


def _int(holder: dict, name: str) -> int:
    value = holder[name]
    if type(value) is not int:
        raise ValueError(f"{name} is not an integer")
    return value

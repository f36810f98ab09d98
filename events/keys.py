"""Ed25519 keys: the event root key, the server's issuing key and the tablets' keys.

Key ids are small integers (u16) because they travel inside every token; the
registry in `events.store` hands them out per event, never reusing one.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
MAX_KEY_ID = 0xFFFF

# Key id 0 is never handed out, so a zeroed token body can never name a key.
SERVER_KEY_ID = 1


class KeyStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True)
class KeyRecord:
    """One public key as the trust bundle lists it.

    `allowlist` only matters once the key is revoked: the token ids (text form)
    that this key legitimately issued before revocation, which stay valid.
    """

    key_id: int
    public_key: bytes
    device_id: str | None
    status: KeyStatus
    valid_from: int
    revoked_at: int | None = None
    allowlist: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not 1 <= self.key_id <= MAX_KEY_ID:
            raise ValueError(f"key id out of range: {self.key_id}")
        # Only the length here: keys are vetted where they come in (registration, bundle
        # parsing) with is_acceptable_public_key, not each time the registry is read.
        if len(self.public_key) != PUBLIC_KEY_LEN:
            raise ValueError("an Ed25519 public key is 32 bytes")


# Ed25519 curve arithmetic, only to vet public keys: RFC 8032 verifiers (OpenSSL, WebCrypto)
# accept small-order keys, under which one fixed signature verifies every message. A tablet
# presenting such a key at enrollment would let anyone forge tokens under its key id.
_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _decode_point(raw: bytes) -> tuple[int, int] | None:
    """RFC 8032 5.1.3, refusing non-canonical encodings."""
    if len(raw) != PUBLIC_KEY_LEN:
        return None
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= _P:
        return None
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if v * x * x % _P == (-u) % _P:
        x = x * _SQRT_M1 % _P
    if v * x * x % _P != u:
        return None
    if x == 0 and sign:
        return None
    return (_P - x if x & 1 != sign else x), y


def _add(p: tuple[int, int], q: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = p, q
    t = _D * x1 * x2 * y1 * y2 % _P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, -1, _P) % _P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, _P) % _P
    return x3, y3


def is_acceptable_public_key(raw: bytes) -> bool:
    """A canonical encoding of a curve point whose order is not small (8·P is not the identity)."""
    point = _decode_point(raw)
    if point is None:
        return False
    for _ in range(3):
        point = _add(point, point)
    return point != (0, 1)


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_from_bytes(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def private_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def signature_is_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True only for a good signature; any malformed key or signature is simply False."""
    if len(public_key) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def b64url(raw: bytes) -> str:
    """Binary for JSON: base64url without padding (what the browser module decodes)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    """Strict inverse of `b64url`; raises ValueError on anything else."""
    if not isinstance(text, str) or "=" in text:
        raise ValueError("not unpadded base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(raw) != text:
        raise ValueError("not canonical base64url")
    return raw

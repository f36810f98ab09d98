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
        if len(self.public_key) != PUBLIC_KEY_LEN:
            raise ValueError("an Ed25519 public key is 32 bytes")


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

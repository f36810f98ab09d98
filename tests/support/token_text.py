"""A token's text from raw bytes, written from docs/token-format.md rather than taken from
events/tokens.py: the prefix, then the bytes in unpadded RFC 4648 base32. Tests that forge or
flip a token's bytes spell it with this, so they check the decoder against the format itself."""

from __future__ import annotations

import base64

from events.tokens import PREFIX


def token_text(raw: bytes) -> str:
    return PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=")

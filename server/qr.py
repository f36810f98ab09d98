"""QR codes for tokens, drawn with segno: presentation, so it lives in server/, not the domain.

Token text is upper-case base32 so that it stays in QR alphanumeric mode: 148
characters fit version 6 at error correction M, the URL form version 7 for a host
of up to 21 characters (see docs/token-format.md). That is the token format's rule and
events/tokens.py keeps it (the alphabet); this module only draws the code.
"""

from __future__ import annotations

import segno

ERROR_CORRECTION = "m"


def make(text: str) -> segno.QRCode:
    # boost_error=False keeps the level at M so the version is predictable.
    return segno.make(text, error=ERROR_CORRECTION, micro=False, boost_error=False)


def version(text: str) -> int:
    return int(make(text).version)


def svg(text: str, *, title: str = "", scale: int = 6) -> str:
    """An inline SVG (no XML declaration) with a quiet zone of 4 modules, as cameras expect."""
    return make(text).svg_inline(scale=scale, border=4, title=title or None, dark="#000", light="#fff", omitsize=True)


def png(text: str, *, scale: int = 4) -> bytes:
    import io

    buffer = io.BytesIO()
    make(text).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()

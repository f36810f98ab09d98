"""How a tablet finds an attendee by phone without holding the number (docs/sync-protocol.md,
Pull): a keyed hash of the number's last 8 digits, so a clerk who is told the whole number
finds them, and the last 4 digits, to show and to search by.

The key is the event's (`registry.phone_search_key`) and tablets hold it: it keeps numbers out
of what travels and of a copied pull, not from someone holding a tablet with its key, who can
try every number. Last 8 digits, not the whole: "+86 138 0013 8000", "8613800138000" and
"138 0013 8000" are one person to a clerk; within one event's attendees 8 digits rarely
collide, and a collision only lists two people for the clerk to tell apart by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata

CONTEXT = b"PopPass phone search v1\n"
HASHED_DIGITS = 8
SHOWN_DIGITS = 4
KEY_LEN = 32
HASH_BYTES = 16  # 128 bits: no accidental collision between attendees


def digits(phone: str) -> str:
    """ASCII digits only, after NFKC (a full-width "１３８" typed on a Chinese keyboard is 138)."""
    return re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", phone))


def search_hash(key: bytes, phone: str) -> str:
    """The number's search hash, base64url (22 characters); "" when it has fewer than 8 digits."""
    if len(key) != KEY_LEN:
        raise ValueError("the phone search key is 32 bytes")
    number = digits(phone)
    if len(number) < HASHED_DIGITS:
        return ""
    digest = hmac.new(key, CONTEXT + number[-HASHED_DIGITS:].encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:HASH_BYTES]).rstrip(b"=").decode("ascii")


def last_digits(phone: str) -> str:
    """The last 4 digits, shown as ···8000; "" when the number has fewer than 4."""
    number = digits(phone)
    return number[-SHOWN_DIGITS:] if len(number) >= SHOWN_DIGITS else ""

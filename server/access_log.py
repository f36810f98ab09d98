"""What the server's log may say about a request: never a capability, a token or a code.

Some of our URLs are credentials (docs/adr/0005): whoever reads `/wallet/<capability>` holds
that wallet, `/V/<token>` is a voucher's or pass's whole text, `/events/<id>?claim=<token>` the
same text on its way to a sign-up, `/station?code=<code>` a tablet's enrollment code. uvicorn
prints each request's path and query (the access log, and "WebSocket /…" lines on its error
logger), so before any handler writes a record, each secret there is replaced by a fingerprint:
the first 8 hex digits of its SHA-256, in brackets. An operator can still follow one wallet or
token through the log, and for a wallet the fingerprint is the start of its `capability_hash`
in the `wallets` table; 32 bits of a hash give back nothing of a 192-bit capability or a
148-character token.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
from urllib.parse import unquote, unquote_plus

# Route templates whose parameter is a credential: the segment after the prefix is replaced.
# tests/test_access_log.py checks this list against the route table.
SECRET_ROUTES = ("/wallet/{capability}", "/V/{code}")
# Query parameters whose value is a credential, on any path.
SECRET_QUERY = ("claim", "code", "token", "capability")
# Loggers whose records may carry a request's path: uvicorn's access log, uvicorn's own (the
# websocket lines) and ours (an unhandled error names the path).
LOGGERS = ("uvicorn.access", "uvicorn.error", "poppass")

_PREFIXES = "|".join(re.escape(route.split("{", 1)[0].strip("/")) for route in SECRET_ROUTES)
# Case and doubled slashes do not matter: /WALLET/<capability> misses the route but still holds it.
_SECRET_SEGMENT = re.compile(rf"^(/+(?:{_PREFIXES})/+)([^/]+)", re.IGNORECASE)
_SECRET_KEYS = frozenset(SECRET_QUERY)


def fingerprint(secret: str) -> str:
    return "[" + hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()[:8] + "]"


def _query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        key, equals, value = part.partition("=")
        if equals and value and unquote_plus(key).strip().lower() in _SECRET_KEYS:
            part = f"{key}={fingerprint(unquote_plus(value))}"
        parts.append(part)
    return "&".join(parts)


def redact(target: str) -> str:
    """A request target (path and query) as the log may show it."""
    path, question, query = target.partition("?")
    path = _SECRET_SEGMENT.sub(lambda found: found.group(1) + fingerprint(unquote(found.group(2))), path)
    return path + question + (_query(query) if question else "")


class RedactSecrets(logging.Filter):
    """On a logger: every string argument that is a path (uvicorn passes the request target as
    one) is redacted before any handler formats the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact(arg) if isinstance(arg, str) and arg.startswith("/") else arg for arg in record.args
            )
        return True


def logging_config() -> dict:
    """uvicorn's own logging configuration with RedactSecrets on every logger that names paths."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": RedactSecrets}
    loggers = config.setdefault("loggers", {})
    for name in LOGGERS:
        loggers.setdefault(name, {}).setdefault("filters", []).append("redact_secrets")
    return config

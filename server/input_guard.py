"""Input that cannot name anything or cannot be text, refused for every route before a handler
reads it: one place, so a new route or form is covered without remembering to be.

- Text that is not UTF-8. Litestar reads a query string and a form body as latin-1 and then
  percent-decodes them with replacement, so the bytes `\\xff\\xfe` arrive as "ÿþ" and `%FF` as
  "\\ufffd", and would be stored as if someone had typed them. A browser always sends a form
  percent-encoded UTF-8 (it turns a lone surrogate into U+FFFD itself), so anything else came
  from a script or a broken client: `400`, nothing stored. Forms that re-render themselves for
  it catch `BadText` (the public sign-up does).
- A number in the path that is not written the one way the app writes it: `/campaigns/1%0A`,
  `/campaigns/%201` and `/campaigns/1_0` would be campaign 1 and 10 (Python's int() allows
  whitespace and underscores), and one beyond 64 bits would reach SQLite as an OverflowError
  (500). Each is `404`, as is a path that is not UTF-8 or holds a control character: the
  address names nothing.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, NotFoundException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

FORM = "application/x-www-form-urlencoded"
# SQLite's INTEGER: what a row id or a number column can hold.
INT64 = range(-(2**63), 2**63)


class BadText(HTTPException):
    """Bytes that are not UTF-8 in a query value or a form field. `where` is `?name` for a query
    parameter, the field's name for a form; `form` holds the form's other fields, decoded, so a
    form can be shown again with what was typed in them."""

    status_code = 400

    def __init__(self, where: str, fields: list[str], form: dict[str, str]) -> None:
        super().__init__(detail=f"{where} is not valid UTF-8")
        self.where = where
        self.fields = fields
        self.form = form


def undecodable(encoded: bytes) -> tuple[list[str], dict[str, str]]:
    """The names of the `a=b&c=d` fields whose name or value is not UTF-8 (a raw byte over 0x7F
    counts: the format percent-encodes everything else), and the other fields, decoded (a
    repeated field keeps its last value)."""
    bad: list[str] = []
    good: dict[str, str] = {}
    for pair in encoded.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" "))
        value = unquote_to_bytes(raw_value.replace(b"+", b" "))
        try:
            if not pair.isascii():
                raise UnicodeDecodeError("utf-8", pair, 0, len(pair), "not percent-encoded")
            good[name.decode("utf-8")] = value.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(name.decode("utf-8", "replace"))
    return bad, good


def _path_or_404(scope: Scope) -> None:
    """The path must be UTF-8 once percent-decoded (the server decoded it with replacement)
    and free of control characters, and each int path parameter written as str(value) and within SQLite's INTEGER."""
    try:
        # ASGI's raw_path has no query string, but the test client's carries it.
        path = unquote_to_bytes((scope.get("raw_path") or b"").partition(b"?")[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise NotFoundException("the path is not valid UTF-8") from None
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        # No address of ours holds a control character; a NUL would reach os.stat() for a
        # static file as a ValueError (500).
        raise NotFoundException("the path holds a control character")
    template = scope.get("path_template") or ""
    numbers = {
        name: value
        for name, value in scope.get("path_params", {}).items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    if not numbers:
        return
    pattern, segments = template.strip("/").split("/"), scope["path"].strip("/").split("/")
    if len(pattern) != len(segments):
        return  # not a plain template (a mount); none of ours has an int there
    for part, segment in zip(pattern, segments, strict=True):
        name = part[1:-1].split(":")[0] if part.startswith("{") else None
        if name in numbers and (numbers[name] not in INT64 or segment != str(numbers[name])):
            raise NotFoundException(f"no {name.replace('_', ' ')} {segment!r}")


def _text_or_400(encoded: bytes, query: bool) -> None:
    bad, good = undecodable(encoded)
    if bad:
        raise BadText(f"?{bad[0]}" if query else bad[0], bad, good)


class InputGuard(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        _path_or_404(scope)
        _text_or_400(scope.get("query_string", b""), query=True)
        request: Request = Request(scope, receive)
        if request.method in ("POST", "PUT", "PATCH") and request.content_type[0] == FORM:
            # Read once into the scope (the size limit applies); the form parser reads it from there.
            _text_or_400(await request.body(), query=False)
        await next_app(scope, receive, send)

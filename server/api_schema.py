"""What the OpenAPI schema (/schema/openapi.json) says of the device API: the truth, checked by
tests/test_fuzz_api.py.

The handlers (server/controllers/sync_api.py) parse their bodies themselves (events/ops.py, for
errors that say where), so Litestar cannot see the request models: `documented` adds them from
msgspec's own schema of the decoders' types, so the schema and the validation cannot drift
apart. The answers' models and each route's documented refusals are below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from server import errors

JSON = "application/json"


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """msgspec's JSON schema with its `$defs` written in place (the ops have no cycles), so it
    can sit inside an operation. Discriminators go: they name `$defs`, and each op's `kind` is
    a constant anyway."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(defs[schema["$ref"].removeprefix("#/$defs/")], defs)
        return {
            key: _inline(value, defs)
            for key, value in schema.items()
            if not (key == "discriminator" and isinstance(value, dict) and "propertyName" in value)
        }
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


def documented(body: type | None = None, **query: tuple[int, int]) -> type[Operation]:
    """An Operation with the JSON request body `body` and the integer bounds the handler checks
    on its query parameters."""
    request_body = None
    if body is not None:
        raw = msgspec.json.schema(body)
        request_body = RequestBody(
            content={JSON: OpenAPIMediaType(schema=_inline(raw, raw.get("$defs", {})))}, required=True
        )

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            if request_body is not None:
                self.request_body = request_body
            for parameter in self.parameters or []:
                if parameter.name in query:
                    low, high = query[parameter.name]
                    default = getattr(parameter.schema, "default", None)
                    bounded = Schema(type=OpenAPIType.INTEGER, minimum=low, maximum=high, default=default)
                    # An optional parameter also takes `null` (Litestar reads it as absent).
                    optional = isinstance(parameter.schema, Schema) and parameter.schema.one_of
                    parameter.schema = Schema(one_of=[bounded, Schema(type=OpenAPIType.NULL)]) if optional else bounded

    return Documented


class EventInfo(msgspec.Struct):
    id: str
    name: str
    venue: str
    starts_at: int
    ends_at: int
    timezone: str


class SignedBundle(msgspec.Struct):
    payload: str
    signature: str


class CampaignTerms(msgspec.Struct):
    number: int
    title: str
    terms: str
    value: str
    max_uses: int
    valid_from: int | None
    valid_until: int | None
    valid_minutes: int | None
    rotating: bool
    welcome: bool
    by_clerks: bool
    per_attendee: int | None
    cap: int | None
    # Title, terms and value in the event's other languages, by language tag; a missing one
    # falls back to the field above (events.campaigns.localized).
    texts: dict[str, dict[str, str]]


class Enrolled(msgspec.Struct):
    protocol: Literal[3]
    device_id: str
    device_name: str
    key_id: int
    device_token: str
    event: EventInfo
    root_public_key: str
    rotation_key: str
    rotation_epoch: int
    phone_search_key: str
    bundle: SignedBundle
    campaigns: list[CampaignTerms]
    log_id: str
    server_time_ms: int


class PushedOp(msgspec.Struct):
    op_id: str
    device_seq: int
    status: Literal["applied", "duplicate", "duplicate_op_id"]


class Pushed(msgspec.Struct):
    protocol: Literal[3]
    results: list[PushedOp]
    last_seq: int
    server_time_ms: int
    clock_offset_ms: int
    conflicts_changed: int
    log_id: str


class PulledConflict(msgspec.Struct):
    id: int
    kind: str
    subject: str
    status: Literal["open", "resolved", "cleared"]
    detail: dict[str, Any]
    ops: dict[str, str]


class Pulled(msgspec.Struct):
    protocol: Literal[3]
    ops: list[dict[str, Any]]
    conflicts: list[PulledConflict]
    cursor: int
    more: bool
    bundle: SignedBundle
    campaigns: list[CampaignTerms] | None
    rotation_epoch: int
    log_id: str
    server_time_ms: int


class RetiredRotationKey(msgspec.Struct):
    epoch: int
    rotation_key: str
    retired_at: int


class RotationKeys(msgspec.Struct):
    protocol: Literal[3]
    rotation_epoch: int
    rotation_key: str
    retired: list[RetiredRotationKey]
    phone_search_key: str


class Decided(msgspec.Struct):
    protocol: Literal[3]
    op_id: str
    outcome: Literal["accepted", "refused"]
    reason: str
    uses_before: int
    max_uses: int
    log_id: str
    server_time_ms: int


def answer(model: object, description: str) -> ResponseSpec:
    return ResponseSpec(model, description=description, generate_examples=False)


INVALID = answer(
    errors.Invalid, "malformed input (not JSON, schema, protocol, ids, tokens, paging); nothing was written"
)
DEVICE_ERRORS = {
    401: answer(errors.NotEnrolled, "no device token, or no device holds it (with WWW-Authenticate: Bearer)"),
    403: answer(errors.Revoked, "the tablet was revoked: it erases what it holds"),
    503: answer(errors.DiskFull, "the server's disk is full: nothing was written; resend after Retry-After"),
}
TOO_LARGE = answer(errors.TooLarge, "the body is over the route's limit")

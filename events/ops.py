"""Ops: the facts a device records (register, checkin, issue, redeem, void), and the strict
wire schema they arrive in. docs/sync-protocol.md is the contract.

Validation here is about shape only: a well-formed op that breaks a business rule is still
stored, and the rule becomes a conflict (events/merge.py). Only malformed input is refused.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

PROTOCOL = 3
# Requests of protocols 1 and 2 have the same shape: an older tablet keeps pushing what it
# recorded (docs/sync-protocol.md, Versioning). What changed in 2 is what a pull gives; 3 adds
# the log's identity (`log_id`), which a tablet names to learn of a restore.
Protocol = Literal[1, 2, 3]
MAX_OPS_PER_BATCH = 1000


def _exact(pattern: str) -> str:
    r"""`pattern` as the whole string. msgspec searches with Python's re, where `$` also matches
    before a final newline ("abcdefgh\n" would be an identifier); `(?![\s\S])` is the end of
    the string in Python and in ECMA-262 alike, so the OpenAPI schema means the same to a JS client."""
    return rf"^{pattern}$(?![\s\S])"


Identifier = Annotated[str, msgspec.Meta(pattern=_exact(r"[A-Za-z0-9_-]{8,64}"))]
_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]{8,64}")


def is_identifier(text: str) -> bool:
    """`text` is an Identifier (for a query parameter, which msgspec does not check)."""
    return _IDENTIFIER.fullmatch(text) is not None


TokenId = Annotated[str, msgspec.Meta(pattern=_exact(r"[A-Z2-7]{16}"))]
TokenText = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]
# Any other count: what a JSON number carries exactly (and SQLite's INTEGER holds).
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Clerk = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Short = Annotated[str, msgspec.Meta(max_length=200)]
Phone = Annotated[str, msgspec.Meta(max_length=32)]
Email = Annotated[str, msgspec.Meta(max_length=254)]


class Shown(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What the clerk saw when acting: the verdict and the uses this tablet knew of."""

    verdict: Literal["green", "amber", "red"]
    reason: Short = ""
    prior_uses_seen: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0


class RegisterData(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Name
    consent: bool
    phone: Phone = ""
    email: Email = ""
    pass_token: TokenText | None = None


class CheckinData(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    method: Literal["scan", "search"]
    shown: Shown
    pass_token: TokenText | None = None


class IssueData(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    token: TokenText
    attendee_id: Identifier | None = None


class RedeemData(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    token: TokenText
    # "accepted": the clerk honoured the voucher (a use); "refused": shown red, no use.
    outcome: Literal["accepted", "refused"]
    shown: Shown
    code_step: Count | None = None
    decided_by: Literal["device", "server"] = "device"


class VoidData(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    reason: Short
    # Set: undo that one redemption (a clerk's mistake). Unset: void the whole voucher.
    redeem_op_id: Identifier | None = None


class OpBase(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", omit_defaults=True):
    op_id: Identifier
    device_seq: Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)]
    subject: Identifier  # a token id for issue, redeem and void (checked in decode_batch)
    hlc_ms: Millis
    hlc_counter: Annotated[int, msgspec.Meta(ge=0, le=0xFFFF)]
    device_time_ms: Millis
    # The device's estimate of server time when it acted; null before its first sync.
    corrected_time_ms: Millis | None
    clerk: Clerk

    @property
    def kind(self) -> str:
        return self.__struct_config__.tag

    @property
    def hlc(self) -> tuple[int, int]:
        return (self.hlc_ms, self.hlc_counter)


class Register(OpBase, tag="register"):
    """subject: the new attendee's id (made on the device)."""

    data: RegisterData


class Checkin(OpBase, tag="checkin"):
    """subject: the attendee's id."""

    data: CheckinData


class Issue(OpBase, tag="issue"):
    """subject: the token id of the voucher or pass issued."""

    data: IssueData


class Redeem(OpBase, tag="redeem"):
    """subject: the voucher's token id."""

    data: RedeemData


class Void(OpBase, tag="void"):
    """subject: the voucher's token id."""

    data: VoidData


Op = Register | Checkin | Issue | Redeem | Void
KINDS = ("register", "checkin", "issue", "redeem", "void")


class PushBatch(msgspec.Struct, forbid_unknown_fields=True):
    protocol: Protocol
    device_id: Identifier
    sent_at_ms: Millis
    ops: Annotated[list[Op], msgspec.Meta(max_length=MAX_OPS_PER_BATCH)]
    pending: Count = 0
    # The history of the log the tablet's acknowledged ops belong to (events/log_identity.py):
    # not the current one, and the push is refused with 409 log_changed, nothing written.
    log_id: Identifier | None = None


class OnlineRedeem(msgspec.Struct, forbid_unknown_fields=True):
    """A redemption the server decides at once. The op has no device_seq: it is not part of
    the device's outbox stream unless the device, timing out, later queues it (same op_id)."""

    protocol: Protocol
    device_id: Identifier
    sent_at_ms: Millis
    op_id: Identifier
    subject: TokenId
    hlc_ms: Millis
    hlc_counter: Annotated[int, msgspec.Meta(ge=0, le=0xFFFF)]
    device_time_ms: Millis
    corrected_time_ms: Millis | None
    clerk: Clerk
    token: TokenText
    code: Annotated[str, msgspec.Meta(pattern=_exact(r"[0-9]{6}"))] | None = None
    log_id: Identifier | None = None  # as in PushBatch: a tablet that has not seen a restore yet is told first


class EnrollRequest(msgspec.Struct, forbid_unknown_fields=True):
    protocol: Protocol
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    public_key: Annotated[str, msgspec.Meta(max_length=64)]


class InvalidInput(ValueError):
    """Malformed input, refused before anything is written. `where` is a JSON path."""

    def __init__(self, detail: str, where: str = "") -> None:
        super().__init__(f"{detail} at {where}" if where else detail)
        self.detail = detail
        self.where = where


_batch_decoder = msgspec.json.Decoder(PushBatch)
_online_decoder = msgspec.json.Decoder(OnlineRedeem)
_enroll_decoder = msgspec.json.Decoder(EnrollRequest)
_WHERE = re.compile(r" - at `(\$[^`]*)`$")


def _decode(decoder: msgspec.json.Decoder, body: bytes):
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _WHERE.search(message)
        raise InvalidInput(message[: match.start()] if match else message, match.group(1) if match else "") from None
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"not JSON: {exc}") from None
    except UnicodeDecodeError:
        # msgspec meets bad UTF-8 inside a string and raises this, not a DecodeError, with the
        # offset in that string; the offset in the body is what helps whoever sent it.
        raise InvalidInput(f"not UTF-8: byte {_bad_utf8_at(body)} is not valid UTF-8") from None


def _bad_utf8_at(body: bytes) -> int:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


def decode_batch(body: bytes) -> PushBatch:
    batch = _decode(_batch_decoder, body)
    for index, op in enumerate(batch.ops):
        if op.kind in ("issue", "redeem", "void") and not _is_token_id(op.subject):
            raise InvalidInput("the subject of an issue, redeem or void is a token id", f"$.ops[{index}].subject")
    return batch


def decode_online_redeem(body: bytes) -> OnlineRedeem:
    return _decode(_online_decoder, body)


def decode_enroll(body: bytes) -> EnrollRequest:
    return _decode(_enroll_decoder, body)


def _is_token_id(subject: str) -> bool:
    return len(subject) == 16 and all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in subject)


def encode(value: object) -> bytes:
    return msgspec.json.encode(value)


def to_builtins(op: Op) -> dict:
    return msgspec.to_builtins(op)

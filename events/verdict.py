"""The clerk's verdict on a scanned voucher or pass: one rule, applied by the server online
(events/sync.py redeem_online) and by the tablet offline (web/static/js/verdict.js and the
ledger's uses in ledger.js). tests/vectors/verdicts.json, built from this module, holds the two
together (docs/adr/0009-one-verdict-on-both-sides.md).

Pure functions: the caller reads the voucher's ops and terms and the event's keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from events import merge, rotating, tokens
from events.merge import LoggedOp
from events.trust import TrustBundle

# The reasons the verdict adds to the token's and the code's own (tokens.Reason, rotating).
ALREADY_CHECKED_IN = "already_checked_in"
USED_UP = "used_up"
VOIDED = "voided"
MALFORMED_CODE = "malformed_code"

# Genuine, but nothing to do: the clerk is told, not warned.
AMBER = frozenset({ALREADY_CHECKED_IN, USED_UP})


def color(reason: str | None) -> str:
    """What the clerk sees: green to accept, amber for a genuine code with nothing to do, red to refuse."""
    if not reason:
        return "green"
    return "amber" if reason in AMBER else "red"


@dataclass(frozen=True)
class VoucherState:
    """What the log says of one voucher at the moment of a scan."""

    uses: tuple[LoggedOp, ...]  # the redemptions that count, in HLC order (merge.effective_uses)
    void: LoggedOp | None  # the first void of the whole voucher, by HLC (merge.first_void)

    @property
    def last_step(self) -> int | None:
        """The latest rotating-code step accepted: a code at or before it is a replay."""
        steps = [op.data["code_step"] for op in self.uses if op.data.get("code_step") is not None]
        return max(steps) if steps else None


def voucher_state(text: str, ops: Iterable[LoggedOp]) -> VoucherState:
    """The state of the voucher whose text of record is `text`, from all its issue, redeem and void ops.
    Uses after a void still count: they were honoured at the counter (the merge flags them)."""
    ops = list(ops)
    return VoucherState(tuple(merge.uses_of(text, ops)), merge.first_void(ops))


@dataclass(frozen=True)
class Judgement:
    reason: str  # "" to accept
    step: int | None = None  # the rotating code's step, when one was accepted


def judge_voucher(
    text: str,
    code: str | None,
    *,
    bundle: TrustBundle,
    distrust: str,
    state: VoucherState,
    current_key: bytes | None,
    retired_keys: list[bytes],
    now_ms: int,
) -> Judgement:
    """Accept or refuse one redemption of the voucher `text`, shown with rotating `code`.
    `distrust`: why the voucher's text of record is not trusted (merge.VoucherTerms), or "".
    The checks run in the order a clerk can act on: the token itself, then the voucher's
    history, then the code on the phone's screen."""
    try:
        token = tokens.verify(text, bundle, now=now_ms // 1000)
    except tokens.TokenError as error:
        return Judgement(str(error.reason))
    if distrust:
        return Judgement(distrust)
    if state.void is not None:
        return Judgement(VOIDED)
    if token.max_uses and len(state.uses) >= token.max_uses:
        return Judgement(USED_UP)
    if not token.rotating:
        return Judgement("")
    if current_key is None or code is None:
        return Judgement(MALFORMED_CODE)
    try:
        accepted = rotating.check_voucher_code(
            current_key, retired_keys, token.token_id, code, now=now_ms / 1000, last_step=state.last_step
        )
    except rotating.CodeError as error:
        return Judgement(error.reason)
    return Judgement("", accepted.step)


def first(ops: Iterable[LoggedOp]) -> LoggedOp | None:
    """The op that counts among several on one subject: the earliest by HLC, then counter, then
    device (events/hlc.py order_key), whatever order they arrived in. An attendee is as first
    registered; their check-in is their first one."""
    return min(ops, key=lambda op: op.order, default=None)


def judge_pass(text: str, *, bundle: TrustBundle, checkins: Iterable[LoggedOp], now_ms: int) -> str:
    """The reason to refuse checking in the holder of the pass `text`, or "" to check them in.
    The server never decides a check-in (a tablet does, online or not); this is the rule the
    tablet follows, with the server's notion of who is in (events/figures.py)."""
    try:
        tokens.verify(text, bundle, now=now_ms // 1000)
    except tokens.TokenError as error:
        return str(error.reason)
    return ALREADY_CHECKED_IN if first(checkins) is not None else ""

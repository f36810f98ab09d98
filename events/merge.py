"""Merge rules: which stored ops break a business rule once every device's facts are in.

Pure functions of the *set* of ops on one subject (a voucher, or a phone number or email), so
the conflicts they find never depend on the order in which batches arrived. Order across
devices is HLC, then device id (events/hlc.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from events.hlc import order_key

VOUCHER_CONFLICTS = ("untrusted_issuer", "redeemed_after_void", "over_redemption", "out_of_window")
DUPLICATE_CONFLICTS = ("possible_duplicate",)
CAMPAIGN_CONFLICTS = ("over_cap",)


class LoggedOp(NamedTuple):
    """An op as the merge rules need it (a tuple: a re-merge builds thousands of them)."""

    op_id: str
    device_id: str
    kind: str
    subject: str
    hlc_ms: int
    hlc_counter: int
    corrected_time_ms: int | None
    data: dict

    @property
    def order(self) -> tuple[int, int, str]:
        return order_key(self.hlc_ms, self.hlc_counter, self.device_id)

    @property
    def acted_at_ms(self) -> int:
        """When it happened in server time: the device's corrected estimate, else its HLC.
        Never the time it reached the server, which depends on delivery."""
        return self.corrected_time_ms if self.corrected_time_ms is not None else self.hlc_ms


@dataclass(frozen=True)
class VoucherTerms:
    """What the server knows of a token: its signed terms and whether its issuer is trusted."""

    token_id: str
    text: str
    max_uses: int
    valid_from: int
    valid_until: int | None
    trusted: bool
    distrust: str = ""  # why not: bad_signature, unknown_key, revoked_key, wrong_event


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str
    roles: dict[str, str]  # op_id -> its part in the conflict
    detail: dict = field(default_factory=dict)


def voucher_findings(terms: VoucherTerms, ops: list[LoggedOp], *, tolerance_s: int) -> list[Finding]:
    """Conflicts on one voucher, from all its issue, redeem and void ops."""
    ordered = sorted(ops, key=lambda op: op.order)
    subject = terms.token_id
    findings = []

    claims = [op for op in ordered if op.kind in ("issue", "redeem")]
    forged = [op for op in claims if op.data.get("token") != terms.text]
    if not terms.trusted:
        findings.append(
            Finding("untrusted_issuer", subject, {op.op_id: "untrusted" for op in claims}, {"why": terms.distrust})
        )
    elif forged:
        # Same token id, different bytes: not the token the server knows.
        findings.append(
            Finding("untrusted_issuer", subject, {op.op_id: "untrusted" for op in forged}, {"why": "different_token"})
        )

    uses = effective_uses(terms, ordered)
    void = first_void(ordered)
    if void is not None:
        after = [op for op in uses if op.order > void.order]
        if after:
            roles = {void.op_id: "void"} | {op.op_id: "after_void" for op in after}
            findings.append(Finding("redeemed_after_void", subject, roles))

    if terms.max_uses and len(uses) > terms.max_uses:
        roles = {op.op_id: ("within" if i < terms.max_uses else "over") for i, op in enumerate(uses)}
        findings.append(Finding("over_redemption", subject, roles, {"max_uses": terms.max_uses, "uses": len(uses)}))

    outside = [op for op in uses if not _in_window(op.acted_at_ms, terms, tolerance_s)]
    if outside:
        findings.append(
            Finding(
                "out_of_window",
                subject,
                {op.op_id: "outside_window" for op in outside},
                {"valid_from": terms.valid_from, "valid_until": terms.valid_until},
            )
        )
    return findings


def effective_uses(terms: VoucherTerms, ops: list[LoggedOp]) -> list[LoggedOp]:
    """The redemptions that count, in order: accepted, of this very token, not undone."""
    return uses_of(terms.text, ops)


def uses_of(text: str, ops: list[LoggedOp]) -> list[LoggedOp]:
    """The accepted redemptions of the token `text` that no void undid, in HLC order. A use
    after a void of the whole voucher still counts: it was honoured (redeemed_after_void)."""
    undone = {op.data["redeem_op_id"] for op in ops if op.kind == "void" and op.data.get("redeem_op_id")}
    return sorted(
        (
            op
            for op in ops
            if op.kind == "redeem"
            and op.data.get("outcome") == "accepted"
            and op.data.get("token") == text
            and op.op_id not in undone
        ),
        key=lambda op: op.order,
    )


def first_void(ops: list[LoggedOp]) -> LoggedOp | None:
    """The earliest void of the whole voucher (an undo of one redemption is not one)."""
    voids = sorted((op for op in ops if op.kind == "void" and not op.data.get("redeem_op_id")), key=lambda op: op.order)
    return voids[0] if voids else None


def _in_window(at_ms: int, terms: VoucherTerms, tolerance_s: int) -> bool:
    at = at_ms / 1000
    if at + tolerance_s < terms.valid_from:
        return False
    return terms.valid_until is None or at - tolerance_s < terms.valid_until


def cap_findings(campaign_key: str, cap: int | None, issues: list[LoggedOp]) -> list[Finding]:
    """More vouchers of a campaign issued than its cap (tablets offline cannot know what the others
    gave). `campaign_key` is "campaign:<number>"; the first `cap` issues by HLC are within."""
    if cap is None or len(issues) <= cap:
        return []
    ordered = sorted(issues, key=lambda op: op.order)
    roles = {op.op_id: ("within" if i < cap else "over") for i, op in enumerate(ordered)}
    return [Finding("over_cap", campaign_key, roles, {"cap": cap, "issued": len(ordered)})]


def duplicate_findings(key: str, registrations: list[LoggedOp]) -> list[Finding]:
    """The same phone or email registered as different attendees (`key` is "phone:…"/"email:…")."""
    attendees = {op.subject for op in registrations}
    if len(attendees) < 2:
        return []
    return [
        Finding(
            "possible_duplicate", key, {op.op_id: "register" for op in registrations}, {"attendees": sorted(attendees)}
        )
    ]


def phone_key(phone: str) -> str:
    """Digits only (a leading + kept); too short to identify anyone gives no key."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return ""
    return ("+" if phone.strip().startswith("+") else "") + digits


def email_key(email: str) -> str:
    email = email.strip().lower()
    return email if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) else ""


def dedup_keys(data: dict) -> list[str]:
    keys = []
    if phone := phone_key(data.get("phone", "")):
        keys.append("phone:" + phone)
    if email := email_key(data.get("email", "")):
        keys.append("email:" + email)
    return keys

"""Online sign-up: the public form's attendee, their pass, their welcome vouchers and their wallet.

What sign-up creates goes into the log as ops of the event's web device (a register op, an issue
op per welcome voucher), so tablets pull online sign-ups exactly as they pull each other's
walk-ins, and the wall and report count them with the same rules.

One person, one attendee: signing up again with a phone number or email already known finds the
same attendee. Their wallet is handed back only to a browser that already holds it; anyone else
typing that phone number learns that it is signed up, and nothing more (docs/adr/0005).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass

from events import campaigns, devices, merge, registry, sync
from events.db import write_transaction
from events.ops import PROTOCOL, Issue, IssueData, PushBatch, Register, RegisterData
from events.refusal import FieldRefusal

NAME_MAX = 100
PHONE_MAX = 32
EMAIL_MAX = 254
CAPABILITY_BYTES = 24  # 192 bits, 32 URL-safe characters
_CAPABILITY = re.compile(r"[A-Za-z0-9_-]{32}")


class SignUpRefused(FieldRefusal):
    """A sign-up form that cannot be accepted. `fields` holds every field at fault, each with its
    reason, so the form shows them all at once; `reason` and `field` are the first of them."""

    def __init__(self, reason: str, field: str, detail: str = "", *, fields: dict[str, str] | None = None) -> None:
        super().__init__(reason, field, detail)
        self.fields = fields if fields is not None else {field: reason}


@dataclass(frozen=True)
class Applicant:
    name: str
    phone: str
    email: str
    consent: bool


@dataclass(frozen=True)
class SignUp:
    attendee_id: str
    capability: str | None  # None: already signed up, and this browser does not hold the wallet
    created: bool


def capability_hash(capability: str) -> str:
    return hashlib.sha256(capability.encode("ascii", "replace")).hexdigest()


def is_capability(text: str) -> bool:
    return bool(_CAPABILITY.fullmatch(text))


def check(applicant: Applicant) -> Applicant:
    """The applicant as they will be stored (trimmed), or SignUpRefused naming every field at fault."""
    name = " ".join(applicant.name.split())
    phone, email = applicant.phone.strip(), applicant.email.strip()
    faults: dict[str, str] = {}
    if not name:
        faults["name"] = "name_missing"
    elif len(name) > NAME_MAX:
        faults["name"] = "name_too_long"
    elif any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in name):
        faults["name"] = "name_unprintable"
    if len(phone) > PHONE_MAX or (phone and not merge.phone_key(phone)) or re.search(r"[^0-9+()\-. ]", phone):
        faults["phone"] = "phone_invalid"
    if len(email) > EMAIL_MAX or (email and not merge.email_key(email)):
        faults["email"] = "email_invalid"
    if not phone and not email:
        faults["phone"] = "contact_missing"
    if not applicant.consent:
        faults["consent"] = "consent_missing"
    if faults:
        field, reason = next(iter(faults.items()))
        raise SignUpRefused(reason, field, fields=faults)
    return Applicant(name, phone, email, True)


def sign_up(db, event_id: str, applicant: Applicant, *, now_ms: int, held: frozenset[str] = frozenset()) -> SignUp:
    """Sign `applicant` up for the event, or find them if their phone or email is known.

    `held` are the wallet capabilities this browser already holds (its cookies): the only way
    an existing attendee's wallet is handed back."""
    applicant = check(applicant)
    now = now_ms // 1000
    if now >= registry.get_event(db, event_id).ends_at:
        raise SignUpRefused("event_over", "")
    with write_transaction(db):
        existing = find_attendee(db, event_id, phone=applicant.phone, email=applicant.email)
        if existing is not None:
            for capability in held:
                if wallet_attendee(db, event_id, capability) == existing:
                    return SignUp(existing, capability, created=False)
            return SignUp(existing, None, created=False)
        pass_token = campaigns.issue_pass(db, event_id, now=now)
        attendee_id = pass_token.id  # an attendee's id is the token id of their pass
        welcome = []
        for campaign in campaigns.list_campaigns(db, event_id):
            if not campaign.welcome or (campaign.valid_until is not None and campaign.valid_until <= now):
                continue
            try:
                welcome.append(campaigns.issue_voucher(db, event_id, campaign.number, now=now, attendee_id=attendee_id))
            except campaigns.CampaignExhausted:
                continue  # the campaign gave all it had: sign-up still works, without that voucher
        web = devices.web_device(db, event_id, now=now)
        stamp = dict(hlc_ms=now_ms, device_time_ms=now_ms, corrected_time_ms=now_ms, clerk="online sign-up")
        ops: list = [
            Register(
                op_id=_op_id(),
                device_seq=web.last_seq + 1,
                subject=attendee_id,
                hlc_counter=0,
                **stamp,
                data=RegisterData(
                    name=applicant.name,
                    consent=True,
                    phone=applicant.phone,
                    email=applicant.email,
                    pass_token=pass_token.text,
                ),
            )
        ]
        for index, voucher in enumerate(welcome, start=1):
            ops.append(
                Issue(
                    op_id=_op_id(),
                    device_seq=web.last_seq + 1 + index,
                    subject=voucher.id,
                    hlc_counter=index,
                    **stamp,
                    data=IssueData(token=voucher.text, attendee_id=attendee_id),
                )
            )
        sync.push(db, web.id, PushBatch(protocol=PROTOCOL, device_id=web.id, sent_at_ms=now_ms, ops=ops), now_ms=now_ms)
        db.execute(
            "update tokens set attendee_id = ? where event_id = ? and id = ?", [attendee_id, event_id, attendee_id]
        )
        capability = secrets.token_urlsafe(CAPABILITY_BYTES)
        db["wallets"].insert(
            {
                "capability_hash": capability_hash(capability),
                "event_id": event_id,
                "attendee_id": attendee_id,
                "created_at": now,
                "consent_at": now,
            }
        )
    return SignUp(attendee_id, capability, created=True)


def find_attendee(db, event_id: str, *, phone: str = "", email: str = "") -> str | None:
    """The first-registered attendee sharing this phone number or email, if any."""
    found = []
    # One indexed lookup per key (an OR of the two would scan the whole table).
    for column, key in (("phone_key", merge.phone_key(phone)), ("email_key", merge.email_key(email))):
        if key:
            found += db.execute(
                f"select hlc_ms, hlc_counter, device_id, id from attendees where event_id = ? and {column} = ? "
                "order by hlc_ms, hlc_counter, device_id limit 1",
                [event_id, key],
            ).fetchall()
    return min(found)[3] if found else None


def open_capability(db, capability: str) -> tuple[str, str] | None:
    """The (event id, attendee id) whose wallet this capability opens, if any."""
    if not is_capability(capability):
        return None
    row = db.execute(
        "select event_id, attendee_id from wallets where capability_hash = ?", [capability_hash(capability)]
    ).fetchone()
    return (row[0], row[1]) if row else None


def wallet_attendee(db, event_id: str, capability: str) -> str | None:
    """Whose wallet in this event the capability opens, if any."""
    opened = open_capability(db, capability)
    return opened[1] if opened and opened[0] == event_id else None


def _op_id() -> str:
    return "web" + secrets.token_hex(12)

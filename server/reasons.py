"""Token refusal reasons in words a clerk or attendee understands (translated at render)."""

from events.tokens import Reason


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


REASON_WORDS = {
    Reason.MALFORMED: N_("This is not a PopPass code, or part of it is missing."),
    Reason.UNSUPPORTED_VERSION: N_("This code was made by a newer version of PopPass."),
    Reason.WRONG_EVENT: N_("This code belongs to another event."),
    Reason.UNKNOWN_KEY: N_("This code was signed by a device this event does not know."),
    Reason.BAD_SIGNATURE: N_("This code has been altered or forged."),
    Reason.REVOKED_KEY: N_("This code was signed by a device that has been revoked."),
    Reason.NOT_YET_VALID: N_("This voucher is not valid yet."),
    Reason.EXPIRED: N_("This voucher has expired."),
}

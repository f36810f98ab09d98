"""Token refusal reasons in words a clerk or attendee understands (translated at render)."""

from events.merge import VOUCHER_CONFLICTS
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

# What the tablet's verdict says for each reason it may show (web/static/js/reasons.js), the
# token reasons above and the redemption's own: the tablet's words are these, proven equal by
# the shared vectors in tests/vectors/words.json (docs/adr/0008), so one translation serves both.
VERDICT_WORDS = {
    **{str(reason): words for reason, words in REASON_WORDS.items()},
    "bad_code": N_("The rotating code does not match: ask for the live screen, not a screenshot."),
    "code_replayed": N_("This rotating code was already used: ask for the live screen."),
    "rotation_key_retired": N_(
        "This code was made with a key that is no longer used: ask the attendee to open their "
        "wallet with network, then scan the new code."
    ),
    "malformed_code": N_("The rotating code is missing or unreadable."),
    "used_up": N_("This voucher has already been used."),
    "voided": N_("This voucher was cancelled."),
}
VERDICT_FALLBACK = N_("This code cannot be accepted.")

# Why a sign-up form was refused, by field.
SIGN_UP_WORDS = {
    "name_missing": N_("Please enter your name."),
    "name_too_long": N_("That name is too long (at most 100 characters)."),
    "name_unprintable": N_("That name contains characters that cannot be printed."),
    "phone_invalid": N_("That does not look like a phone number."),
    "email_invalid": N_("That does not look like an email address."),
    "contact_missing": N_("Please give a phone number or an email address, so we can find you at the door."),
    "consent_missing": N_("Please agree, so we may keep your name and contact for this event."),
    "event_over": N_("This event is over: sign-up is closed."),
    "rate_limited": N_("Too many sign-ups from here. Wait a minute and try again."),
    "not_text": N_("This could not be read as text. Please type it again."),
}

# Why a voucher could not go into a wallet (token reasons use REASON_WORDS).
CLAIM_WORDS = {
    "not_a_voucher": N_("This is an attendee pass, not a voucher."),
    "claimed_by_someone_else": N_("This voucher is already in someone else's wallet."),
}


def claim_words(reason: str) -> str:
    try:
        return REASON_WORDS[Reason(reason)]
    except ValueError:
        return CLAIM_WORDS.get(reason, REASON_WORDS[Reason.MALFORMED])


# Why a sign-in step failed ("locked" takes %(minutes)s).
SIGN_IN_WORDS = {
    "bad_credentials": N_("That email and password do not match."),
    "locked": N_("Too many failed attempts: this account is locked. Try again in %(minutes)s min."),
    "expired": N_("That took too long. Please sign in again."),
    "malformed_code": N_("The code is the 6 digits your authenticator app shows."),
    "bad_code": N_("That code is not right. Type the code your authenticator app shows now."),
    "code_replayed": N_("That code has already been used. Wait for the next one."),
    "bad_recovery_code": N_("That recovery code is not right, or it has been used already."),
    "rate_limited": N_("Too many attempts from here. Wait a minute and try again."),
}

# Why an event's form was refused, by field.
EVENT_WORDS = {
    "name_missing": N_("An event needs a name."),
    "name_too_long": N_("That name is too long (at most 120 characters)."),
    "venue_too_long": N_("That venue is too long (at most 200 characters)."),
    "ends_before_start": N_("The event must end after it starts."),
    "unknown_timezone": N_("That is not a time zone we know (for example Asia/Shanghai)."),
    "languages_missing": N_("Choose at least one language."),
    "bad_time": N_("Give a date and time."),
}

# Why a campaign's form was refused, by field.
CAMPAIGN_WORDS = {
    "title_missing": N_("A campaign needs a title."),
    "title_too_long": N_("That title is too long (at most 120 characters)."),
    "terms_too_long": N_("The terms are too long (at most 1,000 characters)."),
    "value_too_long": N_("The value is too long (at most 40 characters)."),
    "max_uses_range": N_("Uses per voucher are 0 (unlimited) to 255."),
    "window_backwards": N_("The validity must end after it starts."),
    "minutes_range": N_("Minutes after issue must be more than 0 (at most a year)."),
    "per_attendee_range": N_("Vouchers per attendee must be 1 or more, or left empty."),
    "cap_range": N_("The campaign cap must be 1 or more, or left empty."),
    "nobody_issues": N_("Give it at sign-up, by clerks, or both."),
    "too_many": N_("An event has at most 255 campaigns."),
    "bad_number": N_("Type a whole number, or leave it empty."),
    "bad_time": N_("Give a date and time, or leave it empty."),
}

# Why an attendee file could not be imported.
IMPORT_WORDS = {
    "not_text": N_("That file is not text: save the sheet as CSV (UTF-8) and try again."),
    "not_csv": N_("That file could not be read as CSV."),
    "empty": N_("That file has no rows under its header."),
    "too_many_rows": N_("That file has more than 100,000 rows: split it."),
    "too_large": N_("That file is larger than 20 MB: split it, or leave out the columns you do not import."),
    "mapping_incomplete": N_("Choose the column with the names, and one with phone numbers or emails."),
    "stopped": N_(
        "The import stopped part way through: the rows counted below were added, the rest were not. Upload the file again to add the rest (the rows already added are recognised as duplicates)."
    ),
}

# Conflicts in the organizer's words: what broke, each op's part, the decisions, why a
# resolution was refused (by ResolutionRefused.reason).
CONFLICT_KINDS = {
    "over_redemption": N_("Used more times than allowed"),
    "redeemed_after_void": N_("Redeemed after it was cancelled"),
    "out_of_window": N_("Redeemed outside its validity"),
    "untrusted_issuer": N_("Issued by a device that is not trusted"),
    "possible_duplicate": N_("Possibly the same person twice"),
    "over_cap": N_("More vouchers given than the campaign's cap"),
}
# The voucher conflicts a tablet pulls, in the same words (web/static/js/station-app.js
# conflictWords), and their states in the clerk's words (conflictStatusWords).
TABLET_CONFLICT_WORDS = {kind: CONFLICT_KINDS[kind] for kind in VOUCHER_CONFLICTS}
TABLET_CONFLICT_FALLBACK = N_("Conflict")
TABLET_CONFLICT_STATUSES = {
    "open": N_("Open: the organizer will decide"),
    "resolved": N_("Resolved by the organizer"),
    "cleared": N_("Cleared: nothing left to decide"),
}
CONFLICT_ROLES = {
    "within": N_("within the allowance"),
    "over": N_("over the allowance"),
    "void": N_("the cancellation"),
    "after_void": N_("after the cancellation"),
    "outside_window": N_("outside the validity"),
    "untrusted": N_("not trusted"),
    "register": N_("registration"),
}
OP_KINDS = {
    "register": N_("Registered"),
    "checkin": N_("Checked in"),
    "issue": N_("Issued"),
    "redeem": N_("Redeemed"),
    "void": N_("Cancelled"),
}
CONFLICT_STATUSES = {
    "open": N_("Open"),
    "resolved": N_("Resolved"),
    "cleared": N_("Cleared"),
    "all": N_("All"),
}
DECISION_WORDS = {
    "honour": N_("Honour: the use or voucher stands"),
    "reverse": N_("Reverse: take it back or write it off"),
    "dismiss": N_("Dismiss: nothing went wrong"),
    "merge": N_("Merge: the same person, count them once"),
}
# What the clerk's screen showed when they acted.
SHOWN_WORDS = {
    "green": N_("saw green"),
    "amber": N_("saw amber"),
    "red": N_("saw red"),
}
CONFLICT_WORDS = {
    "decision_missing": N_("Choose a decision."),
    "decision_unknown": N_("Choose one of the decisions offered."),
    "decision_not_for_kind": N_("That decision does not apply to this kind of conflict."),
    "decided_by_missing": N_("Who decided is missing."),
    "note_too_long": N_("The note is too long (at most 2,000 characters)."),
    "cleared": N_("Later ops removed this conflict's cause: there is nothing left to decide."),
}

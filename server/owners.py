"""Who may call a route. Every handler declares one in `opt={"owner": ...}`; a test walks
the route table so a new route without an owner fails CI.

The console's routes are owned by a role in an organization (events/organizations.py): the
organizer guard (server/auth.py) finds the caller's role — in the organization holding the event
named in the path, or else in their own — and lets through only a role at least the one named.
"""

from events import organizations

PUBLIC = "public"
ATTENDEE = "attendee"  # holds a capability URL (their token), no account
DEVICE = "device"  # an enrolled tablet with its bearer device token
ORGANIZER = "organizer"  # any signed-in organizer, in an organization or not (the console's home, signing out)
STAFF = "organizer:staff"  # a member of the organization, any role: looks, changes nothing but the wall
MANAGER = "organizer:manager"  # runs the organization's events: campaigns, tablets, conflicts, imports, exports
ORG_OWNER = "organizer:owner"  # also manages the organization's members

OWNERS = frozenset({PUBLIC, ATTENDEE, DEVICE, ORGANIZER, STAFF, MANAGER, ORG_OWNER})
SIGNED_IN = frozenset({ORGANIZER, STAFF, MANAGER, ORG_OWNER})  # owners the organizer guard stands before

REQUIRED_ROLE = {STAFF: organizations.STAFF, MANAGER: organizations.MANAGER, ORG_OWNER: organizations.OWNER}
"""The role an owner asks of the caller; ORGANIZER asks none."""

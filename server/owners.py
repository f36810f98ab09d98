"""Who may call a route. Every handler declares one in `opt={"owner": ...}`; a test walks
the route table so a new route without an owner fails CI."""

PUBLIC = "public"
ATTENDEE = "attendee"  # holds a capability URL (their token), no account
DEVICE = "device"  # an enrolled tablet with its bearer device token
ORGANIZER = "organizer"  # a signed-in organizer

OWNERS = frozenset({PUBLIC, ATTENDEE, DEVICE, ORGANIZER})

"""The `poppass` command."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from events.db import DamagedDatabase
from events.demo_seed import DEFAULT_SEED
from events.sealed import DataKeyError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_DB = "poppass.db"
DEMO_PACE_S = 3.0  # a busy counter, not a flood: the wall's feed stays readable
MAX_CODE_MINUTES = 24 * 60  # an enrollment code is short-lived: make it the day the tablets are set up


def _local_timezone() -> str:
    try:
        from pathlib import Path

        link = Path("/etc/localtime").resolve()
        return str(link).split("zoneinfo/", 1)[1]
    except (IndexError, OSError):
        return "UTC"


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from events import backup
    from server.access_log import logging_config
    from server.app import create_app

    # One server per database file: a second one would hand tablets ops out of order, and a
    # restore must not replace the file under a running one (events/backup.py).
    try:
        with backup.serving_lock(args.db):
            app = create_app(args.db, minify_scripts=not args.raw_scripts)
            # X-Forwarded-For/-Proto are believed only from the proxies named: from anyone else
            # they would let any client pick its address (a rate-limit bucket of its own) and its scheme.
            trusted = args.forwarded_allow_ips
            uvicorn.run(
                app,
                host=args.host,
                port=args.port,
                log_level=args.log_level,
                log_config=logging_config(),
                proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None,
            )
    except backup.ServerRunning as running:  # only the lock raises it
        raise CommandError(str(running)) from None


def _demo(args: argparse.Namespace) -> None:
    from events import demo_seed, devices, registry
    from events.db import open_database

    db = open_database(args.db)
    started = time.perf_counter()
    demo = demo_seed.ensure_seeded(db, now=int(time.time()), timezone=_local_timezone(), seed=args.seed)
    took = time.perf_counter() - started
    identities = [
        identity | {"last_seq": devices.get_device(db, identity["device_id"]).last_seq}
        for identity in demo_seed.tablet_identities(db, demo.event.id)
    ]
    rotation_key = registry.rotation_key(db, demo.event.id)
    db.close()
    base = f"http://{args.host}:{args.port}"
    how = f"seeded in {took:.1f} s (seed {args.seed})" if demo.created else "already seeded: left as it is"
    print(f"PopPass demo: {demo.event.name} ({demo.event.id}) in {args.db}, {how}")
    print(
        f"  Open {base}/events/{demo.event.id} (the event's page); the console, wall and report are at {base}/organizer"
    )
    print("  (make your organizer account first: poppass create-organizer --db ... --email ... --name ...)")
    for sample in demo.samples:
        print(f"  Sample {sample.label}: {base}{sample.path}")
    live = None
    if args.live:
        from server.demo_live import LiveTablets

        # The seed and what the tablets already pushed: a second live run goes on with new people
        # and choices instead of replaying the first one's.
        run_seed = args.seed * 1_000_003 + sum(identity["last_seq"] for identity in identities)
        live = LiveTablets(
            base,
            demo.event.id,
            identities,
            rotation_key=rotation_key,
            pace_s=args.pace,
            seed=run_seed,
            tablet_for=demo_seed.tablet_for,
        )
        print(
            f"  Live: {len(identities)} simulated tablets act every ~{args.pace:g} s through {base}/api/v1 (Ctrl-C stops)"
        )
        live.start()
    sys.stdout.flush()
    if live is None:
        _serve(args)
        return
    import signal

    # uvicorn shuts down gracefully on Ctrl-C or SIGTERM, then re-raises the signal to the handler
    # it found: with these, that returns here, the tablets stop, and the command exits 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: None)
    try:
        _serve(args)
    finally:
        live.stop()
    print(f"PopPass demo stopped: the simulated tablets did {live.actions} things while it ran.")


def _pace(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.05 <= value <= 3600:
        raise argparse.ArgumentTypeError("between 0.05 and 3600 seconds")
    return value


def _addresses(text: str) -> str:
    import ipaddress

    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["*"]:
        return "*"
    for name in names:
        # As uvicorn reads them: what is neither would silently trust nobody.
        try:
            ipaddress.ip_network(name) if "/" in name else ipaddress.ip_address(name)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an IP address or network (like 10.0.0.0/8): {name!r}") from None
    return ",".join(names)


class CommandError(Exception):
    """A command that cannot do what was asked: reported as `poppass: error: ...`, exit 2."""


def _open_existing(path: str):
    from pathlib import Path

    from events.db import open_database

    # Opening creates the file: a mistyped --db must not leave an empty database behind.
    if not Path(path).is_file():
        raise CommandError(f"no database at {path} (give --db, or run `poppass demo` first)")
    return open_database(path)


def _pick_event(db, event_id: str | None):
    from events import registry

    if event_id is not None:
        try:
            return registry.get_event(db, event_id)
        except registry.UnknownEvent:
            raise CommandError(f"no event {event_id} in this database") from None
    events = registry.list_events(db)
    if len(events) == 1:
        return events[0]
    if not events:
        raise CommandError("this database has no events yet")
    listed = ", ".join(f"{e.id} ({e.name})" for e in events)
    raise CommandError(f"this database has {len(events)} events; choose one with --event: {listed}")


def _minutes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of minutes: {text!r}") from None
    if not 1 <= value <= MAX_CODE_MINUTES:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_CODE_MINUTES} minutes")
    return value


def _enrollment_code(args: argparse.Namespace) -> None:
    from events import audit, devices
    from events.db import write_transaction

    minutes = devices.DEFAULT_CODE_MINUTES if args.minutes is None else args.minutes
    db = _open_existing(args.db)
    try:
        event = _pick_event(db, args.event)
        try:
            now = int(time.time())
            with write_transaction(db):
                code = devices.create_enrollment_code(db, event.id, name=args.name, now=now, minutes=minutes)
                audit.record(db, audit.CLI, "tablet.code", event.id, {"name": args.name.strip()}, now=now)
        except ValueError as error:
            raise CommandError(str(error)) from None
    finally:
        db.close()
    print(f"Enrollment code for tablet {args.name.strip()!r} at {event.name} ({event.id}):")
    print(f"  {code}")
    print(f"  Enter it on the tablet within {minutes} minutes; it works once.")
    print("  The tablet sends it with its public key to POST /api/v1/enroll (docs/sync-protocol.md).")


def _revoke_device(args: argparse.Namespace) -> None:
    from events import audit, devices
    from events.db import write_transaction

    db = _open_existing(args.db)
    try:
        try:
            device = devices.get_device(db, args.device_id)
        except LookupError:
            raise CommandError(f"no tablet {args.device_id} in this database") from None
        try:
            now = int(time.time())
            with write_transaction(db):
                allowlist = devices.revoke_device(db, device.id, now=now)
                audit.record(
                    db,
                    audit.CLI,
                    "tablet.revoke",
                    device.event_id,
                    {"device_id": device.id, "name": device.name, "allowlist": len(allowlist)},
                    now=now,
                )
        except ValueError as error:
            raise CommandError(f"{device.id}: {error}") from None
    finally:
        db.close()
    print(f"Revoked tablet {device.name!r} ({device.id}) of event {device.event_id}.")
    print(
        f"  Allowlist: {len(allowlist)} token(s) it issued before now stay valid; anything else signed by key {device.key_id} is refused."
    )
    print("  The tablet is told to wipe itself the next time it syncs.")
    print("  The event's rotation key it held is retired: other tablets get the new one at their next sync,")
    print("  and open wallets their new codes within seconds.")


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("Password (at least 10 characters): ")
    if getpass.getpass("Password again: ") != first:
        raise CommandError("the two passwords differ")
    return first


def _join(db, organizer, args: argparse.Namespace, now: int) -> tuple[str, str, list[str]]:
    """Put the new account in an organization: the first one (made here, the account its owner,
    holding the events no organization holds yet: the demo's) or the one --organization names,
    with --role. Returns the organization's name, the role and the events it took."""
    from events import organizations

    if not organizations.list_organizations(db):
        if args.role not in (None, organizations.OWNER):
            raise CommandError("the first organization's first member is its owner: leave out --role")
        first = organizations.create_organization(db, name=args.organization or "Organization", now=now)
        organizations.add_member(db, first.id, organizer.id, organizations.OWNER, now=now)
        return first.name, organizations.OWNER, organizations.adopt_unheld_events(db, first.id)
    if not args.organization or not args.role:
        listed = ", ".join(f"{o.id} ({o.name})" for o in organizations.list_organizations(db))
        raise CommandError(f"give --organization (one of: {listed}) and --role ({', '.join(organizations.ROLES)})")
    found = organizations.find_organization(db, args.organization)
    if found is None:
        raise CommandError(f"no organization {args.organization!r} in this database")
    organizations.add_member(db, found.id, organizer.id, args.role, now=now)
    return found.name, args.role, []


def _create_organizer(args: argparse.Namespace) -> None:
    from events import audit, organizers
    from events.db import open_database, write_transaction

    password = _read_password(args)
    db = open_database(args.db)  # the first organizer may well come before any event
    now = int(time.time())
    try:
        with write_transaction(db):  # the account and its membership, or neither
            organizer = organizers.create_organizer(db, email=args.email, name=args.name, password=password, now=now)
            organization, role, adopted = _join(db, organizer, args, now)
            audit.record(
                db,
                audit.CLI,
                "organizer.create",
                organizer.id,
                {"email": organizer.email, "organization": organization, "role": role, "events": len(adopted)},
                now=now,
            )
    except ValueError as error:
        raise CommandError(str(error)) from None
    finally:
        db.close()
    print(f"Created organizer {organizer.name!r} <{organizer.email}> ({organizer.id}) in {args.db}.")
    print(
        f"  {role.capitalize()} of the organization {organization!r}"
        + (f", which now holds {len(adopted)} event(s)." if adopted else ".")
    )
    print("  Sign in at /organizer/login: after the password, scan the QR code shown with an")
    print("  authenticator app; its 6-digit codes are then needed at every sign-in.")


def _reset_second_factor(args: argparse.Namespace) -> None:
    from events import audit, organizers

    db = _open_existing(args.db)
    try:
        organizer = organizers.find(db, args.email)
        organizers.reset_account(
            db, organizer.id, second_factor=True, password=None, by=audit.CLI, now=int(time.time())
        )
    except LookupError as error:
        raise CommandError(str(error)) from None
    finally:
        db.close()
    print(f"Forgot the authenticator app of {organizer.name!r} <{organizer.email}>: at the next sign-in, after the")
    print("  password, they scan a new QR code with their app.")


def _reset_password(args: argparse.Namespace) -> None:
    """The way back in for an organization's last owner (nobody else may reset them): a one-time
    password, made here and printed or read from stdin, that must be changed at the next sign-in."""
    from events import audit, organizers

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else organizers.one_time_password()
    db = _open_existing(args.db)
    try:
        organizer = organizers.find(db, args.email)
        ended = organizers.reset_account(
            db, organizer.id, second_factor=False, password=password, by=audit.CLI, now=int(time.time())
        )
    except (LookupError, ValueError) as error:
        raise CommandError(str(error)) from None
    finally:
        db.close()
    print(f"New one-time password of {organizer.name!r} <{organizer.email}>; {ended} session(s) ended.")
    if not args.password_stdin:
        print(f"  {password}")
    print("  They sign in with it (and their authenticator app), then must choose their own password.")


def _lost_data_key(args: argparse.Namespace) -> None:
    from pathlib import Path

    from events import audit, lost_key
    from events.db import open_database, write_transaction

    if not Path(args.db).is_file():
        raise CommandError(f"no database at {args.db}")
    db = open_database(args.db, migrate=False, check_key=False)
    try:
        replaced = lost_key.replace_lost_secrets(db)
        with write_transaction(db):
            audit.record(
                db,
                audit.CLI,
                "data_key.replace",
                "",
                {"events": replaced.events, "organizers": replaced.organizers},
                now=int(time.time()),
            )
    finally:
        db.close()
    print(f"New data key: {replaced.key_source}. Back it up, apart from the database.")
    print(
        f"  {replaced.events} event(s) have new keys: enroll every tablet again; tokens the server signed no longer verify."
    )
    print(f"  {replaced.organizers} organizer(s) enroll their authenticator app again at their next sign-in.")


def _sized(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KiB"


def _describe(snapshot) -> str:
    return (
        f"{snapshot.events} event(s), {snapshot.attendees} attendee(s), {snapshot.ops} op(s) up to log position "
        f"{snapshot.log_position}, {_sized(snapshot.size_bytes)}"
    )


def _backup(args: argparse.Namespace) -> None:
    from events import backup

    try:
        if args.dir:
            snapshot, removed = backup.backup_into(args.db, args.dir, keep=args.keep)
        else:
            snapshot, removed = backup.backup(args.db, args.file), []
    except backup.BackupError as error:
        raise CommandError(str(error)) from None
    print(f"Backed up {args.db} to {snapshot.path}: {_describe(snapshot)}.")
    for old in removed:
        print(f"  removed the older backup {old}")
    print("  Keep the data key apart from it (docs/operations.md, Backups).")


def _restore(args: argparse.Namespace) -> None:
    from events import backup

    try:
        report = backup.restore(args.file, args.db, now=int(time.time()))
    except backup.BackupError as error:
        raise CommandError(str(error)) from None
    except DataKeyError as error:
        raise CommandError(f"{error} (the backup needs the data key it was made with)") from None
    print(f"Restored {args.file} as {args.db}: {_describe(report.restored)}.")
    if report.replaced_as:
        print(f"  The database it replaced is kept as {report.replaced_as}.")
    print(
        f"  The log's new history is {report.log_id}: tablets send again what they pushed after the backup "
        "and pull again from it at their next sync."
    )
    if report.unread_replaced:
        print(
            f"  The replaced database could not be read ({report.unread_replaced}): what only the server held "
            "after the backup (online sign-ups, imports, organizers' changes) cannot be listed."
        )
    for name, count in sorted(report.resent_by_tablets.items()):
        print(f"  {name}: {count} op(s) after the backup, which the tablet sends again.")
    print(f"  Lost: {len(report.lost_web_ops)} op(s) of online sign-ups and imports after the backup.")
    for op in report.lost_web_ops:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(op["at_ms"] / 1000)) if op["at_ms"] else "?"
        what = f"{op['kind']} {op['subject']}" + (f" ({op['name']})" if op["name"] else "")
        print(f"    {at}  {what}")
    if report.organizer_actions_lost:
        print(f"  Lost: {len(report.organizer_actions_lost)} organizer action(s) after the backup; do them again:")
        for action in report.organizer_actions_lost:
            print(
                f"    {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(action['at']))}  {action['action']} {action['subject']}"
            )
    for name in report.revoked_again:
        print(f"  Revoked again: {name} (it was revoked after the backup).")
    for name in report.tablets_to_enroll_again:
        print(f"  Enroll again: {name} (enrolled after the backup); it sends what it holds under its new enrollment.")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="poppass", description="Offline-first check-in and QR vouchers.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run, help_text in (
        ("serve", _serve, "serve PopPass"),
        ("demo", _demo, "create the demo event (once), print sample links and serve"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
        command.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
        command.add_argument("--db", default=DEFAULT_DB, help=f"SQLite database file (default ./{DEFAULT_DB})")
        command.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
        command.add_argument(
            "--raw-scripts",
            action="store_true",
            help="serve web/static/js as written, not minified (to debug in a browser)",
        )
        command.add_argument(
            "--forwarded-allow-ips",
            metavar="IPS",
            type=_addresses,
            default="",
            help="the TLS proxy in front, by address (comma-separated; '*' trusts anyone): its "
            "X-Forwarded-For and X-Forwarded-Proto are believed, nobody else's (default: none)",
        )
        command.set_defaults(run=run)
        if name == "demo":
            command.add_argument(
                "--seed",
                type=int,
                default=DEFAULT_SEED,
                help=f"what the seeded day looks like: the same seed gives the same figures (default {DEFAULT_SEED})",
            )
            command.add_argument(
                "--live",
                action="store_true",
                help="keep simulated tablets checking people in and redeeming through the sync API",
            )
            command.add_argument(
                "--pace",
                metavar="SECONDS",
                type=_pace,
                default=DEMO_PACE_S,
                help=f"with --live, about how long between two tablet actions (default {DEMO_PACE_S:g})",
            )
    code = commands.add_parser(
        "enrollment-code",
        help="make a one-time code that enrolls one tablet",
        description="Make a one-time code that enrolls one tablet.",
    )
    code.add_argument(
        "--event", metavar="EVENT_ID", help="the event id (may be left out when the database has exactly one event)"
    )
    code.add_argument(
        "--name", required=True, help="the tablet's name, as the organizer will see it (e.g. 'Front desk')"
    )
    code.add_argument(
        "--minutes", metavar="N", type=_minutes, help=f"how long the code works, 1 to {MAX_CODE_MINUTES} (default 60)"
    )
    code.add_argument("--db", metavar="PATH", default=DEFAULT_DB, help=f"SQLite database file (default ./{DEFAULT_DB})")
    code.set_defaults(run=_enrollment_code)
    revoke = commands.add_parser(
        "revoke-device",
        help="revoke a tablet: its key is distrusted and it wipes itself",
        description="Revoke a tablet.",
    )
    revoke.add_argument("device_id", metavar="DEVICE_ID", help="the tablet's device id (dv…)")
    revoke.add_argument(
        "--db", metavar="PATH", default=DEFAULT_DB, help=f"SQLite database file (default ./{DEFAULT_DB})"
    )
    revoke.set_defaults(run=_revoke_device)
    organizer = commands.add_parser(
        "create-organizer",
        help="create an organizer account (the first one, or another)",
        description="Create an organizer account: a password now, an authenticator app at the first sign-in.",
    )
    organizer.add_argument("--email", required=True, help="the organizer's email: their sign-in name")
    organizer.add_argument("--name", required=True, help="the organizer's name, as the console shows it")
    organizer.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin (no prompt)"
    )
    organizer.add_argument(
        "--organization",
        metavar="ID_OR_NAME",
        help="the organization to join (needed once there is one; the first is made with this name)",
    )
    organizer.add_argument(
        "--role", choices=("owner", "manager", "staff"), help="the role in it (needed once there is one)"
    )
    organizer.add_argument(
        "--db", metavar="PATH", default=DEFAULT_DB, help=f"SQLite database file (default ./{DEFAULT_DB})"
    )
    organizer.set_defaults(run=_create_organizer)
    reset = commands.add_parser(
        "reset-second-factor",
        help="forget an organizer's authenticator app (a lost phone)",
        description="Forget an organizer's authenticator app: they enroll a new one at their next sign-in.",
    )
    reset.add_argument("--email", required=True, help="the organizer's email")
    reset.add_argument(
        "--db", metavar="PATH", default=DEFAULT_DB, help=f"SQLite database file (default ./{DEFAULT_DB})"
    )
    reset.set_defaults(run=_reset_second_factor)
    reset_password = commands.add_parser(
        "reset-password",
        help="give an organizer a one-time password, to change at the next sign-in",
        description="Give an organizer a one-time password (printed, or read from stdin) that they must change at "
        "their next sign-in; all their sessions end. Their authenticator app stays: see reset-second-factor.",
    )
    reset_password.add_argument("--email", required=True, help="the organizer's email")
    reset_password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the one-time password from one line of stdin instead of making one",
    )
    reset_password.add_argument(
        "--db", metavar="PATH", default=DEFAULT_DB, help=f"SQLite database file (default ./{DEFAULT_DB})"
    )
    reset_password.set_defaults(run=_reset_password)
    lost = commands.add_parser(
        "lost-data-key",
        help="the data key is gone for good: a new one, new event keys, authenticators re-enrolled",
        description="For a database whose data key is lost and has no backup (docs/operations.md): give it a new key "
        "and replace what the old one sealed. Tablets enroll again; organizers enroll their app again.",
    )
    lost.add_argument("--db", metavar="PATH", default=DEFAULT_DB, help=f"SQLite database file (default ./{DEFAULT_DB})")
    lost.add_argument(
        "--yes-the-key-is-lost",
        action="store_true",
        required=True,
        help="required: the event keys this replaces can never come back",
    )
    lost.set_defaults(run=_lost_data_key)
    backup = commands.add_parser(
        "backup",
        help="copy the database, even while the server runs",
        description="A consistent copy of the database (SQLite's online backup), 0600, checked before it gets its name. "
        "The data key is not in it: keep the key apart (docs/operations.md).",
    )
    where = backup.add_mutually_exclusive_group(required=True)
    where.add_argument("file", nargs="?", metavar="FILE", help="the new backup file (never overwritten)")
    where.add_argument("--dir", metavar="DIR", help="into DIR, named by the time (for a schedule)")
    backup.add_argument(
        "--keep", metavar="N", type=int, default=48, help="with --dir, how many backups to keep (default 48)"
    )
    backup.add_argument(
        "--db", metavar="PATH", default=DEFAULT_DB, help=f"SQLite database file (default ./{DEFAULT_DB})"
    )
    backup.set_defaults(run=_backup)
    restore = commands.add_parser(
        "restore",
        help="put a backup back in place of the database (the server stopped)",
        description="Put a backup in place of the database; the replaced file is kept beside it. Tablets send again "
        "what they pushed after the backup. Says what was lost: online sign-ups, imports and organizers' "
        "changes made after the backup.",
    )
    restore.add_argument("file", metavar="FILE", help="the backup to restore")
    restore.add_argument(
        "--db", metavar="PATH", default=DEFAULT_DB, help=f"SQLite database file (default ./{DEFAULT_DB})"
    )
    restore.set_defaults(run=_restore)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (CommandError, DataKeyError, DamagedDatabase) as error:  # a missing or wrong data key, a damaged
        parser.error(str(error))  # file (`serve` checks it before listening): say so, no traceback


if __name__ == "__main__":
    main()

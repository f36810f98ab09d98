"""The `poppass` command."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_DB = "poppass.db"


def _local_timezone() -> str:
    try:
        from pathlib import Path

        link = Path("/etc/localtime").resolve()
        return str(link).split("zoneinfo/", 1)[1]
    except (IndexError, OSError):
        return "UTC"


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from server.app import create_app

    app = create_app(args.db)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


def _demo(args: argparse.Namespace) -> None:
    from events import tokens
    from events.db import open_database
    from events.demo import ensure_demo

    db = open_database(args.db)
    demo = ensure_demo(db, now=int(time.time()), timezone=_local_timezone())
    db.close()
    base = f"http://{args.host}:{args.port}"
    print(f"PopPass demo: {demo.event.name} ({demo.event.id}) in {args.db}")
    print(f"  Open {base}/")
    for label, token in demo.samples:
        print(f"  Sample {label}: {base}{tokens.url_path(token.text)}")
    sys.stdout.flush()
    _serve(args)


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
        command.set_defaults(run=run)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()

"""create_app(): the one place where PopPass is wired together."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from sqlite_utils import Database

from events import settings
from events.db import open_database
from server import live, security_headers
from server.controllers.account import AccountController
from server.controllers.console import ConsoleController
from server.controllers.console_campaigns import ConsoleCampaignsController
from server.controllers.console_conflicts import ConsoleConflictsController
from server.controllers.console_events import ConsoleEventsController
from server.controllers.console_import import ConsoleImportController, ImportRunner, RequestsInFlight
from server.controllers.console_members import ConsoleMembersController
from server.controllers.console_report import ConsoleReportController
from server.controllers.console_tablets import ConsoleTabletsController
from server.controllers.console_wall import ConsoleWallController
from server.controllers.home import HomeController
from server.controllers.language import LanguageController
from server.controllers.organizer_login import OrganizerLoginController, OrganizerLogoutController
from server.controllers.pwa import PwaController
from server.controllers.scripts import ScriptsController, load_scripts
from server.controllers.signup import EventPageController
from server.controllers.station import StationController
from server.controllers.sync_api import EnrollmentController, SyncController
from server.controllers.vouchers import VoucherController
from server.controllers.wallet import WalletController
from server.errors import API_HANDLERS, http_error, internal_error
from server.i18n import load_catalogues
from server.input_guard import InputGuard
from server.owners import PUBLIC
from server.ratelimit import RateLimiter
from server.templating import make_engine

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
MAX_BODY_BYTES = 1024 * 1024
# Per client address. A venue's guest Wi-Fi puts a crowd behind one address, so this stops a
# script farming welcome vouchers, not a queue of people signing up at the door.
SIGN_UPS_PER_MINUTE = 30
# Per client address, on top of each account's own lock-out: stops one address trying many accounts.
SIGN_INS_PER_MINUTE = 20


def create_app(
    database: str | Path | Database = "poppass.db",
    *,
    clock: Callable[[], float] = time.time,
    debug: bool = False,
    sign_ups_per_minute: int = SIGN_UPS_PER_MINUTE,
    minify_scripts: bool = True,
) -> Litestar:
    # The file is checked page by page once here (a damaged one is refused: DamagedDatabase),
    # not at every open: about 50 ms to 0.4 s on a 20,000-attendee database.
    db = database if isinstance(database, Database) else open_database(database, check_pages=True)
    csrf_secret = settings.get_or_create_secret(db, "csrf_secret", lambda: secrets.token_urlsafe(32))

    def close_database() -> None:
        db.close()

    import_runner = ImportRunner(db, clock)  # attendee imports: jobs in the database, resumed at start

    return Litestar(
        route_handlers=[
            HomeController,
            LanguageController,
            VoucherController,
            EventPageController,
            WalletController,
            OrganizerLoginController,
            OrganizerLogoutController,
            AccountController,
            ConsoleController,
            ConsoleEventsController,
            ConsoleTabletsController,
            ConsoleCampaignsController,
            ConsoleImportController,
            ConsoleWallController,
            ConsoleConflictsController,
            ConsoleReportController,
            ConsoleMembersController,
            StationController,
            PwaController,
            ScriptsController,
            EnrollmentController,
            SyncController,
            create_static_files_router(path="/static", directories=[STATIC], opt={"owner": PUBLIC}),
        ],
        template_config=TemplateConfig(instance=make_engine()),
        csrf_config=CSRFConfig(secret=csrf_secret, cookie_httponly=True, cookie_samesite="strict"),
        plugins=[HTMXPlugin(), live.channels_plugin()],
        # The schema only, as JSON: the interactive viewers load scripts from CDNs.
        openapi_config=OpenAPIConfig(
            title="PopPass",
            version="0.1.0",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
            openapi_router=Router(path="/schema", route_handlers=[], opt={"owner": PUBLIC}),
        ),
        state=State(
            {
                "db": db,
                "clock": clock,
                "catalogues": load_catalogues(),
                "scripts": load_scripts(minified=minify_scripts),
                "sign_up_limiter": RateLimiter(sign_ups_per_minute, 60, clock=clock),
                "sign_in_limiter": RateLimiter(SIGN_INS_PER_MINUTE, 60, clock=clock),
                "imports": import_runner,
            }
        ),
        exception_handlers={HTTPException: http_error, **API_HANDLERS, Exception: internal_error},
        before_send=[security_headers.before_send],  # every answer, errors and static files too
        request_max_body_size=MAX_BODY_BYTES,
        middleware=[InputGuard(), RequestsInFlight()],
        on_startup=[import_runner.resume],
        on_shutdown=[import_runner.stop, close_database],
        debug=debug,
    )

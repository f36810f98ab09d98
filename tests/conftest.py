"""Shared fixtures: a real SQLite file per test (a copy of one migrated template), a settable clock,
the app through TestClient, an organizer signed in; and the inner loop's hypothesis profile
(POPPASS_FAST=1). Only fixtures: what they are built from lives in tests/support/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from litestar.testing import TestClient
from sqlite_utils import Database

from events import keys, registry, sealed, trust
from events.db import open_database
from server.app import create_app
from tests.support.clock import NOW, Clock
from tests.support.examples import FAST, FAST_EXAMPLES
from tests.support.organizer import signed_in_owner

# Crypto per example makes timings noisy on a loaded CI box; correctness is what is tested.
settings.register_profile("poppass", deadline=None, print_blob=True)
# The inner loop (`scripts/test --fast` sets POPPASS_FAST=1, docs/testing.md): every property test
# still runs, on at most FAST_EXAMPLES examples (tests/support/examples.py: a test with a count of
# its own asks examples(n)), to say quickly that nothing is plainly broken. CI and `scripts/test`
# never set it: there every property test runs at full strength.
settings.register_profile("dev", parent=settings.get_profile("poppass"), max_examples=FAST_EXAMPLES)
settings.load_profile("dev" if FAST else "poppass")


def pytest_report_header() -> str | None:
    return f"POPPASS_FAST=1: property tests capped at {FAST_EXAMPLES} examples (not CI's run)" if FAST else None


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> Path:
    """One database file made by every migration, with its data key, once a run."""
    path = tmp_path_factory.mktemp("template") / "test.db"
    database = open_database(path)
    database.close()  # the last connection: SQLite checkpoints the WAL into the file and removes it
    return path


@pytest.fixture
def db(tmp_path, database_template: Path) -> Iterator[Database]:
    """A database of the test's own: a copy of the template, as fresh as a new one and shared with
    no other test, but without running every migration again (a fifth of a second a test, most of
    the suite's set-up). shutil.copy keeps the files' 0600."""
    path = tmp_path / "test.db"
    shutil.copy(database_template, path)
    if sealed.key_path(database_template).exists():  # none when the key comes from the environment
        shutil.copy(sealed.key_path(database_template), sealed.key_path(path))
    database = open_database(path)
    yield database
    database.close()


@pytest.fixture
def event(db: Database) -> registry.Event:
    return registry.create_event(
        db, name="Spring pop-up", venue="Store 1F", starts_at=NOW - 3600, ends_at=NOW + 8 * 3600, now=NOW
    )


@pytest.fixture
def client(db: Database, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(db, clock=clock)) as test_client:
        yield test_client


@pytest.fixture
def signer():
    """A key pair and a one-key bundle for an event, for token tests that need no database."""
    root, server = keys.generate_private_key(), keys.generate_private_key()
    bundle = trust.TrustBundle(
        event_id="evtest",
        seq=1,
        issued_at=NOW,
        keys={1: keys.KeyRecord(1, keys.public_key_bytes(server), None, keys.KeyStatus.ACTIVE, NOW)},
    )
    return root, server, bundle


@pytest.fixture
def signed_in(client, db):
    """Mei, owner of an organization holding every event made so far, signed in on `client`."""
    return signed_in_owner(client, db)

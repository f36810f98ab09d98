"""Shared fixtures: a real SQLite file per test, a settable clock, the app through TestClient, an
organizer signed in. Only fixtures: what they are built from lives in tests/support/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings
from litestar.testing import TestClient
from sqlite_utils import Database

from events import keys, registry, trust
from events.db import open_database
from server.app import create_app
from tests.support.clock import NOW, Clock
from tests.support.organizer import signed_in_owner

# Crypto per example makes timings noisy on a loaded CI box; correctness is what is tested.
settings.register_profile("poppass", deadline=None, print_blob=True)
settings.load_profile("poppass")

@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = open_database(tmp_path / "test.db")
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

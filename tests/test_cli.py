"""The `poppass` command and the demo event it creates."""

from __future__ import annotations

import subprocess
import sys

import pytest

from events import campaigns, registry, tokens
from events.demo import ensure_demo
from server import cli
from tests.support.clock import NOW


def test_help_lists_serve_and_demo() -> None:
    result = subprocess.run([sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True, check=True)
    assert "serve" in result.stdout and "demo" in result.stdout


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_defaults(command: str, monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr(cli, "_serve", lambda args: seen.update(vars(args)))
    monkeypatch.setattr(cli, "_demo", lambda args: seen.update(vars(args)))
    cli.main([command])
    assert (seen["host"], seen["port"], seen["db"]) == ("127.0.0.1", 8000, "poppass.db")


def test_demo_is_created_once_and_its_samples_verify(db) -> None:
    first = ensure_demo(db, now=NOW, timezone="Asia/Shanghai")
    second = ensure_demo(db, now=NOW + 60)
    assert first.event == second.event and len(registry.list_events(db)) == 1
    assert len(campaigns.list_campaigns(db, first.event.id)) == 2
    for _, sample in second.samples:
        event, token = registry.authenticate_token(db, sample.text, now=NOW + 60)
        tokens.check_time(token, now=NOW + 60, tolerance=0)
        assert event.id == first.event.id

"""Vendored front-end files are exactly the pinned releases listed in their README."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor"


def test_every_vendored_file_matches_its_pinned_sha256() -> None:
    rows = re.findall(r"^\| (\S+\.js) \|.*\| ([0-9a-f]{64}) \|$", (VENDOR / "README.md").read_text(), re.M)
    assert {name for name, _ in rows} == {p.name for p in VENDOR.glob("*.js")}
    for name, digest in rows:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name

"""The templates' shape (docs/architecture.md, "Templates"): grouped by surface, one template per
view, the page or fragment wrapper chosen by `fragment` (server/pages.py) — no wrapper files."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "web" / "templates"
SURFACES = {"layout", "shared", "public", "wallet", "station", "console", "wall"}
EXTENDS = re.compile(
    r'\A(\{#.*?#\}\s*)?\{% extends "layout/fragment\.html" if fragment else "(layout/page|\w+/_layout)\.html" %\}\n',
    re.S,
)


def views() -> list[Path]:
    """Templates a handler renders: not layouts, not `_` includes."""
    return [
        path for path in TEMPLATES.rglob("*.html") if path.parent.name != "layout" and not path.name.startswith("_")
    ]


def test_every_template_is_in_a_surface_folder() -> None:
    assert {path.relative_to(TEMPLATES).parts[0] for path in TEMPLATES.rglob("*.html")} <= SURFACES
    assert not list(TEMPLATES.glob("*.html")) and not list(TEMPLATES.rglob("*_partial.html"))


def test_every_view_answers_htmx_with_its_fragment() -> None:
    offenders = [
        str(path.relative_to(TEMPLATES)) for path in views() if not EXTENDS.match(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_every_page_a_handler_names_is_a_view() -> None:
    named = {
        name
        for path in (ROOT / "server").rglob("*.py")
        for name in re.findall(r'\bpage\(\s*request,\s*"([\w/]+)"', path.read_text(encoding="utf-8"))
    }
    assert named and {f"{name}.html" for name in named} == {str(path.relative_to(TEMPLATES)) for path in views()}

"""The architecture's invariant (docs/architecture.md): events/ (the domain) never imports the web layer."""

from __future__ import annotations

import ast
from pathlib import Path

EVENTS = Path(__file__).resolve().parent.parent / "events"
FORBIDDEN = {"litestar", "jinja2", "server", "uvicorn", "web", "babel"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_events_imports_no_web_code() -> None:
    offenders = {
        str(path.relative_to(EVENTS.parent)): sorted(imported_roots(path) & FORBIDDEN)
        for path in EVENTS.rglob("*.py")
        if imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}

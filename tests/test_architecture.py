"""The architecture's invariant (docs/architecture.md): events/ (the domain) never imports the web
layer, nor draws, writes or words anything for a screen or a download: that is server/'s."""

from __future__ import annotations

import ast
from pathlib import Path

EVENTS = Path(__file__).resolve().parent.parent / "events"
SERVER = EVENTS.parent / "server"
# The web layer, and presentation: segno draws QR codes (server/qr.py), markupsafe and html
# escape for pages, gettext and babel word and format for a reader (server/i18n.py, templating).
FORBIDDEN = {"litestar", "jinja2", "server", "uvicorn", "web", "babel", "segno", "markupsafe", "html", "gettext"}
# Writing CSV is the download's (server/csv_export.py); reading an upload (events/imports.py) is input.
CSV_WRITERS = {"writer", "DictWriter"}


def trees(folder: Path = EVENTS) -> dict[str, ast.AST]:
    return {
        str(path.relative_to(EVENTS.parent)): ast.parse(path.read_text(encoding="utf-8"))
        for path in folder.rglob("*.py")
    }


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_events_imports_no_web_code() -> None:
    offenders = {
        name: sorted(imported_roots(tree) & FORBIDDEN)
        for name, tree in trees().items()
        if imported_roots(tree) & FORBIDDEN
    }
    assert offenders == {}


def test_events_writes_no_csv() -> None:
    offenders = {
        name: sorted(
            {
                node.attr if isinstance(node, ast.Attribute) else node.name
                for node in ast.walk(tree)
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in CSV_WRITERS
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "csv"
                )
                or (isinstance(node, ast.alias) and node.name in CSV_WRITERS)
            }
        )
        for name, tree in trees().items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_events_defines_no_view_models() -> None:
    """What a page shows of the domain's records is bundled in server/ (server/conflict_views.py)."""
    offenders = {
        name: sorted(
            node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name.endswith("View")
        )
        for name, tree in trees().items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


# The op log has one owner (events/oplog.py): no other module numbers ops or writes them.
LOG_WRITES = ("insert into ops", "update ops", "delete from ops", "insert into log_counter", "update log_counter")


def test_only_the_op_log_numbers_and_writes_ops() -> None:
    offenders = {
        name: sorted({word for word in LOG_WRITES for text in strings if word in text.lower()})
        for name, tree in {**trees(), **trees(SERVER)}.items()
        if name != "events/oplog.py"
        for strings in [
            [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
        ]
    }
    assert {name: found for name, found in offenders.items() if found} == {}

"""Running batches of browser-side checks: a JS function body evaluated on the live server's
home page (so modules import from /static with the real CSP), failing on any page error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page

Run = Callable[[str, dict[str, Any]], Any]


def runner(page: Page, base_url: str, prelude: str, constants: dict[str, Any]) -> Run:
    """`run(body, arg)`: evaluate `body` after `prelude`, with `arg` (and `constants`) in scope."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(base_url + "/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]

    def evaluate(body: str, arg: dict[str, Any]) -> Any:
        result = page.evaluate(f"async (arg) => {{ {prelude}\n{body} }}", {**constants, **arg})
        assert errors == []
        return result

    return evaluate

"""One URL, one view: a full page normally, its fragment when htmx asks for it."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Template:
    """Render `name`.html, or `name`_partial.html for an htmx request (not a boosted one,
    which wants the whole page). The response varies on HX-Request so no cache mixes them."""
    htmx = request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
    template = f"{name}_partial.html" if htmx else f"{name}.html"
    return Template(
        template_name=template,
        context=context,
        status_code=status_code,
        headers={"Vary": "HX-Request, Accept-Language, Cookie"},
    )

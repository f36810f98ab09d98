"""One URL, one view: a full page normally, its fragment when htmx asks for it."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Template:
    """Render the view `name`.html (web/templates/<surface>/<view>.html). Each view is one
    template whose wrapper the request chooses: `{% extends "layout/fragment.html" if fragment
    else "layout/page.html" %}` gives an htmx request (not a boosted one, which wants the whole
    page) the main block alone, everyone else the whole document. The response varies on
    HX-Request so no cache mixes them."""
    htmx = request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
    return Template(
        template_name=f"{name}.html",
        context={**context, "fragment": htmx},
        status_code=status_code,
        headers={"Vary": "HX-Request, Accept-Language, Cookie"},
    )

"""Accessibility: axe-core on every page of e2e/layout.py's table, in both languages, at the phone
and at the size the page is used at most (tablet for the station, laptop for the console,
projector for the wall). No serious or critical violation; no rule is switched off.

axe-core comes pinned in the `axe-playwright-python` package (pyproject.toml, test extra). The
product's CSP forbids injected scripts, so it is evaluated through the DevTools protocol, which
the page's CSP does not govern."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

from e2e.layout import LANGUAGES, PAGES, expect_language

AXE = files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
MAIN_SIZE = {"station": "tablet", "public": "phone", "console": "laptop", "wall": "projector"}


def a11y_cases() -> list:
    sizes = ["phone", "tablet", "laptop", "projector"]
    wanted = {(page_id, size) for page_id, screen in PAGES.items() for size in {"phone", MAIN_SIZE[screen.audience]}}
    return [
        pytest.param(page_id, size, language, id=f"{page_id}-{size}-{language}")
        for size in sizes
        for language in LANGUAGES
        for page_id in PAGES
        if (page_id, size) in wanted
    ]


def run_axe(page) -> list[dict]:
    cdp = page.context.new_cdp_session(page)
    try:
        loaded = cdp.send("Runtime.evaluate", {"expression": AXE + "\n;typeof axe", "returnByValue": True})
        assert loaded["result"].get("value") == "object", f"axe did not load: {loaded}"
        answer = cdp.send(
            "Runtime.evaluate",
            {
                "expression": "axe.run(document, {resultTypes: ['violations']}).then((r) => JSON.stringify(r.violations))",
                "awaitPromise": True,
                "returnByValue": True,
            },
        )
    finally:
        cdp.detach()
    assert "exceptionDetails" not in answer, answer["exceptionDetails"]
    return json.loads(answer["result"]["value"])


@pytest.mark.parametrize(("page_id", "size", "language"), a11y_cases())
def test_no_serious_violations(shelf, page_id: str, size: str, language: str) -> None:
    page = PAGES[page_id].reach(shelf.get(size, language))
    expect_language(page, language)
    violations = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
    assert not violations, f"{page_id} at {size} in {language}:\n" + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — " + ", ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in violations
    )

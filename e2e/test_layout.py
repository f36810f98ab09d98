"""Layout as people see it: every page of e2e/layout.py's table, at every size, in both languages.

Four checks, each naming the element at fault (docs/testing.md, "Layout and accessibility"):
the page never scrolls sideways; nothing sticks out of a card; every QR fits inside the viewport
(on the station without scrolling: the clerk turns the tablet to the attendee); the wall has
nothing below the fold. POPPASS_SCREENSHOTS=<dir> saves one PNG per case."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2e.layout import PAGES, SIZES, cases, expect_language

# What a user calls a box: a card, a list row, a figure, a form, a table, a verdict screen.
CARDS = "article, section, figure, form, fieldset, li, table, dialog, .card, .verdict-screen, [class*='card']"

# Run in the page; returns one line per defect. Invisible things are skipped: display none,
# visibility hidden, zero-size boxes and the 1 px visually-hidden labels. Content inside a box
# that clips or scrolls (overflow other than visible) is that box's business, not overflow.
MEASURE = """
({cards, station, wall}) => {
  const W = window.innerWidth, H = window.innerHeight, root = document.documentElement;
  const out = [];
  const visible = (el) => {
    if (!el.getClientRects().length) return false;
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) return false;
    const style = getComputedStyle(el);
    return style.visibility !== "hidden" && style.opacity !== "0";
  };
  const name = (el) => {
    const cls = typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    const id = el.id ? "#" + el.id : "";
    const text = (el.innerText || el.getAttribute("aria-label") || "").trim().replace(/\\s+/g, " ").slice(0, 40);
    const r = el.getBoundingClientRect();
    return `<${el.tagName.toLowerCase()}${id}${cls}> "${text}" [${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}x${Math.round(r.height)}]`;
  };
  const clips = (el) => {
    const style = getComputedStyle(el);
    return style.overflowX !== "visible" || style.position === "fixed";
  };
  if (root.scrollWidth > W + 1) {
    const widest = [...document.body.querySelectorAll("*")].filter(visible)
      .filter((el) => el.getBoundingClientRect().right > W + 1)
      .sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right)[0];
    out.push(`page scrolls sideways: ${root.scrollWidth} px wide in a ${W} px viewport` + (widest ? `; widest: ${name(widest)}` : ""));
  }
  const seen = new Set();
  for (const card of document.querySelectorAll(cards)) {
    if (!visible(card)) continue;
    const box = card.getBoundingClientRect();
    for (const el of card.querySelectorAll("*")) {
      if (!visible(el)) continue;
      // Only the outermost offender in a card, and only if no box between clips or scrolls it.
      let clipped = false;
      for (let up = el.parentElement; up && up !== card; up = up.parentElement) if (clips(up)) { clipped = true; break; }
      if (clipped || getComputedStyle(el).position === "fixed") continue;
      const r = el.getBoundingClientRect();
      const over = Math.max(r.right - box.right, box.left - r.left);
      if (over > 1 && !seen.has(el.parentElement)) {
        seen.add(el);
        out.push(`sticks ${Math.round(over)} px out of ${name(card)}: ${name(el)}`);
      }
      if (over > 1) seen.add(el);
    }
  }
  const qrs = [...document.querySelectorAll(".qr svg, .qr canvas, .qr img, figure.qr")].filter(visible)
    .filter((el) => !(el.tagName === "FIGURE" && el.querySelector("svg, canvas, img")));
  for (const qr of qrs) {
    if (!station) qr.scrollIntoView({ block: "nearest", inline: "nearest" });
    const r = qr.getBoundingClientRect();
    if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1) {
      out.push(`QR not fully inside the ${W}x${H} viewport${station ? " without scrolling" : ""}: ${name(qr)}`);
    }
  }
  if (station) {
    // The clerk turns the tablet to the attendee: the QR and what to do next (issue another,
    // register someone else) are on screen together.
    for (const qr of qrs) {
      const card = qr.closest(".card, article, section") || document.body;
      for (const el of card.querySelectorAll("button, a.button")) {
        if (!visible(el) || el.closest("[hidden]")) continue;
        const r = el.getBoundingClientRect();
        if (r.top < -1 || r.bottom > H + 1) out.push(`next step off screen beside the QR: ${name(el)}`);
      }
    }
    // One row of screens on a tablet: a second row pushes the work down.
    const nav = [...document.querySelectorAll(".station-nav a, .station-nav button")].filter(visible);
    if (W >= 704 && nav.length && new Set(nav.map((el) => Math.round(el.getBoundingClientRect().top))).size > 1) {
      out.push(`station nav takes more than one row: ${nav.map(name).join(", ")}`);
    }
  }
  if (wall) {
    if (root.scrollHeight > H + 1) out.push(`wall is ${root.scrollHeight} px tall in a ${H} px viewport`);
    // What a viewer cannot see at all or sees cut off: the innermost boxes past the bottom edge.
    const below = [...document.body.querySelectorAll("*")].filter(visible)
      .filter((el) => el.getBoundingClientRect().bottom > H + 1);
    const leaves = below.filter((el) => !below.some((other) => other !== el && el.contains(other)));
    for (const el of leaves.slice(0, 5)) out.push(`below the fold: ${name(el)}`);
  }
  return { defects: out, height: root.scrollHeight };
}
"""


@pytest.mark.parametrize(("page_id", "size", "language"), cases(list(SIZES)))
def test_layout(shelf, page_id: str, size: str, language: str) -> None:
    screens = shelf.get(size, language)
    screen = PAGES[page_id]
    page = screen.reach(screens)
    expect_language(page, language)
    page.evaluate("document.fonts.ready")
    # The wall is made for landscape screens (projectors, a laptop, a tablet on a stand): there
    # it must fit with nothing below the fold; on a phone or a portrait tablet it may scroll.
    landscape = SIZES[size].width > SIZES[size].height
    result = page.evaluate(
        MEASURE,
        {"cards": CARDS, "station": screen.qr_without_scrolling, "wall": screen.audience == "wall" and landscape},
    )
    if screen.qr:
        assert page.locator(".qr svg, .qr canvas").count(), f"{page_id}: no QR on the page"
    shots = os.environ.get("POPPASS_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / f"{page_id}-{size}-{language}.png"))
    if screen.audience == "wall":
        print(f"wall height at {size} {language}: {result['height']} px")
    assert not result["defects"], f"{page_id} at {size} in {language}:\n" + "\n".join(result["defects"])
    assert not screens.errors, "\n".join(screens.errors)

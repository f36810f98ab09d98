"""Importing 20,000 pre-registered attendees through the console, in real Chromium: the progress
bar moves while it runs (htmx polls the page) and the report lists the rows left out."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from e2e.console import new_organizer, sign_in
from e2e.station import with_db
from events import registry

ROWS = 20_000


def attendee_file(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(["姓名", "手机", "Email"])
        for i in range(ROWS):
            writer.writerow([f"Person <{i}>", f"139{i:08d}", f"p{i}@example.com" if i % 3 else ""])
        writer.writerow(["Again", "139 0000 0007", ""])  # a duplicate of row 7
        writer.writerow(["", "13700000000", ""])  # no name
    return path


def test_import_twenty_thousand_attendees(page: Page, live_server, tmp_path: Path) -> None:
    now = int(time.time())
    event = with_db(
        live_server,
        lambda db: registry.create_event(
            db, name="Import test", venue="Hall", starts_at=now, ends_at=now + 8 * 3600, now=now
        ),
    )
    sign_in(page, live_server, new_organizer(live_server))
    page.goto(f"{live_server.url}/organizer/events/{event.id}")
    page.get_by_role("link", name="Import attendees").click()
    page.get_by_label("CSV file").set_input_files(attendee_file(tmp_path / "attendees.csv"))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("20002 rows to import.")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("0")  # guessed from "姓名"
    expect(page.get_by_label("Phone", exact=True)).to_have_value("1")
    expect(page.get_by_label("Email", exact=True)).to_have_value("2")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-bar")).to_be_attached()
    expect(page.locator("#import-report")).to_be_visible(timeout=120_000)  # the page polled itself to the end
    expect(page.locator("#import-created")).to_have_text("20000 attendees added.")
    expect(page.locator("#import-duplicates")).to_contain_text("1 row was someone already known")
    expect(page.locator("#import-errors")).to_contain_text("20003")
    expect(page.locator("#import-errors")).to_contain_text("Please enter your name.")
    assert page.locator("#import-bar").get_attribute("value") == "20002"
    assert (
        with_db(
            live_server,
            lambda db: db.execute("select count(*) from attendees where event_id = ?", [event.id]).fetchone()[0],
        )
        == ROWS
    )

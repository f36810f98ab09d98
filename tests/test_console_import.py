"""The console's attendee import through the TestClient: upload, mapping, progress, report."""

from __future__ import annotations

import re
import time

from events import audit
from tests.test_console_events import signed_in  # noqa: F401 (fixture)

CSV = "Full name,Mobile,E-mail\nLi <b>Wei</b>,138 0013 8000,li@example.com\nLi again,,LI@example.com\n,13700000000,\nWang,,wang@x.com\n"


def upload(client, event_id: str, data: bytes, name: str = "people.csv"):
    return client.post(f"/organizer/events/{event_id}/import/", files={"file": (name, data, "text/csv")},
                       data={"_csrf_token": client.cookies["csrftoken"]})


def finished(client, url: str) -> str:
    for _ in range(200):
        page = client.get(url).text
        if 'data-running="false"' in page:
            return page
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def test_upload_map_import_and_report(client, db, event, signed_in) -> None:
    assert "Import attendees" in client.get(f"/organizer/events/{event.id}/import").text
    mapping = upload(client, event.id, CSV.encode("utf-8-sig"))
    assert mapping.status_code == 200 and "4 rows to import." in mapping.text
    assert re.search(r'<select id="map-phone" name="phone">.*?<option value="1" selected>Mobile</option>', mapping.text, re.S)
    assert "Li &lt;b&gt;Wei&lt;/b&gt;" in mapping.text  # the preview escapes
    import_id = re.search(r'action="/organizer/events/[^/]+/import/([^"]+)"', mapping.text).group(1)
    started = client.post(f"/organizer/events/{event.id}/import/{import_id}", follow_redirects=False,
                          data={"name": "0", "phone": "1", "email": "2", "_csrf_token": client.cookies["csrftoken"]})
    assert started.status_code == 303
    report = finished(client, started.headers["location"])
    assert "2 attendees added." in report and "1 row was someone already known" in report
    assert re.search(r"<td>4</td><td>Please enter your name.</td>", report)
    assert db["attendees"].count == 2
    assert audit.history(db, event.id)[-1].detail == {"file": "people.csv", "rows": 4, "created": 2, "duplicates": 1, "errors": 1}
    # Starting it again does not import twice.
    client.post(f"/organizer/events/{event.id}/import/{import_id}",
                data={"name": "0", "phone": "1", "email": "2", "_csrf_token": client.cookies["csrftoken"]})
    assert db["attendees"].count == 2


def test_a_file_that_is_not_csv_says_so(client, event, signed_in) -> None:
    response = upload(client, event.id, b"\x89PNG\r\n\x1a\n\x00\x00\x00", name="photo.png")
    assert response.status_code == 422 and "not text" in response.text


def test_the_mapping_needs_a_name_and_a_contact(client, db, event, signed_in) -> None:
    mapping = upload(client, event.id, CSV.encode())
    import_id = re.search(r'action="/organizer/events/[^/]+/import/([^"]+)"', mapping.text).group(1)
    refused = client.post(f"/organizer/events/{event.id}/import/{import_id}",
                          data={"name": "", "phone": "1", "email": "", "_csrf_token": client.cookies["csrftoken"]})
    assert refused.status_code == 422 and "Choose the column with the names" in refused.text
    assert db["attendees"].count == 0


def test_an_unknown_import_is_404_and_upload_needs_csrf(client, event, signed_in) -> None:
    assert client.get(f"/organizer/events/{event.id}/import/nothere").status_code == 404
    response = client.post(f"/organizer/events/{event.id}/import/", files={"file": ("a.csv", CSV.encode(), "text/csv")})
    assert response.status_code == 403


def test_an_import_is_running_from_the_moment_it_is_started(client, db, event, signed_in, monkeypatch) -> None:
    """The progress page asked for right after Start must not find the import not yet begun and
    call it done with 0 added (the task may not have run yet)."""
    import asyncio

    from server.controllers import console_import

    async def not_yet_begun(*_args) -> None:  # a task the event loop has not got to
        await asyncio.sleep(3600)

    monkeypatch.setattr(console_import, "_run", not_yet_begun)
    mapping = upload(client, event.id, CSV.encode("utf-8-sig"))
    import_id = re.search(r'action="/organizer/events/[^/]+/import/([^"]+)"', mapping.text).group(1)
    started = client.post(f"/organizer/events/{event.id}/import/{import_id}", follow_redirects=False,
                          data={"name": "0", "phone": "1", "email": "2", "_csrf_token": client.cookies["csrftoken"]})
    progress = client.get(started.headers["location"]).text
    assert 'data-running="true"' in progress and "attendees added" not in progress


def test_an_import_that_stops_part_way_says_so(client, db, event, signed_in, monkeypatch) -> None:
    """Whatever stops it (a full disk, a bug), the page never shows a part as the whole."""
    from events import imports

    real = imports.run

    def one_batch_then_a_failure(*args, **kwargs):
        batches = real(*args, **kwargs)
        yield next(batches)
        raise OSError("disk full")

    monkeypatch.setattr(imports, "run", one_batch_then_a_failure)
    mapping = upload(client, event.id, CSV.encode("utf-8-sig"))
    import_id = re.search(r'action="/organizer/events/[^/]+/import/([^"]+)"', mapping.text).group(1)
    started = client.post(f"/organizer/events/{event.id}/import/{import_id}", follow_redirects=False,
                          data={"name": "0", "phone": "1", "email": "2", "_csrf_token": client.cookies["csrftoken"]})
    report = finished(client, started.headers["location"])
    assert "The import stopped part way through" in report

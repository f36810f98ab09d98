"""The console's attendee import through the TestClient: upload, mapping, progress, report; the
upload streamed to a private file and its size limit; the job in the database, resumed after a
restart; its audit records."""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path

from litestar.testing import TestClient

from events import audit, imports, registry
from events.db import database_file, open_database
from server.app import create_app
from server.controllers import console_import
from server.controllers.console_import import ImportRunner
from tests.support.clock import NOW

CSV = "Full name,Mobile,E-mail\nLi <b>Wei</b>,138 0013 8000,li@example.com\nLi again,,LI@example.com\n,13700000000,\nWang,,wang@x.com\n"
MAPPING = {"name": "0", "phone": "1", "email": "2"}


def upload(client, event_id: str, data: bytes, name: str = "people.csv"):
    return client.post(
        f"/organizer/events/{event_id}/import/",
        files={"file": (name, data, "text/csv")},
        data={"_csrf_token": client.cookies["csrftoken"]},
    )


def import_id_of(page) -> str:
    return re.search(r'action="/organizer/events/[^/]+/import/([^"]+)"', page.text).group(1)


def start(client, event_id: str, import_id: str, **mapping):
    return client.post(
        f"/organizer/events/{event_id}/import/{import_id}",
        follow_redirects=False,
        data={**(mapping or MAPPING), "_csrf_token": client.cookies["csrftoken"]},
    )


def drained(client) -> None:
    """Wait for the app's import tasks themselves to end, on the app's own event loop (the one
    the TestClient serves requests on): the event, not a poll of the progress page."""
    runner = client.app.state.imports

    async def all_ended() -> None:
        if runner.tasks:
            await asyncio.wait(set(runner.tasks))

    with client.portal() as portal:
        portal.call(all_ended)


def finished(client, url: str) -> str:
    drained(client)
    page = client.get(url).text
    assert 'data-running="false"' in page, "the import's task ended with its job still running"
    return page


def uploads(db) -> list[Path]:
    return sorted(imports.uploads_directory(db).glob("*"))


def many(count: int, start: int = 0) -> bytes:
    return ("Name,Phone\n" + "".join(f"P{i},139{i:08d}\n" for i in range(start, start + count))).encode()


def test_upload_map_import_and_report(client, db, event, signed_in) -> None:
    assert "Import attendees" in client.get(f"/organizer/events/{event.id}/import").text
    mapping = upload(client, event.id, CSV.encode("utf-8-sig"))
    assert mapping.status_code == 200 and "4 rows to import." in mapping.text
    assert re.search(
        r'<select id="map-phone" name="phone">.*?<option value="1" selected>Mobile</option>', mapping.text, re.S
    )
    assert "Li &lt;b&gt;Wei&lt;/b&gt;" in mapping.text  # the preview escapes
    import_id = import_id_of(mapping)
    # The upload waits in a file only the server's user reads, in a directory only it opens.
    directory = imports.uploads_directory(db)
    assert directory == Path(f"{database_file(db)}.imports")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    [stored] = uploads(db)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and stored.read_bytes() == CSV.encode("utf-8-sig")
    assert client.get(f"/organizer/events/{event.id}/import/{import_id}").text.count("4 rows to import.") == 1
    started = start(client, event.id, import_id)
    assert started.status_code == 303
    report = finished(client, started.headers["location"])
    assert "2 attendees added." in report and "1 row was someone already known" in report
    assert re.search(r"<td>4</td><td>Please enter your name.</td>", report)
    assert db["attendees"].count == 2
    assert audit.history(db, event.id)[-1].detail == {
        "outcome": "done",
        "file": "people.csv",
        "rows": 4,
        "rows_done": 4,
        "created": 2,
        "duplicates": 1,
        "errors": 1,
    }
    assert uploads(db) == []  # the report is in the database; the file went when it finished
    # Starting it again does not import twice; the report is still there.
    start(client, event.id, import_id)
    assert db["attendees"].count == 2
    assert "2 attendees added." in client.get(started.headers["location"]).text


def test_a_file_that_is_not_csv_says_so_and_is_not_kept(client, db, event, signed_in) -> None:
    response = upload(client, event.id, b"\x89PNG\r\n\x1a\n\x00\x00\x00", name="photo.png")
    assert response.status_code == 422 and "not text" in response.text
    assert uploads(db) == [] and db["import_jobs"].count == 0


def test_a_file_over_the_limit_is_refused_and_not_kept(client, db, event, signed_in) -> None:
    # Just over the limit: the copy stops there, the import page says why.
    body = many(1) + b"x" * (console_import.MAX_UPLOAD_BYTES + 1 - len(many(1)))
    response = upload(client, event.id, body)
    assert response.status_code == 422 and "larger than 20 MB" in response.text
    assert uploads(db) == [] and db["import_jobs"].count == 0
    # Far over: refused while it arrives (Litestar counts the body's bytes), before the handler.
    response = client.post(
        f"/organizer/events/{event.id}/import/",
        headers={"Accept": "text/html"},
        files={"file": ("big.csv", b"x" * (console_import.MAX_UPLOAD_BYTES + 200_000), "text/csv")},
        data={"_csrf_token": client.cookies["csrftoken"]},
    )
    assert response.status_code == 413 and "larger than 20 MB" in response.text
    assert uploads(db) == [] and db["import_jobs"].count == 0


def test_the_mapping_needs_a_name_and_a_contact(client, db, event, signed_in) -> None:
    import_id = import_id_of(upload(client, event.id, CSV.encode()))
    refused = start(client, event.id, import_id, name="", phone="1", email="")
    assert refused.status_code == 422 and "Choose the column with the names" in refused.text
    assert "Li &lt;b&gt;Wei&lt;/b&gt;" in refused.text  # the preview again, from the file
    assert db["attendees"].count == 0 and imports.get_job(db, import_id).state == imports.UPLOADED


def test_an_unknown_import_is_404_and_upload_needs_csrf(client, event, signed_in) -> None:
    assert client.get(f"/organizer/events/{event.id}/import/nothere").status_code == 404
    response = client.post(f"/organizer/events/{event.id}/import/", files={"file": ("a.csv", CSV.encode(), "text/csv")})
    assert response.status_code == 403


def test_another_events_import_is_404(client, db, event, signed_in) -> None:
    other = registry.create_event(db, name="Other", venue="Hall", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    import_id = import_id_of(upload(client, event.id, CSV.encode()))
    assert client.get(f"/organizer/events/{other.id}/import/{import_id}").status_code == 404


def test_an_import_is_running_from_the_moment_it_is_started(client, db, event, signed_in, monkeypatch) -> None:
    """The progress page asked for right after Start must not find the import not yet begun and
    call it done with 0 added (the runner may not have got to it)."""
    monkeypatch.setattr(ImportRunner, "start", lambda self, job_id, resumed=False: None)
    started = start(client, event.id, import_id_of(upload(client, event.id, CSV.encode("utf-8-sig"))))
    progress = client.get(started.headers["location"]).text
    assert 'data-running="true"' in progress and "attendees added" not in progress


def test_an_import_that_stops_part_way_says_so(client, db, event, signed_in, monkeypatch) -> None:
    """Whatever stops it (a full disk, a bug), the page never shows a part as the whole, and the
    audit log says how far it got."""
    monkeypatch.setattr(imports, "JOB_BATCH", 2)
    monkeypatch.setattr(imports, "IDLE_BATCH", 2)
    real = imports.store_batch
    calls = []

    def one_batch_then_a_failure(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(imports, "store_batch", one_batch_then_a_failure)
    started = start(client, event.id, import_id_of(upload(client, event.id, CSV.encode("utf-8-sig"))))
    report = finished(client, started.headers["location"])
    assert "The import stopped part way through" in report and "2 of 4 rows" in report
    assert db["attendees"].count == 1
    assert audit.history(db, event.id)[-1].detail == {
        "outcome": "partial",
        "reason": "stopped",
        "file": "people.csv",
        "rows": 4,
        "rows_done": 2,
        "created": 1,
        "duplicates": 1,
        "errors": 0,
    }
    assert uploads(db) == []


def test_a_file_that_goes_missing_fails_the_import_with_a_record(client, db, event, signed_in, monkeypatch) -> None:
    monkeypatch.setattr(ImportRunner, "start", lambda self, job_id, resumed=False: None)
    import_id = import_id_of(upload(client, event.id, CSV.encode()))
    start(client, event.id, import_id)
    Path(imports.get_job(db, import_id).path).unlink()
    *_, job = imports.run_job(db, import_id)
    assert (job.state, job.failure, job.rows_done) == (imports.FAILED, "stopped", 0)
    assert audit.history(db, event.id)[-1].detail["outcome"] == "failed"


def test_a_restarted_server_resumes_the_import_and_imports_every_row_once(
    client, db, event, signed_in, monkeypatch, clock
) -> None:
    """A server killed part way (here: the job left running after its first committed batch,
    as a SIGKILL leaves it) resumes it at its next start, from that batch on."""
    monkeypatch.setattr(imports, "JOB_BATCH", 7)
    monkeypatch.setattr(ImportRunner, "start", lambda self, job_id, resumed=False: None)
    data = many(40) + b"Again,139 0000 0003\n"  # a duplicate of a row before the kill
    import_id = import_id_of(upload(client, event.id, data))
    start(client, event.id, import_id)
    batches = imports.run_job(db, import_id)
    assert next(batches).rows_done == 7
    batches.close()  # the process dies here: nothing more
    assert imports.get_job(db, import_id).state == imports.RUNNING and db["attendees"].count == 7
    monkeypatch.undo()
    monkeypatch.setattr(imports, "JOB_BATCH", 7)
    monkeypatch.setattr(imports, "IDLE_BATCH", 7)
    # The restart: a new app on the same database file; its start takes the job up.
    with TestClient(create_app(database_file(db), clock=clock)) as restarted:
        drained(restarted)
        job = imports.get_job(db, import_id)
    assert (job.state, job.rows_done, job.created, job.duplicates) == (imports.DONE, 41, 40, 1)
    assert db["attendees"].count == 40
    web_ops = db.execute(
        "select count(*), count(distinct subject) from ops where kind = 'register' and device_id like 'web%'"
    ).fetchone()
    assert tuple(web_ops) == (40, 40)
    names = [row[0] for row in db.execute("select name from attendees")]
    assert len(names) == len(set(names)) == 40
    outcomes = [
        (a.detail["outcome"], a.detail["rows_done"])
        for a in audit.history(db, event.id)
        if a.action == "attendees.import"
    ]
    assert outcomes == [("interrupted", 7), ("done", 41)]
    assert uploads(db) == []


def test_old_uploads_and_reports_are_swept(client, db, event, signed_in, clock) -> None:
    never_started = import_id_of(upload(client, event.id, CSV.encode()))
    done = import_id_of(upload(client, event.id, CSV.encode()))
    finished(client, start(client, event.id, done).headers["location"])
    assert len(uploads(db)) == 1 and db["import_job_lines"].count == 2
    assert imports.sweep(db, now=NOW + imports.KEEP_UPLOADED_S + 1) == 1
    assert imports.get_job(db, never_started) is None and uploads(db) == []
    assert imports.sweep(db, now=NOW + imports.KEEP_FINISHED_S + 1) == 1
    assert imports.get_job(db, done) is None and db["import_job_lines"].count == 0
    assert audit.history(db, event.id)[-1].detail["outcome"] == "done"  # the audit record stays


def test_a_database_in_memory_runs_its_imports_on_the_loop(tmp_path) -> None:
    db = open_database(":memory:")
    event = registry.create_event(db, name="Mem", venue="Hall", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    source = tmp_path / "people.csv"
    source.write_bytes(many(30))
    with source.open("rb") as upload_file:
        path, size = imports.store_upload(upload_file, imports.uploads_directory(db), limit=1 << 20)
    job = imports.create_job(
        db,
        event_id=event.id,
        organizer_id="",
        filename="people.csv",
        path=path,
        size=size,
        layout=imports.inspect_file(path),
        now=NOW,
    )
    assert imports.start_job(db, job.id, {"name": 0, "phone": 1, "email": None}, now_ms=NOW * 1000)

    async def run() -> None:
        runner = ImportRunner(db, lambda: NOW)
        runner.start(job.id)
        await asyncio.gather(*runner.tasks)

    asyncio.run(run())
    assert imports.get_job(db, job.id).state == imports.DONE and db["attendees"].count == 30
    assert not os.path.exists(path)


def test_the_import_slows_for_other_requests_not_for_its_own_progress_page(client, db, event, signed_in) -> None:
    runner = client.app.state.imports
    before = runner.started
    client.get(f"/organizer/events/{event.id}/import/")  # the organizer watching the import
    client.get(f"/organizer/events/{event.id}/import/nosuchjob")
    assert runner.started == before
    client.get("/healthz")  # anyone else: a tablet, a sign-up, a monitor
    client.get(f"/organizer/events/{event.id}")
    assert runner.started == before + 2

"""Importing pre-registered attendees from CSV: reading, column guessing, de-duplication, reports."""

from __future__ import annotations

import pytest

from events import imports, signup, sync
from tests.support.clock import NOW
from tests.support.tablet import enroll

NOW_MS = NOW * 1000
CSV = "Name,Mobile,Email\nLi Wei,138 0013 8000,li@example.com\nWang Fang,,wang@example.com\n"


def run_all(db, event, data: bytes, mapping=None) -> imports.Report:
    table = imports.read_csv(data)
    *_, report = imports.run(db, event.id, table, mapping or imports.guess_mapping(table.headers), now_ms=NOW_MS)
    return report


@pytest.mark.parametrize(
    "data",
    [
        CSV.encode(),
        CSV.encode("utf-8-sig"),
        CSV.replace(",", ";").encode(),
        CSV.replace(",", "\t").encode(),
        CSV.replace("\n", "\r\n").encode(),
    ],
)
def test_the_usual_encodings_and_separators_read_alike(data) -> None:
    table = imports.read_csv(data)
    assert table.headers == ["Name", "Mobile", "Email"] and table.rows[0] == [
        "Li Wei",
        "138 0013 8000",
        "li@example.com",
    ]


def test_a_chinese_excel_export_in_gb18030() -> None:
    table = imports.read_csv("姓名,手机号,邮箱\n李伟,13800138000,li@example.com\n".encode("gb18030"))
    assert table.rows == [["李伟", "13800138000", "li@example.com"]]
    assert imports.guess_mapping(table.headers) == {"name": 0, "phone": 1, "email": 2}


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"Name,Phone\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not_text"),
        (("Name\n" + "x\n" * (imports.MAX_ROWS + 1)).encode(), "too_many_rows"),
    ],
)
def test_files_that_cannot_be_imported(data, reason) -> None:
    with pytest.raises(imports.ImportRefused) as refused:
        imports.read_csv(data)
    assert refused.value.reason == reason


def test_headers_are_guessed_in_either_language() -> None:
    assert imports.guess_mapping(["Full name", "Phone number", "E-mail address"]) == {"name": 0, "phone": 1, "email": 2}
    assert imports.guess_mapping(["联系电话", "称呼", "备注"]) == {"name": 1, "phone": 0, "email": None}


def test_import_creates_attendees_and_reports_duplicates_and_bad_rows(db, event) -> None:
    existing = signup.sign_up(db, event.id, signup.Applicant("Zhao", "139 0000 0000", "", True), now_ms=NOW_MS)
    data = (
        b"Name,Phone,Email\n"
        b"Li <b>Wei</b>,138 0013 8000,li@example.com\n"  # line 2: new
        b"Li Wei again,,LI@example.com\n"  # line 3: same email as line 2
        b"Zhao,13900000000,\n"  # line 4: signed up online already
        b",13700000000,\n"  # line 5: no name
        b"Nobody,,\n"  # line 6: no contact
        b"Bad phone,call me,\n"  # line 7
        b"Short,1,2,3,4\n"  # line 8: extra columns, bad phone
        b"Wang Fang,,wang@example.com\n"  # line 9: new
    )
    report = run_all(db, event, data)
    assert (report.total, report.done, report.created) == (8, 8, 2)
    li = signup.find_attendee(db, event.id, email="li@example.com")
    assert report.duplicates == [(3, li), (4, existing.attendee_id)]
    assert report.errors == [
        (5, "name_missing", "name"),
        (6, "contact_missing", "phone"),
        (7, "phone_invalid", "phone"),
        (8, "phone_invalid", "phone"),
    ]
    assert db["attendees"].get(li)["name"] == "Li <b>Wei</b>"  # kept as typed; pages escape it
    assert db["attendees"].count == 3


def test_importing_the_same_file_twice_adds_no_one(db, event) -> None:
    assert run_all(db, event, CSV.encode()).created == 2
    again = run_all(db, event, CSV.encode())
    assert again.created == 0 and len(again.duplicates) == 2 and db["attendees"].count == 2


def test_duplicates_across_batches(db, event, monkeypatch) -> None:
    monkeypatch.setattr(imports, "BATCH", 2)
    data = b"Name,Phone\nA,13800000001\nB,13800000002\nC,13800000001\nD,13800000002\nE,13800000003\n"
    report = run_all(db, event, data)
    assert report.created == 3 and [line for line, _ in report.duplicates] == [4, 5]
    assert all(attendee for _, attendee in report.duplicates)


def test_the_progress_is_reported_per_batch(db, event, monkeypatch) -> None:
    monkeypatch.setattr(imports, "BATCH", 2)
    table = imports.read_csv(("Name,Phone\n" + "".join(f"P{i},1380000{i:04d}\n" for i in range(5))).encode())
    done = [
        report.done for report in imports.run(db, event.id, table, imports.guess_mapping(table.headers), now_ms=NOW_MS)
    ]
    assert done == [2, 4, 5]


def test_a_mapping_without_name_or_contact_is_refused(db, event) -> None:
    table = imports.read_csv(CSV.encode())
    with pytest.raises(imports.ImportRefused, match="mapping_incomplete"):
        list(imports.run(db, event.id, table, {"name": None, "phone": 1, "email": 2}, now_ms=NOW_MS))
    with pytest.raises(imports.ImportRefused, match="mapping_incomplete"):
        list(imports.run(db, event.id, table, {"name": 0, "phone": None, "email": None}, now_ms=NOW_MS))


def test_tablets_pull_imported_attendees_with_their_passes(db, event) -> None:
    tablet = enroll(db, event.id, "Door", now=NOW)
    run_all(db, event, CSV.encode())
    pulled = sync.pull(db, tablet.device_id, after=0, now_ms=NOW_MS).ops
    assert [op["kind"] for op in pulled] == ["register", "register"]
    assert {op["clerk"] for op in pulled} == {"import"}
    assert b"li@example.com" not in b"".join(bytes(op["data"]) for op in pulled)  # no emails to tablets

"""The post-event report against a hand-computed event, its CSV exports, and its page."""

from __future__ import annotations

import csv
import io
import re

import pytest

from events import conflicts, figures, registry, report
from server import csv_export
from tests.support import scenarios
from tests.support.clock import NOW
from tests.support.scenarios import MIN, MS


@pytest.fixture
def shanghai(db) -> registry.Event:
    return scenarios.shanghai(db)


@pytest.fixture
def scenario(db, shanghai):
    return scenarios.report_day(db, shanghai)


def test_attendance_after_de_duplication(db, shanghai, scenario) -> None:
    assert report.build(db, shanghai.id).attendance == report.Attendance(
        registrations=6,
        unique=5,
        signed_up=3,
        walk_ins=2,
        checked_in=3,
        signed_up_checked_in=2,
        walk_ins_checked_in=1,
    )


def test_voucher_conversion_overall_and_per_campaign(db, shanghai, scenario) -> None:
    built = report.build(db, shanghai.id)
    assert built.overall == report.Conversion(
        None, "", vouchers_issued=5, vouchers_redeemed=3, holders=4, holders_checked_in=3
    )
    assert built.overall.came_in.percent == 75.0 and built.overall.redeemed.percent == 60.0
    tote, coffee = built.campaigns
    assert tote == report.Conversion(
        1, "Tote <b>bag</b>", vouchers_issued=3, vouchers_redeemed=1, holders=3, holders_checked_in=2
    )
    assert coffee == report.Conversion(
        2, "Coffee", vouchers_issued=2, vouchers_redeemed=2, holders=2, holders_checked_in=2
    )
    assert round(tote.came_in.percent, 1) == 66.7 and round(tote.redeemed.percent, 1) == 33.3
    assert coffee.came_in.percent == 100.0


def test_arrivals_and_redemptions_per_quarter_hour(db, shanghai, scenario) -> None:
    built = report.build(db, shanghai.id)
    assert [(b.start - NOW, b.arrivals, b.redemptions) for b in built.quarter_hours] == [
        (0, 1, 1),
        (900, 1, 1),
        (1800, 1, 0),
        (2700, 0, 1),
    ]
    assert built.peak.start == NOW  # ties go to the earliest quarter


def test_per_tablet_and_per_clerk(db, shanghai, scenario) -> None:
    built = report.build(db, shanghai.id)
    counts = lambda t: (t.name, t.web, t.checkins, t.vouchers_issued, t.redemptions_accepted, t.redemptions_refused)  # noqa: E731
    assert [counts(t) for t in built.tablets] == [
        ("Ann", False, 3, 1, 1, 1),
        ("Bo", False, 2, 1, 2, 0),
        ("Online sign-up", True, 0, 3, 0, 0),
    ]
    assert [counts(t) for t in built.clerks] == [("Ann", False, 3, 1, 2, 1), ("Bo", False, 2, 1, 1, 0)]
    assert (built.conflicts_open, built.conflicts_resolved) == (1, 0)  # the shared phone


def test_a_dismissed_duplicate_counts_as_two_people(db, shanghai, scenario) -> None:
    (duplicate,) = conflicts.list_conflicts(db, shanghai.id, status="open")
    assert duplicate.kind == "possible_duplicate"
    conflicts.resolve(
        db, duplicate.id, decided_by="Mei", decision="dismiss", note="father and son", now_ms=MS + 60 * MIN
    )
    built = report.build(db, shanghai.id)
    # "Wei Li" is now a walk-in of his own, who arrived at +20 (bucket 18:15).
    assert built.attendance == report.Attendance(
        registrations=6,
        unique=6,
        signed_up=3,
        walk_ins=3,
        checked_in=4,
        signed_up_checked_in=2,
        walk_ins_checked_in=2,
    )
    assert [b.arrivals for b in built.quarter_hours] == [1, 2, 1, 0]
    assert (built.conflicts_open, built.conflicts_resolved) == (0, 1)


def test_an_empty_event(db, shanghai) -> None:
    built = report.build(db, shanghai.id)
    assert built.attendance == report.Attendance(0, 0, 0, 0, 0, 0, 0)
    assert built.overall.came_in.percent is None and built.quarter_hours == [] and built.peak is None


# --- CSV exports ---------------------------------------------------------------------------------


def rows(db, event_id: str, name: str) -> list[dict]:
    data = b"".join(csv_export.csv_chunks(*report.export(db, event_id, name), rows_per_chunk=2))
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_attendees_export(db, shanghai, scenario) -> None:
    people = {row["name"]: row for row in rows(db, shanghai.id, "attendees")}
    assert list(people) == ["Li Wei", "<b>Chen</b>", "Zhao Liu", "Wei Li", "王小明", "'=SUM(A1)"]
    li, wei = people["Li Wei"], people["Wei Li"]
    assert (li["phone"], li["source"], li["registered_on"], li["vouchers_held"]) == (
        "'+86 138 0000 1111",
        "online",
        "Online sign-up",
        "2",
    )
    assert li["registered_at"] == "2026-01-01T17:30:00+08:00" and li["checked_in_at"] == "2026-01-01T18:02:00+08:00"
    assert (
        wei["person_id"] == li["person_id"] == scenario["li"]
        and wei["source"] == "tablet"
        and wei["registered_on"] == "Bo"
    )
    assert people["<b>Chen</b>"]["email"] == "chen@example.com"
    assert (
        people["王小明"]["checked_in_at"] == "2026-01-01T18:35:00+08:00" and people["Zhao Liu"]["checked_in_at"] == ""
    )


def test_the_checkins_export_marks_arrivals(db, shanghai, scenario) -> None:
    got = [
        (r["name"], r["checked_in_at"][11:16], r["tablet"], r["clerk"], r["arrival"])
        for r in rows(db, shanghai.id, "checkins")
    ]
    assert got == [
        ("Li Wei", "18:02", "Ann", "Ann", "yes"),
        ("<b>Chen</b>", "18:16", "Ann", "Ann", "yes"),
        ("Wei Li", "18:20", "Bo", "Bo", "no"),
        ("王小明", "18:35", "Bo", "Bo", "yes"),
        ("王小明", "18:40", "Ann", "Ann", "no"),
    ]


def test_the_vouchers_and_redemptions_exports(db, shanghai, scenario) -> None:
    vouchers = rows(db, shanghai.id, "vouchers")
    assert sorted((v["campaign_title"], v["issued_on"], v["uses"], v["status"]) for v in vouchers) == [
        ("Coffee", "Ann", "1", "redeemed"),
        ("Coffee", "Bo", "1", "redeemed"),
        ("Tote <b>bag</b>", "Online sign-up", "0", "unused"),
        ("Tote <b>bag</b>", "Online sign-up", "0", "unused"),
        ("Tote <b>bag</b>", "Online sign-up", "1", "redeemed"),
    ]
    got = [
        (r["redeemed_at"][11:16], r["tablet"], r["clerk"], r["outcome"], r["undone"])
        for r in rows(db, shanghai.id, "redemptions")
    ]
    assert got == [
        ("18:05", "Ann", "Ann", "accepted", "no"),
        ("18:18", "Bo", "Bo", "accepted", "yes"),
        ("18:21", "Bo", "Bo", "accepted", "no"),
        ("18:38", "Ann", "Ann", "refused", "no"),
        ("18:46", "Bo", "Ann", "accepted", "no"),
    ]


def test_no_export_but_attendees_carries_contact_details_or_token_texts(db, shanghai, scenario) -> None:
    texts = [row["text"] for row in db.query("select text from tokens")]
    for name in report.EXPORTS:
        data = b"".join(csv_export.csv_chunks(*report.export(db, shanghai.id, name))).decode("utf-8-sig")
        assert not any(text in data for text in texts), name
        if name != "attendees":
            # Not even a phone's last four digits, but a random hex id (op…, at…) may hold "1111": not those.
            words = re.sub(r"\b[a-z]{2}[0-9a-f]{16}\b", "", data)
            for contact in ("1111", "chen@example.com", "13900002222", "sum@example.com"):
                assert contact not in words, (name, contact)
    (conflict,) = rows(db, shanghai.id, "conflicts")
    assert (conflict["kind"], conflict["status"]) == ("possible_duplicate", "open")
    assert conflict["subject"] == " ".join(sorted([scenario["li"], scenario["wei"]]))


@pytest.mark.parametrize(
    "cell, written",
    [
        ("=1+1", "'=1+1"),
        ("+86 1", "'+86 1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Li =1", "Li =1"),
        ("", ""),
        (-2, -2),
        (None, None),
    ],
)
def test_the_formula_guard(cell, written) -> None:
    assert csv_export.safe_cell(cell) == written


def test_an_unknown_export_is_refused(db, shanghai) -> None:
    with pytest.raises(LookupError):
        report.export(db, shanghai.id, "passwords")


# --- the page and the downloads ---------------------------------------------------------------


def test_the_report_page(client, db, shanghai, scenario, signed_in) -> None:
    response = client.get(f"/organizer/events/{shanghai.id}/report")
    assert response.status_code == 200 and "<html" in response.text
    text = " ".join(response.text.split())
    assert '<span class="number">5</span> <span class="label">unique attendees</span>' in text
    assert '<span class="number">75.0%</span> <span class="label">of voucher holders came in</span>' in text
    assert '<span class="number">60.0%</span>' in text
    assert "Tote &lt;b&gt;bag&lt;/b&gt;" in text and "<b>bag</b>" not in text
    assert "Spring &lt;i&gt;pop-up&lt;/i&gt;" in text
    assert '<strong class="came-in">66.7%</strong>' in text and '<strong class="came-in">100.0%</strong>' in text
    # The chart covers the event's nine hours (17:00 to 02:00 in Shanghai) in 36 quarter hours,
    # labelled in Shanghai time, the bars where people came.
    assert text.count('class="chart-bar arrivals"') == 36 and text.count('class="chart-bar redemptions"') == 36
    assert "per 15 minutes" in text
    assert (
        'role="img"' in text
        and '<title id="report-chart-title">Arrivals and redemptions over the event\'s hours</title>' in text
    )
    assert "5:00 PM" in text and "6:00 PM" in text and "1:00 AM" in text
    assert report.build(db, shanghai.id).chart[4:8] == [
        figures.Bin(NOW + i * 900, 900, arrivals, redemptions)
        for i, (arrivals, redemptions) in enumerate([(1, 1), (1, 1), (1, 0), (0, 1)])
    ]
    assert "style=" not in response.text
    assert '<link rel="stylesheet" href="/static/css/report.css">' in text
    for name in report.EXPORTS:
        assert f'href="/organizer/events/{shanghai.id}/report/{name}.csv"' in text


def test_the_report_page_for_htmx_is_the_fragment(client, db, shanghai, scenario, signed_in) -> None:
    response = client.get(f"/organizer/events/{shanghai.id}/report", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text and 'id="report"' in response.text
    assert "HX-Request" in response.headers["vary"]


def test_the_report_speaks_chinese(client, db, shanghai, scenario, signed_in) -> None:
    text = client.get(f"/organizer/events/{shanghai.id}/report", headers={"Accept-Language": "zh-CN"}).text
    assert '<html lang="zh-CN">' in text and "平板" in text
    assert "18:00" in text  # times of day in the Chinese way, in Shanghai


def test_a_csv_download(client, db, shanghai, scenario, signed_in) -> None:
    response = client.get(f"/organizer/events/{shanghai.id}/report/attendees.csv")
    assert response.status_code == 200
    assert (
        response.headers["content-type"].startswith("text/csv") and "charset=utf-8" in response.headers["content-type"]
    )
    assert response.headers["content-disposition"] == f'attachment; filename="poppass-{shanghai.id}-attendees.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    names = [row["name"] for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))]
    assert "王小明" in names and "<b>Chen</b>" in names and "'=SUM(A1)" in names


@pytest.mark.parametrize("path", ["passwords.csv", "attendees", "attendees.json", "..%2Fattendees.csv"])
def test_an_unknown_export_is_404(client, db, shanghai, signed_in, path) -> None:
    assert client.get(f"/organizer/events/{shanghai.id}/report/{path}").status_code == 404


def test_an_unknown_event_has_no_report(client, db, signed_in) -> None:
    assert client.get("/organizer/events/evnothere/report").status_code == 404
    assert client.get("/organizer/events/evnothere/report/attendees.csv").status_code == 404


def test_the_report_needs_an_organizer(client, db, shanghai) -> None:
    response = client.get(f"/organizer/events/{shanghai.id}/report/attendees.csv", follow_redirects=False)
    assert response.status_code in (302, 303, 401, 403)
    assert "attendee_id" not in response.text

"""The console's tablets: a one-time enrollment code and its QR, the device list, revocation."""

from __future__ import annotations

import re

from events import audit, registry
from tests.support.clock import NOW
from tests.support.device_api import pull
from tests.support.tablet import Tablet


def make_code(client, event_id: str, name: str = "Front desk", minutes: str = "60"):
    return client.post(
        f"/organizer/events/{event_id}/tablets/",
        data={"name": name, "minutes": minutes, "_csrf_token": client.cookies["csrftoken"]},
    )


def enroll_with(client, event, code: str) -> Tablet:
    tablet = Tablet(event.id)
    response = client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": tablet.public_key})
    assert response.status_code == 201, response.text
    return tablet.enrolled(response.json())


def test_a_code_enrolls_a_tablet_once_and_the_list_shows_it(client, db, event, signed_in) -> None:
    page = make_code(client, event.id, name="Front <b>desk</b>")
    assert page.status_code == 200
    code = re.search(r'id="enrollment-code">([A-Z0-9-]+)<', page.text).group(1)
    assert f'data-url="http://testserver.local/station?code={code}"' in page.text and "<svg" in page.text
    assert "Front &lt;b&gt;desk&lt;/b&gt;" in page.text
    tablet = enroll_with(client, event, code)
    again = client.post("/api/v1/enroll", json={"protocol": 1, "code": code, "public_key": Tablet(event.id).public_key})
    assert again.status_code == 403 and again.json()["error"] == "code_used"
    pull(client, tablet, sent_at_ms=NOW * 1000 - 3000)
    listing = client.get(f"/organizer/events/{event.id}/tablets").text
    row = re.search(rf'<tr id="tablet-{tablet.device_id}" data-state="online">.*?</tr>', listing, re.S).group(0)
    assert "+3.0 s" in row and "Front &lt;b&gt;desk&lt;/b&gt;" in row
    assert [a.action for a in audit.history(db, event.id)] == ["tablet.code"]


def test_refused_code_requests(client, event, signed_in) -> None:
    assert make_code(client, event.id, name=" ").status_code == 422
    assert make_code(client, event.id, minutes="99999").status_code == 422
    assert make_code(client, "evnothere").status_code == 404


def test_revoke_from_the_console_then_the_tablet_is_told_to_wipe(client, db, event, signed_in) -> None:
    code = re.search(r'id="enrollment-code">([A-Z0-9-]+)<', make_code(client, event.id).text).group(1)
    tablet = enroll_with(client, event, code)
    revoke = f"/organizer/events/{event.id}/tablets/{tablet.device_id}/revoke"
    # The list's Revoke is a link to a confirmation, not the revocation itself.
    listing = client.get(f"/organizer/events/{event.id}/tablets").text
    assert f'href="{revoke}"' in listing and f'action="{revoke}"' not in listing
    confirmation = client.get(revoke)
    assert confirmation.status_code == 200 and 'id="revoke-confirm"' in confirmation.text
    assert 'name="confirm" value="yes"' in confirmation.text and "cannot be undone" in confirmation.text
    # A post without the confirmation's answer only asks again.
    unconfirmed = client.post(revoke, data={"_csrf_token": client.cookies["csrftoken"]}, follow_redirects=False)
    assert unconfirmed.status_code == 200 and 'id="revoke-confirm"' in unconfirmed.text
    assert pull(client, tablet).status_code == 200
    response = client.post(
        revoke, data={"confirm": "yes", "_csrf_token": client.cookies["csrftoken"]}, follow_redirects=False
    )
    assert response.status_code == 303
    refused = pull(client, tablet)
    assert refused.status_code == 403 and refused.json() == {"error": "device_revoked", "wipe": True}
    assert 'data-state="revoked"' in client.get(f"/organizer/events/{event.id}/tablets").text
    assert audit.history(db, event.id)[-1].action == "tablet.revoke"
    # Revoked, there is nothing left to confirm.
    assert client.get(revoke, follow_redirects=False).status_code == 303
    # Another event's tablet cannot be revoked from this one, nor its confirmation shown.
    other = registry.create_event(db, name="Other", venue="", starts_at=NOW, ends_at=NOW + 3600, now=NOW)
    assert (
        client.post(
            f"/organizer/events/{other.id}/tablets/{tablet.device_id}/revoke",
            data={"confirm": "yes", "_csrf_token": client.cookies["csrftoken"]},
        ).status_code
        == 404
    )
    assert client.get(f"/organizer/events/{other.id}/tablets/{tablet.device_id}/revoke").status_code == 404


def test_the_revoke_confirmation_is_a_fragment_for_htmx_and_names_waiting_actions(client, db, event, signed_in) -> None:
    code = re.search(r'id="enrollment-code">([A-Z0-9-]+)<', make_code(client, event.id).text).group(1)
    tablet = enroll_with(client, event, code)
    db.execute("update devices set pending = 3 where id = ?", [tablet.device_id])
    answer = client.get(
        f"/organizer/events/{event.id}/tablets/{tablet.device_id}/revoke", headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200 and "<html" not in answer.text
    assert "3 actions waiting to sync" in answer.text


def test_the_enrollment_card_prints_the_stations_address(client, event, signed_in) -> None:
    page = make_code(client, event.id).text
    assert 'id="enrollment-url" href="http://testserver.local/station">http://testserver.local/station</a>' in page


def test_revoking_needs_csrf(client, event, signed_in) -> None:
    assert client.post(f"/organizer/events/{event.id}/tablets/dvnothere/revoke").status_code == 403


def test_the_list_names_the_clerk_on_shift_before_they_recorded_anything(client, db, event, signed_in) -> None:
    code = re.search(r'id="enrollment-code">([A-Z0-9-]+)<', make_code(client, event.id).text).group(1)
    tablet = enroll_with(client, event, code)
    listing = client.get(f"/organizer/events/{event.id}/tablets").text
    row = re.search(rf'<tr id="tablet-{tablet.device_id}".*?</tr>', listing, re.S).group(0)
    assert "<td>—</td>" in row  # nobody said yet
    assert pull(client, tablet, sent_at_ms=NOW * 1000, clerk=" Chen <b>Jing</b> ").status_code == 200
    listing = client.get(f"/organizer/events/{event.id}/tablets").text
    row = re.search(rf'<tr id="tablet-{tablet.device_id}".*?</tr>', listing, re.S).group(0)
    assert "<td>Chen &lt;b&gt;Jing&lt;/b&gt;</td>" in row
    assert "Chen &lt;b&gt;Jing&lt;/b&gt;" in client.get(f"/organizer/events/{event.id}").text  # and the dashboard
    # A pull without a clerk keeps the one last said; one too long is refused, nothing changed.
    assert pull(client, tablet, sent_at_ms=NOW * 1000).status_code == 200
    too_long = pull(client, tablet, clerk="x" * 81)
    assert too_long.status_code == 400 and too_long.json()["where"] == "?clerk"
    assert db["devices"].get(tablet.device_id)["clerk"] == "Chen <b>Jing</b>"

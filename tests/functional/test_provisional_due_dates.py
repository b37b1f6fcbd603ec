"""A receipt due date past the end of the official holiday schedule is computed from the
statutory-holiday estimate and shown as provisional, on the page, the phone page and the API."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests.conftest import api_token, login
from tests.unit.reconciliation.conftest import Journey

# Monday 28 December 2026, 10:00 China time.
LATE_DECEMBER = datetime(2026, 12, 28, 2, 0, tzinfo=UTC)


def test_due_date_over_new_year_is_provisional_everywhere(client, session, demo):
    j = Journey(session, demo, LATE_DECEMBER).pickup(LATE_DECEMBER).deliver(LATE_DECEMBER)
    session.commit()
    manifest = j.manifest
    assert (manifest.receipt_due_date, manifest.receipt_due_exact) == (date(2027, 1, 5), False)

    headers = api_token(client, "producer@demo.test")
    data = client.get(f"/api/v1/manifests/{manifest.id}", headers=headers).get_json()["data"]
    assert data["receipt_due_date"] == "2027-01-05"
    assert data["receipt_due_provisional"] is True

    login(client, "producer@demo.test")
    page = client.get(f"/manifests/{manifest.id}").get_data(as_text=True)
    assert "2027-01-05" in page and "暂定：次年节假日安排尚未公布" in page


def test_due_date_inside_the_official_schedule_is_not_provisional(client, session, demo, now):
    j = Journey(session, demo, now).pickup(now).deliver(now)
    session.commit()
    assert j.manifest.receipt_due_exact is True
    headers = api_token(client, "producer@demo.test")
    data = client.get(f"/api/v1/manifests/{j.manifest.id}", headers=headers).get_json()["data"]
    assert data["receipt_due_provisional"] is False
    login(client, "producer@demo.test")
    assert "暂定" not in client.get(f"/manifests/{j.manifest.id}").get_data(as_text=True)

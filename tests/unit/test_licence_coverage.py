"""licence_covers: by exact code and by HW category, on the first and last valid day, never
outside the validity or after revocation; plate format."""

from datetime import date, timedelta

import pytest

from hazwaste.permits import services
from hazwaste.permits.services import is_valid_plate, licence_covers


def test_coverage_by_category_and_by_code(session, demo):
    receiver, incinerator = demo.orgs["receiver"], demo.orgs["receiver2"]
    day = date(2026, 6, 1)
    assert licence_covers(session, receiver, "900-249-08", day)  # HW08 category
    assert not licence_covers(session, receiver, "841-001-01", day)  # HW01 excluded
    assert licence_covers(session, incinerator.id, "261-084-45", day)  # single code in scope
    assert not licence_covers(session, incinerator.id, "261-085-45", day)  # HW45 not in scope


def test_validity_bounds_and_revocation(session, now, demo):
    licence = demo.extra["licence"]  # 2023-01-01 .. 2027-12-31
    receiver = demo.orgs["receiver"]
    assert licence_covers(session, receiver, "900-249-08", date(2023, 1, 1))
    assert licence_covers(session, receiver, "900-249-08", date(2027, 12, 31))
    assert not licence_covers(session, receiver, "900-249-08", date(2022, 12, 31))
    assert not licence_covers(session, receiver, "900-249-08", date(2028, 1, 1))
    services.revoke_licence(session, now, demo.users["receiver"], licence.id)
    assert not licence_covers(session, receiver, "900-249-08", date(2026, 6, 1))


def test_expiring_licence_of_the_demo(session, now, demo):
    incinerator = demo.orgs["receiver2"]
    last_day = now.date() + timedelta(days=25)
    assert licence_covers(session, incinerator, "841-001-01", last_day)
    assert not licence_covers(session, incinerator, "841-001-01", last_day + timedelta(days=1))


@pytest.mark.parametrize(
    "plate", ["蒙K5B120", "蒙KD26318", "京A12345", "蒙K1234挂", "粤B·12345", "蒙k5b120"]
)
def test_valid_plates(plate):
    assert is_valid_plate(plate)


@pytest.mark.parametrize("plate", ["蒙I12345", "AB12345", "蒙K123", "X蒙12345", "蒙K1234567"])
def test_invalid_plates(plate):
    assert not is_valid_plate(plate)

"""Permit pages: who may see and change what, forms that keep the input and change nothing on
error, successful changes with their audit entries, and the licence-coverage check."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hazwaste.audit import services as audit
from hazwaste.audit.models import AuditEntry
from hazwaste.db import utcnow
from hazwaste.permits import services
from hazwaste.permits.models import CarrierPermit, Driver, Licence, Vehicle
from tests import factories
from tests.conftest import login

EN = {"Accept-Language": "en"}

RECEIVER_PAGES = ["/permits/licences", "/permits/licences/{licence}"]
CARRIER_PAGES = ["/permits/carrier-permits", "/permits/vehicles", "/permits/drivers"]


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def actions(session, object_type, object_id):
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id))
            .order_by(AuditEntry.id)
        )
    )


def urls(pages, demo):
    return [p.format(licence=demo.extra["licence"].id) for p in pages]


def page(response):
    return response.get_data(as_text=True)


@pytest.fixture()
def receiver_member(session, now, demo):
    return factories.org_user(session, now, demo.users["receiver"], "member")


def login_as(client, session, user):
    login(client, user.email, factories.PASSWORD)


# -- who sees what ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client, demo):
    for url in [*urls(RECEIVER_PAGES, demo), *CARRIER_PAGES, "/permits/check"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url
    response = client.post("/permits/licences", data={"number": "X"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    ("email", "receiver_pages", "carrier_pages", "check"),
    [
        ("receiver@demo.test", 200, 403, 200),
        ("carrier@demo.test", 403, 200, 200),
        ("driver@demo.test", 403, 200, 200),  # drivers of the carrier may look
        ("producer@demo.test", 403, 403, 200),
        ("producer-staff@demo.test", 403, 403, 200),
        ("regulator@demo.test", 403, 403, 200),
        ("admin@demo.test", 403, 403, 403),  # the platform admin runs no enterprise
        ("pending@demo.test", 403, 403, 403),
    ],
)
def test_pages_by_role(client, demo, email, receiver_pages, carrier_pages, check):
    login(client, email)
    for url in urls(RECEIVER_PAGES, demo):
        assert client.get(url, headers=EN).status_code == receiver_pages, url
    for url in CARRIER_PAGES:
        assert client.get(url, headers=EN).status_code == carrier_pages, url
    assert client.get("/permits/check", headers=EN).status_code == check


def test_another_receivers_licence_is_not_found(client, demo):
    login(client, "receiver2@demo.test")
    licence = demo.extra["licence"]
    assert client.get(f"/permits/licences/{licence.id}", headers=EN).status_code == 404
    response = client.post(f"/permits/licences/{licence.id}/revoke", data={"confirm": "1"})
    assert response.status_code == 404
    assert licence.revoked_at is None
    assert client.get("/permits/licences/999999", headers=EN).status_code == 404


def test_owner_admin_sees_licences_with_state_and_form(client, session, demo):
    licence2 = demo.extra["licence2"]
    today = services.local_today(utcnow())
    licence2.valid_to = today + timedelta(days=10)  # within the 60-day warning
    session.commit()
    login(client, "receiver2@demo.test")
    html = page(client.get("/permits/licences", headers=EN))
    assert licence2.number in html
    assert "Expiring soon" in html
    assert "HW01, HW02, HW03, HW04, HW08, HW49, 261-084-45" in html
    assert "D1, D10, Y10" in html
    assert "12,000" in html  # tonnes
    assert 'name="annual_capacity_t"' in html and 'name="scope_categories"' in html
    assert f"/permits/licences/{licence2.id}#revoke" in html


@pytest.mark.parametrize(
    ("shift", "badge"),
    [(-1, "Expired"), (None, "Revoked"), (400, "Valid"), ("future", "Not yet valid")],
)
def test_licence_state_badges(client, session, demo, shift, badge):
    licence = demo.extra["licence2"]
    today = services.local_today(utcnow())
    if shift is None:
        licence.revoked_at = utcnow()
    elif shift == "future":
        licence.valid_from = today + timedelta(days=1)
        licence.valid_to = today + timedelta(days=500)
    else:
        licence.valid_to = today + timedelta(days=shift)
    session.commit()
    login(client, "receiver2@demo.test")
    html = page(client.get("/permits/licences", headers=EN))
    assert f">{badge}</span>" in html
    detail = page(client.get(f"/permits/licences/{licence.id}", headers=EN))
    assert f">{badge}</span>" in detail


def test_member_views_but_cannot_change(client, session, demo, receiver_member):
    login_as(client, session, receiver_member)
    licence = demo.extra["licence"]
    html = page(client.get("/permits/licences", headers=EN))
    assert licence.number in html
    assert "Record a licence" not in html and "Revoke" not in html
    detail = page(client.get(f"/permits/licences/{licence.id}", headers=EN))
    assert "HW08" in detail and "Revoke this licence" not in detail
    before = count(session, Licence)
    response = client.post("/permits/licences", data=licence_form(), headers=EN)
    assert response.status_code == 403
    response = client.post(f"/permits/licences/{licence.id}/revoke", data={"confirm": "1"})
    assert response.status_code == 403
    assert count(session, Licence) == before
    assert licence.revoked_at is None


def test_driver_views_but_cannot_change(client, session, demo):
    login(client, "driver@demo.test")
    html = page(client.get("/permits/vehicles", headers=EN))
    assert (
        "<td>蒙K5B120</td>" in html
        and "Deactivate" not in html
        and "Register a vehicle" not in html
    )
    before = count(session, Vehicle)
    response = client.post("/permits/vehicles", data={"plate": "蒙K7C301", "max_load_t": "10"})
    assert response.status_code == 403
    vehicle = demo.extra["vehicles"][0]
    response = client.post(
        f"/permits/vehicles/{vehicle.id}/active", data={"active": "0"}, headers=EN
    )
    assert response.status_code == 403
    assert count(session, Vehicle) == before and vehicle.active
    assert client.post("/permits/carrier-permits", data={}).status_code == 403
    assert client.post("/permits/drivers", data={}).status_code == 403


# -- licences ---------------------------------------------------------------------------------


def licence_form(**overrides):
    form = {
        "number": "蒙危废经第150621777号",
        "valid_from": "2026-01-01",
        "valid_to": "2030-12-31",
        "annual_capacity_t": "1500.5",
        "scope_categories": ["HW08", "HW49"],
        "scope_codes": "261-085-45, 900-000-45",  # 900-000-45 is not a catalogue code
        "methods": ["R9", "D10"],
        "note": "新证",
    }
    form.update(overrides)
    return form


def test_licence_form_errors_keep_the_input_and_change_nothing(client, session, demo):
    login(client, "receiver@demo.test")
    before = (count(session, Licence), count(session, AuditEntry))
    form = licence_form(
        valid_from="2031-01-01", annual_capacity_t="abc", scope_codes="261-085-45 9000"
    )
    response = client.post("/permits/licences", data=form, headers=EN)
    assert response.status_code == 422
    html = page(response)
    assert "Please correct the fields marked below." in html
    assert "Enter a number, for example 1250.5." in html
    assert "Not a waste code (they look like 900-041-49): 9000" in html
    # Rules of the fields that parsed are reported at the same time.
    assert "The end date is before the start date." in html
    # What the user typed is still there, ticked boxes included.
    assert 'value="蒙危废经第150621777号"' in html
    assert 'value="abc"' in html and 'value="261-085-45 9000"' in html
    assert 'value="HW49" checked' in html and 'value="D10" checked' in html
    assert 'value="HW50" checked' not in html
    assert (count(session, Licence), count(session, AuditEntry)) == before


def test_licence_form_service_errors(client, session, demo):
    login(client, "receiver@demo.test")
    before = count(session, Licence)
    response = client.post(
        "/permits/licences",
        data=licence_form(number=demo.extra["licence"].number, methods=[]),
        headers=EN,
    )
    assert response.status_code == 422
    html = page(response)
    assert "A licence with this number is already recorded." in html
    assert "Unknown waste codes: 900-000-45" in html
    assert "Choose at least one method." in html
    assert count(session, Licence) == before


def test_admin_records_a_licence(client, session, demo):
    login(client, "receiver@demo.test")
    response = client.post(
        "/permits/licences", data=licence_form(scope_codes="261-085-45"), headers=EN
    )
    assert response.status_code == 302
    licence = session.scalars(select(Licence).where(Licence.number.like("%777号"))).one()
    assert licence.organization_id == demo.orgs["receiver"].id
    assert licence.annual_capacity_kg == Decimal("1500500")
    assert licence.scope_categories == ["HW08", "HW49"]
    assert licence.scope_codes == ["261-085-45"]
    assert licence.method_codes == ["D10", "R9"]
    assert licence.note == "新证"
    assert actions(session, "licence", licence.id) == ["licence.created"]
    html = page(client.get(response.headers["Location"], headers=EN))
    assert "Licence recorded." in html and licence.number in html
    assert services.licence_covers(session, demo.orgs["receiver"], "261-085-45", licence.valid_to)


def test_revoke_needs_confirmation(client, session, demo):
    login(client, "receiver@demo.test")
    licence = demo.extra["licence"]
    before = count(session, AuditEntry)
    response = client.post(
        f"/permits/licences/{licence.id}/revoke", data={"reason": "到期注销"}, headers=EN
    )
    assert response.status_code == 422
    html = page(response)
    assert "Tick the box to confirm the revocation." in html
    assert "到期注销" in html  # the reason typed is kept
    session.refresh(licence)
    assert licence.revoked_at is None and count(session, AuditEntry) == before

    response = client.post(
        f"/permits/licences/{licence.id}/revoke",
        data={"reason": "到期注销", "confirm": "1"},
        headers=EN,
    )
    assert response.status_code == 302
    session.refresh(licence)
    assert licence.revoked_at is not None
    assert actions(session, "licence", licence.id) == ["licence.created", "licence.revoked"]
    detail = page(client.get(f"/permits/licences/{licence.id}", headers=EN))
    assert ">Revoked</span>" in detail and "到期注销" in detail
    assert "Revoke this licence" not in detail
    assert not services.licence_covers(
        session, demo.orgs["receiver"], "900-249-08", services.local_today(utcnow())
    )
    assert audit.verify(session).ok


def test_licence_detail_shows_scope_and_methods(client, demo):
    login(client, "receiver2@demo.test")
    licence = demo.extra["licence2"]
    html = page(client.get(f"/permits/licences/{licence.id}", headers=EN))
    assert "医疗废物" in html  # HW01's name
    assert "261-084-45" in html and "/waste-codes/261-084-45" in html
    assert "Incineration" in html  # D10
    assert "Recorded" in html and "Revoke this licence" in html


# -- carriers ---------------------------------------------------------------------------------


def test_carrier_permit_form(client, session, demo):
    login(client, "carrier@demo.test")
    html = page(client.get("/permits/carrier-permits", headers=EN))
    assert demo.extra["carrier_permit"].number in html and ">Valid</span>" in html
    before = count(session, CarrierPermit)
    response = client.post(
        "/permits/carrier-permits",
        data={"number": "蒙交运管许可鄂字1号", "valid_from": "2027-01-01", "valid_to": "2026-01"},
        headers=EN,
    )
    assert response.status_code == 422
    html = page(response)
    assert "Not a valid date (YYYY-MM-DD)." in html and 'value="2026-01"' in html
    assert count(session, CarrierPermit) == before
    response = client.post(
        "/permits/carrier-permits",
        data={
            "number": "蒙交运管许可鄂字1号",
            "valid_from": "2027-01-01",
            "valid_to": "2026-01-01",
        },
        headers=EN,
    )
    assert response.status_code == 422
    assert "The end date is before the start date." in page(response)
    response = client.post(
        "/permits/carrier-permits",
        data={
            "number": "蒙交运管许可鄂字1号",
            "valid_from": "2026-01-01",
            "valid_to": "2029-12-31",
        },
    )
    assert response.status_code == 302
    permit = session.scalars(
        select(CarrierPermit).where(CarrierPermit.number == "蒙交运管许可鄂字1号")
    ).one()
    assert actions(session, "carrier_permit", permit.id) == ["carrier_permit.created"]


def test_vehicle_form_and_activation(client, session, demo):
    login(client, "carrier@demo.test")
    before = count(session, Vehicle)
    response = client.post(
        "/permits/vehicles",
        data={"plate": "蒙I12345", "vehicle_type": "罐车", "max_load_t": "-1"},
        headers=EN,
    )
    assert response.status_code == 422
    html = page(response)
    assert "Not a valid Chinese licence plate" in html  # reported with the load's error
    assert "Must be greater than zero." in html
    assert 'value="蒙I12345"' in html and 'value="罐车"' in html
    response = client.post(
        "/permits/vehicles", data={"plate": "蒙k5b120", "max_load_t": "10"}, headers=EN
    )
    assert response.status_code == 422
    assert "A vehicle with this plate is already registered." in page(response)
    assert count(session, Vehicle) == before

    response = client.post("/permits/vehicles", data={"plate": "蒙k7c301", "max_load_t": "12.5"})
    assert response.status_code == 302
    vehicle = session.scalars(select(Vehicle).where(Vehicle.plate == "蒙K7C301")).one()
    assert vehicle.max_load_kg == Decimal("12500") and vehicle.active

    response = client.post(
        f"/permits/vehicles/{vehicle.id}/active", data={"active": "0"}, headers=EN
    )
    assert response.status_code == 302
    session.refresh(vehicle)
    assert not vehicle.active
    html = page(client.get("/permits/vehicles", headers=EN))
    assert "Vehicle 蒙K7C301 deactivated." in html and "Reactivate" in html
    client.post(f"/permits/vehicles/{vehicle.id}/active", data={"active": "1"})
    session.refresh(vehicle)
    assert vehicle.active
    assert actions(session, "vehicle", vehicle.id) == [
        "vehicle.created",
        "vehicle.deactivated",
        "vehicle.activated",
    ]


def test_another_carriers_vehicle_is_not_found(client, session, now, demo):
    _org, other_admin = factories.organization(
        session, now, roles=("carrier",), approved_by=demo.users["admin"]
    )
    session.commit()
    login(client, other_admin.email, factories.PASSWORD)
    vehicle = demo.extra["vehicles"][0]
    response = client.post(
        f"/permits/vehicles/{vehicle.id}/active", data={"active": "0"}, headers=EN
    )
    assert response.status_code == 404
    assert vehicle.active
    assert "<td>蒙K5B120</td>" not in page(client.get("/permits/vehicles", headers=EN))


def test_driver_papers_form(client, session, now, demo):
    carrier = demo.users["carrier"]
    login(client, "carrier@demo.test")
    html = page(client.get("/permits/drivers", headers=EN))
    assert demo.users["driver"].name in html and demo.users["driver2"].name in html
    assert "Every driver has papers recorded." in html
    assert "/organization/users" in html
    new_driver = factories.org_user(session, now, carrier, "driver")
    session.commit()
    html = page(client.get("/permits/drivers", headers=EN))
    assert f'<option value="{new_driver.id}"' in html
    before = count(session, Driver)
    response = client.post(
        "/permits/drivers",
        data={"user_id": str(demo.users["producer"].id), "licence_number": "1", "x": "y"},
        headers=EN,
    )
    assert response.status_code == 422
    html = page(response)
    assert "Choose a user of your organization with the driver role." in html
    assert "This field is required." in html
    assert count(session, Driver) == before
    response = client.post(
        "/permits/drivers",
        data={
            "user_id": str(new_driver.id),
            "licence_number": "150602199001011234",
            "qualification_number": "15060001",
            "qualification_valid_to": "2029-06-30",
        },
    )
    assert response.status_code == 302
    driver = session.scalars(select(Driver).where(Driver.user_id == new_driver.id)).one()
    assert actions(session, "driver", driver.id) == ["driver.registered"]


# -- coverage check ---------------------------------------------------------------------------


def test_check_page_for_a_producer(client, demo):
    login(client, "producer@demo.test")
    receiver, licence = demo.orgs["receiver"], demo.extra["licence"]
    html = page(client.get("/permits/check", headers=EN))
    assert receiver.name in html and demo.orgs["receiver2"].name in html
    assert demo.orgs["producer2"].name not in html  # only approved receivers are offered

    url = f"/permits/check?receiver_id={receiver.id}&waste_code=900-249-08&on=2026-06-01"
    html = page(client.get(url, headers=EN))
    assert ">Covered</span>" in html and licence.number in html
    assert "its category HW08" in html

    url = f"/permits/check?receiver_id={receiver.id}&waste_code=841-001-01&on=2026-06-01"
    html = page(client.get(url, headers=EN))
    assert ">Not covered</span>" in html and licence.number not in html

    url = f"/permits/check?receiver_id={receiver.id}&waste_code=900-249-08&on=2028-01-01"
    assert ">Not covered</span>" in page(client.get(url, headers=EN))


@pytest.mark.parametrize("email", ["producer@demo.test", "regulator@demo.test"])
def test_dashboard_links_the_check_page(client, demo, email):
    login(client, email)
    # Regulators land on their oversight dashboard, which links the check too.
    assert 'href="/permits/check"' in page(client.get("/", headers=EN, follow_redirects=True))


def test_check_page_errors(client, demo):
    login(client, "regulator@demo.test")
    response = client.get("/permits/check?receiver_id=&waste_code=9x&on=2026-13-01", headers=EN)
    assert response.status_code == 422
    html = page(response)
    assert "This field is required." in html
    assert "A waste code looks like 900-041-49." in html
    assert "Not a valid date (YYYY-MM-DD)." in html
    assert 'value="9x"' in html
    producer = demo.orgs["producer"]
    response = client.get(
        f"/permits/check?receiver_id={producer.id}&waste_code=999-999-99", headers=EN
    )
    assert response.status_code == 422
    html = page(response)
    assert "Choose an approved receiver." in html
    assert "This code is not in the national catalogue in force on" in html

"""Permit API: licences, carrier permits, vehicles and drivers of one's own organization, the
licence-coverage check; 401 without a token, 403 for a role that cannot, 404 for another
organization's object, 422 with fields; audit entries; the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hazwaste.audit import services as audit
from hazwaste.audit.models import AuditEntry
from hazwaste.db import utcnow
from hazwaste.permits import services
from hazwaste.permits.models import CarrierPermit, Driver, Licence, Vehicle
from tests import factories
from tests.conftest import api_token

EN = {"Accept-Language": "en"}


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


def headers(client, email, password="demo-pass-2026"):
    return {**api_token(client, email, password), **EN}


def licence_json(**overrides):
    body = {
        "number": "蒙危废经第150621888号",
        "valid_from": "2026-01-01",
        "valid_to": "2030-12-31",
        "annual_capacity_t": "2500.125",
        "scope_categories": ["HW08"],
        "scope_codes": ["261-085-45"],
        "methods": ["R9", "D10"],
        "note": "",
    }
    body.update(overrides)
    return body


ENDPOINTS = [
    ("GET", "/api/v1/licences"),
    ("POST", "/api/v1/licences"),
    ("GET", "/api/v1/licences/1"),
    ("POST", "/api/v1/licences/1/revoke"),
    ("GET", "/api/v1/carrier-permits"),
    ("POST", "/api/v1/carrier-permits"),
    ("GET", "/api/v1/vehicles"),
    ("POST", "/api/v1/vehicles"),
    ("POST", "/api/v1/vehicles/1/active"),
    ("GET", "/api/v1/drivers"),
    ("POST", "/api/v1/drivers"),
    ("GET", "/api/v1/licence-coverage?receiver_id=1&waste_code=900-249-08"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_401_without_a_valid_token(client, method, url):
    response = client.open(url, method=method, json={})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    response = client.open(url, method=method, json={}, headers={"Authorization": "Bearer x"})
    assert response.status_code == 401


# -- licences ---------------------------------------------------------------------------------


def test_list_and_get_own_licences(client, demo):
    h = headers(client, "receiver@demo.test")
    licence = demo.extra["licence"]
    response = client.get("/api/v1/licences", headers=h)
    assert response.status_code == 200
    body = response.get_json()
    assert body["meta"]["count"] == 1
    (item,) = body["data"]
    assert item["id"] == licence.id and item["number"] == licence.number
    assert item["annual_capacity_kg"] == "30000000.000" and item["annual_capacity_t"] == "30000"
    assert item["scope_categories"] == licence.scope_categories
    assert item["methods"] == ["C3", "D10", "R2", "R3", "R9"]
    assert item["status"] in ("valid", "expiring", "expired")
    assert item["revoked_at"] is None
    one = client.get(f"/api/v1/licences/{licence.id}", headers=h).get_json()["data"]
    assert one == item


def test_another_organizations_licence_is_404(client, demo):
    h = headers(client, "receiver2@demo.test")
    licence = demo.extra["licence"]
    for method, url in (
        ("GET", f"/api/v1/licences/{licence.id}"),
        ("POST", f"/api/v1/licences/{licence.id}/revoke"),
        ("GET", "/api/v1/licences/999999"),
    ):
        response = client.open(url, method=method, headers=h)
        assert response.status_code == 404, url
        assert response.get_json()["error"]["code"] == "not_found"
    assert licence.revoked_at is None
    numbers = [x["number"] for x in client.get("/api/v1/licences", headers=h).get_json()["data"]]
    assert numbers == [demo.extra["licence2"].number]


@pytest.mark.parametrize(
    "email",
    ["producer@demo.test", "carrier@demo.test", "regulator@demo.test", "admin@demo.test"],
)
def test_non_receivers_get_403_on_licences(client, demo, session, email):
    h = headers(client, email)
    before = count(session, Licence)
    assert client.get("/api/v1/licences", headers=h).status_code == 403
    assert client.post("/api/v1/licences", json=licence_json(), headers=h).status_code == 403
    licence_id = demo.extra["licence"].id
    assert client.get(f"/api/v1/licences/{licence_id}", headers=h).status_code == 403
    response = client.post(f"/api/v1/licences/{licence_id}/revoke", headers=h)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert count(session, Licence) == before


def test_member_reads_but_cannot_create_or_revoke(client, session, now, demo):
    member = factories.org_user(session, now, demo.users["receiver"], "member")
    session.commit()
    h = headers(client, member.email, factories.PASSWORD)
    licence = demo.extra["licence"]
    assert client.get("/api/v1/licences", headers=h).status_code == 200
    assert client.get(f"/api/v1/licences/{licence.id}", headers=h).status_code == 200
    # 403 even with an invalid body: the role is checked first.
    assert client.post("/api/v1/licences", json={}, headers=h).status_code == 403
    response = client.post(f"/api/v1/licences/{licence.id}/revoke", json={}, headers=h)
    assert response.status_code == 403
    assert licence.revoked_at is None


def test_create_licence(client, session, demo):
    h = headers(client, "receiver@demo.test")
    response = client.post("/api/v1/licences", json=licence_json(), headers=h)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["data"]
    assert data["annual_capacity_kg"] == "2500125.000" and data["annual_capacity_t"] == "2500.125"
    assert data["scope_categories"] == ["HW08"] and data["scope_codes"] == ["261-085-45"]
    assert data["methods"] == ["D10", "R9"] and data["status"] == "valid"
    assert data["organization_id"] == demo.orgs["receiver"].id
    assert actions(session, "licence", data["id"]) == ["licence.created"]
    # Lists may also come as text, as on the form.
    response = client.post(
        "/api/v1/licences",
        json=licence_json(
            number="二号", scope_categories="hw08 HW49", scope_codes="", methods="R9"
        ),
        headers=h,
    )
    assert response.status_code == 201
    assert response.get_json()["data"]["scope_categories"] == ["HW08", "HW49"]


def test_create_licence_422_with_fields(client, session, demo):
    h = headers(client, "receiver@demo.test")
    before = (count(session, Licence), count(session, AuditEntry))
    response = client.post(
        "/api/v1/licences",
        json=licence_json(
            number="",
            valid_to="31/12/2030",
            annual_capacity_t=-1,
            scope_categories=["HW8"],
            scope_codes=["261-085-4"],
            methods=[],
        ),
        headers=h,
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    fields = error["fields"]
    assert fields["number"] == ["This field is required."]
    assert fields["valid_to"] == ["Not a valid date (YYYY-MM-DD)."]
    assert fields["annual_capacity_t"] == ["Must be greater than zero."]
    assert fields["scope_categories"] == ["Not a category (they look like HW08): HW8"]
    assert fields["scope_codes"] == ["Not a waste code (they look like 900-041-49): 261-085-4"]
    # Service rules once the fields parse.
    response = client.post(
        "/api/v1/licences",
        json=licence_json(
            number=demo.extra["licence"].number,
            valid_from="2031-01-01",
            scope_codes=["999-999-99"],
            methods=["R9", "X1"],
        ),
        headers=h,
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert fields == {
        "number": ["A licence with this number is already recorded."],
        "valid_to": ["The end date is before the start date."],
        "scope_codes": ["Unknown waste codes: 999-999-99"],
        "methods": ["Unknown methods: X1"],
    }
    response = client.post("/api/v1/licences", data="not json", headers=h)
    assert response.status_code == 422
    assert (count(session, Licence), count(session, AuditEntry)) == before


def test_create_licence_is_idempotent(client, session, demo):
    h = {**headers(client, "receiver@demo.test"), "Idempotency-Key": "lic-1"}
    first = client.post("/api/v1/licences", json=licence_json(), headers=h)
    again = client.post("/api/v1/licences", json=licence_json(), headers=h)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert count(session, Licence) == 3


def test_revoke_licence(client, session, demo):
    h = headers(client, "receiver@demo.test")
    licence = demo.extra["licence"]
    response = client.post(
        f"/api/v1/licences/{licence.id}/revoke", json={"reason": "x" * 501}, headers=h
    )
    assert response.status_code == 422
    assert "reason" in response.get_json()["error"]["fields"]
    response = client.post(
        f"/api/v1/licences/{licence.id}/revoke", json={"reason": "企业申请注销"}, headers=h
    )
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["status"] == "revoked" and data["revoked_at"]
    # Again, without a body: nothing changes.
    response = client.post(f"/api/v1/licences/{licence.id}/revoke", headers=h)
    assert response.status_code == 200
    assert response.get_json()["data"]["revoked_at"] == data["revoked_at"]
    assert actions(session, "licence", licence.id) == ["licence.created", "licence.revoked"]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "licence.revoked")).one()
    assert "企业申请注销" in entry.payload
    assert audit.verify(session).ok


# -- carriers ---------------------------------------------------------------------------------


def test_carrier_lists(client, demo):
    h = headers(client, "driver@demo.test")  # drivers of the carrier may read
    permits = client.get("/api/v1/carrier-permits", headers=h).get_json()["data"]
    assert [p["number"] for p in permits] == [demo.extra["carrier_permit"].number]
    assert permits[0]["status"] in ("valid", "expiring")
    vehicles = client.get("/api/v1/vehicles", headers=h).get_json()
    assert vehicles["meta"]["count"] == 2
    by_plate = {v["plate"]: v for v in vehicles["data"]}
    assert by_plate["蒙KD26318"]["max_load_kg"] == "9500.000"
    assert by_plate["蒙KD26318"]["max_load_t"] == "9.5"
    assert by_plate["蒙K5B120"]["active"] is True
    drivers = client.get("/api/v1/drivers", headers=h).get_json()["data"]
    assert {d["name"] for d in drivers} == {
        demo.users["driver"].name,
        demo.users["driver2"].name,
    }
    assert {"licence_number", "qualification_number", "qualification_valid_to"} <= set(drivers[0])


@pytest.mark.parametrize("email", ["receiver@demo.test", "producer@demo.test"])
def test_non_carriers_get_403(client, demo, email):
    h = headers(client, email)
    for url in ("/api/v1/carrier-permits", "/api/v1/vehicles", "/api/v1/drivers"):
        assert client.get(url, headers=h).status_code == 403, url
        assert client.post(url, json={}, headers=h).status_code == 403, url


def test_driver_cannot_change_anything(client, session, demo):
    h = headers(client, "driver@demo.test")
    vehicle = demo.extra["vehicles"][0]
    body = {"plate": "蒙K7C301", "max_load_t": "10"}
    assert client.post("/api/v1/vehicles", json=body, headers=h).status_code == 403
    response = client.post(
        f"/api/v1/vehicles/{vehicle.id}/active", json={"active": False}, headers=h
    )
    assert response.status_code == 403
    assert vehicle.active


def test_create_carrier_permit(client, session, demo):
    h = headers(client, "carrier@demo.test")
    before = count(session, CarrierPermit)
    bad = {"number": "蒙交运管许可鄂字2号", "valid_from": "2027-01-01", "valid_to": "2026-01-01"}
    response = client.post("/api/v1/carrier-permits", json=bad, headers=h)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "valid_to": ["The end date is before the start date."]
    }
    assert count(session, CarrierPermit) == before
    response = client.post(
        "/api/v1/carrier-permits", json={**bad, "valid_to": "2030-01-01"}, headers=h
    )
    assert response.status_code == 201
    data = response.get_json()["data"]
    assert data["number"] == "蒙交运管许可鄂字2号"
    assert actions(session, "carrier_permit", data["id"]) == ["carrier_permit.created"]


def test_create_vehicle_and_activation(client, session, demo):
    h = headers(client, "carrier@demo.test")
    before = count(session, Vehicle)
    response = client.post(
        "/api/v1/vehicles", json={"plate": "蒙I12345", "max_load_t": "abc"}, headers=h
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert fields["max_load_t"] == ["Enter a number, for example 1250.5."]
    response = client.post(
        "/api/v1/vehicles", json={"plate": "蒙I12345", "max_load_t": "10"}, headers=h
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["plate"][0].startswith(
        "Not a valid Chinese licence plate"
    )
    assert count(session, Vehicle) == before
    response = client.post(
        "/api/v1/vehicles",
        json={"plate": "蒙k 7c301", "vehicle_type": "厢式货车", "max_load_t": 7.25},
        headers=h,
    )
    assert response.status_code == 201
    data = response.get_json()["data"]
    assert data["plate"] == "蒙K7C301" and data["max_load_kg"] == "7250.000"
    url = f"/api/v1/vehicles/{data['id']}/active"
    response = client.post(url, json={"active": "maybe"}, headers=h)
    assert response.status_code == 422
    response = client.post(url, json={"active": False}, headers=h)
    assert response.status_code == 200 and response.get_json()["data"]["active"] is False
    assert actions(session, "vehicle", data["id"]) == ["vehicle.created", "vehicle.deactivated"]


def test_another_carriers_vehicle_is_404(client, session, now, demo):
    _org, other = factories.organization(
        session, now, roles=("carrier",), approved_by=demo.users["admin"]
    )
    session.commit()
    h = headers(client, other.email, factories.PASSWORD)
    vehicle = demo.extra["vehicles"][0]
    response = client.post(
        f"/api/v1/vehicles/{vehicle.id}/active", json={"active": False}, headers=h
    )
    assert response.status_code == 404
    assert vehicle.active
    assert client.get("/api/v1/vehicles", headers=h).get_json()["data"] == []


def test_create_driver(client, session, now, demo):
    carrier = demo.users["carrier"]
    new_driver = factories.org_user(session, now, carrier, "driver")
    session.commit()
    h = headers(client, "carrier@demo.test")
    before = count(session, Driver)
    body = {
        "user_id": demo.users["driver"].id,  # papers already recorded
        "licence_number": "150602199001011234",
        "qualification_number": "15060001",
        "qualification_valid_to": "2029-06-30",
    }
    response = client.post("/api/v1/drivers", json=body, headers=h)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "user_id": ["This driver's papers are already recorded."]
    }
    response = client.post("/api/v1/drivers", json={"user_id": "x"}, headers=h)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {
        "user_id",
        "licence_number",
        "qualification_number",
        "qualification_valid_to",
    }
    assert count(session, Driver) == before
    response = client.post("/api/v1/drivers", json={**body, "user_id": new_driver.id}, headers=h)
    assert response.status_code == 201
    data = response.get_json()["data"]
    assert data["user_id"] == new_driver.id and data["name"] == new_driver.name
    assert actions(session, "driver", data["id"]) == ["driver.registered"]


# -- coverage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    ["producer@demo.test", "producer-staff@demo.test", "carrier@demo.test", "regulator@demo.test"],
)
def test_coverage_for_enterprises_and_regulators(client, demo, email):
    h = headers(client, email)
    receiver, licence = demo.orgs["receiver"], demo.extra["licence"]
    response = client.get(
        f"/api/v1/licence-coverage?receiver_id={receiver.id}&waste_code=900-249-08&on=2026-06-01",
        headers=h,
    )
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["covered"] is True
    assert data["licence_numbers"] == [licence.number]
    assert data["licences"][0]["matched_by"] == "category"
    assert data["receiver_name"] == receiver.name and data["on"] == "2026-06-01"

    response = client.get(
        f"/api/v1/licence-coverage?receiver_id={receiver.id}&waste_code=841-001-01&on=2026-06-01",
        headers=h,
    )
    data = response.get_json()["data"]
    assert data["covered"] is False and data["licence_numbers"] == []


def test_coverage_by_code_and_default_date(client, session, demo):
    h = headers(client, "producer@demo.test")
    licence2 = demo.extra["licence2"]
    licence2.valid_to = services.local_today(utcnow()) + timedelta(days=3)
    session.commit()
    receiver2 = demo.orgs["receiver2"]
    url = f"/api/v1/licence-coverage?receiver_id={receiver2.id}&waste_code=261-084-45"
    data = client.get(url, headers=h).get_json()["data"]
    assert data["on"] == services.local_today(utcnow()).isoformat()
    assert data["covered"] and data["licences"][0]["matched_by"] == "code"
    assert data["licences"][0]["methods"] == ["D1", "D10", "Y10"]


def test_coverage_errors(client, demo):
    h = headers(client, "producer@demo.test")
    response = client.get("/api/v1/licence-coverage?waste_code=900249&on=2026-02-30", headers=h)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"receiver_id", "waste_code", "on"}
    producer = demo.orgs["producer"]
    response = client.get(
        f"/api/v1/licence-coverage?receiver_id={producer.id}&waste_code=900-249-08", headers=h
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "receiver_id": ["Choose an approved receiver."]
    }
    response = client.get("/api/v1/licence-coverage?receiver_id=1&waste_code=1", headers=h)
    assert response.status_code == 422


@pytest.mark.parametrize("email", ["admin@demo.test", "pending@demo.test"])
def test_coverage_403_for_others(client, demo, email):
    h = headers(client, email)
    receiver = demo.orgs["receiver"]
    url = f"/api/v1/licence-coverage?receiver_id={receiver.id}&waste_code=900-249-08"
    assert client.get(url, headers=h).status_code == 403


def test_openapi_documents_the_permit_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path, methods in {
        "/api/v1/licences": {"get", "post"},
        "/api/v1/licences/{licence_id}": {"get"},
        "/api/v1/licences/{licence_id}/revoke": {"post"},
        "/api/v1/carrier-permits": {"get", "post"},
        "/api/v1/vehicles": {"get", "post"},
        "/api/v1/vehicles/{vehicle_id}/active": {"post"},
        "/api/v1/drivers": {"get", "post"},
        "/api/v1/licence-coverage": {"get"},
    }.items():
        assert methods <= set(paths[path]), path
    post = paths["/api/v1/licences"]["post"]
    assert "201" in post["responses"] and "422" in post["responses"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    licence_in = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"annual_capacity_t", "scope_categories", "scope_codes", "methods"} <= set(
        licence_in["properties"]
    )

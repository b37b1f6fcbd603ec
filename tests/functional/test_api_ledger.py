"""``/api/v1/containers`` and ``/api/v1/ledger``: create, bulk, list, get, self-disposal,
entries, summary; errors 401/403/404/409/422 with nothing half-saved."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hazwaste.ledger import services
from hazwaste.ledger.models import Container, LedgerEntry
from tests.conftest import api_token

EN = {"Accept-Language": "en"}


def body(**overrides):
    data = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "main_components": "矿物油",
        "packaging_type": "drum",
        "net_weight_kg": "180.5",
        "generation_date": "2026-11-02",
        "source_process": "设备检修",
    }
    data.update(overrides)
    return data


@pytest.fixture()
def producer(client, demo):
    return {**api_token(client, "producer@demo.test"), **EN}


def count(session, model=Container):
    return session.scalar(select(func.count()).select_from(model))


def test_create_one_container(client, session, demo, producer):
    response = client.post("/api/v1/containers", json=body(net_weight_kg=0.1), headers=producer)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["data"]
    assert len(data["code"]) == 37
    assert data["code"] == f"{demo.orgs['producer'].uscc}9002490820261102001"
    assert data["net_weight_kg"] == "0.100"  # a float in JSON still arrives exact
    assert data["status"] == "stored" and data["hazards"] == ["T", "I"]
    assert count(session, LedgerEntry) == 2


def test_create_errors_are_field_errors_and_save_nothing(client, session, demo, producer):
    response = client.post(
        "/api/v1/containers", json=body(waste_code="999-999-99"), headers=producer
    )
    assert response.status_code == 422
    assert "waste_code" in response.get_json()["error"]["fields"]
    response = client.post(
        "/api/v1/containers", json=body(net_weight_kg="-1", hazards=["X"]), headers=producer
    )
    fields = response.get_json()["error"]["fields"]
    assert response.status_code == 422 and {"net_weight_kg", "hazards"} <= set(fields)
    response = client.post("/api/v1/containers", data="not json", headers=producer)
    assert response.status_code == 422
    assert count(session) == 0


def test_bulk_is_all_or_nothing(client, session, demo, producer):
    rows = [body(net_weight_kg=str(10 + i)) for i in range(5)]
    rows[3] = body(waste_code="999-999-99")
    response = client.post("/api/v1/containers/bulk", json={"containers": rows}, headers=producer)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]["rows"]) == {"3"}
    assert "waste_code" in response.get_json()["error"]["fields"]["rows"]["3"]
    rows[3] = {k: v for k, v in body().items() if k != "net_weight_kg"}
    response = client.post("/api/v1/containers/bulk", json={"containers": rows}, headers=producer)
    assert response.status_code == 422
    assert "net_weight_kg" in response.get_json()["error"]["fields"]["rows"]["3"]
    assert count(session) == 0
    rows[3] = body()
    response = client.post("/api/v1/containers/bulk", json={"containers": rows}, headers=producer)
    assert response.status_code == 201
    data = response.get_json()["data"]
    assert data["count"] == 5 and [c["code"][-3:] for c in data["containers"]] == [
        "001",
        "002",
        "003",
        "004",
        "005",
    ]
    response = client.post("/api/v1/containers/bulk", json={"containers": []}, headers=producer)
    assert response.status_code == 422 and "containers" in response.get_json()["error"]["fields"]


def test_idempotent_create(client, session, demo, producer):
    headers = {**producer, "Idempotency-Key": "drum-42"}
    first = client.post("/api/v1/containers", json=body(), headers=headers)
    again = client.post("/api/v1/containers", json=body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json() == again.get_json() and count(session) == 1


def test_list_with_filters_and_pagination(client, session, now, demo, producer):
    rows = [
        {
            **body(),
            "net_weight_kg": Decimal("1"),
            "generation_date": date(2026, 11, 2),
            "hazards": ["T"],
        }
        for _ in range(3)
    ]
    services.register_containers(session, now, demo.users["producer"], rows, now.date())
    services.register_containers(session, now, demo.users["producer2"], rows[:1], now.date())
    session.commit()
    response = client.get("/api/v1/containers?per_page=2", headers=producer)
    payload = response.get_json()
    assert response.status_code == 200 and len(payload["data"]) == 2
    assert payload["meta"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    response = client.get("/api/v1/containers?q=20261102003&status=stored", headers=producer)
    assert [c["code"][-3:] for c in response.get_json()["data"]] == ["003"]
    response = client.get("/api/v1/containers?status=lost", headers=producer)
    assert response.status_code == 422 and "status" in response.get_json()["error"]["fields"]


def test_get_by_id_or_code_and_visibility(client, session, now, demo, producer):
    (container,) = services.register_containers(
        session,
        now,
        demo.users["producer"],
        [{**body(), "net_weight_kg": Decimal("2"), "generation_date": date(2026, 11, 2)}],
        now.date(),
    )
    session.commit()
    for key in (container.id, container.code, container.code.lower()):
        response = client.get(f"/api/v1/containers/{key}", headers=producer)
        assert response.status_code == 200
        data = response.get_json()["data"]
        assert data["code"] == container.code
        assert [s["kind"] for s in data["history"]] == ["filled", "stored"]
    regulator = api_token(client, "regulator-otog@demo.test")
    assert client.get(f"/api/v1/containers/{container.code}", headers=regulator).status_code == 200
    for email in ("producer2@demo.test", "carrier@demo.test"):
        other = api_token(client, email)
        assert client.get(f"/api/v1/containers/{container.id}", headers=other).status_code == 404
    assert client.get("/api/v1/containers/999999", headers=producer).status_code == 404


def test_auth_and_roles(client, session, demo):
    assert client.get("/api/v1/containers").status_code == 401
    assert client.post("/api/v1/ledger", json={}).status_code == 401
    carrier = api_token(client, "carrier@demo.test")
    regulator = api_token(client, "regulator@demo.test")
    for headers in (carrier, regulator):
        assert client.get("/api/v1/containers", headers=headers).status_code == 403
        assert client.post("/api/v1/containers", json=body(), headers=headers).status_code == 403
        assert client.get("/api/v1/ledger", headers=headers).status_code == 403
        assert client.get("/api/v1/ledger/summary", headers=headers).status_code == 403
    assert count(session) == 0


def test_self_disposal(client, session, now, demo, producer):
    (container,) = services.register_containers(
        session,
        now,
        demo.users["producer"],
        [{**body(), "net_weight_kg": Decimal("2"), "generation_date": date(2026, 11, 2)}],
        now.date(),
    )
    session.commit()
    url = f"/api/v1/containers/{container.id}/self-disposal"
    response = client.post(url, json={"method_code": "ZZ9", "on": "2026-11-10"}, headers=producer)
    assert response.status_code == 422 and "method_code" in response.get_json()["error"]["fields"]
    response = client.post(url, json={"method_code": "R2", "on": "2026-12-30"}, headers=producer)
    assert response.status_code == 422 and "on" in response.get_json()["error"]["fields"]
    response = client.post(url, json={"method_code": "R2", "on": "2026-11-10"}, headers=producer)
    assert response.status_code == 200 and response.get_json()["data"]["status"] == "self_disposed"
    response = client.post(url, json={"method_code": "R2", "on": "2026-11-10"}, headers=producer)
    assert response.status_code == 409
    other = api_token(client, "producer2@demo.test")
    response = client.post(url, json={"method_code": "R2", "on": "2026-11-10"}, headers=other)
    assert response.status_code == 404


def test_ledger_entries_and_direct_entry(client, session, now, demo, producer):
    response = client.post(
        "/api/v1/ledger",
        json={
            "waste_code": "900-249-08",
            "kind": "generated",
            "quantity_kg": "0.1",
            "occurred_on": "2026-10-31",
        },
        headers=producer,
    )
    assert response.status_code == 201
    assert response.get_json()["data"]["quantity_kg"] == "0.100"
    response = client.post(
        "/api/v1/ledger",
        json={
            "waste_code": "900-249-08",
            "kind": "self_used",
            "quantity_kg": "0.2",
            "occurred_on": "2026-11-01",
        },
        headers=producer,
    )
    assert response.status_code == 422 and "method_code" in response.get_json()["error"]["fields"]
    response = client.post(
        "/api/v1/ledger",
        json={
            "waste_code": "900-249-08",
            "kind": "shipped_out",
            "quantity_kg": "1",
            "occurred_on": "2026-11-01",
        },
        headers=producer,
    )
    assert response.status_code == 422 and "kind" in response.get_json()["error"]["fields"]
    assert count(session, LedgerEntry) == 1
    client.post(
        "/api/v1/containers",
        json=body(net_weight_kg="0.2", generation_date="2026-11-01"),
        headers=producer,
    )
    response = client.get("/api/v1/ledger?kind=generated&date_from=2026-11-01", headers=producer)
    data = response.get_json()["data"]
    assert response.status_code == 200 and len(data) == 1
    assert data[0]["quantity_kg"] == "0.200" and len(data[0]["container_code"]) == 37
    response = client.get("/api/v1/ledger?per_page=2", headers=producer)
    assert response.get_json()["meta"]["total"] == 3
    response = client.get("/api/v1/ledger?date_to=soon", headers=producer)
    assert response.status_code == 422


def test_monthly_summary_is_exact(client, session, demo, producer):
    for quantity, day in (("0.1", "2026-10-31"), ("0.2", "2026-11-01")):
        client.post(
            "/api/v1/ledger",
            json={
                "waste_code": "900-249-08",
                "kind": "generated",
                "quantity_kg": quantity,
                "occurred_on": day,
            },
            headers=producer,
        )
    client.post(
        "/api/v1/ledger",
        json={
            "waste_code": "900-249-08",
            "kind": "self_used",
            "quantity_kg": "0.3",
            "occurred_on": "2026-11-02",
            "method_code": "R2",
        },
        headers=producer,
    )
    response = client.get("/api/v1/ledger/summary?year=2026&month=11", headers=producer)
    data = response.get_json()["data"]
    assert data["year"] == 2026 and data["month"] == 11
    assert data["rows"] == [
        {
            "waste_code": "900-249-08",
            "opening_kg": "0.100",
            "generated_kg": "0.200",
            "shipped_kg": "0.000",
            "self_used_kg": "0.300",
            "closing_kg": "0.000",
        }
    ]
    assert data["total"]["closing_kg"] == "0.000"
    october = client.get("/api/v1/ledger/summary?year=2026&month=10", headers=producer)
    assert october.get_json()["data"]["rows"][0]["closing_kg"] == "0.100"
    response = client.get("/api/v1/ledger/summary?month=0", headers=producer)
    assert response.status_code == 422 and "month" in response.get_json()["error"]["fields"]


def test_openapi_documents_the_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in (
        ("/api/v1/containers", "post"),
        ("/api/v1/containers", "get"),
        ("/api/v1/containers/bulk", "post"),
        ("/api/v1/containers/{id_or_code}", "get"),
        ("/api/v1/containers/{id}/self-disposal", "post"),
        ("/api/v1/ledger", "get"),
        ("/api/v1/ledger", "post"),
        ("/api/v1/ledger/summary", "get"),
    ):
        assert method in paths[path], (path, method)

"""Oversight API: balances, risk, inspection draws."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import api_token

CITY = "regulator@demo.test"
OTOG = "regulator-otog@demo.test"


@pytest.fixture()
def world(session, now):
    from hazwaste.demo.services import seed_demo

    w = seed_demo(session, now, history=True)
    session.commit()
    return w


def test_balances_json_rows_with_decimal_strings(client, world):
    headers = api_token(client, CITY)
    response = client.get("/api/v1/balances?waste_code=900-249-08", headers=headers)
    assert response.status_code == 200
    rows = response.get_json()["data"]
    assert rows and all(r["waste_code"] == "900-249-08" for r in rows)
    assert all(isinstance(r["shipped"], str) for r in rows)
    assert sum(Decimal(r["shipped"]) for r in rows) > 0


def test_balances_bad_filter_422_with_fields(client, world):
    headers = api_token(client, OTOG)
    response = client.get("/api/v1/balances?region=150602&month_to=x", headers=headers)
    assert response.status_code == 422
    assert "month_to" in response.get_json()["error"]["fields"]
    response = client.get("/api/v1/balances?region=150602", headers=headers)
    assert response.status_code == 422
    assert "region" in response.get_json()["error"]["fields"]


def test_risk_json(client, world):
    headers = api_token(client, CITY)
    data = client.get("/api/v1/risk", headers=headers).get_json()["data"]
    assert {"organization_id", "score", "grade"} <= set(data[0])
    otog = client.get("/api/v1/risk", headers=api_token(client, OTOG)).get_json()["data"]
    assert all(r["region_code"].startswith("150624") for r in otog)


@pytest.mark.parametrize(
    "url",
    ["/api/v1/balances", "/api/v1/risk", "/api/v1/inspections/draws"],
)
def test_enterprises_get_403(client, world, url):
    headers = api_token(client, "producer@demo.test")
    assert client.get(url, headers=headers).status_code == 403


def test_enterprise_cannot_post_a_draw(client, world):
    headers = api_token(client, "producer@demo.test")
    assert (
        client.post("/api/v1/inspections/draws", json={"n": 1}, headers=headers).status_code == 403
    )


def test_draw_create_show_verify_idempotent(client, world):
    headers = {**api_token(client, CITY), "Idempotency-Key": "draw-1"}
    body = {"n": 2, "seed": "s1", "inspectors": "all", "weighting": "risk"}
    first = client.post("/api/v1/inspections/draws", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = client.post("/api/v1/inspections/draws", json=body, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    draw = first.get_json()["data"]
    assert again.get_json()["data"]["id"] == draw["id"]
    shown = client.get(f"/api/v1/inspections/draws/{draw['id']}", headers=headers).get_json()
    assert shown["data"]["verified"] is True
    assert shown["data"]["result"] == draw["result"]
    listing = client.get("/api/v1/inspections/draws", headers=headers).get_json()["data"]
    assert [d["id"] for d in listing] == [draw["id"]]
    other = api_token(client, OTOG)
    assert client.get(f"/api/v1/inspections/draws/{draw['id']}", headers=other).status_code == 404


def test_draw_invalid_422(client, world):
    headers = api_token(client, CITY)
    response = client.post("/api/v1/inspections/draws", json={"n": 0}, headers=headers)
    assert response.status_code == 422
    assert "n" in response.get_json()["error"]["fields"]
    response = client.post(
        "/api/v1/inspections/draws", json={"n": 1, "region": "11"}, headers=headers
    )
    assert response.status_code == 422


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/balances",
        "/api/v1/risk",
        "/api/v1/inspections/draws",
        "/api/v1/inspections/draws/{draw_id}",
    ):
        assert path in spec["paths"]


def test_the_public_draw_page_says_the_method_in_words(client, world):
    headers = api_token(client, CITY)
    made = client.post("/api/v1/inspections/draws", json={"n": 1, "seed": "s2"}, headers=headers)
    draw_id = made.get_json()["data"]["id"]
    page = client.application.test_client().get(
        f"/oversight/public/inspections/{draw_id}", headers={"Accept-Language": "zh-CN"}
    )
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "加权随机不放回抽样，可用随机种子复现" in text
    # The identifiers that let anyone re-run it stay, folded under the technical details.
    assert text.index("技术细节（供复核）") < text.index("weighted-without-replacement/v1")

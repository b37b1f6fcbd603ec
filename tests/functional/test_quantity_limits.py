"""Huge numbers in every quantity field, through the pages and the API: a field message
(422) and nothing saved, never a decimal error (500).

``"1e25"`` and friends used to be rounded to the gram before the size check, which raised
``decimal.InvalidOperation`` (28 digits of context) in the shared Weight field.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from hazwaste.db import utcnow
from hazwaste.ledger.models import Container, LedgerEntry
from hazwaste.manifests import lifecycle
from hazwaste.manifests.models import EventKind, ManifestEvent, ManifestStatus
from hazwaste.manifests.services import local_date
from hazwaste.manifests.tokens import make_token
from hazwaste.permits.models import Vehicle
from hazwaste.plans.models import ManagementPlan as Plan
from hazwaste.schemas import QuantityInputError, parse_quantity
from tests.conftest import api_token, login
from tests.manifest_factories import make_submitted, pickup_data, receipt_data

EN = {"Accept-Language": "en"}
#: As typed in a form or sent as a JSON string.
HUGE_TEXT = ["1e25", "1e309", "1E+40", "1e+25"]
#: As sent by a JSON client (1e309 is not valid JSON: Python sends Infinity, refused too).
HUGE_JSON: list[Any] = [*HUGE_TEXT, 1e25, 1e40, 10**30]


def count(session: Any, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def api_field(response: Any, *path: str | int) -> list[str]:
    assert response.status_code == 422, (response.status_code, response.get_data()[:500])
    node: Any = response.get_json()["error"]["fields"]
    for part in path:
        node = node[str(part)]
    assert node and all(isinstance(m, str) for m in node), node
    return node


def page_says(response: Any, message: str = "Too large.") -> None:
    assert response.status_code == 422, (response.status_code, response.get_data()[:500])
    assert message in response.get_data(as_text=True)


# -- the one validation ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e-25", "-25176993648119727253583.07", 1e-174])
def test_api_manifest_line_odd_amounts_are_field_messages(client, session, demo, value):
    """An amount far below a gram (the fuzzer's ``2.4e-174``) raised an unknown error key."""
    headers = {**api_token(client, "producer@demo.test"), **EN}
    body = {
        "carrier_id": demo.orgs["carrier"].id,
        "receiver_id": demo.orgs["receiver"].id,
        "planned_date": "2026-12-01",
        "lines": [
            {
                "waste_code": "900-249-08",
                "physical_form": "liquid",
                "hazards": ["T"],
                "packaging": "桶",
                "declared_qty": value,
            }
        ],
    }
    before = count(session, ManifestEvent)
    assert api_field(client.post("/api/v1/manifests", json=body, headers=headers), "lines", 0)
    assert count(session, ManifestEvent) == before


@pytest.mark.parametrize("value", [*HUGE_JSON, "9" * 40, "-1e30", 1e12, "999999999999.9995"])
@pytest.mark.parametrize("scale", [None, Decimal(1000)])
def test_parse_quantity_refuses_huge_numbers_without_decimal_errors(value, scale):
    with pytest.raises(QuantityInputError) as refused:
        parse_quantity(value, scale=scale)
    assert refused.value.key in ("too_large", "precision")


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (float("inf"), "invalid"),
        ("NaN", "invalid"),
        ("1" * 60, "invalid"),
        ("1e-999999999", "precision"),
        ("0.0001", "precision"),
        (True, "invalid"),
        ([1], "invalid"),
    ],
)
def test_parse_quantity_refuses_other_odd_input(value, key):
    with pytest.raises(QuantityInputError) as refused:
        parse_quantity(value, positive=False)
    assert refused.value.key == key


def test_parse_quantity_keeps_ordinary_values_exact():
    assert parse_quantity("1,250.5") == Decimal("1250.500")
    assert parse_quantity(0.1) == Decimal("0.100")
    assert parse_quantity("999999999999.999") == Decimal("999999999999.999")
    assert parse_quantity("0e99999", positive=False) == 0
    assert parse_quantity("1.0005", scale=Decimal(1000)) == Decimal("1000.500")
    # Exact arithmetic: a default 28-digit context would round this to 1000 kg.
    with pytest.raises(QuantityInputError, match="precision"):
        parse_quantity("1.0000000000000000000000000000001", scale=Decimal(1000))


# -- containers and ledger entries --------------------------------------------------------------


def container_body(**overrides: Any) -> dict[str, Any]:
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


@pytest.mark.parametrize("value", HUGE_JSON)
def test_container_api_net_weight(client, session, demo, value):
    headers = {**api_token(client, "producer@demo.test"), **EN}
    response = client.post(
        "/api/v1/containers", json=container_body(net_weight_kg=value), headers=headers
    )
    assert api_field(response, "net_weight_kg") == ["Too large."]
    assert count(session, Container) == 0 and count(session, LedgerEntry) == 0


@pytest.mark.parametrize("value", HUGE_TEXT)
def test_container_form_net_weight(client, session, demo, value):
    login(client, "producer@demo.test")
    form = {**container_body(net_weight_kg=value), "hazards": ["T", "I"]}
    page_says(client.post("/containers/new", data=form, headers=EN))
    assert count(session, Container) == 0


@pytest.mark.parametrize("value", HUGE_TEXT)
def test_container_csv_import_net_weight(client, session, demo, value):
    columns = list(container_body())
    row = {**container_body(net_weight_kg=value), "hazards": "T,I"}
    text = ",".join(columns) + "\n" + ",".join(f'"{row[c]}"' for c in columns) + "\n"
    login(client, "producer@demo.test")
    response = client.post(
        "/containers/import",
        data={"file": (io.BytesIO(text.encode()), "containers.csv")},
        content_type="multipart/form-data",
        headers=EN,
    )
    page_says(response)
    assert count(session, Container) == 0


def entry(**overrides: Any) -> dict[str, Any]:
    data = {
        "waste_code": "900-249-08",
        "kind": "generated",
        "quantity_kg": "12.345",
        "occurred_on": "2026-11-05",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("value", HUGE_JSON)
def test_ledger_api_quantity(client, session, demo, value):
    headers = {**api_token(client, "producer@demo.test"), **EN}
    response = client.post("/api/v1/ledger", json=entry(quantity_kg=value), headers=headers)
    assert api_field(response, "quantity_kg") == ["Too large."]
    assert count(session, LedgerEntry) == 0


@pytest.mark.parametrize("value", HUGE_TEXT)
def test_ledger_form_quantity(client, session, demo, value):
    login(client, "producer@demo.test")
    data = {**entry(quantity_kg=value), "method_code": "", "note": ""}
    page_says(client.post("/ledger/", data=data, headers=EN))
    assert count(session, LedgerEntry) == 0


# -- plans -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HUGE_JSON)
@pytest.mark.parametrize("field", ["planned_generation_kg", "planned_transfer_kg"])
def test_plan_api_tonnage(client, session, demo, value, field):
    headers = {**api_token(client, "producer@demo.test"), **EN}
    body = {
        "year": 2026,
        "waste_code": "841-001-01",
        "planned_generation_kg": "386.5",
        "planned_transfer_kg": "386.5",
        "intended_receiver_id": demo.orgs["receiver"].id,
        field: value,
    }
    response = client.post("/api/v1/plans", json=body, headers=headers)
    assert api_field(response, field) == ["Too large."]
    assert count(session, Plan) == 0


@pytest.mark.parametrize("value", HUGE_TEXT)
@pytest.mark.parametrize("field", ["planned_generation_t", "planned_transfer_t"])
def test_plan_form_tonnage(client, session, demo, value, field):
    login(client, "producer@demo.test")
    form = {
        "year": "2026",
        "waste_code": "841-001-01",
        "planned_generation_t": "12.5",
        "planned_transfer_t": "3",
        "intended_receiver_id": str(demo.orgs["receiver"].id),
        "note": "",
        field: value,
    }
    page_says(client.post("/plans/new", data=form, headers=EN))
    assert count(session, Plan) == 0


# -- permits (tonnes) --------------------------------------------------------------------------


@pytest.mark.parametrize("value", HUGE_JSON)
def test_vehicle_api_max_load(client, session, demo, value):
    headers = {**api_token(client, "carrier@demo.test"), **EN}
    before = count(session, Vehicle)
    body = {"plate": "蒙K·D1234", "vehicle_type": "厢式货车", "max_load_t": value}
    response = client.post("/api/v1/vehicles", json=body, headers=headers)
    assert api_field(response, "max_load_t") == ["Too large."]
    assert count(session, Vehicle) == before


# -- manifests: disposal and correction ---------------------------------------------------------


def received(session: Any, now: Any, demo: Any) -> Any:
    m = make_submitted(session, now, demo)
    lifecycle.pickup(
        session, now, m, demo.users["driver"], pickup_data(m, demo.extra["vehicles"][0].id)
    )
    lifecycle.deliver(session, now, m, demo.users["driver"], {"position_note": "denied"})
    lifecycle.receive(session, now, m, demo.users["receiver"], receipt_data(m))
    session.commit()
    return m


def disposal_count(session: Any, m: Any) -> int:
    return session.scalar(
        select(func.count())
        .select_from(ManifestEvent)
        .where(ManifestEvent.manifest_id == m.id, ManifestEvent.kind == EventKind.DISPOSED)
    )


def today() -> str:
    return local_date(utcnow()).isoformat()


@pytest.mark.parametrize("value", HUGE_JSON)
def test_disposal_api_quantity(client, session, now, demo, value):
    m = received(session, now, demo)
    headers = {**api_token(client, "receiver@demo.test"), **EN}
    lines = [
        {"line_id": ln.id, "method": "R2", "disposed_kg": value, "disposal_date": today()}
        for ln in m.lines
    ]
    response = client.post(
        f"/api/v1/manifests/{m.id}/disposal", json={"lines": lines}, headers=headers
    )
    assert api_field(response, "lines", 0, "disposed_kg") == ["Too large."]
    session.expire_all()
    assert m.status is ManifestStatus.RECEIVED and disposal_count(session, m) == 0


@pytest.mark.parametrize("value", HUGE_TEXT)
def test_disposal_scan_form_quantity(app, client, session, now, demo, value):
    m = received(session, now, demo)
    with app.test_request_context():
        path = f"/m/{make_token(m.id, m.number)}"
    login(client, "receiver@demo.test")
    data = {"idempotency_key": "d1"}
    for i, ln in enumerate(m.lines):
        data.update(
            {
                f"lines-{i}-line_id": str(ln.id),
                f"lines-{i}-method": "R2",
                f"lines-{i}-disposed_kg": value,
                f"lines-{i}-disposal_date": today(),
            }
        )
    page_says(client.post(f"{path}/dispose", data=data, headers=EN))
    session.expire_all()
    assert m.status is ManifestStatus.RECEIVED and disposal_count(session, m) == 0


def correction_count(session: Any, m: Any) -> int:
    return session.scalar(
        select(func.count())
        .select_from(ManifestEvent)
        .where(ManifestEvent.manifest_id == m.id, ManifestEvent.kind == EventKind.CORRECTED)
    )


@pytest.mark.parametrize("value", HUGE_JSON)
def test_correction_api_declared_kg(client, session, now, demo, value):
    m = make_submitted(session, now, demo)
    session.commit()
    headers = {**api_token(client, "producer@demo.test"), **EN}
    body = {"reason": "数量录错", "lines": [{"line_id": m.lines[0].id, "declared_kg": value}]}
    response = client.post(f"/api/v1/manifests/{m.id}/correction", json=body, headers=headers)
    assert api_field(response, "lines", 0, "declared_kg") == ["Too large."]
    assert correction_count(session, m) == 0


@pytest.mark.parametrize("value", HUGE_TEXT)
def test_correction_form_declared_kg(client, session, now, demo, value):
    m = make_submitted(session, now, demo)
    session.commit()
    declared = m.lines[0].declared_kg
    login(client, "producer@demo.test")
    data = {
        "reason": "数量录错",
        "lines-0-line_id": str(m.lines[0].id),
        "lines-0-declared_kg": value,
    }
    page_says(client.post(f"/manifests/{m.id}/correct", data=data, headers=EN))
    session.expire_all()
    assert correction_count(session, m) == 0 and m.lines[0].declared_kg == declared


def plan_csv(demo: Any, field: str, value: str) -> bytes:
    from hazwaste.plans.schemas import CSV_COLUMNS

    row = {
        "year": "2026",
        "waste_code": "900-249-08",
        "planned_generation_t": "12.5",
        "planned_transfer_t": "12",
        "intended_receiver_uscc": demo.orgs["receiver"].uscc,
        "note": "",
        field: value,
    }
    lines = [",".join(CSV_COLUMNS), ",".join(row.get(c, "") for c in CSV_COLUMNS)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("value", HUGE_TEXT)
@pytest.mark.parametrize("field", ["planned_generation_t", "planned_transfer_t"])
def test_plan_csv_import_tonnage(client, session, demo, value, field):
    headers = {**api_token(client, "producer@demo.test"), **EN}
    response = client.post(
        "/api/v1/plans/import",
        data=plan_csv(demo, field, value),
        content_type="text/csv",
        headers=headers,
    )
    assert api_field(response, "rows", 2, field) == ["Too large."]
    login(client, "producer@demo.test")
    page = client.post(
        "/plans/import",
        data={"file": (io.BytesIO(plan_csv(demo, field, value)), "plan.csv")},
        content_type="multipart/form-data",
        headers=EN,
    )
    page_says(page)
    assert count(session, Plan) == 0

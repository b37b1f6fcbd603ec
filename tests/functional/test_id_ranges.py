"""Ids and page numbers beyond the database's integer range, in paths, query strings, JSON
bodies and forms: 404 or 422 with a field message, never an ``OverflowError`` (500).

Also negative ids in paths (404, not the 405 of a neighbouring route) and the safety net of
:mod:`hazwaste.errors` that turns a database ``DataError``/``OverflowError`` into 404/422.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import DataError

from hazwaste.errors import INT_MAX, IdConverter
from hazwaste.manifests.models import Manifest
from tests.conftest import api_token, login
from tests.manifest_factories import make_submitted

EN = {"Accept-Language": "en"}
HUGE = "99999999999999999999"  # beyond 64 bits
#: Past the 32-bit INTEGER of the id columns (PostgreSQL: "integer out of range").
BEYOND = [HUGE, str(INT_MAX + 1), "-" + HUGE]


# -- query strings: pages and list filters -----------------------------------------------------

PAGE_LISTS = [
    ("/manifests/", "producer@demo.test", ["page", "counterpart_id"]),
    ("/manifests/export.xlsx", "producer@demo.test", ["counterpart_id"]),
    ("/manifests/export.csv", "producer@demo.test", ["counterpart_id"]),
    ("/containers/", "producer@demo.test", ["page"]),
    ("/ledger/", "producer@demo.test", ["page"]),
    ("/flags/", "producer@demo.test", ["page", "organization_id"]),
    ("/cases/", "regulator@demo.test", ["page", "organization_id", "assignee"]),
    ("/cases/export.csv", "regulator@demo.test", ["organization_id"]),
    ("/cases/export.xlsx", "regulator@demo.test", ["organization_id"]),
    ("/oversight/balances", "regulator@demo.test", ["organization_id"]),
]


@pytest.mark.parametrize(
    ("path", "email", "param"), [(p, e, a) for p, e, args in PAGE_LISTS for a in args]
)
@pytest.mark.parametrize("value", BEYOND)
def test_list_pages_refuse_out_of_range_numbers(client, demo, path, email, param, value):
    login(client, email)
    response = client.get(f"{path}?{param}={value}", headers=EN)
    response.get_data()  # a streamed export must not fail half-way either
    # Exports leave out a filter that does not parse (as before); pages say what is wrong.
    expected = 200 if "/export." in path else 422
    assert response.status_code == expected, (path, param, response.status_code)


API_LISTS = [
    ("/api/v1/manifests", "producer@demo.test", ["page", "counterpart_id"]),
    ("/api/v1/containers", "producer@demo.test", ["page"]),
    ("/api/v1/ledger", "producer@demo.test", ["page"]),
    ("/api/v1/flags", "regulator@demo.test", ["page", "organization_id", "assignee"]),
    ("/api/v1/balances", "regulator@demo.test", ["organization_id"]),
    ("/api/v1/licence-coverage?waste_code=900-249-08", "producer@demo.test", ["receiver_id"]),
]


@pytest.mark.parametrize(
    ("path", "email", "param"), [(p, e, a) for p, e, args in API_LISTS for a in args]
)
@pytest.mark.parametrize("value", BEYOND)
def test_api_lists_refuse_out_of_range_numbers(client, demo, path, email, param, value):
    headers = {**api_token(client, email), **EN}
    sep = "&" if "?" in path else "?"
    response = client.get(f"{path}{sep}{param}={value}", headers=headers)
    assert response.status_code == 422, (path, param, response.status_code)
    assert response.get_json()["error"]["fields"][param]


def test_page_number_message(client, demo):
    headers = {**api_token(client, "producer@demo.test"), **EN}
    response = client.get(f"/api/v1/manifests?page={HUGE}", headers=headers)
    assert response.get_json()["error"]["fields"]["page"] == ["Not a valid page number."]


# -- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/manifests/{HUGE}",
        f"/api/v1/manifests/{INT_MAX + 1}",
        f"/api/v1/manifests/{HUGE}/events",
        "/api/v1/manifests/²",
        f"/api/v1/containers/{HUGE}",
        "/api/v1/containers/²",
    ],
)
def test_api_lookups_by_key_beyond_range_are_404(client, demo, path):
    headers = {**api_token(client, "producer@demo.test"), **EN}
    response = client.get(path, headers=headers)
    assert response.status_code == 404, response.get_data()[:300]
    assert response.get_json()["error"]["code"] == "not_found"


def _int_rules(app: Any) -> list[Any]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if any(isinstance(c, IdConverter) for c in rule._converters.values())
    ]


def _url(app: Any, rule: Any, value: str) -> str:
    path = rule.rule
    for name, converter in rule._converters.items():
        text = value if isinstance(converter, IdConverter) else "x"
        path = path.replace(f"<int:{name}>", text).replace(f"<{name}>", text)
    return path


def test_every_id_route_refuses_negative_and_huge_ids_with_404(app, client, demo):
    """Each method of each route with an ``<int:…>`` part, anonymous and logged in."""
    rules = _int_rules(app)
    assert len(rules) > 20
    headers = {**api_token(client, "producer@demo.test"), **EN}
    login(client, "producer@demo.test")
    seen = 0
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for value in ("-1", "-0001", HUGE, str(INT_MAX + 1)):
                url = _url(app, rule, value)
                response = client.open(url, method=method, headers=headers)
                assert response.status_code == 404, (method, url, response.status_code)
                seen += 1
    assert seen > 100


def test_negative_manifest_id_is_404_not_405(client, demo):
    """``PATCH …/-1`` used to reach the ``GET …/<number_or_id>`` route: 405."""
    headers = {**api_token(client, "producer@demo.test"), **EN}
    response = client.patch("/api/v1/manifests/-1", json={}, headers=headers)
    assert response.status_code == 404
    assert client.get("/api/v1/manifests/-1", headers=headers).status_code == 404


@pytest.mark.parametrize("segment", ["abc", "%C2%A2", "false", "1.5", "9" * 21])
def test_non_numeric_manifest_segment_is_404_not_405(client, demo, segment):
    """``PATCH …/¢`` used to reach the ``GET …/<number_or_id>`` route: 405 (found by the fuzzer)."""
    headers = {**api_token(client, "producer@demo.test"), **EN}
    for method in ("PATCH", "GET"):
        response = client.open(f"/api/v1/manifests/{segment}", method=method, headers=headers)
        assert response.status_code == 404, (method, segment, response.status_code)
    for tail in ("events", "pdf", "qr.png"):
        response = client.get(f"/api/v1/manifests/{segment}/{tail}", headers=headers)
        assert response.status_code == 404, (tail, segment, response.status_code)


# -- JSON bodies and forms ---------------------------------------------------------------------


def draft_body(demo: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "carrier_id": demo.orgs["carrier"].id,
        "receiver_id": demo.orgs["receiver"].id,
        "vehicle_id": demo.extra["vehicles"][0].id,
        "driver_id": demo.extra["drivers"][0].id,
        "planned_date": "2026-12-01",
        "emergency_measures": "泄漏时围堵并报告。",
        "lines": [
            {
                "waste_code": "900-249-08",
                "waste_name": "废矿物油",
                "physical_form": "liquid",
                "hazards": ["T"],
                "packaging": "桶",
                "declared_qty": "100",
            }
        ],
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize("field", ["carrier_id", "receiver_id", "vehicle_id", "driver_id"])
@pytest.mark.parametrize("value", [int(HUGE), INT_MAX + 1, HUGE, -1])
def test_api_manifest_body_ids(client, session, demo, field, value):
    headers = {**api_token(client, "producer@demo.test"), **EN}
    before = session.query(Manifest).count()
    response = client.post(
        "/api/v1/manifests", json=draft_body(demo, **{field: value}), headers=headers
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["fields"][field] == ["Not a valid id."]
    assert session.query(Manifest).count() == before


@pytest.mark.parametrize("field", ["carrier_id", "receiver_id", "vehicle_id", "driver_id"])
def test_manifest_form_ids(client, session, demo, field):
    login(client, "producer@demo.test")
    body = draft_body(demo)
    form = {k: str(v) for k, v in body.items() if k != "lines"}
    for key, value in body["lines"][0].items():
        form[f"lines-0-{key}"] = value if isinstance(value, str) else value[0]
    form[field] = HUGE
    before = session.query(Manifest).count()
    response = client.post("/manifests/new", data=form, headers=EN)
    assert response.status_code == 422
    assert "Not a valid id." in response.get_data(as_text=True)
    assert session.query(Manifest).count() == before


@pytest.mark.parametrize(
    ("email", "path", "body", "field"),
    [
        (
            "producer@demo.test",
            "/api/v1/manifests/{mid}/correction",
            {"reason": "x", "vehicle_id": HUGE},
            "vehicle_id",
        ),
        (
            "carrier@demo.test",
            "/api/v1/manifests/{mid}/pickup",
            {"vehicle_id": int(HUGE), "lines": []},
            "vehicle_id",
        ),
        ("carrier@demo.test", "/api/v1/drivers", {"user_id": int(HUGE)}, "user_id"),
        (
            "producer@demo.test",
            "/api/v1/plans",
            {
                "year": 2026,
                "waste_code": "841-001-01",
                "planned_generation_kg": "1",
                "planned_transfer_kg": "1",
                "intended_receiver_id": int(HUGE),
            },
            "intended_receiver_id",
        ),
    ],
)
def test_api_body_ids_elsewhere(client, session, now, demo, email, path, body, field):
    m = make_submitted(session, now, demo)
    session.commit()
    headers = {**api_token(client, email), **EN}
    response = client.post(path.format(mid=m.id), json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["fields"][field] == ["Not a valid id."]


def test_case_assignee_beyond_range(client, session, demo):
    from hazwaste.db import utcnow
    from tests.unit.cases.helpers import make_flag

    flag = make_flag(session, utcnow(), producer=demo.orgs["producer"])
    session.commit()
    headers = {**api_token(client, "regulator@demo.test"), **EN}
    response = client.post(
        f"/api/v1/flags/{flag.id}/assignment", json={"assignee_id": int(HUGE)}, headers=headers
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["assignee_id"] == ["Not a valid id."]
    login(client, "regulator@demo.test")
    page = client.post(f"/cases/{flag.id}/assignment", data={"assignee_id": HUGE}, headers=EN)
    assert page.status_code == 422


# -- the safety net ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        OverflowError("Python int too large to convert to SQLite INTEGER"),
        DataError("SELECT 1", {}, Exception("integer out of range")),
    ],
)
def test_database_range_errors_are_never_500(app, client, session, demo, monkeypatch, error):
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setitem(app.view_functions, "catalog.methods", failing)
    monkeypatch.setitem(app.view_functions, "api.create_vehicle", failing)
    login(client, "producer@demo.test")
    assert client.get("/catalog/methods", headers=EN).status_code == 404
    headers = {**api_token(client, "carrier@demo.test"), **EN}
    response = client.post("/api/v1/vehicles", json={}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid"

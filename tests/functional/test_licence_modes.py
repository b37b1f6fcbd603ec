"""Licences carry their modes of operation (经营方式: 收集/贮存/利用/处置): the methods a
licence lists must be within them, a collection or storage licence lists none (so nothing
can be disposed of under it), and pages and the API show them."""

from __future__ import annotations

from datetime import date

import pytest

from hazwaste.errors import Invalid
from hazwaste.permits import services
from tests.conftest import api_token, login
from tests.functional.test_permits_api import licence_json


def _data(**overrides):
    body = {
        "number": "蒙危废经第150621777号",
        "valid_from": date(2026, 1, 1),
        "valid_to": date(2030, 12, 31),
        "annual_capacity_kg": 1_000_000,
        "scope_categories": ["HW08"],
        "scope_codes": [],
        "methods": ["R9"],
        "note": "",
    }
    body.update(overrides)
    return body


def test_methods_must_be_within_the_modes(session, now, demo):
    admin = demo.users["receiver"]
    errors = services.licence_errors(
        session, admin, _data(modes=["utilise"], methods=["R9", "D10"])
    )
    assert errors["methods"] == ["超出许可证的经营方式：D10。"]
    errors = services.licence_errors(session, admin, _data(modes=["collect"], methods=["R9"]))
    assert "R9" in errors["methods"][0]
    # Utilisation without a method says nothing of what is done: one is required.
    assert set(services.licence_errors(session, admin, _data(modes=["utilise"], methods=[]))) == {
        "methods"
    }
    assert services.licence_errors(session, admin, _data(modes=[], methods=["R9"]))["modes"]
    # C1 (co-processing in cement kilns) is either utilisation or disposal.
    assert services.licence_errors(session, admin, _data(modes=["dispose"], methods=["C1"])) == {}


def test_a_collection_licence_lists_no_methods_and_allows_no_disposal(session, now, demo):
    admin = demo.users["receiver"]
    data = _data(modes=["collect", "store"], methods=[])
    assert services.licence_errors(session, admin, data) == {}
    licence = services.create_licence(session, now, admin, data)
    assert licence.mode_list == ["collect", "store"] and licence.method_codes == []
    with pytest.raises(Invalid):
        services.create_licence(
            session, now, admin, _data(number="x2", modes=["collect"], methods=["R9"])
        )


def test_the_page_and_the_api_show_the_modes(client, session, demo):
    token = api_token(client, "receiver@demo.test")
    made = client.post(
        "/api/v1/licences",
        json=licence_json(modes=["store", "dispose"], methods=["D10"], scope_codes=[]),
        headers=token,
    )
    assert made.status_code == 201, made.get_json()
    data = made.get_json()["data"]
    assert data["modes"] == ["store", "dispose"]
    refused = client.post(
        "/api/v1/licences",
        json=licence_json(number="蒙危废经第150621889号", modes=["store"], methods=["R9"]),
        headers={**token, "Accept-Language": "en"},
    )
    assert refused.status_code == 422
    assert "R9" in refused.get_json()["error"]["fields"]["methods"][0]
    wrong = client.post(
        "/api/v1/licences",
        json=licence_json(number="蒙危废经第150621890号", modes=["recycle"]),
        headers=token,
    )
    assert wrong.status_code == 422 and "modes" in wrong.get_json()["error"]["fields"]
    login(client, "receiver@demo.test")
    page = client.get(f"/permits/licences/{data['id']}").get_data(as_text=True)
    assert "经营方式" in page and "贮存" in page and "处置" in page
    form = client.get("/permits/licences").get_data(as_text=True)
    assert 'name="modes" value="collect"' in form

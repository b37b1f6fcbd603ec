"""Case workflow on the API: filters, transitions, assignment, notes, responses; walk."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from hazwaste.db import utcnow
from hazwaste.reconciliation.models import Severity
from tests.conftest import api_token
from tests.unit.cases.helpers import make_flag


@pytest.fixture()
def flags(session, demo):
    # Ages are measured by the API against the real clock (the age_days filter).
    now = utcnow()
    otog = make_flag(
        session,
        now - timedelta(days=9),
        producer=demo.orgs["producer"],
        severity=Severity.CRITICAL,
        quantity_kg=Decimal("3500"),
    )
    dongsheng = make_flag(
        session,
        now - timedelta(days=1),
        producer=demo.orgs["producer2"],
        severity=Severity.LOW,
        quantity_kg=Decimal("10"),
    )
    session.commit()
    return otog, dongsheng


def test_list_filters(client, flags):
    otog, dongsheng = flags
    headers = api_token(client, "regulator@demo.test")

    def ids(query):
        response = client.get(f"/api/v1/flags?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [f["id"] for f in response.get_json()["data"]]

    assert ids("sort=tonnage") == [otog.id, dongsheng.id]
    assert ids("min_tonnes=1") == [otog.id]
    assert ids("case_status=new&sort=age") == [otog.id, dongsheng.id]
    assert ids("case_status=closed") == []
    assert ids("assignee=none&region=150602") == [dongsheng.id]
    assert ids("age_days=5") == [otog.id]
    response = client.get("/api/v1/flags?sort=weird&assignee=x", headers=headers)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"sort", "assignee"}


def test_transitions_assignment_notes(client, demo, flags):
    otog, _ = flags
    headers = api_token(client, "regulator@demo.test")
    url = f"/api/v1/flags/{otog.id}"
    response = client.post(
        f"{url}/transitions",
        json={"action": "close", "finding": "violation", "note": "x"},
        headers=headers,
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    keyed = {**headers, "Idempotency-Key": "start-1"}
    first = client.post(
        f"{url}/transitions", json={"action": "start", "note": "开始"}, headers=keyed
    )
    assert first.status_code == 200 and first.get_json()["data"]["case_status"] == "investigating"
    again = client.post(
        f"{url}/transitions", json={"action": "start", "note": "开始"}, headers=keyed
    )
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    bad = client.post(f"{url}/transitions", json={"action": "close"}, headers=headers)
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"finding", "note"}
    me = demo.users["regulator_city"].id
    assigned = client.post(f"{url}/assignment", json={"assignee_id": me}, headers=headers)
    assert assigned.status_code == 200 and assigned.get_json()["data"]["assignee_id"] == me
    wrong = client.post(
        f"{url}/assignment", json={"assignee_id": demo.users["regulator_otog"].id}, headers=headers
    )
    assert wrong.status_code == 422 and "assignee_id" in wrong.get_json()["error"]["fields"]
    note = client.post(f"{url}/notes", json={"body": "笔录"}, headers=headers)
    assert note.status_code == 201
    notes = client.get(f"{url}/notes", headers=headers).get_json()["data"]
    assert [n["kind"] for n in notes] == ["transition", "assignment", "note"]
    closed = client.post(
        f"{url}/transitions",
        json={"action": "close", "finding": "explained", "note": "企业已说明"},
        headers=headers,
    )
    assert closed.get_json()["data"]["case_finding"] == "explained"
    reopened = client.post(
        f"{url}/transitions", json={"action": "reopen", "note": "新证据"}, headers=headers
    )
    assert reopened.get_json()["data"]["case_status"] == "investigating"


def test_responses(client, flags):
    otog, _ = flags
    url = f"/api/v1/flags/{otog.id}/responses"
    producer = api_token(client, "producer@demo.test")
    assert client.post(url, json={"body": ""}, headers=producer).status_code == 422
    created = client.post(
        url, json={"body": "称重误差", "attachments": "磅单\n照片"}, headers=producer
    )
    assert created.status_code == 201
    assert created.get_json()["data"]["attachments"] == ["磅单", "照片"]
    regulator = api_token(client, "regulator@demo.test")
    assert client.post(url, json={"body": "x"}, headers=regulator).status_code == 403
    listed = client.get(url, headers=regulator).get_json()["data"]
    assert [r["body"] for r in listed] == ["称重误差"]


def test_jurisdiction_walk(client, demo, flags):
    otog, dongsheng = flags
    outsider = api_token(client, "regulator-otog@demo.test")
    enterprise = api_token(client, "producer@demo.test")
    unrelated = api_token(client, "producer2@demo.test")
    calls = [
        ("get", "", None),
        ("post", "/transitions", {"action": "start"}),
        ("post", "/assignment", {"assignee_id": None}),
        ("get", "/notes", None),
        ("post", "/notes", {"body": "x"}),
        ("get", "/responses", None),
        ("post", "/responses", {"body": "x"}),
    ]
    for method, suffix, body in calls:
        url = f"/api/v1/flags/{dongsheng.id}{suffix}"
        response = getattr(client, method)(url, json=body, headers=outsider)
        assert response.status_code == 404, (url, response.status_code)
        response = getattr(client, method)(url, json=body, headers=enterprise)
        assert response.status_code == 404, (url, response.status_code)
    for method, suffix, body in calls[1:5]:
        url = f"/api/v1/flags/{otog.id}{suffix}"
        response = getattr(client, method)(url, json=body, headers=enterprise)
        assert response.status_code == 403, (url, response.status_code)
        response = getattr(client, method)(url, json=body, headers=unrelated)
        assert response.status_code == 404, (url, response.status_code)
    ids = [f["id"] for f in client.get("/api/v1/flags", headers=outsider).get_json()["data"]]
    assert ids == [otog.id]

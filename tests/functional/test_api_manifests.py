"""The manifest lifecycle through the JSON API only; authorization, conflicts, idempotency."""

from decimal import Decimal

from tests.conftest import api_token
from tests.manifest_factories import make_draft, make_submitted


def draft_body(demo, planned):
    return {
        "carrier_id": demo.orgs["carrier"].id,
        "receiver_id": demo.orgs["receiver"].id,
        "vehicle_id": demo.extra["vehicles"][0].id,
        "driver_id": demo.extra["drivers"][0].id,
        "planned_date": planned,
        "emergency_measures": "泄漏时围堵并报告。",
        "lines": [
            {
                "waste_code": "900-249-08",
                "waste_name": "废矿物油",
                "physical_form": "liquid",
                "hazards": ["T", "I"],
                "packaging": "桶",
                "container_count": 5,
                "declared_qty": "1.25",
                "declared_unit": "t",
            }
        ],
    }


def test_full_lifecycle_through_the_api(app, client, session, demo):
    from hazwaste.db import utcnow
    from hazwaste.manifests.services import local_date

    today = local_date(utcnow()).isoformat()
    producer = api_token(client, "producer@demo.test")
    response = client.post("/api/v1/manifests", json=draft_body(demo, today), headers=producer)
    assert response.status_code == 201, response.get_json()
    manifest = response.get_json()["data"]
    assert manifest["status"] == "draft" and manifest["lines"][0]["declared_kg"] == "1250.000"
    mid = manifest["id"]
    submitted = client.post(f"/api/v1/manifests/{mid}/submit", headers=producer).get_json()
    assert submitted["data"]["status"] == "submitted" and len(submitted["data"]["number"]) == 14
    line_id = submitted["data"]["lines"][0]["id"]
    driver = api_token(client, "driver@demo.test")
    picked = client.post(
        f"/api/v1/manifests/{mid}/pickup",
        headers=driver,
        json={
            "vehicle_id": demo.extra["vehicles"][0].id,
            "latitude": 39.348,
            "longitude": 106.959,
            "lines": [{"line_id": line_id, "loaded_qty": "1248.5"}],
        },
    )
    assert picked.status_code == 200, picked.get_json()
    assert (
        client.post(f"/api/v1/manifests/{mid}/delivery", headers=driver, json={}).get_json()[
            "data"
        ]["status"]
        == "delivered"
    )
    receiver = api_token(client, "receiver@demo.test")
    received = client.post(
        f"/api/v1/manifests/{mid}/receipt",
        headers=receiver,
        json={"lines": [{"line_id": line_id, "received_qty": "1240", "decision": "accept"}]},
    )
    body = received.get_json()["data"]
    assert body["status"] == "received" and body["lines"][0]["discrepancy_kg"] == "-8.500"
    done = client.post(
        f"/api/v1/manifests/{mid}/disposal",
        headers=receiver,
        json={
            "lines": [
                {"line_id": line_id, "method": "R2", "disposed_kg": "1240", "disposal_date": today}
            ]
        },
    )
    assert done.get_json()["data"]["status"] == "completed"
    events = client.get(f"/api/v1/manifests/{mid}/events", headers=producer).get_json()["data"]
    assert [e["kind"] for e in events] == [
        "created",
        "submitted",
        "picked_up",
        "delivered",
        "received",
        "disposed",
    ]
    assert events[2]["latitude"] == 39.348
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "OK" in result.output


def test_authorization_conflicts_and_validation(client, session, now, demo):
    m = make_submitted(session, now, demo)
    draft = make_draft(session, now, demo)
    session.commit()
    assert client.get(f"/api/v1/manifests/{m.id}").status_code == 401
    stranger = api_token(client, "producer2@demo.test")
    assert client.get(f"/api/v1/manifests/{m.id}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/manifests/{m.number}", headers=stranger).status_code == 404
    assert (
        client.post(
            f"/api/v1/manifests/{m.id}/cancel", headers=stranger, json={"reason": "x"}
        ).status_code
        == 404
    )
    carrier = api_token(client, "carrier@demo.test")
    assert client.get(f"/api/v1/manifests/{draft.id}", headers=carrier).status_code == 404
    producer = api_token(client, "producer@demo.test")
    forbidden = client.post(
        f"/api/v1/manifests/{m.id}/pickup",
        headers=producer,
        json={
            "vehicle_id": demo.extra["vehicles"][0].id,
            "lines": [{"line_id": m.lines[0].id, "loaded_qty": "1"}],
        },
    )
    assert forbidden.status_code == 403
    receiver = api_token(client, "receiver@demo.test")
    conflict = client.post(
        f"/api/v1/manifests/{m.id}/receipt",
        headers=receiver,
        json={"lines": [{"line_id": m.lines[0].id, "received_qty": "1", "decision": "accept"}]},
    )
    assert conflict.status_code == 409
    assert conflict.get_json()["error"]["status"] == "submitted"
    regulator = api_token(client, "regulator@demo.test")
    assert client.get(f"/api/v1/manifests/{m.number}", headers=regulator).status_code == 200
    assert (
        client.post(
            f"/api/v1/manifests/{m.id}/cancel", headers=regulator, json={"reason": "x"}
        ).status_code
        == 403
    )
    driver = api_token(client, "driver@demo.test")
    invalid = client.post(
        f"/api/v1/manifests/{m.id}/pickup",
        headers=driver,
        json={
            "vehicle_id": demo.extra["vehicles"][0].id,
            "lines": [{"line_id": m.lines[0].id, "loaded_qty": "-5"}],
        },
    )
    assert invalid.status_code == 422
    assert "loaded_qty" in invalid.get_json()["error"]["fields"]["lines"]["0"]
    listing = client.get("/api/v1/manifests?status=submitted", headers=carrier).get_json()
    assert [x["id"] for x in listing["data"]] == [m.id] and listing["meta"]["total"] == 1


def test_same_idempotency_key_returns_the_first_result(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    driver = {**api_token(client, "driver@demo.test"), "Idempotency-Key": "pickup-1"}
    body = {
        "vehicle_id": demo.extra["vehicles"][0].id,
        "lines": [{"line_id": ln.id, "loaded_qty": str(ln.declared_kg)} for ln in m.lines],
    }
    first = client.post(f"/api/v1/manifests/{m.id}/pickup", headers=driver, json=body)
    second = client.post(f"/api/v1/manifests/{m.id}/pickup", headers=driver, json=body)
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    session.expire_all()
    assert [e.kind.value for e in m.events].count("picked_up") == 1
    other = client.post(
        f"/api/v1/manifests/{m.id}/pickup", headers=driver, json={**body, "note": "different"}
    )
    assert other.status_code == 422


def test_patch_changes_only_a_draft(client, session, now, demo):
    draft = make_draft(session, now, demo)
    m = make_submitted(session, now, demo)
    session.commit()
    producer = api_token(client, "producer@demo.test")
    changed = client.patch(
        f"/api/v1/manifests/{draft.id}", headers=producer, json={"emergency_measures": "新的措施"}
    )
    assert (
        changed.status_code == 200
        and changed.get_json()["data"]["emergency_measures"] == "新的措施"
    )
    assert Decimal(changed.get_json()["data"]["declared_total_kg"]) == draft.declared_total_kg
    assert (
        client.patch(
            f"/api/v1/manifests/{m.id}", headers=producer, json={"emergency_measures": "x"}
        ).status_code
        == 409
    )

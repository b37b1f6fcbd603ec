"""``Idempotency-Key`` on the manifest API: a retry returns the first successful result and
changes nothing; the same key for another request is a 422; failures are not stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hazwaste.api.models import IdempotencyRecord
from hazwaste.db import utcnow
from hazwaste.manifests.models import EventKind, Manifest, ManifestEvent
from hazwaste.manifests.services import local_date
from tests.conftest import api_token
from tests.functional.test_api_manifests import API, draft_body
from tests.manifest_factories import make_draft, make_submitted


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def count_events(session: Any, manifest_id: int, kind: EventKind) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ManifestEvent)
            .where(ManifestEvent.manifest_id == manifest_id, ManifestEvent.kind == kind)
        )
    )


def records(session: Any, key: str) -> list[IdempotencyRecord]:
    return list(session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.key == key)))


def pickup_body(manifest: Manifest, vehicle_id: int, qty: str = "100") -> dict[str, Any]:
    return {
        "vehicle_id": vehicle_id,
        "latitude": 39.3,
        "longitude": 106.9,
        "lines": [{"line_id": ln.id, "loaded_qty": qty} for ln in manifest.lines],
    }


def test_a_retried_pickup_returns_the_first_response_and_changes_nothing(
    client, session, now, demo
):
    m = make_submitted(session, now, demo)
    session.commit()
    headers = keyed(api_token(client, "driver@demo.test"), "pickup-7f3a")
    body = pickup_body(m, demo.extra["vehicles"][0].id)
    first = client.post(f"{API}/{m.id}/pickup", headers=headers, json=body)
    assert first.status_code == 200, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(2):
        again = client.post(f"{API}/{m.id}/pickup", headers=headers, json=body)
        assert again.status_code == 200  # not 409, although the manifest is in transit now
        assert again.get_data() == first.get_data()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.mimetype == "application/json"
    # The same JSON with its keys in another order is the same request.
    reordered = dict(reversed(list(body.items())))
    assert client.post(f"{API}/{m.id}/pickup", headers=headers, json=reordered).status_code == 200
    assert count_events(session, m.id, EventKind.PICKED_UP) == 1
    [record] = records(session, "pickup-7f3a")
    assert record.status == 200 and record.body == first.get_data(as_text=True)
    # Without a key the retry is a new request: the manifest is in transit now.
    plain = client.post(
        f"{API}/{m.id}/pickup", headers=api_token(client, "driver@demo.test"), json=body
    )
    assert plain.status_code == 409 and plain.get_json()["error"]["status"] == "in_transit"


def test_the_same_key_for_a_different_request_is_422(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    headers = keyed(api_token(client, "driver@demo.test"), "k-1")
    body = pickup_body(m, demo.extra["vehicles"][0].id)
    assert client.post(f"{API}/{m.id}/pickup", headers=headers, json=body).status_code == 200
    changed = client.post(f"{API}/{m.id}/pickup", headers=headers, json={**body, "note": "又一次"})
    assert changed.status_code == 422
    assert "Idempotency-Key" in changed.get_json()["error"]["fields"]
    elsewhere = client.post(f"{API}/{m.id}/delivery", headers=headers, json={})
    assert elsewhere.status_code == 422
    assert count_events(session, m.id, EventKind.PICKED_UP) == 1
    assert count_events(session, m.id, EventKind.DELIVERED) == 0


def test_a_failed_first_attempt_is_not_stored(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    headers = keyed(api_token(client, "driver@demo.test"), "pickup-retry")
    vehicle = demo.extra["vehicles"][0].id
    bad = client.post(f"{API}/{m.id}/pickup", headers=headers, json=pickup_body(m, vehicle, "-1"))
    assert bad.status_code == 422
    over = client.post(
        f"{API}/{m.id}/pickup", headers=headers, json=pickup_body(m, vehicle, "99999")
    )
    assert over.status_code == 422 and "vehicle_id" in over.get_json()["error"]["fields"]
    assert records(session, "pickup-retry") == []
    fixed = client.post(f"{API}/{m.id}/pickup", headers=headers, json=pickup_body(m, vehicle))
    assert fixed.status_code == 200, fixed.get_json()
    replay = client.post(f"{API}/{m.id}/pickup", headers=headers, json=pickup_body(m, vehicle))
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert count_events(session, m.id, EventKind.PICKED_UP) == 1


def test_refusals_are_not_stored_either(client, session, now, demo):
    """403, 404 and 409 answers leave the key free for the request that can succeed."""
    m = make_submitted(session, now, demo)
    draft = make_draft(session, now, demo)
    session.commit()
    body = pickup_body(m, demo.extra["vehicles"][0].id)
    producer = keyed(api_token(client, "producer@demo.test"), "shared-key")
    driver = keyed(api_token(client, "driver@demo.test"), "shared-key")
    assert client.post(f"{API}/{m.id}/pickup", headers=producer, json=body).status_code == 403
    assert client.post(f"{API}/{draft.id}/pickup", headers=driver, json=body).status_code == 404
    assert client.post(f"{API}/{m.id}/delivery", headers=driver, json={}).status_code == 409
    assert records(session, "shared-key") == []
    assert client.post(f"{API}/{m.id}/pickup", headers=driver, json=body).status_code == 200
    # Keys belong to their user: the producer's "shared-key" is still free.
    cancel = client.post(f"{API}/{draft.id}/cancel", headers=producer, json={"reason": "不要了"})
    assert cancel.status_code == 200, cancel.get_json()
    assert len(records(session, "shared-key")) == 2


def test_a_retried_create_makes_one_draft(client, session, demo):
    today = local_date(utcnow())
    headers = keyed(api_token(client, "producer@demo.test"), "create-1")
    body = draft_body(demo, today)
    first = client.post(API, headers=headers, json=body)
    again = client.post(API, headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    mine = client.get(f"{API}?status=draft", headers=headers).get_json()
    assert [x["id"] for x in mine["data"]] == [first.get_json()["data"]["id"]]


def test_a_retried_submit_keeps_its_number(client, session, now, demo):
    today = local_date(utcnow())
    a = make_draft(session, utcnow(), demo, planned_date=today)
    b = make_draft(session, utcnow(), demo, planned_date=today)
    session.commit()
    headers = keyed(api_token(client, "producer@demo.test"), "submit-a")
    first = client.post(f"{API}/{a.id}/submit", headers=headers)
    assert first.status_code == 200, first.get_json()
    again = client.post(f"{API}/{a.id}/submit", headers=headers)
    assert again.status_code == 200 and again.get_data() == first.get_data()
    number = first.get_json()["data"]["number"]
    other = client.post(f"{API}/{b.id}/submit", headers=keyed(headers, "submit-b")).get_json()
    assert int(other["data"]["number"][-6:]) == int(number[-6:]) + 1
    assert count_events(session, a.id, EventKind.SUBMITTED) == 1


def test_a_too_long_key_is_refused(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    headers = keyed(api_token(client, "producer@demo.test"), "k" * 201)
    response = client.post(f"{API}/{m.id}/cancel", headers=headers, json={"reason": "x"})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["error"]["fields"]
    assert m.status.value == "submitted"


def test_a_retry_while_the_first_request_still_runs_waits_then_says_so(
    client, session, now, demo, monkeypatch
):
    """A key reserved by a request that has not finished (here: never will) is not run
    again: the retry waits a moment for its result, then answers 409 — and changes nothing."""
    from hazwaste.api import core

    monkeypatch.setattr(core, "IDEMPOTENCY_WAIT_S", 0.3)
    m = make_submitted(session, now, demo)
    driver = demo.users["driver"]
    session.add(
        IdempotencyRecord(
            user_id=driver.id,
            key="in-flight",
            request_hash="x" * 64,
            status=core.PENDING,
            body="",
            created_at=now,
        )
    )
    session.commit()
    headers = keyed(api_token(client, "driver@demo.test"), "in-flight")
    body = pickup_body(m, demo.extra["vehicles"][0].id)
    response = client.post(f"{API}/{m.id}/pickup", headers=headers, json=body)
    assert response.status_code == 409
    assert "Idempotency-Key" in response.get_json()["error"]["message"]
    assert count_events(session, m.id, EventKind.PICKED_UP) == 0

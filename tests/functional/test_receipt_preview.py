"""``POST /api/v1/manifests/{id}/receipt`` with ``"confirm": false``: a preview of the
computed discrepancies that records nothing (the web form's confirmation step); with
``confirm`` true or absent the receipt is recorded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from hazwaste.api.models import IdempotencyRecord
from hazwaste.audit.models import AuditEntry
from hazwaste.ledger.models import LedgerEntry
from hazwaste.manifests import lifecycle
from hazwaste.manifests.models import ManifestEvent, ManifestStatus
from tests.conftest import api_token
from tests.manifest_factories import make_submitted, pickup_data

EN = {"Accept-Language": "en"}


@pytest.fixture()
def delivered(session, now, demo) -> Any:
    m = make_submitted(session, now, demo)
    lifecycle.pickup(
        session, now, m, demo.users["driver"], pickup_data(m, demo.extra["vehicles"][0].id)
    )
    lifecycle.deliver(session, now, m, demo.users["driver"], {"position_note": "denied"})
    session.commit()
    return m


def counts(session: Any) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (ManifestEvent, AuditEntry, LedgerEntry, IdempotencyRecord)
    )


def receipt(m: Any, less_kg: Decimal = Decimal("2.5"), **extra: Any) -> dict[str, Any]:
    return {
        "position_note": "denied",
        "lines": [
            {
                "line_id": ln.id,
                "received_qty": str(ln.loaded_kg - less_kg),
                "decision": "accept",
            }
            for ln in m.lines
        ],
        **extra,
    }


def test_preview_returns_the_discrepancies_and_records_nothing(client, session, delivered):
    m = delivered
    headers = {**api_token(client, "receiver@demo.test"), **EN, "Idempotency-Key": "rcpt-1"}
    before = counts(session)
    version = m.version
    response = client.post(
        f"/api/v1/manifests/{m.id}/receipt", json=receipt(m, confirm=False), headers=headers
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["meta"] == {"preview": True, "recorded": False}
    assert body["data"]["status"] == "delivered"
    for line, ln in zip(body["data"]["lines"], m.lines, strict=True):
        loaded = ln.loaded_kg
        assert line["loaded_kg"] == str(loaded)
        assert line["received_kg"] == str(loaded - Decimal("2.5"))
        assert line["discrepancy_kg"] == "-2.500"
        pct = (Decimal("-2.5") * 100 / loaded).quantize(Decimal("0.01"))
        assert line["discrepancy_pct"] == str(pct)
        assert line["decision"] == "accept"
        assert line["accepted_kg"] == str(loaded - Decimal("2.5"))
        assert line["rejected_kg"] == "0.000"
    assert "Idempotent-Replayed" not in response.headers

    session.expire_all()
    assert m.status is ManifestStatus.DELIVERED and m.version == version
    assert all(ln.received_kg is None and ln.decision is None for ln in m.lines)
    assert counts(session) == before  # no event, audit entry, ledger entry nor key

    # The same key again: a preview again, not a replay; then the confirmed receipt with
    # that key is recorded (the preview did not use the key up).
    again = client.post(
        f"/api/v1/manifests/{m.id}/receipt", json=receipt(m, confirm=False), headers=headers
    )
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
    recorded = client.post(
        f"/api/v1/manifests/{m.id}/receipt", json=receipt(m, confirm=True), headers=headers
    )
    assert recorded.status_code == 200, recorded.get_json()
    assert "meta" not in recorded.get_json()
    assert recorded.get_json()["data"]["status"] == "received"
    session.expire_all()
    assert m.status is ManifestStatus.RECEIVED
    assert m.lines[0].received_kg == m.lines[0].loaded_kg - Decimal("2.5")
    events, audits, _ledger, keys = counts(session)
    assert events == before[0] + 1 and audits > before[1] and keys == before[3] + 1


def test_receipt_without_confirm_is_recorded(client, session, delivered):
    m = delivered
    headers = {**api_token(client, "receiver@demo.test"), **EN}
    response = client.post(f"/api/v1/manifests/{m.id}/receipt", json=receipt(m), headers=headers)
    assert response.status_code == 200
    session.expire_all()
    assert m.status is ManifestStatus.RECEIVED


def test_invalid_preview_is_422_and_records_nothing(client, session, delivered):
    m = delivered
    headers = {**api_token(client, "receiver@demo.test"), **EN}
    before = counts(session)
    body = receipt(m, confirm=False)
    body["lines"][0]["decision"] = "reject"  # without a reason
    response = client.post(f"/api/v1/manifests/{m.id}/receipt", json=body, headers=headers)
    assert response.status_code == 422
    assert "rejection_reason" in response.get_json()["error"]["fields"]["lines"]["0"]
    session.expire_all()
    assert m.status is ManifestStatus.DELIVERED and counts(session) == before


def test_preview_is_refused_to_another_party(client, session, delivered):
    m = delivered
    headers = {**api_token(client, "carrier@demo.test"), **EN}
    response = client.post(
        f"/api/v1/manifests/{m.id}/receipt", json=receipt(m, confirm=False), headers=headers
    )
    assert response.status_code == 403


def test_a_difference_beyond_the_tolerance_needs_a_note(client, session, delivered):
    """Previewed, it is shown; confirmed without a note, 422 on ``note`` and nothing is
    recorded; with a note, recorded."""
    m = delivered
    token = api_token(client, "receiver@demo.test")
    before = counts(session)
    body = receipt(m, less_kg=Decimal(100))  # 100 kg short on each line: beyond 2 % / 5 %
    preview = client.post(
        f"/api/v1/manifests/{m.id}/receipt", json={**body, "confirm": False}, headers=token
    )
    assert preview.status_code == 200
    refused = client.post(
        f"/api/v1/manifests/{m.id}/receipt",
        json=body,
        headers={**token, "Idempotency-Key": "rcpt-note-1"},
    )
    assert refused.status_code == 422
    assert "请在备注中说明差异原因" in refused.get_json()["error"]["fields"]["note"][0]
    assert counts(session) == before
    done = client.post(
        f"/api/v1/manifests/{m.id}/receipt",
        json={**body, "note": "雨天桶内进水，倒出后过磅"},
        headers={**token, "Idempotency-Key": "rcpt-note-2"},
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["data"]["status"] == "received"

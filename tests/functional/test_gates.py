"""Checks before the truck leaves: the receiver's capacity left for the year at submission
and at pickup (refused with the numbers, allowed just inside), and at pickup the permit, the
driver's qualification and the receiver's licence on the actual day; a refusal records
nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hazwaste.errors import Invalid
from hazwaste.manifests import gates, lifecycle
from hazwaste.manifests.models import EventKind, Manifest, ManifestEvent, ManifestStatus
from tests.conftest import api_token
from tests.manifest_factories import make_draft, make_submitted, pickup_data

DECLARED = Decimal("2220.5")  # the factory's two lines: 1,800.5 + 420 kg


def _events(session, manifest) -> int:
    return session.scalar(
        select(func.count(ManifestEvent.id)).where(ManifestEvent.manifest_id == manifest.id)
    )


def _pickup(session, when, manifest, demo, factor="1"):
    data = pickup_data(manifest, demo.extra["vehicles"][0].id, Decimal(factor))
    return lifecycle.pickup(session, when, manifest, demo.users["driver"], data)


def test_submission_needs_the_capacity_left_just_inside_is_fine(session, now, demo):
    licence = demo.extra["licence"]
    licence.annual_capacity_kg = DECLARED - Decimal("0.001")
    draft = make_draft(session, now, demo)
    with pytest.raises(Invalid) as refused:
        lifecycle.submit(session, now, draft, demo.users["producer"])
    [message] = refused.value.fields["receiver_id"]
    assert "2.2205 吨" in message and "剩余 2.220499 吨" in message, message
    assert draft.status is ManifestStatus.DRAFT and draft.number is None
    licence.annual_capacity_kg = DECLARED  # exactly what it declares: fits
    lifecycle.submit(session, now, draft, demo.users["producer"])
    assert draft.status is ManifestStatus.SUBMITTED


def test_what_is_on_the_way_counts_against_the_capacity(session, now, demo):
    licence = demo.extra["licence"]
    licence.annual_capacity_kg = Decimal("4000")
    first = make_submitted(session, now, demo)
    _pickup(session, now + timedelta(days=1), first, demo)  # 2,220.5 kg on the way
    left = gates.capacity_left(session, demo.orgs["receiver"].id, (now + timedelta(days=1)).date())
    assert left is not None
    assert (left.capacity_kg, left.received_kg, left.on_the_way_kg) == (
        Decimal("4000.000"),
        Decimal("0.000"),
        DECLARED,
    )
    with pytest.raises(Invalid) as refused:
        make_submitted(session, now, demo)
    assert "在途 2.2205 吨" in refused.value.fields["receiver_id"][0]


def test_pickup_checks_the_weighed_total_against_the_capacity(session, now, demo):
    manifest = make_submitted(session, now, demo)
    demo.extra["licence"].annual_capacity_kg = Decimal("2500")  # lowered since submission
    before = _events(session, manifest)
    with pytest.raises(Invalid) as refused:
        _pickup(session, now + timedelta(days=1), manifest, demo, factor="1.2")  # 2,664.6 kg
    [message] = refused.value.fields["_schema"]
    assert "2.6646 吨" in message and "剩余 2.5 吨" in message
    assert manifest.status is ManifestStatus.SUBMITTED and _events(session, manifest) == before
    _pickup(session, now + timedelta(days=1), manifest, demo, factor="1")  # 2,220.5 kg fits
    assert manifest.status is ManifestStatus.IN_TRANSIT


def test_pickup_on_a_day_the_permit_has_ended(session, now, demo):
    manifest = make_submitted(session, now, demo)
    permit = demo.extra["carrier_permit"]
    day = (now + timedelta(days=1)).date()
    permit.valid_to = day - timedelta(days=1)
    with pytest.raises(Invalid) as refused:
        _pickup(session, now + timedelta(days=1), manifest, demo)
    assert refused.value.fields["_schema"] == [
        f"承运单位今天（{day.isoformat()}）没有有效的道路运输经营许可证。"
    ]


def test_pickup_by_a_driver_whose_qualification_has_expired(session, now, demo):
    manifest = make_submitted(session, now, demo)
    driver = demo.extra["drivers"][0]
    assert driver.user_id == demo.users["driver"].id
    driver.qualification_valid_to = now.date()
    with pytest.raises(Invalid) as refused:
        _pickup(session, now + timedelta(days=2), manifest, demo)
    assert "从业资格证已于" in refused.value.fields["_schema"][0]


def test_pickup_after_the_receivers_licence_was_revoked(session, now, demo):
    manifest = make_submitted(session, now, demo)
    demo.extra["licence"].revoked_at = now
    with pytest.raises(Invalid) as refused:
        _pickup(session, now + timedelta(days=1), manifest, demo)
    messages = refused.value.fields["_schema"]
    assert sorted(m.split("今天")[0] for m in messages) == ["接收单位的经营许可证"] * 2


def test_the_api_answers_the_refusal_as_a_field_error(client, session, now, demo):
    manifest = make_submitted(session, now, demo)
    demo.extra["licence"].annual_capacity_kg = Decimal("1000")
    session.commit()
    token = api_token(client, "driver@demo.test")
    body = {
        "vehicle_id": demo.extra["vehicles"][0].id,
        "latitude": 39.348,
        "longitude": 106.959,
        "lines": [{"line_id": ln.id, "loaded_qty": str(ln.declared_kg)} for ln in manifest.lines],
    }
    response = client.post(f"/api/v1/manifests/{manifest.id}/pickup", json=body, headers=token)
    assert response.status_code == 422
    [message] = response.get_json()["error"]["fields"]["_schema"]
    assert "许可经营规模为 1 吨" in message
    session.expire_all()
    assert session.get(Manifest, manifest.id).status is ManifestStatus.SUBMITTED


def _plan(session, demo, year, code, transfer_kg):
    from hazwaste.plans.models import ManagementPlan

    plan = ManagementPlan(
        producer_id=demo.orgs["producer"].id,
        year=year,
        waste_code=code,
        planned_generation_kg=Decimal(transfer_kg),
        planned_transfer_kg=Decimal(transfer_kg),
        intended_receiver_id=demo.orgs["receiver"].id,
        created_by_id=demo.users["producer"].id,
    )
    session.add(plan)
    session.flush()
    return plan


def test_beyond_the_plan_warns_by_default_and_the_warning_is_kept(session, now, demo):
    year = (now + timedelta(days=1)).year
    _plan(session, demo, year, "900-249-08", "1800")  # the manifest's line: 1,800.5 kg
    draft = make_draft(session, now, demo)
    lifecycle.submit(session, now, draft, demo.users["producer"])
    [warning] = lifecycle.warnings(session, draft)
    assert warning.startswith("900-249-08：管理计划") and "剩余 1.8 吨" in warning, warning
    assert "本联单为 1.8005 吨" in warning
    event = session.scalar(
        select(ManifestEvent).where(
            ManifestEvent.manifest_id == draft.id, ManifestEvent.kind == EventKind.SUBMITTED
        )
    )
    assert "900-249-08" in event.payload and "warnings" in event.payload
    assert lifecycle.warnings(session, draft) == []  # told once


def test_beyond_the_plan_blocks_when_configured(app, session, now, demo, monkeypatch):
    monkeypatch.setitem(app.config, "PLAN_CHECK", "block")
    year = (now + timedelta(days=1)).year
    plan = _plan(session, demo, year, "900-249-08", "1800")
    draft = make_draft(session, now, demo)
    with pytest.raises(Invalid) as refused:
        lifecycle.submit(session, now, draft, demo.users["producer"])
    assert "管理计划" in refused.value.fields["_schema"][0]
    plan.planned_transfer_kg = Decimal("1800.5")  # just enough
    lifecycle.submit(session, now, draft, demo.users["producer"])
    assert draft.status is ManifestStatus.SUBMITTED
    # At pickup the weighed quantity counts: 20 % more than declared is beyond the plan.
    with pytest.raises(Invalid) as at_pickup:
        _pickup(session, now + timedelta(days=1), draft, demo, factor="1.2")
    assert any("管理计划" in m for m in at_pickup.value.fields["_schema"])
    _pickup(session, now + timedelta(days=1), draft, demo)
    assert draft.status is ManifestStatus.IN_TRANSIT


def test_the_page_and_the_api_show_the_warning(client, session, now, demo):
    from tests.conftest import login

    # The pages and the API act at the real time: plan for the real tomorrow.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    _plan(session, demo, tomorrow.year, "900-249-08", "1000")
    first = make_draft(session, now, demo, planned_date=tomorrow)
    second = make_draft(session, now, demo, planned_date=tomorrow)
    session.commit()
    login(client, "producer@demo.test")
    page = client.post(f"/manifests/{first.id}/submit", follow_redirects=True)
    assert page.status_code == 200, page.get_data(as_text=True)[-3000:]
    assert "900-249-08：管理计划" in page.get_data(as_text=True)
    token = api_token(client, "producer@demo.test")
    answer = client.post(f"/api/v1/manifests/{second.id}/submit", headers=token)
    assert answer.status_code == 200
    [warning] = answer.get_json()["meta"]["warnings"]
    assert "已转移或已填入联单 1.8005 吨" in warning  # the first manifest counts now

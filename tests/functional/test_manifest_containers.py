"""Manifests built from containers, the loading check at pickup, containers at receipt."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from hazwaste.errors import Invalid
from hazwaste.ledger import services as ledger
from hazwaste.ledger.models import ContainerStatus, LedgerEntry, LedgerKind
from hazwaste.manifests import lifecycle, services
from tests.manifest_factories import draft_data, pickup_data, receipt_data


def drums(session, now, demo, n=3, code="900-249-08", kg="180.5"):
    row = {
        "waste_code": code,
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "packaging_type": "drum",
        "net_weight_kg": Decimal(kg),
        "generation_date": date(2026, 11, 2),
        "source_process": "检修",
    }
    return ledger.register_containers(session, now, demo.users["producer"], [row] * n, now.date())


def container_manifest(session, now, demo, containers, lines=None):
    data = draft_data(
        demo,
        (now + timedelta(days=1)).date(),
        lines=lines or [],
        container_ids=[c.id for c in containers],
    )
    manifest = services.create_draft(session, now, demo.users["producer"], data)
    return lifecycle.submit(session, now, manifest, demo.users["producer"])


def test_lines_are_built_from_containers(session, now, demo):
    made = drums(session, now, demo, 3) + drums(session, now, demo, 1, "900-041-49", "60")
    m = container_manifest(session, now, demo, made)
    by_code = {ln.waste_code: ln for ln in m.lines}
    assert by_code["900-249-08"].container_count == 3
    assert by_code["900-249-08"].declared_kg == Decimal("541.500")
    assert by_code["900-041-49"].declared_kg == Decimal("60.000")
    assert all(c.status is ContainerStatus.ASSIGNED and c.manifest_id == m.id for c in made)


def test_container_on_one_open_manifest_only(session, now, demo):
    made = drums(session, now, demo, 2)
    container_manifest(session, now, demo, made[:1])
    with pytest.raises(Invalid) as exc:
        container_manifest(session, now, demo, made)
    assert "container_ids" in exc.value.fields


def test_loading_check_blocks_missing_and_foreign_then_passes(session, now, demo):
    made = drums(session, now, demo, 3)
    other = drums(session, now, demo, 1)[0]
    m = container_manifest(session, now, demo, made)
    data = pickup_data(m, demo.extra["vehicles"][0].id)
    driver = demo.users["driver"]
    with pytest.raises(Invalid) as exc:
        lifecycle.pickup(
            session,
            now,
            m,
            driver,
            {**data, "container_codes": [made[0].code, made[1].code, other.code]},
        )
    messages = " ".join(exc.value.fields["container_codes"])
    assert made[2].code in messages and other.code in messages
    assert m.status.value == "submitted"  # the check runs before anything is written
    lifecycle.pickup(
        session, now, m, driver, {**data, "container_codes": [c.code.lower() for c in made]}
    )
    session.expire_all()
    assert {c.status for c in made} == {ContainerStatus.SHIPPED}
    shipped = session.query(LedgerEntry).filter(LedgerEntry.kind == LedgerKind.SHIPPED_OUT).all()
    assert len(shipped) == 3 and all(e.manifest_id == m.id for e in shipped)


def test_receiver_scan_records_missing_containers(session, now, demo):
    made = drums(session, now, demo, 3)
    m = container_manifest(session, now, demo, made)
    lifecycle.pickup(
        session,
        now,
        m,
        demo.users["driver"],
        {**pickup_data(m, demo.extra["vehicles"][0].id), "container_codes": [c.code for c in made]},
    )
    lifecycle.deliver(session, now, m, demo.users["driver"], {})
    lifecycle.receive(
        session,
        now,
        m,
        demo.users["receiver"],
        {**receipt_data(m), "container_codes": [made[0].code, made[1].code]},
    )
    session.expire_all()
    assert [c.status for c in made] == [
        ContainerStatus.RECEIVED,
        ContainerStatus.RECEIVED,
        ContainerStatus.MISSING,
    ]
    assert made[2].code in m.events[-1].payload


def test_cancel_puts_containers_back_in_store(session, now, demo):
    made = drums(session, now, demo, 2)
    m = container_manifest(session, now, demo, made)
    lifecycle.cancel(session, now, m, demo.users["producer"], "改期")
    session.expire_all()
    assert all(c.status is ContainerStatus.STORED and c.manifest_id is None for c in made)

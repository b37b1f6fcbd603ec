"""Containers and ledger at the service level."""

from datetime import date
from decimal import Decimal

import pytest

from hazwaste.errors import Conflict, Invalid
from hazwaste.ledger import codes, services
from hazwaste.ledger.models import ContainerStatus
from tests.manifest_factories import make_draft


def row(**overrides):
    data = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "main_components": "矿物油",
        "harmful_components": "石油烃",
        "packaging_type": "drum",
        "net_weight_kg": Decimal("180.5"),
        "generation_date": date(2026, 11, 2),
        "source_process": "设备检修",
    }
    data.update(overrides)
    return data


def test_codes_are_37_characters_and_sequential(session, now, demo):
    producer = demo.users["producer"]
    made = services.register_containers(session, now, producer, [row(), row()], now.date())
    assert [len(c.code) for c in made] == [37, 37]
    uscc = demo.orgs["producer"].uscc
    assert made[0].code == f"{uscc}9002490820261102001"
    assert made[1].code.endswith("002")
    parsed = codes.parse_code(made[1].code.lower())
    assert parsed is not None and parsed.waste_code == "900-249-08" and parsed.sequence == 2
    again = services.register_containers(session, now, producer, [row()], now.date())
    assert again[0].code.endswith("003")


def test_bad_row_registers_nothing(session, now, demo):
    producer = demo.users["producer"]
    with pytest.raises(Invalid) as exc:
        services.register_containers(
            session, now, producer, [row(), row(waste_code="999-999-99")], now.date()
        )
    assert "waste_code" in exc.value.fields["rows"][1]
    assert services.containers_in_store(session, demo.orgs["producer"].id) == []


def test_monthly_summary_arithmetic_is_exact(session, now, demo):
    producer = demo.users["producer"]
    services.register_containers(
        session,
        now,
        producer,
        [
            row(net_weight_kg=Decimal("0.1"), generation_date=date(2026, 10, 30)),
            row(net_weight_kg=Decimal("0.2"), generation_date=date(2026, 11, 3)),
            row(net_weight_kg=Decimal("100.333"), generation_date=date(2026, 11, 4)),
        ],
        now.date(),
    )
    services.add_entry(
        session,
        now,
        producer,
        {
            "waste_code": "900-249-08",
            "kind": "self_used",
            "quantity_kg": Decimal("0.3"),
            "occurred_on": date(2026, 11, 5),
            "method_code": "R2",
            "note": "",
        },
    )
    (balance,) = services.monthly_summary(session, demo.orgs["producer"].id, 2026, 11)
    assert balance.opening_kg == Decimal("0.1")
    assert balance.generated_kg == Decimal("100.533")
    assert balance.self_used_kg == Decimal("0.3")
    assert balance.closing_kg == Decimal("100.333")


def test_container_on_one_open_manifest_only(session, now, demo):
    producer = demo.users["producer"]
    (container,) = services.register_containers(session, now, producer, [row()], now.date())
    first, second = make_draft(session, now, demo), make_draft(session, now, demo)
    services.assign_to_manifest(session, now, first.id, [container.id], demo.orgs["producer"].id)
    with pytest.raises(Conflict):
        services.assign_to_manifest(
            session, now, second.id, [container.id], demo.orgs["producer"].id
        )
    session.refresh(container)
    assert container.status is ContainerStatus.ASSIGNED and container.manifest_id == first.id

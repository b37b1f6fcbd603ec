"""PRODUCER_BALANCE and OVER_PLAN: inside and just outside each tolerance."""

from datetime import UTC, date, datetime
from decimal import Decimal

from hazwaste.ledger import services as ledger
from hazwaste.plans.models import ManagementPlan
from tests.unit.reconciliation.conftest import HOUR, flags, run


def entry(session, now, demo, kind, kg, day, code="900-249-08"):
    ledger.add_entry(
        session,
        now,
        demo.users["producer"],
        {
            "waste_code": code,
            "kind": kind,
            "quantity_kg": Decimal(kg),
            "occurred_on": day,
            "method_code": "R2" if kind == "self_used" else None,
            "note": "",
        },
    )


def test_balance_between_counts_with_shipments_from_manifests(session, now, demo, journey):
    # October count 1000 kg; November: generated 5000, self-used 300, shipped by manifest
    # (weighed at pickup) 1800.5 kg of 900-249-08 → expected count 3899.5 kg.
    entry(session, now, demo, "stock_count", "1000", date(2026, 10, 31))
    entry(session, now, demo, "generated", "5000", date(2026, 11, 3))
    entry(session, now, demo, "self_used", "300", date(2026, 11, 4))
    journey(datetime(2026, 11, 4, 1, tzinfo=UTC), planned_date=date(2026, 11, 5)).pickup(
        datetime(2026, 11, 5, 2, tzinfo=UTC)
    )
    # Tolerance: the larger of 50 kg and 1 % of 1000 + 5000 kg = 60 kg.
    entry(session, now, demo, "stock_count", "3839.5", date(2026, 11, 18))  # 60 kg short
    run(session, now, "PRODUCER_BALANCE")
    found = flags(session, "PRODUCER_BALANCE")
    assert found == [], [(f.period, f.evidence) for f in found]  # exactly 60 kg: inside
    entry(session, now, demo, "stock_count", "3839", date(2026, 11, 19))  # 60.5 kg short
    run(session, now + HOUR, "PRODUCER_BALANCE")
    (flag,) = flags(session, "PRODUCER_BALANCE")
    assert flag.period == "2026-11:900-249-08" and flag.quantity_kg == Decimal("60.500")
    assert '"shipped_kg":"1800.500"' in flag.evidence


def test_fifty_kg_floor_for_small_stocks(session, now, demo):
    entry(session, now, demo, "stock_count", "0", date(2026, 10, 31))
    entry(session, now, demo, "generated", "800", date(2026, 11, 2))
    entry(session, now, demo, "stock_count", "750", date(2026, 11, 10))  # 50 kg: inside
    run(session, now, "PRODUCER_BALANCE")
    assert flags(session, "PRODUCER_BALANCE") == []
    entry(session, now, demo, "stock_count", "749.999", date(2026, 11, 11))
    run(session, now + HOUR, "PRODUCER_BALANCE")
    assert len(flags(session, "PRODUCER_BALANCE")) == 1


def test_one_percent_tolerance_for_large_stocks(session, now, demo):
    entry(session, now, demo, "stock_count", "0", date(2026, 10, 31))
    entry(session, now, demo, "generated", "20000", date(2026, 11, 2))
    entry(session, now, demo, "stock_count", "19800", date(2026, 11, 10))  # 1 %: inside
    run(session, now, "PRODUCER_BALANCE")
    assert flags(session, "PRODUCER_BALANCE") == []
    entry(session, now, demo, "stock_count", "19799", date(2026, 11, 11))
    run(session, now + HOUR, "PRODUCER_BALANCE")
    assert len(flags(session, "PRODUCER_BALANCE")) == 1


def test_over_plan_generation_ten_percent(session, now, demo):
    session.add(
        ManagementPlan(
            producer_id=demo.orgs["producer"].id,
            year=2026,
            waste_code="900-249-08",
            planned_generation_kg=Decimal("10000"),
            planned_transfer_kg=Decimal("10000"),
            created_by_id=demo.users["producer"].id,
        )
    )
    entry(session, now, demo, "generated", "11000", date(2026, 3, 1))  # exactly +10 %
    run(session, now, "OVER_PLAN")
    assert flags(session, "OVER_PLAN") == []
    entry(session, now, demo, "generated", "0.001", date(2026, 3, 2))
    run(session, now + HOUR, "OVER_PLAN")
    (flag,) = flags(session, "OVER_PLAN")
    assert flag.period == "2026:generation:900-249-08"
    assert flag.quantity_kg == Decimal("1000.001")


def test_over_plan_transfer_counts_weighed_pickups(session, now, demo, journey):
    session.add(
        ManagementPlan(
            producer_id=demo.orgs["producer"].id,
            year=2026,
            waste_code="900-041-49",
            planned_generation_kg=Decimal("5000"),
            planned_transfer_kg=Decimal("300"),
            created_by_id=demo.users["producer"].id,
        )
    )
    journey(now).pickup(now)  # 420 kg of 900-041-49 > 330 kg
    run(session, now + HOUR, "OVER_PLAN")
    (flag,) = flags(session, "OVER_PLAN")
    assert flag.period == "2026:transfer:900-041-49"

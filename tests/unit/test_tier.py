"""The producer's supervision tier: thresholds at exactly 10 t and 100 t, the highest of the
three previous years' generation (ledger) and the plan year's planned generation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.plans import services
from hazwaste.plans.services import (
    KEY_SUPERVISION_MIN_KG,
    SIMPLIFIED_MIN_KG,
    FigureSource,
    Tier,
    compute_tier,
    tier_for,
)

YEAR = 2026


@pytest.mark.parametrize(
    ("tonnes", "tier"),
    [
        ("0", Tier.REGISTRATION),
        ("9.999", Tier.REGISTRATION),
        ("9.999999", Tier.REGISTRATION),  # one gram short
        ("10", Tier.SIMPLIFIED),
        ("99.999", Tier.SIMPLIFIED),
        ("99.999999", Tier.SIMPLIFIED),
        ("100", Tier.KEY_SUPERVISION),
        ("100.000001", Tier.KEY_SUPERVISION),
        ("5000", Tier.KEY_SUPERVISION),
    ],
)
def test_thresholds(tonnes, tier):
    assert tier_for(Decimal(tonnes) * 1000) is tier


def test_thresholds_are_named_constants():
    assert Decimal("100000") == KEY_SUPERVISION_MIN_KG
    assert Decimal("10000") == SIMPLIFIED_MIN_KG


@pytest.fixture()
def producer(session, demo):
    return demo.orgs["producer"], demo.users["producer"]


def add_generated(session, now, producer, day, kg, kind=LedgerKind.GENERATED, code="900-249-08"):
    org, user = producer
    session.add(
        LedgerEntry(
            producer_id=org.id,
            waste_code=code,
            kind=kind,
            quantity_kg=Decimal(kg),
            occurred_on=day,
            created_by_id=user.id,
            created_at=now,
        )
    )
    session.flush()


def plan(session, now, producer, year, code, generation_kg, transfer_kg="0"):
    _org, user = producer
    return services.save_plan(
        session,
        now,
        user,
        {
            "year": year,
            "waste_code": code,
            "planned_generation_kg": Decimal(generation_kg),
            "planned_transfer_kg": Decimal(transfer_kg),
            "intended_receiver_id": None,
            "note": "",
        },
    )


@pytest.mark.parametrize(
    ("kg", "tier"),
    [
        ("99999", Tier.SIMPLIFIED),
        ("100000", Tier.KEY_SUPERVISION),
        ("9999", Tier.REGISTRATION),
        ("10000", Tier.SIMPLIFIED),
    ],
)
def test_boundaries_from_ledger_sums(session, now, producer, kg, tier):
    # Two entries whose exact sum lands on the boundary (no float rounding anywhere).
    half = Decimal(kg) / 2
    add_generated(session, now, producer, date(YEAR - 1, 3, 1), half)
    add_generated(session, now, producer, date(YEAR - 1, 12, 31), Decimal(kg) - half)
    result = compute_tier(session, producer[0].id, YEAR)
    assert result.tier is tier
    assert result.deciding.year == YEAR - 1
    assert result.deciding.kg == Decimal(kg)


def test_one_gram_below_key_supervision(session, now, producer):
    add_generated(session, now, producer, date(YEAR - 2, 6, 1), "99999.999")
    assert compute_tier(session, producer[0].id, YEAR).tier is Tier.SIMPLIFIED
    add_generated(session, now, producer, date(YEAR - 2, 6, 2), "0.001")
    assert compute_tier(session, producer[0].id, YEAR).tier is Tier.KEY_SUPERVISION


def test_highest_of_three_years_wins(session, now, producer):
    add_generated(session, now, producer, date(YEAR - 3, 1, 1), "120000")  # 120 t
    add_generated(session, now, producer, date(YEAR - 2, 7, 1), "5000")
    add_generated(session, now, producer, date(YEAR - 1, 7, 1), "50000")
    plan(session, now, producer, YEAR, "900-249-08", "20000")
    result = compute_tier(session, producer[0].id, YEAR)
    assert result.tier is Tier.KEY_SUPERVISION
    assert [(f.year, f.source, f.kg) for f in result.figures] == [
        (YEAR - 3, FigureSource.ACTUAL, Decimal("120000.000")),
        (YEAR - 2, FigureSource.ACTUAL, Decimal("5000.000")),
        (YEAR - 1, FigureSource.ACTUAL, Decimal("50000.000")),
        (YEAR, FigureSource.PLANNED, Decimal("20000.000")),
    ]
    assert (result.deciding.year, result.deciding.source) == (YEAR - 3, FigureSource.ACTUAL)
    # A year later the 120 t year has left the window.
    assert compute_tier(session, producer[0].id, YEAR + 1).tier is Tier.SIMPLIFIED


def test_plan_year_counts_for_a_new_plant(session, now, producer):
    plan(session, now, producer, YEAR, "900-249-08", "100000")
    plan(session, now, producer, YEAR, "900-041-49", "50000")
    result = compute_tier(session, producer[0].id, YEAR)
    assert result.tier is Tier.KEY_SUPERVISION
    assert result.deciding.source is FigureSource.PLANNED
    assert result.deciding.kg == Decimal("150000")
    assert all(f.kg == 0 for f in result.figures[:3])


def test_only_generation_in_the_window_counts(session, now, producer, demo):
    # Older than three years, the plan year's own actual, shipments and other producers:
    # none of them count.
    add_generated(session, now, producer, date(YEAR - 4, 12, 31), "500000")
    add_generated(session, now, producer, date(YEAR, 1, 1), "500000")
    add_generated(
        session, now, producer, date(YEAR - 1, 5, 1), "500000", kind=LedgerKind.SHIPPED_OUT
    )
    add_generated(
        session, now, producer, date(YEAR - 1, 5, 1), "500000", kind=LedgerKind.STOCK_COUNT
    )
    other = (demo.orgs["producer2"], demo.users["producer2"])
    add_generated(session, now, other, date(YEAR - 1, 5, 1), "500000")
    add_generated(session, now, producer, date(YEAR - 1, 5, 1), "9999.999")
    result = compute_tier(session, producer[0].id, YEAR)
    assert result.tier is Tier.REGISTRATION
    assert result.deciding.kg == Decimal("9999.999")
    assert compute_tier(session, other[0].id, YEAR).tier is Tier.KEY_SUPERVISION


def test_no_data_is_registration_and_a_tie_names_the_latest_year(session, now, producer):
    result = compute_tier(session, producer[0].id, YEAR)
    assert result.tier is Tier.REGISTRATION
    assert (result.deciding.year, result.deciding.kg) == (YEAR, Decimal(0))
    add_generated(session, now, producer, date(YEAR - 3, 1, 1), "15000")
    add_generated(session, now, producer, date(YEAR - 1, 1, 1), "15000")
    result = compute_tier(session, producer[0].id, YEAR)
    assert result.tier is Tier.SIMPLIFIED
    assert result.deciding.year == YEAR - 1

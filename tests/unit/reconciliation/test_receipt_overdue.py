from datetime import UTC, date, datetime

from hazwaste.reconciliation.models import FlagStatus
from tests.unit.reconciliation.conftest import HOUR, flags, run


def test_due_date_skips_spring_festival_and_counts_adjusted_saturday(session, journey):
    # Arrival Fri 2026-02-13 10:00 CST. Sat 02-14 is a make-up working day; 02-15..02-23 is
    # the Spring Festival holiday; five working days end on Fri 2026-02-27.
    arrival = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)
    j = journey(arrival - 30 * HOUR, planned_date=date(2026, 2, 12))
    j.pickup(arrival - HOUR).deliver(arrival)
    assert j.manifest.receipt_due_date == date(2026, 2, 27)
    run(session, datetime(2026, 2, 27, 15, 59, tzinfo=UTC), "RECEIPT_OVERDUE")  # 23:59 CST
    assert flags(session, "RECEIPT_OVERDUE") == []
    run(session, datetime(2026, 2, 27, 16, 1, tzinfo=UTC), "RECEIPT_OVERDUE")  # 00:01 CST
    (flag,) = flags(session, "RECEIPT_OVERDUE")
    assert flag.status is FlagStatus.OPEN


def test_receipt_on_the_due_day_is_in_time(session, journey):
    arrival = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday
    j = journey(arrival - 30 * HOUR, planned_date=date(2026, 3, 1))
    j.pickup(arrival - HOUR).deliver(arrival)
    assert j.manifest.receipt_due_date == date(2026, 3, 9)
    j.receive(datetime(2026, 3, 9, 15, 0, tzinfo=UTC))  # 23:00 CST on the due day
    run(session, datetime(2026, 3, 20, tzinfo=UTC), "RECEIPT_OVERDUE")
    assert flags(session, "RECEIPT_OVERDUE") == []


def test_late_receipt_stays_flagged_low(session, journey):
    arrival = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    j = journey(arrival - 30 * HOUR, planned_date=date(2026, 3, 1))
    j.pickup(arrival - HOUR).deliver(arrival)
    j.receive(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
    run(session, datetime(2026, 3, 20, tzinfo=UTC), "RECEIPT_OVERDUE")
    (flag,) = flags(session, "RECEIPT_OVERDUE")
    assert '"working_days_late":1' in flag.evidence


def test_severity_rises_with_the_tonnage_not_only_the_days(session, journey):
    """Overdue by one working day: 2.2 t is high (≥ 1 t), 3.3 t critical (≥ 3 t, the
    referral tier) — the same thresholds as every rule with a quantity."""
    from hazwaste.reconciliation.models import Severity

    arrival = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday; due Monday 9 March
    light = journey(arrival - 30 * HOUR, planned_date=date(2026, 3, 1))
    light.pickup(arrival - HOUR).deliver(arrival)
    heavy = journey(arrival - 30 * HOUR, planned_date=date(2026, 3, 1))
    heavy.pickup(arrival - HOUR, factor="1.5").deliver(arrival)
    run(session, datetime(2026, 3, 10, 3, 0, tzinfo=UTC), "RECEIPT_OVERDUE")  # Tue, 1 day late
    by_manifest = {f.manifest_id: f.severity for f in flags(session, "RECEIPT_OVERDUE")}
    assert by_manifest == {
        light.manifest.id: Severity.HIGH,  # 2,220.5 kg
        heavy.manifest.id: Severity.CRITICAL,  # 3,330.75 kg
    }

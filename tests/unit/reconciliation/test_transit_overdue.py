from hazwaste.reconciliation.models import FlagStatus, Severity
from tests.unit.reconciliation.conftest import HOUR, flags, run


def test_inside_and_outside_48_hours(session, now, journey):
    j = journey(now).pickup(now + HOUR)
    run(session, now + HOUR + 48 * HOUR, "TRANSIT_OVERDUE")  # exactly 48 h: inside
    assert flags(session, "TRANSIT_OVERDUE") == []
    run(session, now + HOUR + 48 * HOUR + HOUR, "TRANSIT_OVERDUE")  # 49 h: outside
    (flag,) = flags(session, "TRANSIT_OVERDUE")
    assert flag.subject_id == j.manifest.id and flag.status is FlagStatus.OPEN
    assert flag.quantity_kg == j.manifest.declared_total_kg
    assert flag.severity is Severity.HIGH  # 2.2 t on the road


def test_rerun_is_idempotent_and_cleared_on_arrival_is_kept_as_late(session, now, journey):
    j = journey(now).pickup(now)
    later = now + 60 * HOUR
    run(session, later, "TRANSIT_OVERDUE")
    run(session, later + HOUR, "TRANSIT_OVERDUE")
    (flag,) = flags(session, "TRANSIT_OVERDUE")
    assert '"hours":"61.0"' in flag.evidence  # evidence refreshed, no duplicate
    j.deliver(later + 2 * HOUR)
    run(session, later + 3 * HOUR, "TRANSIT_OVERDUE")
    (flag,) = flags(session, "TRANSIT_OVERDUE")
    assert flag.severity is Severity.LOW and flag.quantity_kg is None  # arrived, but late


def test_arrival_within_time_never_flags(session, now, journey):
    journey(now).pickup(now).deliver(now + 47 * HOUR)
    run(session, now + 100 * HOUR, "TRANSIT_OVERDUE")
    assert flags(session, "TRANSIT_OVERDUE") == []


def test_flag_resolves_when_the_data_changes(session, now, journey):
    j = journey(now).pickup(now)
    run(session, now + 50 * HOUR, "TRANSIT_OVERDUE")
    # A correction of the pickup time (e.g. the clock of the phone was wrong) clears it.
    j.manifest.picked_up_at = now + 40 * HOUR
    session.flush()
    run(session, now + 60 * HOUR, "TRANSIT_OVERDUE")
    (flag,) = flags(session, "TRANSIT_OVERDUE")
    assert flag.status is FlagStatus.RESOLVED and flag.resolved_at is not None

from decimal import Decimal

from hazwaste.reconciliation.models import Severity
from tests.unit.reconciliation.conftest import HOUR, flags, run


def test_liquid_five_percent_inside_and_outside(session, now, journey):
    # Line 1 is waste oil (liquid, 1800.5 kg loaded); line 2 packaging (solid, 420 kg).
    inside = journey(now).pickup(now).deliver(now + HOUR)
    inside.receive(now + 2 * HOUR, factor="0.95")  # exactly 5 % light: inside
    outside = journey(now).pickup(now).deliver(now + HOUR)
    outside.receive(now + 2 * HOUR, factor="0.949")
    run(session, now + 3 * HOUR, "WEIGHT_GAP")
    found = flags(session, "WEIGHT_GAP")
    lines = {f.subject_id for f in found}
    assert outside.manifest.lines[0].id in lines
    assert inside.manifest.lines[0].id not in lines
    # Solids allow 2 %: both solid lines (5 % and 5.1 % light) are flagged.
    assert inside.manifest.lines[1].id in lines and outside.manifest.lines[1].id in lines


def test_absolute_floor(session, now, journey):
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR, factor="0.98")  # solid line: 8.4 kg < 10 kg floor
    run(session, now + 3 * HOUR, "WEIGHT_GAP")
    assert j.manifest.lines[1].id not in {f.subject_id for f in flags(session, "WEIGHT_GAP")}


def test_severity_rises_with_tonnage(session, now, journey):
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR, factor="0.5")
    run(session, now + 3 * HOUR, "WEIGHT_GAP")
    by_line = {f.subject_id: f for f in flags(session, "WEIGHT_GAP")}
    oil = by_line[j.manifest.lines[0].id]
    assert oil.quantity_kg == Decimal("900.250") and oil.severity is Severity.MEDIUM

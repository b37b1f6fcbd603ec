"""NEVER_PICKED_UP, LOCATION_MISMATCH, LICENCE_MISMATCH, OVER_CAPACITY, RECEIVER_BALANCE and
STORAGE_OVERDUE: one case just inside and one just outside each threshold."""

from datetime import date
from decimal import Decimal

from hazwaste.manifests import lifecycle
from hazwaste.reconciliation.models import FlagStatus, Severity
from tests.unit.reconciliation.conftest import DAY, HOUR, flags, run


def test_never_picked_up_after_30_days(session, now, journey):
    j = journey(now)
    run(session, now + 30 * DAY, "NEVER_PICKED_UP")  # exactly 30 days: inside
    assert flags(session, "NEVER_PICKED_UP") == []
    run(session, now + 30 * DAY + HOUR, "NEVER_PICKED_UP")
    (flag,) = flags(session, "NEVER_PICKED_UP")
    assert flag.subject_id == j.manifest.id and flag.quantity_kg == Decimal("2220.500")
    lifecycle.cancel(session, now + 31 * DAY, j.manifest, j.demo.users["producer"], "停产")
    run(session, now + 32 * DAY, "NEVER_PICKED_UP")
    session.expire_all()
    assert flags(session, "NEVER_PICKED_UP")[0].status is FlagStatus.RESOLVED


def test_location_two_km_threshold(session, now, journey, demo):
    site = demo.orgs["producer"]
    # 0.0175° of latitude ≈ 1.95 km (inside); 0.0185° ≈ 2.06 km (outside).
    near = journey(now).pickup(now, latitude=site.latitude + 0.0175, longitude=site.longitude)
    far = journey(now).pickup(now, latitude=site.latitude + 0.0185, longitude=site.longitude)
    run(session, now + HOUR, "LOCATION_MISMATCH")
    manifests = {f.manifest_id for f in flags(session, "LOCATION_MISMATCH")}
    assert far.manifest.id in manifests and near.manifest.id not in manifests


def test_location_severity_follows_distance_and_tonnage(session, now, journey, demo):
    from hazwaste.reconciliation.models import Severity

    site = demo.orgs["producer"]
    away = {"latitude": site.latitude + 0.05, "longitude": site.longitude}  # ≈ 5.6 km
    usual = journey(now).pickup(now, **away)  # 2,220.5 kg: high (≥ 1 t)
    heavy = journey(now).pickup(now, factor="1.5", **away)  # 3,330.75 kg: critical (≥ 3 t)
    run(session, now + HOUR, "LOCATION_MISMATCH")
    by_manifest = {f.manifest_id: f.severity for f in flags(session, "LOCATION_MISMATCH")}
    assert by_manifest == {
        usual.manifest.id: Severity.HIGH,
        heavy.manifest.id: Severity.CRITICAL,
    }


def test_position_not_given_is_not_judged(session, now, journey):
    journey(now).pickup(now, latitude=None, longitude=None, position_note="denied")
    run(session, now + HOUR, "LOCATION_MISMATCH")
    assert flags(session, "LOCATION_MISMATCH") == []


def test_licence_mismatch_when_licence_expired_before_receipt(session, now, journey, demo):
    licence = demo.extra["licence"]
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)
    run(session, now + 3 * HOUR, "LICENCE_MISMATCH")
    assert flags(session, "LICENCE_MISMATCH") == []  # valid and covering: inside
    licence.valid_to = (now - DAY).date()  # the licence had expired the day before
    session.flush()
    run(session, now + 4 * HOUR, "LICENCE_MISMATCH")
    found = flags(session, "LICENCE_MISMATCH")
    assert {f.period for f in found} == {"receipt"} and len(found) == 2


def test_licence_mismatch_for_a_method_outside_the_licence(session, now, journey, demo):
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)
    line = j.manifest.lines[0]
    line.disposal_method, line.disposed_kg = "D1", line.accepted_kg  # landfill: not licensed
    line.disposal_date = (now + DAY).date()
    session.flush()
    run(session, now + 2 * DAY, "LICENCE_MISMATCH")
    (flag,) = flags(session, "LICENCE_MISMATCH")
    assert flag.period == "disposal" and flag.subject_id == line.id


def test_over_capacity_warn_and_high(session, now, journey, demo):
    licence = demo.extra["licence"]
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)  # 2220.5 kg accepted this year
    licence.annual_capacity_kg = Decimal("2220.501")  # just under 100 %: inside
    session.flush()
    run(session, now + 3 * HOUR, "OVER_CAPACITY")
    assert flags(session, "OVER_CAPACITY") == []
    licence.annual_capacity_kg = Decimal("2220.5")  # exactly 100 %: warn
    session.flush()
    run(session, now + 4 * HOUR, "OVER_CAPACITY")
    (flag,) = flags(session, "OVER_CAPACITY")
    assert flag.severity is Severity.MEDIUM and flag.period == str(now.year)
    licence.annual_capacity_kg = Decimal("1850")  # 120.03 %: high
    session.flush()
    run(session, now + 5 * HOUR, "OVER_CAPACITY")
    (flag,) = flags(session, "OVER_CAPACITY")
    assert flag.severity is Severity.HIGH


def test_receiver_balance_disposed_more_than_accepted(session, now, journey):
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)
    line = j.manifest.lines[0]
    line.disposal_method, line.disposal_date = "R2", (now + DAY).date()
    line.disposed_kg = line.accepted_kg  # equal: inside
    session.flush()
    run(session, now + 2 * DAY, "RECEIVER_BALANCE")
    assert flags(session, "RECEIVER_BALANCE") == []
    line.disposed_kg = line.accepted_kg + Decimal("0.001")
    session.flush()
    run(session, now + 3 * DAY, "RECEIVER_BALANCE")
    (flag,) = flags(session, "RECEIVER_BALANCE")
    assert flag.period == line.waste_code and flag.quantity_kg == Decimal("0.001")


def test_storage_overdue_containers_and_receiver_stock(session, now, journey, demo):
    from hazwaste.ledger import services as ledger

    row = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T"],
        "packaging_type": "drum",
        "net_weight_kg": Decimal("180"),
        "generation_date": date(2025, 11, 20),
        "source_process": "",
    }
    (old,) = ledger.register_containers(session, now, demo.users["producer"], [row], now.date())
    (young,) = ledger.register_containers(
        session,
        now,
        demo.users["producer"],
        [{**row, "generation_date": date(2025, 11, 21)}],
        now.date(),
    )
    j = journey(now - 400 * DAY, planned_date=(now - 399 * DAY).date())
    j.pickup(now - 399 * DAY).deliver(now - 399 * DAY + HOUR)
    j.receive(now - 399 * DAY + 2 * HOUR)
    run(session, now, "STORAGE_OVERDUE")  # as of 2026-11-20: limit day 2025-11-20
    found = {(f.subject_type, f.subject_id) for f in flags(session, "STORAGE_OVERDUE")}
    assert ("container", old.id) not in found and ("container", young.id) not in found
    run(session, now + DAY, "STORAGE_OVERDUE")
    found = {(f.subject_type, f.subject_id) for f in flags(session, "STORAGE_OVERDUE")}
    assert ("container", old.id) in found and ("container", young.id) not in found
    assert ("manifest_line", j.manifest.lines[0].id) in found


def test_licence_mismatch_for_a_code_outside_the_scope(session, now, journey):
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)
    outside = j.manifest.lines[1]
    outside.waste_code = "900-023-29"  # HW29 mercury waste: not in receiver 1's scope
    session.flush()
    run(session, now + 3 * HOUR, "LICENCE_MISMATCH")
    (flag,) = flags(session, "LICENCE_MISMATCH")
    assert flag.subject_id == outside.id and flag.period == "receipt"

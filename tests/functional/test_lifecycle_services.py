"""The lifecycle verbs end to end at the service level (web and API call the same verbs)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from hazwaste.audit import services as audit
from hazwaste.errors import Conflict, Forbidden, Invalid
from hazwaste.manifests import lifecycle
from hazwaste.manifests.models import EventKind, ManifestStatus
from tests.manifest_factories import make_draft, make_submitted, pickup_data, receipt_data


def test_full_lifecycle_to_completed(session, now, demo):
    m = make_submitted(session, now, demo)
    assert m.status is ManifestStatus.SUBMITTED
    assert m.number.startswith("20261506") and len(m.number) == 14
    driver = demo.users["driver"]
    assert lifecycle.can_pickup(m, driver)
    assert not lifecycle.can_pickup(m, demo.users["receiver"])
    lifecycle.pickup(session, now, m, driver, pickup_data(m, demo.extra["vehicles"][0].id))
    assert m.status is ManifestStatus.IN_TRANSIT
    assert m.lines[0].loaded_kg == Decimal("1800.500")
    lifecycle.deliver(session, now + timedelta(hours=5), m, driver, {"note": ""})
    assert m.status is ManifestStatus.DELIVERED
    assert m.receipt_due_date is not None and m.receipt_due_date > now.date()
    receiver = demo.users["receiver"]
    lifecycle.receive(
        session, now + timedelta(hours=6), m, receiver, receipt_data(m, factor=Decimal("0.99"))
    )
    assert m.status is ManifestStatus.RECEIVED
    assert m.lines[0].discrepancy_kg == Decimal("-18.005")
    lifecycle.dispose(
        session,
        now + timedelta(days=2),
        m,
        receiver,
        {
            "note": "",
            "lines": [
                {
                    "line_id": ln.id,
                    "method": "R2" if ln.line_no == 1 else "D10",
                    "disposed_kg": ln.accepted_kg,
                    "disposal_date": (now + timedelta(days=2)).date(),
                }
                for ln in m.lines
            ],
        },
    )
    assert m.status is ManifestStatus.COMPLETED
    kinds = [e.kind for e in m.events]
    assert kinds == [
        EventKind.CREATED,
        EventKind.SUBMITTED,
        EventKind.PICKED_UP,
        EventKind.DELIVERED,
        EventKind.RECEIVED,
        EventKind.DISPOSED,
    ]
    assert audit.verify(session).ok


def test_wrong_state_is_conflict_and_wrong_party_forbidden(session, now, demo):
    m = make_submitted(session, now, demo)
    with pytest.raises(Forbidden):
        lifecycle.pickup(
            session, now, m, demo.users["producer"], pickup_data(m, demo.extra["vehicles"][0].id)
        )
    with pytest.raises(Conflict) as exc:
        lifecycle.receive(session, now, m, demo.users["receiver"], receipt_data(m))
    assert exc.value.extra["status"] == "submitted"


def test_submit_reports_every_problem_by_field(session, now, demo):
    m = make_draft(
        session,
        now,
        demo,
        receiver_id=demo.orgs["receiver"].id,
        vehicle_id=demo.extra["vehicles"][1].id,
    )
    m.lines[0].waste_code = "841-001-01"  # medical waste: receiver 1's licence excludes HW01
    m.lines[0].declared_kg = Decimal("9200")  # with line 2 > 9.5 t max load of vehicle 2
    m.emergency_measures = ""
    with pytest.raises(Invalid) as exc:
        lifecycle.submit(session, now, m, demo.users["producer"])
    fields = exc.value.fields
    assert "emergency_measures" in fields
    assert "waste_code" in fields["lines"][0]
    assert "vehicle_id" in fields
    assert m.number is None


def test_full_rejection_ends_rejected(session, now, demo):
    m = make_submitted(session, now, demo)
    lifecycle.pickup(
        session, now, m, demo.users["driver"], pickup_data(m, demo.extra["vehicles"][0].id)
    )
    lifecycle.deliver(session, now, m, demo.users["receiver"], {})
    lifecycle.receive(
        session,
        now,
        m,
        demo.users["receiver"],
        receipt_data(m, decisions={1: "reject", 2: "reject"}),
    )
    assert m.status is ManifestStatus.REJECTED
    assert m.lines[0].rejection_reason == "含水率超标"


def test_cancel_needs_reason_and_only_before_pickup(session, now, demo):
    m = make_submitted(session, now, demo)
    with pytest.raises(Invalid):
        lifecycle.cancel(session, now, m, demo.users["producer"], "  ")
    lifecycle.cancel(session, now, m, demo.users["producer"], "客户取消")
    assert m.status is ManifestStatus.CANCELLED
    with pytest.raises(Conflict):
        lifecycle.cancel(session, now, m, demo.users["producer"], "again")


def test_numbers_are_sequential_per_city(session, now, demo):
    a = make_submitted(session, now, demo)
    b = make_submitted(session, now, demo)
    assert int(b.number[-6:]) == int(a.number[-6:]) + 1
    assert a.number[:8] == b.number[:8] == f"{now.year}1506"


def test_correction_is_an_event(session, now, demo):
    m = make_submitted(session, now, demo)
    lifecycle.correct(
        session,
        now,
        m,
        demo.users["producer"],
        {"reason": "桶数录错", "lines": [{"line_id": m.lines[0].id, "container_count": 9}]},
    )
    assert m.lines[0].container_count == 9
    assert m.events[-1].kind is EventKind.CORRECTED
    assert "line 1 container_count" in m.events[-1].payload


def test_receipt_due_date_skips_spring_festival(session, demo):
    from datetime import UTC, datetime

    # Arrival Friday 2026-02-13 (CST); 2026-02-14 (Sat) is a make-up working day, then the
    # Spring Festival holiday 02-15..02-23 → five working days end on 2026-02-27.
    arrival = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)
    m = make_submitted(session, arrival - timedelta(days=1), demo, planned_date=date(2026, 2, 12))
    lifecycle.pickup(
        session, arrival, m, demo.users["driver"], pickup_data(m, demo.extra["vehicles"][0].id)
    )
    lifecycle.deliver(session, arrival, m, demo.users["driver"], {})
    assert m.receipt_due_date == date(2026, 2, 27)

"""The monthly totals kept by triggers: exact after every kind of write, rebuilt on demand,
and read by the rules only up to the run's ``as_of``."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from hazwaste.ledger.models import LedgerEntry
from hazwaste.manifests import lifecycle
from hazwaste.manifests.models import Manifest
from hazwaste.plans.models import ManagementPlan
from hazwaste.reconciliation import totals
from hazwaste.reconciliation.models import ProducerMonth, ReceiverMonth
from tests.unit.reconciliation.conftest import DAY, HOUR, flags, run
from tests.unit.reconciliation.test_ledger_rules import entry


def exact(session):
    session.flush()
    differences = totals.verify(session)
    return {name: rows for name, rows in differences.items() if rows}


def producer_month(session, org, code, month):
    """The month as readers see it (compacted totals plus deltas)."""
    session.flush()
    t = totals.producer_months().c
    return session.execute(
        select(t).where(t.producer_id == org.id, t.waste_code == code, t.month == month)
    ).one_or_none()


def receiver_rows(session, org, code):
    session.flush()
    t = totals.receiver_months().c
    rows = session.execute(select(t).where(t.receiver_id == org.id, t.waste_code == code))
    return {(r.month, r.method_code): (r.accepted_kg, r.disposed_kg) for r in rows}


def dispose_all(session, j, at, method="R2"):
    lifecycle.dispose(
        session,
        at,
        j.manifest,
        j.demo.users["receiver"],
        {
            "lines": [
                {
                    "line_id": line.id,
                    "method": method,
                    "disposed_kg": line.accepted_kg,
                    "disposal_date": at.date(),
                }
                for line in j.manifest.lines
                if line.accepted_kg
            ],
            "note": "",
        },
    )


def test_totals_follow_every_hand_off(session, now, demo, journey):
    assert exact(session) == {}
    j = journey(now).pickup(now, factor="1.01").deliver(now + HOUR)
    j.receive(now + 2 * HOUR, factor="0.99")
    dispose_all(session, j, now + DAY)
    entry(session, now, demo, "generated", "5000", date(2026, 11, 3))
    entry(session, now, demo, "self_used", "300", date(2026, 11, 4))
    entry(session, now, demo, "stock_count", "12", date(2026, 10, 31))
    assert exact(session) == {}
    line = j.manifest.lines[0]
    november = date(2026, 11, 1)
    row = producer_month(session, demo.orgs["producer"], line.waste_code, november)
    assert row.shipped_kg == line.loaded_kg
    october = producer_month(session, demo.orgs["producer"], "900-249-08", date(2026, 10, 1))
    assert (october.count_on, october.count_kg) == (date(2026, 10, 31), Decimal("12.000"))
    assert receiver_rows(session, demo.orgs["receiver"], line.waste_code) == {
        (november, ""): (line.accepted_kg, Decimal("0.000")),
        (november, "R2"): (Decimal("0.000"), line.disposed_kg),
    }


def test_totals_follow_edits_moves_and_deletes(session, now, demo, journey):
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)
    line = j.manifest.lines[0]
    # A data correction moves the pickup into October (China time) and changes a weight.
    session.execute(
        update(Manifest)
        .where(Manifest.id == j.manifest.id)
        .values(picked_up_at=datetime(2026, 10, 31, 17, tzinfo=UTC))  # Nov 1, 01:00 China
    )
    assert exact(session) == {}
    assert producer_month(session, demo.orgs["producer"], line.waste_code, date(2026, 11, 1))
    session.execute(
        update(Manifest)
        .where(Manifest.id == j.manifest.id)
        .values(picked_up_at=datetime(2026, 10, 31, 15, tzinfo=UTC))  # Oct 31, 23:00 China
    )
    line.loaded_kg += Decimal("1.5")
    assert exact(session) == {}
    moved = producer_month(session, demo.orgs["producer"], line.waste_code, date(2026, 10, 1))
    assert moved.shipped_kg == line.loaded_kg
    entry(session, now, demo, "generated", "70", date(2026, 11, 3))
    ledger_entry = session.scalars(select(LedgerEntry)).first()
    ledger_entry.quantity_kg = Decimal("71")
    ledger_entry.occurred_on = date(2026, 9, 30)
    assert exact(session) == {}
    session.delete(ledger_entry)
    assert exact(session) == {}


def test_a_months_count_is_its_latest(session, now, demo):
    entry(session, now, demo, "stock_count", "100", date(2026, 11, 10))
    entry(session, now, demo, "stock_count", "80", date(2026, 11, 12))
    row = producer_month(session, demo.orgs["producer"], "900-249-08", date(2026, 11, 1))
    assert (row.count_on, row.count_kg) == (date(2026, 11, 12), Decimal("80.000"))
    latest = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    session.delete(latest)
    row = producer_month(session, demo.orgs["producer"], "900-249-08", date(2026, 11, 1))
    assert (row.count_on, row.count_kg) == (date(2026, 11, 10), Decimal("100.000"))
    assert exact(session) == {}


def test_verify_reports_and_rebuild_repairs_tampered_totals(session, now, demo, journey):
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)
    session.flush()
    totals.compact(session)  # tamper with stored rows, not with deltas
    session.execute(update(ReceiverMonth).values(accepted_kg=ReceiverMonth.accepted_kg + 1))
    session.execute(update(ProducerMonth).values(shipped_kg=Decimal(0)))
    broken = exact(session)
    assert set(broken) == {"producer_missing", "receiver_missing", "receiver_extra"}
    totals.rebuild(session)
    assert exact(session) == {}


def test_count_before_the_months_end_takes_back_later_movements(session, now, demo, journey):
    # Counted on 12 November: 1000 generated before, 500 generated and a pickup after; the
    # count must be checked against the movements up to the 12th only.
    entry(session, now, demo, "stock_count", "0", date(2026, 10, 31))
    entry(session, now, demo, "generated", "1000", date(2026, 11, 5))
    entry(session, now, demo, "stock_count", "1000", date(2026, 11, 12))
    entry(session, now, demo, "generated", "500", date(2026, 11, 14))
    journey(now).pickup(now)  # 20 November
    run(session, now, "PRODUCER_BALANCE")
    assert flags(session, "PRODUCER_BALANCE") == []
    entry(session, now, demo, "generated", "100", date(2026, 11, 11))  # before the count
    run(session, now + HOUR, "PRODUCER_BALANCE")
    (flag,) = flags(session, "PRODUCER_BALANCE")
    assert flag.quantity_kg == Decimal("100.000")


def test_sums_stop_at_as_of_inside_its_month(session, now, demo, journey):
    session.add(
        ManagementPlan(
            producer_id=demo.orgs["producer"].id,
            year=2026,
            waste_code="900-249-08",
            planned_generation_kg=Decimal("1000"),
            planned_transfer_kg=Decimal("100000"),
            created_by_id=demo.users["producer"].id,
        )
    )
    entry(session, now, demo, "generated", "1000", date(2026, 11, 2))
    entry(session, now + 6 * DAY, demo, "generated", "5000", date(2026, 11, 25))  # after as_of
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)
    line = j.manifest.lines[0]
    line.disposal_method, line.disposal_date = "R2", date(2026, 11, 26)  # after as_of
    line.disposed_kg = line.accepted_kg
    other = journey(now).pickup(now).deliver(now + HOUR)
    other.receive(now + 2 * HOUR)
    session.flush()
    as_of = now + 3 * DAY  # 23 November
    run(session, as_of, "OVER_PLAN")
    assert flags(session, "OVER_PLAN") == []  # the 5000 kg of the 25th is not yet
    run(session, as_of, "RECEIVER_BALANCE")
    assert flags(session, "RECEIVER_BALANCE") == []
    run(session, now + 7 * DAY, "OVER_PLAN")
    assert len(flags(session, "OVER_PLAN")) == 1


def test_licence_ending_mid_month_flags_only_the_later_receipts(session, now, demo, journey):
    before = journey(now - 2 * DAY).pickup(now - 2 * DAY).deliver(now - 2 * DAY + HOUR)
    before.receive(now - 2 * DAY + 2 * HOUR)  # 18 November
    after = journey(now).pickup(now).deliver(now + HOUR)
    after.receive(now + timedelta(days=1, hours=2))  # 21 November
    demo.extra["licence"].valid_to = date(2026, 11, 20)  # corrected: it ended on the 20th
    session.flush()
    run(session, now + 2 * DAY, "LICENCE_MISMATCH")
    found = flags(session, "LICENCE_MISMATCH")
    assert found and {f.manifest_id for f in found} == {after.manifest.id}


def test_balance_across_a_month_without_a_count(session, now, demo):
    entry(session, now, demo, "stock_count", "0", date(2026, 9, 30))
    entry(session, now, demo, "generated", "400", date(2026, 10, 10))  # October: no count
    entry(session, now, demo, "generated", "100", date(2026, 11, 5))
    entry(session, now, demo, "stock_count", "500", date(2026, 11, 18))
    run(session, now, "PRODUCER_BALANCE")
    assert flags(session, "PRODUCER_BALANCE") == []
    entry(session, now, demo, "generated", "100", date(2026, 10, 11))
    run(session, now + HOUR, "PRODUCER_BALANCE")
    (flag,) = flags(session, "PRODUCER_BALANCE")
    assert flag.quantity_kg == Decimal("100.000")
    assert '"from":"2026-09-30"' in flag.evidence and '"generated_kg":"600.000"' in flag.evidence


def test_movements_after_an_opening_count_in_its_month_count_towards_the_next(session, now, demo):
    entry(session, now, demo, "stock_count", "0", date(2026, 10, 15))
    entry(session, now, demo, "generated", "300", date(2026, 10, 20))  # after the count
    entry(session, now, demo, "generated", "200", date(2026, 10, 15))  # the count's own day
    entry(session, now, demo, "stock_count", "300", date(2026, 11, 10))
    run(session, now, "PRODUCER_BALANCE")
    assert flags(session, "PRODUCER_BALANCE") == []


def test_cli_verify_and_rebuild(app, session, now, journey):
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)
    session.flush()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["totals", "verify"])
    assert result.exit_code == 0 and "monthly totals: exact" in result.output, result.output
    result = runner.invoke(args=["totals", "compact"])
    assert result.exit_code == 0 and "monthly totals compacted" in result.output, result.output
    result = runner.invoke(args=["totals", "verify"])
    assert result.exit_code == 0 and "monthly totals: exact" in result.output, result.output
    session.execute(update(ProducerMonth).values(shipped_kg=ProducerMonth.shipped_kg + 1))
    result = runner.invoke(args=["totals", "verify"])
    assert result.exit_code == 1 and "producer_missing: 2 rows" in result.output, result.output
    result = runner.invoke(args=["totals", "rebuild"])
    assert result.exit_code == 0 and "monthly totals rebuilt" in result.output, result.output
    assert runner.invoke(args=["totals", "verify"]).exit_code == 0

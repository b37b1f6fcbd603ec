"""Compaction of the monthly totals' deltas: it folds and deletes exactly the deltas it read,
a delta recorded after it read them survives for the next one, counts (levels, not flows)
stay the month's latest, and the totals stay exact under any mix of writes and compactions."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hazwaste.jobs import outbox
from hazwaste.ledger.models import LedgerEntry
from hazwaste.reconciliation import totals
from hazwaste.reconciliation.models import (
    ProducerMonth,
    ProducerMonthDelta,
    ReceiverMonth,
    ReceiverMonthDelta,
)
from tests.unit.reconciliation.conftest import HOUR, Journey
from tests.unit.reconciliation.test_ledger_rules import entry


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def exact(session):
    session.flush()
    return {name: rows for name, rows in totals.verify(session).items() if rows}


@pytest.fixture()
def journey(session, demo):
    return lambda at: Journey(session, demo, at)


def test_compaction_folds_and_deletes_exactly_what_it_read(session, now, demo, journey):
    totals.compact(session)  # the demo world's own deltas
    j = journey(now).pickup(now).deliver(now + HOUR)
    j.receive(now + 2 * HOUR)
    entry(session, now, demo, "generated", "70", date(2026, 11, 3))
    session.flush()
    producer, receiver = count(session, ProducerMonthDelta), count(session, ReceiverMonthDelta)
    assert producer and receiver
    before = {r[:3]: r for r in session.execute(select(ProducerMonth.__table__))}
    assert totals.compact(session) == {"producer": producer, "receiver": receiver}
    assert count(session, ProducerMonthDelta) == count(session, ReceiverMonthDelta) == 0
    assert exact(session) == {}
    line = j.manifest.lines[0]
    row = session.get(ProducerMonth, (demo.orgs["producer"].id, line.waste_code, date(2026, 11, 1)))
    old = before.get((demo.orgs["producer"].id, line.waste_code, date(2026, 11, 1)))
    previous_shipped = old.shipped_kg if old else 0
    assert row.shipped_kg - previous_shipped == line.loaded_kg
    assert totals.compact(session) == {"producer": 0, "receiver": 0}  # nothing left to fold


def test_a_delta_recorded_after_the_read_survives(session, now, demo, journey):
    journey(now).pickup(now)
    session.flush()
    upto = session.scalar(select(func.max(ProducerMonthDelta.id)))
    # Recorded after compaction read its range: ids above it.
    later = journey(now).pickup(now + HOUR)
    session.flush()
    late_ids = set(
        session.scalars(select(ProducerMonthDelta.id).where(ProducerMonthDelta.id > upto))
    )
    assert late_ids
    totals.fold(session, "producer_month_deltas", upto)
    assert set(session.scalars(select(ProducerMonthDelta.id))) == late_ids
    assert exact(session) == {}  # folded totals + the surviving deltas
    totals.compact(session)
    assert count(session, ProducerMonthDelta) == 0
    assert exact(session) == {}
    assert later.manifest.lines[0].loaded_kg


def test_a_count_delta_takes_the_months_latest_count(session, now, demo):
    key = (demo.orgs["producer"].id, "900-249-08", date(2026, 11, 1))
    entry(session, now, demo, "stock_count", "100", date(2026, 11, 12))
    totals.compact(session)
    entry(session, now, demo, "stock_count", "80", date(2026, 11, 10))  # earlier day
    totals.compact(session)
    row = session.get(ProducerMonth, key)
    assert (row.count_on, row.count_kg) == (date(2026, 11, 12), 100)
    latest = session.scalars(
        select(LedgerEntry).where(LedgerEntry.occurred_on == date(2026, 11, 12))
    ).one()
    session.delete(latest)
    session.flush()
    merged = totals.producer_months().c
    seen = session.execute(
        select(merged.count_on, merged.count_kg).where(
            merged.producer_id == key[0], merged.waste_code == key[1], merged.month == key[2]
        )
    ).one()
    assert tuple(seen) == (date(2026, 11, 10), 80)  # before compaction, through the deltas
    totals.compact(session)
    session.refresh(row)
    assert (row.count_on, row.count_kg) == (date(2026, 11, 10), 80)
    assert exact(session) == {}


def test_totals_stay_exact_under_random_writes_and_compactions(session, now, demo, journey):
    rng = random.Random(13)
    kinds = ["generated", "self_used", "stock_count"]
    codes = ["900-249-08", "900-041-49"]
    for step in range(60):
        action = rng.random()
        entries = session.scalars(select(LedgerEntry)).all()
        if action < 0.4 or not entries:
            entry(
                session,
                now,
                demo,
                rng.choice(kinds),
                str(rng.randint(0, 900)),
                date(2026, 10, 1) + timedelta(days=rng.randint(0, 49)),
                code=rng.choice(codes),
            )
        elif action < 0.55:
            victim = rng.choice(entries)
            victim.quantity_kg = victim.quantity_kg + rng.randint(1, 50)
            victim.occurred_on = date(2026, 10, 1) + timedelta(days=rng.randint(0, 49))
        elif action < 0.65:
            session.delete(rng.choice(entries))
        elif action < 0.8:
            j = journey(now).pickup(now + step * HOUR / 10)
            if rng.random() < 0.5:
                j.deliver(now + HOUR).receive(now + 2 * HOUR)
        else:
            totals.compact(session)
        assert exact(session) == {}, f"step {step}"
    totals.compact(session)
    assert count(session, ProducerMonthDelta) == count(session, ReceiverMonthDelta) == 0
    assert exact(session) == {}
    assert count(session, ReceiverMonth) > 0


def test_compaction_is_periodic_work_of_the_job_workers(session, now):
    fn, every = outbox.periodic()["totals.compact"]
    assert fn is totals.compact_job and every == totals.COMPACT_EVERY
    assert fn(session, now) is not None

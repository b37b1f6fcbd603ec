"""On PostgreSQL, hand-offs write no shared monthly-totals row: with one transaction holding
the pickup of manifest A open, the pickup of manifest B — same producer, same waste code,
same month — commits at once (the triggers only insert delta rows). Compaction then folds
both exactly, and a compaction beside it skips instead of waiting."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from hazwaste import create_app
from hazwaste.accounts.models import User
from hazwaste.extensions import db
from hazwaste.manifests import lifecycle
from hazwaste.manifests.models import Manifest
from hazwaste.reconciliation import totals
from hazwaste.reconciliation.models import ProducerMonthDelta
from tests.manifest_factories import make_submitted, pickup_data

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
WAIT_S = 5.0


@pytest.fixture()
def app() -> Iterator[Flask]:
    """An app on a scratch database of the PostgreSQL server (these tests commit on several
    connections, which the per-test transaction of the shared test database cannot hide)."""
    from flask_migrate import upgrade

    from hazwaste.catalog.services import load_reference_data
    from tests.conftest import test_config

    server = os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"hw_totals_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        scratch = create_app(test_config(server.rsplit("/", 1)[0] + f"/{name}"))
        with scratch.app_context():
            upgrade()
            load_reference_data(db.session)
            db.session.commit()
            db.session.remove()
        yield scratch
        with scratch.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _pickup(engine, manifest_id: int, driver_id: int, vehicle_id: int, done: dict) -> None:
    with Session(bind=engine) as session:
        started = time.monotonic()
        manifest = session.get(Manifest, manifest_id)
        data = pickup_data(manifest, vehicle_id)
        lifecycle.pickup(
            session, NOW + timedelta(minutes=5), manifest, session.get(User, driver_id), data
        )
        session.commit()
        done["b"] = time.monotonic() - started


def test_pickups_of_the_same_producer_code_and_month_never_wait(app):
    from hazwaste.demo.services import seed_demo

    with app.app_context():
        engine = db.engine
        with Session(bind=engine) as setup:
            demo = seed_demo(setup, NOW - timedelta(days=1))
            setup.commit()
            a = make_submitted(setup, NOW - timedelta(hours=2), demo)
            b = make_submitted(setup, NOW - timedelta(hours=1), demo)
            setup.commit()
            assert [ln.waste_code for ln in a.lines] == [ln.waste_code for ln in b.lines]
            assert a.producer_id == b.producer_id
            ids = a.id, b.id, demo.users["driver"].id, demo.extra["vehicles"][0].id
        a_id, b_id, driver_id, vehicle_id = ids

        holder = Session(bind=engine)
        done: dict = {}
        try:
            manifest_a = holder.get(Manifest, a_id)
            lifecycle.pickup(
                holder,
                NOW,
                manifest_a,
                holder.get(User, driver_id),
                pickup_data(manifest_a, vehicle_id),
            )
            holder.flush()  # A's pickup (and its totals contribution) is written, uncommitted

            other = threading.Thread(
                target=_pickup, args=(engine, b_id, driver_id, vehicle_id, done)
            )
            other.start()
            other.join(WAIT_S)
            assert not other.is_alive(), "B's pickup waited on A's open transaction"
            assert done["b"] < 2.0

            # A compaction beside the open pickup folds B's deltas, not A's (not visible).
            with Session(bind=engine) as job:
                folded = totals.compact(job)
                job.commit()
            assert folded is not None and folded["producer"] >= 1
            holder.commit()
        finally:
            holder.close()

        with Session(bind=engine) as check:
            left = check.scalar(select(func.count()).select_from(ProducerMonthDelta))
            assert left >= 1  # A's deltas, committed after the compaction: still there
            assert all(not rows for rows in totals.verify(check).values())
            totals.compact(check)
            check.commit()
            assert check.scalar(select(func.count()).select_from(ProducerMonthDelta)) == 0
            assert all(not rows for rows in totals.verify(check).values())


def test_a_periodic_compaction_skips_while_another_runs(app):
    with app.app_context():
        engine = db.engine
        first, second = Session(bind=engine), Session(bind=engine)
        try:
            assert totals.compact(first) is not None  # holds the lock until it commits
            started = time.monotonic()
            assert totals.compact(second, wait=False) is None
            assert time.monotonic() - started < 1.0
        finally:
            first.rollback()
            second.rollback()
            first.close()
            second.close()

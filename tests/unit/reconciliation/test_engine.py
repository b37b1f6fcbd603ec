import json

import pytest
from sqlalchemy import create_engine, text

from hazwaste.reconciliation import services as recon
from hazwaste.reconciliation.models import Flag, ReconciliationRun, RunStatus
from hazwaste.reconciliation.rules import REGISTRY
from tests.conftest import forget_jobs
from tests.unit.reconciliation.conftest import HOUR


def test_registry_has_every_rule_class_once():
    assert {"TRANSIT_OVERDUE", "RECEIPT_OVERDUE", "WEIGHT_GAP"} <= set(REGISTRY)
    for code, cls in REGISTRY.items():
        assert cls.code == code and cls.subject_type


def test_run_record_counts(session, now, journey):
    journey(now).pickup(now)
    record = recon.run(session, now + 50 * HOUR)
    assert record.status is RunStatus.SUCCEEDED and record.finished_at is not None
    counts = json.loads(record.counts)
    assert counts["TRANSIT_OVERDUE"] == {"found": 1, "new": 1, "resolved": 0}
    again = recon.run(session, now + 51 * HOUR)
    assert json.loads(again.counts)["TRANSIT_OVERDUE"] == {"found": 1, "new": 0, "resolved": 0}
    assert session.query(Flag).filter(Flag.rule == "TRANSIT_OVERDUE").count() == 1  # no twin


def test_unknown_rule_is_refused(session, now):
    with pytest.raises(KeyError):
        recon.run(session, now, rules=["NO_SUCH_RULE"])


def test_second_run_refused_while_another_is_running(app, session, now):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        # Another process holds the advisory lock: this run must refuse, not wait or corrupt.
        engine = create_engine(url)
        with engine.connect() as other:
            other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": recon.ADVISORY_LOCK_KEY})
            try:
                with pytest.raises(recon.RunRefused):
                    recon.run(session, now)
            finally:
                other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": recon.ADVISORY_LOCK_KEY})
        engine.dispose()
    else:
        # SQLite: a run recorded (and committed) as running makes a second one refuse.
        session.add(ReconciliationRun(as_of=now, started_at=now, status=RunStatus.RUNNING))
        session.flush()
        with pytest.raises(recon.RunRefused):
            recon.start(session, now)


def test_receipt_triggers_incremental_run_for_that_manifest(
    session, now, journey, run_jobs, reconciliation_only
):
    j = journey(now).pickup(now).deliver(now + HOUR)
    forget_jobs(session)
    j.receive(now + 2 * HOUR, factor="0.5")  # big weight gap
    # The receipt only published its event (an outbox job); after commit its dispatch
    # enqueues the run, which a worker runs next (and the run publishes its new flags).
    assert session.query(Flag).filter(Flag.rule == "WEIGHT_GAP").count() == 0
    raised = run_jobs(now + 2 * HOUR)
    assert raised == {"done": 2 + session.query(Flag).count()}
    flagged = session.query(Flag).filter(Flag.rule == "WEIGHT_GAP").all()
    assert {f.manifest_id for f in flagged} == {j.manifest.id}
    runs = session.query(ReconciliationRun).all()
    assert [r.scope for r in runs] == [f"manifest:{j.manifest.id}"]

"""Several workers, real connections, the real queue backends.

- Two workers on two PostgreSQL connections get the same job id at once: one runs it, the
  other skips it at once (``FOR UPDATE SKIP LOCKED``), and it stays done.
- The Huey queue carries ids from the commit to a worker, on the embedded SQLite storage
  and on Redis (the production backend) when ``HAZWASTE_TEST_REDIS_URL`` is set (``.ci/run``
  starts a ``redis-server`` on loopback and sets it).
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from hazwaste.extensions import db
from hazwaste.jobs import outbox
from hazwaste.jobs.models import JobStatus, OutboxJob
from hazwaste.jobs.queue import Queue, make_huey
from hazwaste.reconciliation.models import Flag
from tests.conftest import forget_jobs
from tests.functional.test_jobs import jobs
from tests.unit.reconciliation.conftest import HOUR, Journey

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.mark.postgres
def test_two_workers_claiming_the_same_job_run_it_once(app, monkeypatch):
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow(session, now, payload):
        runs.append(payload["n"])
        started.set()
        assert release.wait(10), "the test never released the first worker"

    monkeypatch.setitem(outbox._REGISTRY, "test.slow", outbox.JobKind("test.slow", slow))
    with app.app_context():
        engine = db.engine
        with Session(engine) as setup:
            job_id = outbox.enqueue(setup, NOW, "test.slow", {"n": 1})
            setup.commit()
        outcomes: dict[str, str] = {}
        try:

            def first_worker() -> None:
                with Session(engine) as own:
                    outcomes["first"] = outbox.run_job(own, NOW, job_id)

            thread = threading.Thread(target=first_worker)
            thread.start()
            assert started.wait(10)
            # The first worker holds the row (its transaction is open, the job running).
            with Session(engine) as second:
                assert outbox.run_job(second, NOW, job_id) == outbox.SKIPPED
            release.set()
            thread.join(10)
            assert outcomes["first"] == outbox.DONE
            with Session(engine) as late:
                assert outbox.run_job(late, NOW, job_id) == outbox.SKIPPED
                assert late.get(OutboxJob, job_id).status is JobStatus.DONE
            assert runs == [1]
        finally:
            release.set()
            with Session(engine) as cleanup:
                cleanup.execute(delete(OutboxJob).where(OutboxJob.id == job_id))
                cleanup.commit()


def _redis_url() -> str | None:
    return os.environ.get("HAZWASTE_TEST_REDIS_URL", "").strip() or None


BACKENDS = [
    pytest.param("sqlite", id="huey-sqlite"),
    pytest.param(
        "redis",
        id="huey-redis",
        marks=pytest.mark.skipif(
            _redis_url() is None,
            reason="needs Redis: set HAZWASTE_TEST_REDIS_URL=redis://… (.ci/run starts one)",
        ),
    ),
]


@pytest.fixture(params=BACKENDS)
def queue(request, app, tmp_path, monkeypatch):
    """A real Huey queue bound to the app, standing in for the one ``flask jobs worker`` uses
    (its own name, so it never sees another run's tasks)."""
    url = f"sqlite:///{tmp_path / 'queue.db'}" if request.param == "sqlite" else _redis_url()
    bound = Queue(app, str(url), name=f"hazwaste-test-{uuid.uuid4().hex[:8]}")
    monkeypatch.setitem(app.extensions, outbox.PUSHER_EXTENSION, bound)
    yield bound
    bound.huey.flush()


def drain(queue: Queue) -> list[object]:
    """What a consumer does: take each queued task and execute it, here and synchronously."""
    results = []
    while (task := queue.huey.dequeue()) is not None:
        result = queue.huey.execute(task)
        if result is not None:  # None: a task for later, moved to Huey's schedule
            results.append(result)
    return results


def test_queue_carries_the_job_from_commit_to_a_worker(
    session, now, demo, queue, reconciliation_only
):
    j = Journey(session, demo, now).pickup(now).deliver(now + HOUR)
    forget_jobs(session)
    queue.huey.flush()
    j.receive(now + 2 * HOUR, factor="0.5")
    assert queue.huey.pending_count() == 0  # nothing is pushed before the commit
    session.commit()
    assert queue.huey.pending_count() == 1
    # The worker runs the receipt's event at its own "now"; the reconciliation the event's
    # dispatch enqueued is pushed when that job commits, and runs next.
    results = drain(queue)
    session.expire_all()
    new_flags = session.query(Flag).count()  # each published as flag.raised by the run
    assert new_flags and results == [outbox.DONE] * (2 + new_flags)
    assert [(j.kind, j.status) for j in jobs(session)] == [
        ("events.dispatch", JobStatus.DONE),
        ("reconcile.manifest", JobStatus.DONE),
    ] + [("events.dispatch", JobStatus.DONE)] * new_flags
    session.expire_all()
    flagged = session.query(Flag).filter(Flag.rule == "WEIGHT_GAP").all()
    assert {f.manifest_id for f in flagged} == {j.manifest.id}


def test_lost_push_is_recovered_by_the_sweeper_task(
    app, session, now, demo, queue, monkeypatch, reconciliation_only
):
    monkeypatch.setitem(app.extensions, outbox.PUSHER_EXTENSION, None)  # push lost
    j = Journey(session, demo, now).pickup(now).deliver(now + HOUR)
    forget_jobs(session)
    j.receive(now + 2 * HOUR)
    session.commit()
    assert queue.huey.pending_count() == 0
    monkeypatch.setitem(app.extensions, outbox.PUSHER_EXTENSION, queue)  # worker restarted
    queue.task("sweep")()  # what the periodic schedule (and a starting worker) enqueues
    # The sweep re-pushed one id (the receipt's event); it ran, and so did what it enqueued.
    assert drain(queue) == [1, outbox.DONE, outbox.DONE]
    assert jobs(session)[0].status is JobStatus.DONE
    queue.task("run_job")(jobs(session)[0].id)  # a duplicate push: nothing more happens
    assert drain(queue) == [outbox.SKIPPED]


def test_a_failed_attempt_is_scheduled_on_the_queue(session, now, demo, queue, monkeypatch):
    def fail(session, now, payload):
        raise RuntimeError("down")

    monkeypatch.setitem(outbox._REGISTRY, "test.fail", outbox.JobKind("test.fail", fail))
    outbox.enqueue(session, now, "test.fail", {})
    session.commit()
    assert drain(queue) == [outbox.RETRY]
    assert queue.huey.scheduled_count() == 1  # the retry waits in Huey's schedule


def test_schedule_sweeps_every_few_seconds(app, queue, monkeypatch):
    monkeypatch.setattr(outbox, "_PERIODIC", {})
    queue.task("schedule_sweeps")()
    drain(queue)
    interval = int(app.config["JOB_SWEEP_INTERVAL"].total_seconds())
    # One now (already run by drain) and the rest of the minute in Huey's schedule.
    assert queue.huey.scheduled_count() == 60 // interval - 1


def test_periodic_functions_run_at_their_interval(app, queue, monkeypatch):
    """Registered periodic work (the audit checkpoint) is scheduled each minute at its own
    interval beside the sweeps, and runs with a session and the worker's ``now``."""
    calls: list[object] = []
    monkeypatch.setattr(
        outbox,
        "_PERIODIC",
        {"test.tick": (lambda s, now: calls.append(now), timedelta(seconds=20))},
    )
    queue.task("schedule_sweeps")()
    drain(queue)
    sweeps = 60 // int(app.config["JOB_SWEEP_INTERVAL"].total_seconds())
    assert len(calls) == 1  # the first tick ran now
    assert queue.huey.scheduled_count() == (sweeps - 1) + (60 // 20 - 1)


def test_the_audit_checkpoint_is_registered_as_periodic_work(app):
    from hazwaste.audit.services import checkpoint_job

    fn, every = outbox.periodic()["audit.checkpoint"]
    assert fn is checkpoint_job and every == app.config["AUDIT_CHECKPOINT_EVERY"]


def test_queue_url_choices(tmp_path):
    assert make_huey("off", str(tmp_path)) is None
    embedded = make_huey("", str(tmp_path))
    assert type(embedded).__name__ == "SqliteHuey" and (tmp_path / "queue.db").exists()
    assert type(make_huey("redis://127.0.0.1:1/0", str(tmp_path))).__name__ == "RedisHuey"
    with pytest.raises(ValueError, match="unsupported queue URL"):
        make_huey("amqp://broker", str(tmp_path))


CRASHING_PROCESS = r"""
import os, sys
from datetime import timedelta
from hazwaste import create_app
from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.jobs import outbox
from tests.conftest import test_config

class DiesBeforePushing:
    def push(self, job_ids, eta=None):
        os._exit(137)  # as if killed -9 between COMMIT and the push to the queue

app = create_app(test_config(sys.argv[1], QUEUE_URL=sys.argv[2]))
with app.app_context():
    app.extensions[outbox.PUSHER_EXTENSION] = DiesBeforePushing()
    outbox.enqueue(db.session, utcnow(), "reconcile.manifest", {"manifest_id": 424242})
    db.session.commit()
print("not reached")
"""


def test_job_survives_a_crash_of_the_process_between_commit_and_push(tmp_path):
    """A real process commits a job and dies before pushing it; a worker started afterwards
    finds it with its first sweep, runs it once, and a second sweep finds nothing."""
    import subprocess
    import sys
    from datetime import timedelta

    from flask_migrate import upgrade

    from hazwaste import create_app
    from hazwaste.reconciliation.models import ReconciliationRun
    from tests.conftest import ROOT, test_config

    url = f"sqlite:///{tmp_path / 'crash.db'}"
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    config = test_config(url, QUEUE_URL=queue_url, JOB_SWEEP_GRACE=timedelta(0))
    app = create_app(config)
    with app.app_context():
        upgrade()
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_PROCESS, url, queue_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    assert "not reached" not in crashed.stdout

    restarted = create_app(config)  # the worker machine, after the crash
    from hazwaste.jobs.queue import get_queue

    queue = get_queue(restarted)
    assert queue is not None and queue.huey.pending_count() == 0  # the push was lost
    with restarted.app_context():
        [job] = db.session.query(OutboxJob).all()
        assert job.status is JobStatus.PENDING
        db.session.rollback()
    queue.task("sweep")()  # what a starting worker does first
    assert drain(queue) == [1, outbox.DONE]
    queue.task("sweep")()
    assert drain(queue) == [0]
    with restarted.app_context():
        assert db.session.query(OutboxJob).one().status is JobStatus.DONE
        runs = db.session.query(ReconciliationRun).all()
        assert [r.scope for r in runs] == ["manifest:424242"]  # ran exactly once
        db.session.remove()
        db.engine.dispose()


def test_periodic_work_of_a_longer_interval_runs_in_its_minutes_only(app, queue, monkeypatch):
    """A 15-minute job (the notification reminders) is scheduled in one minute out of 15."""
    import time as clock

    calls: list[object] = []
    monkeypatch.setattr(
        outbox,
        "_PERIODIC",
        {"test.slow": (lambda s, now: calls.append(now), timedelta(minutes=15))},
    )
    for minute in (15 * 1000, 15 * 1000 + 1, 15 * 1000 + 7):
        monkeypatch.setattr(clock, "time", lambda minute=minute: minute * 60.0 + 5)
        queue.task("schedule_sweeps")()
        drain(queue)
    assert len(calls) == 1

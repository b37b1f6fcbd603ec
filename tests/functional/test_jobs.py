"""After-commit jobs: the outbox row is part of the hand-off's transaction, survives a crash
between commit and push, runs once in effect, retries with backoff, then lands on the
dead-letter list that only the platform administrator sees."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from hazwaste import events
from hazwaste.jobs import outbox
from hazwaste.jobs.models import JobStatus, OutboxJob
from hazwaste.reconciliation import RECONCILE_MANIFEST
from hazwaste.reconciliation import services as recon
from hazwaste.reconciliation.models import Flag, ReconciliationRun, RunStatus
from tests.conftest import forget_jobs, login
from tests.unit.reconciliation.conftest import HOUR, Journey

EN = {"Accept-Language": "en"}


class RecordingPusher:
    """Stands in for the queue: records what would have been pushed after each commit."""

    def __init__(self, fail: bool = False):
        self.pushed: list[tuple[list[int], Any]] = []
        self.fail = fail

    def push(self, job_ids: list[int], eta: Any = None) -> None:
        if self.fail:
            raise ConnectionError("queue down")
        self.pushed.append((list(job_ids), eta))

    @property
    def ids(self) -> list[int]:
        return [i for ids, _ in self.pushed for i in ids]


@pytest.fixture(autouse=True)
def _only_reconciliation(reconciliation_only) -> None:
    """These tests follow the receipt's one consumer that reconciles."""


@pytest.fixture()
def pusher(app, monkeypatch) -> RecordingPusher:
    recorder = RecordingPusher()
    monkeypatch.setitem(app.extensions, outbox.PUSHER_EXTENSION, recorder)
    return recorder


@pytest.fixture()
def received(session, now, demo, pusher):
    """A manifest picked up, delivered and received half as heavy (a WEIGHT_GAP), uncommitted."""

    def make() -> Journey:
        j = Journey(session, demo, now).pickup(now).deliver(now + HOUR)
        forget_jobs(session)  # the earlier hand-offs' events are not what these tests follow
        pusher.pushed.clear()
        return j.receive(now + 2 * HOUR, factor="0.5")

    return make


def jobs(session) -> list[OutboxJob]:
    session.expire_all()
    return list(session.query(OutboxJob).order_by(OutboxJob.id))


def weight_gaps(session) -> list[Flag]:
    session.expire_all()
    return list(session.query(Flag).filter(Flag.rule == "WEIGHT_GAP"))


def test_receipt_writes_the_job_in_its_own_transaction_and_pushes_after_commit(
    session, now, received, pusher
):
    j = received()
    [job] = jobs(session)  # the receipt's event: one row, whatever follows from it
    assert (job.kind, job.status, job.attempts) == (events.DISPATCH, JobStatus.PENDING, 0)
    assert outbox.summary(job) == f"manifest.received manifest {j.manifest.id}"
    assert pusher.ids == []  # nothing leaves before the hand-off commits
    assert weight_gaps(session) == []  # and nothing is reconciled inside it
    session.commit()
    assert pusher.ids == [job.id]

    # After commit the event's dispatch enqueues the reconciliation, pushed when it commits.
    assert outbox.run_job(session, now + 2 * HOUR, job.id) == outbox.DONE
    [_, reconcile] = jobs(session)
    assert (reconcile.kind, reconcile.status) == (RECONCILE_MANIFEST, JobStatus.PENDING)
    assert outbox.summary(reconcile) == f"联单 {j.manifest.id}"  # zh_CN first
    assert pusher.ids == [job.id, reconcile.id]
    assert weight_gaps(session) == []


def test_rolled_back_hand_off_leaves_no_job_and_pushes_nothing(session, now, received, pusher):
    received()
    assert len(jobs(session)) == 1
    session.rollback()
    assert jobs(session) == []
    session.commit()  # a later commit must not push the rolled-back job's id
    assert pusher.ids == []


def test_enqueue_with_a_key_is_idempotent(session, now, demo):
    first = outbox.enqueue(session, now, RECONCILE_MANIFEST, {"manifest_id": 1}, key="k")
    again = outbox.enqueue(session, now, RECONCILE_MANIFEST, {"manifest_id": 1}, key="k")
    assert first == again and len(jobs(session)) == 1


def test_enqueue_refuses_an_unknown_kind_or_a_bad_payload(session, now):
    from marshmallow import ValidationError

    with pytest.raises(outbox.UnknownJobKind):
        outbox.enqueue(session, now, "no.such.kind", {})
    with pytest.raises(ValidationError):
        outbox.enqueue(session, now, RECONCILE_MANIFEST, {"manifest_id": "seven"})


def test_outbox_survives_a_crash_between_commit_and_push(app, session, now, received, monkeypatch):
    # The hand-off commits, then the push is lost (queue unreachable, or the process dies).
    monkeypatch.setitem(app.extensions, outbox.PUSHER_EXTENSION, RecordingPusher(fail=True))
    j = received()
    session.commit()
    [job] = jobs(session)
    assert job.kind == events.DISPATCH
    assert job.status is JobStatus.PENDING and weight_gaps(session) == []

    # "Restart": a new worker knows nothing but the database. Its sweeper finds the job once
    # it is overdue by the grace period, and pushes it again after the sweep commits.
    restarted = RecordingPusher()
    monkeypatch.setitem(app.extensions, outbox.PUSHER_EXTENSION, restarted)
    at = now + 2 * HOUR + app.config["JOB_SWEEP_GRACE"]
    assert outbox.sweep(session, now + 2 * HOUR) == []  # just committed: not lost (yet)
    assert outbox.sweep(session, at) == [job.id]
    session.commit()
    assert restarted.ids == [job.id]
    assert outbox.sweep(session, at + timedelta(seconds=1)) == []  # not pushed every sweep

    # The job runs once; a duplicate push (or a second worker) finds nothing left to do.
    assert outbox.run_job(session, at, job.id) == outbox.DONE
    assert outbox.run_job(session, at, job.id) == outbox.SKIPPED
    [job, reconcile] = jobs(session)
    assert job.status is JobStatus.DONE and job.done_at == at
    assert outbox.run_job(session, at, reconcile.id) == outbox.DONE
    assert outbox.run_job(session, at, reconcile.id) == outbox.SKIPPED
    assert {f.manifest_id for f in weight_gaps(session)} == {j.manifest.id}
    runs = session.query(ReconciliationRun).all()
    assert [r.scope for r in runs] == [f"manifest:{j.manifest.id}"]
    # Left for later sweeps: only the events of the flags the run raised (never these two).
    swept = outbox.sweep(session, at + timedelta(hours=1))
    assert swept and all(
        outbox.summary(session.get(OutboxJob, i)).startswith("flag.raised flag") for i in swept
    )


@pytest.fixture()
def failing(monkeypatch) -> list[int]:
    """A job kind that always fails after writing something (which must not persist)."""
    calls: list[int] = []

    def handler(session, now, payload):
        calls.append(payload["n"])
        outbox.enqueue(session, now, RECONCILE_MANIFEST, {"manifest_id": 1}, key="side-effect")
        raise RuntimeError("receiver system unreachable")

    monkeypatch.setitem(outbox._REGISTRY, "test.failing", outbox.JobKind("test.failing", handler))
    return calls


def test_failing_job_retries_with_backoff_then_is_dead(
    app, session, now, failing, pusher, monkeypatch
):
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 3)
    base = app.config["JOB_RETRY_BASE_DELAY"]
    job_id = outbox.enqueue(session, now, "test.failing", {"n": 1})
    session.commit()

    assert outbox.run_job(session, now, job_id) == outbox.RETRY
    [job] = jobs(session)  # the handler's own write was rolled back with it
    assert (job.attempts, job.next_attempt_at) == (1, now + base)
    assert job.last_error == "RuntimeError: receiver system unreachable"
    assert pusher.pushed[-1] == ([job_id], now + base)  # the retry is scheduled on the queue
    assert outbox.run_job(session, now + base / 2, job_id) == outbox.SKIPPED  # not due yet

    second = now + base
    assert outbox.run_job(session, second, job_id) == outbox.RETRY
    assert jobs(session)[0].next_attempt_at == second + 2 * base  # exponential
    assert outbox.run_job(session, second + 2 * base, job_id) == outbox.DEAD
    [job] = jobs(session)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 3)
    assert outbox.run_job(session, second + timedelta(days=1), job_id) == outbox.SKIPPED
    assert failing == [1, 1, 1]
    assert outbox.sweep(session, second + timedelta(days=1)) == []  # dead is not re-pushed


def test_backoff_is_capped(app):
    with app.app_context():
        assert outbox.backoff(1) == app.config["JOB_RETRY_BASE_DELAY"]
        assert outbox.backoff(2) == 2 * app.config["JOB_RETRY_BASE_DELAY"]
        assert outbox.backoff(40) == app.config["JOB_RETRY_MAX_DELAY"]


def test_dead_letter_page_for_the_platform_admin_only(
    app, client, session, now, demo, failing, pusher, monkeypatch
):
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 1)
    job_id = outbox.enqueue(session, now, "test.failing", {"n": 7})
    session.commit()
    assert outbox.run_job(session, now, job_id) == outbox.DEAD

    login(client, "producer@demo.test")
    assert client.get("/admin/jobs").status_code == 403
    assert client.post(f"/admin/jobs/{job_id}/retry").status_code == 403
    client.post("/logout")

    login(client, "admin@demo.test")
    page = client.get("/admin/jobs").get_data(as_text=True)  # zh_CN first
    assert "失败的任务" in page and "RuntimeError: receiver system unreachable" in page
    assert "n=7" in page and "重试" in page
    page = client.get("/admin/jobs", headers=EN).get_data(as_text=True)
    assert "Failed jobs" in page and "test.failing" in page
    # China time: 02:00 UTC is 10:00 in Beijing.
    assert now.astimezone().strftime("%Y-%m-%d") in page and "10:00" in page

    response = client.post(f"/admin/jobs/{job_id}/retry", headers=EN)
    assert response.status_code == 302
    [job] = jobs(session)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
    assert pusher.ids[-1] == job_id  # queued again at once
    followed = client.get("/admin/jobs", headers=EN).get_data(as_text=True)
    assert "The job was queued again." in followed and "No failed jobs." in followed
    again = client.post(f"/admin/jobs/{job_id}/retry", headers=EN, follow_redirects=True)
    assert "no longer on the dead-letter list" in again.get_data(as_text=True)


def test_incremental_run_is_deferred_while_a_full_run_holds_the_lock(app, session, now, received):
    received()
    session.commit()
    at = now + 2 * HOUR
    [dispatch] = jobs(session)
    assert outbox.run_job(session, at, dispatch.id) == outbox.DONE
    [_, job] = jobs(session)
    assert job.kind == RECONCILE_MANIFEST
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.connect() as other:
            other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": recon.ADVISORY_LOCK_KEY})
            try:
                assert outbox.run_job(session, at, job.id) == outbox.DEFERRED
            finally:
                other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": recon.ADVISORY_LOCK_KEY})
        engine.dispose()
    else:
        full = ReconciliationRun(as_of=at, started_at=at, status=RunStatus.RUNNING)
        session.add(full)
        session.commit()
        assert outbox.run_job(session, at, job.id) == outbox.DEFERRED
        full.status = RunStatus.SUCCEEDED
        session.commit()
    [_, job] = jobs(session)
    # Not a failure: no attempt counted; tried again after the defer delay.
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
    assert job.next_attempt_at == at + app.config["JOB_DEFER_DELAY"]
    assert outbox.run_job(session, job.next_attempt_at, job.id) == outbox.DONE


def test_cli_list_retry_run_pending(app, session, now, failing, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 1)
    job_id = outbox.enqueue(session, now, "test.failing", {"n": 3})
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run-pending"])
    assert result.exit_code == 0 and "dead=1" in result.output
    listed = runner.invoke(args=["jobs", "list"])
    assert f"{job_id}\ttest.failing\tdead\tattempts=1" in listed.output
    assert "RuntimeError: receiver system unreachable" in listed.output
    assert runner.invoke(args=["jobs", "retry", str(job_id)]).exit_code == 0
    assert jobs(session)[0].status is JobStatus.PENDING
    refused = runner.invoke(args=["jobs", "retry", str(job_id)])
    assert refused.exit_code != 0 and "is not dead" in refused.output


def test_a_job_enqueued_in_a_savepoint_is_pushed_at_the_real_commit(session, now, pusher):
    """A job handler runs in a savepoint; releasing it commits nothing yet, so a worker
    handed the id then would not find the row (PostgreSQL) and leave it to the sweeper."""
    session.commit()
    pusher.pushed.clear()
    with session.begin_nested():
        job_id = outbox.enqueue(session, now, RECONCILE_MANIFEST, {"manifest_id": 1})
    assert pusher.ids == []  # the savepoint is released, the transaction still open
    session.commit()
    assert pusher.ids == [job_id]


def test_a_job_for_later_is_pushed_for_its_time(session, now, pusher):
    later = now + timedelta(minutes=5)
    soon = outbox.enqueue(session, now, RECONCILE_MANIFEST, {"manifest_id": 1})
    job_id = outbox.enqueue(session, now, RECONCILE_MANIFEST, {"manifest_id": 2}, eta=later)
    session.commit()
    assert pusher.pushed == [([soon], None), ([job_id], later)]
    assert outbox.run_job(session, now, job_id) == outbox.SKIPPED  # not due before its time

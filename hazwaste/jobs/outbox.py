"""The transactional outbox: enqueue after-commit work in the caller's transaction, run it
once in effect, retry with backoff, and keep what keeps failing on a dead-letter list.

Low-level, like :mod:`hazwaste.db`: it imports no domain. Domains register the kinds of job
they handle (:func:`register`), and services call :func:`enqueue`, which only adds a row to
the session (never commits). When that transaction commits, the new job ids are handed to
the queue (:mod:`hazwaste.jobs.queue`, Huey) so a worker runs them within a second; if that
hand-over is lost (crash between commit and push, queue unreachable), :func:`sweep` finds
the row later and pushes it again. Whatever pushed it, :func:`run_job` decides under a row
lock whether the job still has to run, so pushing twice never runs a job twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from marshmallow import Schema
from sqlalchemy import event, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hazwaste import config
from hazwaste.jobs.models import JobStatus, OutboxJob

log = logging.getLogger(__name__)

#: ``session.info`` key: ids of the jobs enqueued (or re-armed) in the current transaction.
_PENDING_IDS = "hazwaste.jobs.pending_ids"
#: ``session.info`` key: {job id: eta} of the jobs enqueued for later in this transaction.
_PENDING_LATER = "hazwaste.jobs.pending_later"
#: ``app.extensions`` key of the :class:`Pusher` that hands committed job ids to the queue.
PUSHER_EXTENSION = "hazwaste.jobs.pusher"

#: Outcomes of :func:`run_job`.
DONE, RETRY, DEAD, DEFERRED, SKIPPED = "done", "retry", "dead", "deferred", "skipped"


class UnknownJobKind(LookupError):
    """No handler is registered for this kind (a programming error)."""


class JobDeferred(Exception):
    """Raised by a handler that cannot run *now* for a reason that is not a failure (e.g. a
    full reconciliation run holds the lock). The job is tried again after ``delay``; it does
    not count as a failed attempt."""

    def __init__(self, reason: str, delay: timedelta | None = None):
        super().__init__(reason)
        self.delay = delay if delay is not None else config.JOB_DEFER_DELAY


class NotRetryable(Exception):
    """:func:`retry` was asked for a job that does not exist or is not dead."""


Handler = Callable[[Session, datetime, dict[str, Any]], None]


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job.

    ``handler(session, now, payload)`` does the work in the worker's transaction and never
    commits; it must be idempotent (a job whose commit was lost runs again). ``schema`` (a
    marshmallow schema class) validates the payload on :func:`enqueue` — a bad payload is a
    programming error raised at the call site, not a dead job later — and loads it before
    the handler sees it. ``label`` (a lazy translated string) names the kind and ``summary``
    renders a payload in one line, for the dead-letter page.
    """

    kind: str
    handler: Handler
    schema: type[Schema] | None = None
    summary: Callable[[dict[str, Any]], str] | None = None
    label: Any = None


_REGISTRY: dict[str, JobKind] = {}


def register(
    kind: str,
    handler: Handler,
    schema: type[Schema] | None = None,
    summary: Callable[[dict[str, Any]], str] | None = None,
    label: Any = None,
) -> JobKind:
    """Register (or replace, on a second ``create_app``) the handler of ``kind``."""
    spec = JobKind(kind, handler, schema, summary, label)
    _REGISTRY[kind] = spec
    return spec


#: Periodic work (name → (function, interval)): run by every worker's scheduler, not from
#: the outbox (nothing to lose: the next tick does it). Each function takes the session and
#: ``now``, must be safe to run concurrently with itself and commits its own work.
_PERIODIC: dict[str, tuple[Callable[[Session, datetime], Any], timedelta]] = {}


def register_periodic(name: str, fn: Callable[[Session, datetime], Any], every: timedelta) -> None:
    """Run ``fn(session, now)`` every ``every`` (at least a second) in the job workers."""
    _PERIODIC[name] = (fn, every)


def periodic() -> dict[str, tuple[Callable[[Session, datetime], Any], timedelta]]:
    return dict(_PERIODIC)


def registered(kind: str) -> JobKind:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise UnknownJobKind(kind) from None


def kinds() -> list[str]:
    return sorted(_REGISTRY)


def _canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _insert_builder(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _remember(session: Session, job_ids: Iterable[int]) -> None:
    session.info.setdefault(_PENDING_IDS, []).extend(job_ids)


def enqueue(
    session: Session,
    now: datetime,
    kind: str,
    payload: dict[str, Any],
    key: str | None = None,
    eta: datetime | None = None,
) -> int:
    """Add a job to the outbox in the caller's transaction (one INSERT; never commits).

    The job exists if and only if the caller's transaction commits; after that commit its id
    is pushed to the queue. With ``key``, enqueueing is idempotent: a second call with the
    same key (in this or any later transaction) returns the first job's id and adds nothing.
    With ``eta`` the job is not due before then (a consumer's own retry schedule).
    Raises :class:`UnknownJobKind`, or marshmallow's ``ValidationError`` for a payload the
    kind's schema refuses.
    """
    spec = registered(kind)
    if spec.schema is not None:
        spec.schema().load(payload)
    values = {
        "kind": kind,
        "payload": _canonical(payload),
        "dedupe_key": key,
        "status": JobStatus.PENDING,
        "attempts": 0,
        "last_error": "",
        "created_at": now,
        "next_attempt_at": eta if eta is not None else now,
    }
    if key is None:
        job_id = session.execute(
            insert(OutboxJob).values(**values).returning(OutboxJob.id)
        ).scalar_one()
    else:
        stmt = (
            _insert_builder(session)(OutboxJob)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[OutboxJob.dedupe_key])
            .returning(OutboxJob.id)
        )
        inserted = session.execute(stmt).scalar_one_or_none()
        if inserted is None:  # enqueued before: the first job stands
            return int(
                session.scalars(select(OutboxJob.id).where(OutboxJob.dedupe_key == key)).one()
            )
        job_id = inserted
    if eta is not None and eta > now:
        # Pushed for its time, so a worker does not take it early and leave it to the sweeper.
        session.info.setdefault(_PENDING_LATER, {})[int(job_id)] = eta
    else:
        _remember(session, [job_id])
    return int(job_id)


class Pusher(Protocol):
    """Hands job ids to the queue's workers (see :mod:`hazwaste.jobs.queue`)."""

    def push(self, job_ids: list[int], eta: datetime | None = None) -> None: ...


def _pusher() -> Pusher | None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    return current_app.extensions.get(PUSHER_EXTENSION)


def push(job_ids: list[int], eta: datetime | None = None) -> None:
    """Hand ids to the queue now (or for ``eta``). Never raises: a lost push is recovered by
    the sweeper, and the hand-off that enqueued the job has already committed."""
    pusher = _pusher()
    if pusher is None or not job_ids:
        return
    try:
        pusher.push(job_ids, eta)
    except Exception:  # the queue backend is down: the sweeper re-pushes once it is back
        log.warning("could not push outbox jobs %s to the queue", job_ids, exc_info=True)


@event.listens_for(Session, "after_commit")
def _push_after_commit(session: Session) -> None:
    # SQLAlchemy also fires after_commit when a SAVEPOINT is released (a job handler runs in
    # one): the rows are not committed yet, so a worker taking the id now would find nothing
    # (PostgreSQL) and the job would wait for the sweeper. Keep the ids for the real commit.
    if session.get_nested_transaction() is not None:
        return
    job_ids = session.info.pop(_PENDING_IDS, None)
    later: dict[int, datetime] = session.info.pop(_PENDING_LATER, None) or {}
    if job_ids:
        push(sorted(set(job_ids)))
    for job_id, eta in sorted(later.items()):
        push([job_id], eta=eta)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_IDS, None)
    session.info.pop(_PENDING_LATER, None)


def _setting(name: str) -> Any:
    from flask import current_app, has_app_context

    default = getattr(config, name)
    return current_app.config.get(name, default) if has_app_context() else default


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: base × 2^(attempts−1),
    capped at ``JOB_RETRY_MAX_DELAY``."""
    base: timedelta = _setting("JOB_RETRY_BASE_DELAY")
    cap: timedelta = _setting("JOB_RETRY_MAX_DELAY")
    return min(base * (2 ** max(0, attempts - 1)), cap)


def _claim(session: Session, now: datetime, job_id: int) -> OutboxJob | None:
    """The job, locked for this transaction, if it is pending and due; else ``None``.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` — a job another worker is running is skipped at
    once (that worker commits it done, or its rollback leaves it pending for the sweeper).
    SQLite: the transaction began with ``BEGIN IMMEDIATE`` and holds the database's write
    lock, so a second worker waits and then sees the first one's outcome.
    """
    stmt = (
        select(OutboxJob)
        .where(
            OutboxJob.id == job_id,
            OutboxJob.status == JobStatus.PENDING,
            OutboxJob.next_attempt_at <= now,
        )
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalars(stmt).one_or_none()


def run_job(session: Session, now: datetime, job_id: int) -> str:
    """Run one job if it is still due, in ONE transaction that this function commits.

    The handler runs in a savepoint; on success its effect and the job's ``done`` status
    commit together, so a crash at any point either commits both or neither (the job then
    stays pending and runs again: handlers are idempotent). On an exception the savepoint is
    rolled back, the attempt is counted with its error, and the job is scheduled again after
    :func:`backoff` — or, at ``JOB_MAX_ATTEMPTS``, marked dead (the dead-letter list).
    Returns ``done``, ``retry``, ``dead``, ``deferred`` or ``skipped`` (not pending, not due,
    or being run by another worker). The session must have no uncommitted work.
    """
    job = _claim(session, now, job_id)
    if job is None:
        session.rollback()
        return SKIPPED
    outcome = DONE
    try:
        spec = registered(job.kind)
        payload = json.loads(job.payload)
        if spec.schema is not None:
            payload = spec.schema().load(payload)
        with session.begin_nested():
            spec.handler(session, now, payload)
    except JobDeferred as exc:
        outcome = DEFERRED
        job.next_attempt_at = now + exc.delay
        job.last_error = str(exc)[:2000]
    except Exception as exc:
        log.warning("outbox job %s (%s) failed", job.id, job.kind, exc_info=True)
        job.attempts += 1
        job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if job.attempts >= int(_setting("JOB_MAX_ATTEMPTS")):
            outcome = DEAD
            job.status = JobStatus.DEAD
            job.next_attempt_at = now  # shown as the time of the last attempt
        else:
            outcome = RETRY
            job.next_attempt_at = now + backoff(job.attempts)
    else:
        job.status = JobStatus.DONE
        job.done_at = now
        job.last_error = ""
    next_at = job.next_attempt_at
    session.commit()
    if outcome in (RETRY, DEFERRED):
        push([job_id], eta=next_at)
    return outcome


def due_ids(session: Session, now: datetime, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(OutboxJob.id)
            .where(OutboxJob.status == JobStatus.PENDING, OutboxJob.next_attempt_at <= now)
            .order_by(OutboxJob.id)
            .limit(limit)
        )
    )


def run_pending(session: Session, now: datetime, limit: int | None = None) -> dict[str, int]:
    """Run every pending job that is due at ``now``, in id order, each in its own transaction
    (tests, ``flask jobs run-pending``, the end of ``seed-demo``; no queue, no threads).
    Jobs enqueued by these jobs run too; a job that fails is tried once per call. Returns
    the count of each outcome."""
    session.commit()  # our own transactions from here on; the caller's work goes first
    counts: dict[str, int] = {}
    seen: set[int] = set()
    while limit is None or len(seen) < limit:
        batch = [i for i in due_ids(session, now) if i not in seen]
        session.rollback()
        if not batch:
            break
        for job_id in batch[: None if limit is None else limit - len(seen)]:
            seen.add(job_id)
            outcome = run_job(session, now, job_id)
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def sweep(session: Session, now: datetime) -> list[int]:
    """Mark for re-pushing the pending jobs that are overdue by ``JOB_SWEEP_GRACE`` and were
    not swept within ``JOB_SWEEP_REPUSH`` (their push was lost, or the queue was down); their
    ids are pushed when the caller commits. Several sweepers at once share the work (rows
    locked by a running job or another sweeper are skipped on PostgreSQL)."""
    grace: timedelta = _setting("JOB_SWEEP_GRACE")
    repush: timedelta = _setting("JOB_SWEEP_REPUSH")
    stmt = (
        select(OutboxJob.id)
        .where(
            OutboxJob.status == JobStatus.PENDING,
            OutboxJob.next_attempt_at <= now - grace,
            or_(OutboxJob.swept_at.is_(None), OutboxJob.swept_at <= now - repush),
        )
        .order_by(OutboxJob.id)
        .limit(int(_setting("JOB_SWEEP_BATCH")))
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(ids))
            .values(swept_at=now)
            .execution_options(synchronize_session=False)
        )
        _remember(session, ids)
    return ids


def retry(session: Session, now: datetime, job_id: int) -> OutboxJob:
    """Put a dead job back in the queue with a fresh count of attempts (the administrator
    fixed the cause). Pushed when the caller commits; :class:`NotRetryable` if the job does
    not exist or is not dead. The last error stays visible until the job succeeds."""
    job = session.get(OutboxJob, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status is not JobStatus.DEAD:
        raise NotRetryable(job_id)
    job.status = JobStatus.PENDING
    job.attempts = 0
    job.next_attempt_at = now
    job.swept_at = None
    _remember(session, [job.id])
    return job


def summary(job: OutboxJob) -> str:
    """The payload in one line, by the kind's own summary if it has one."""
    try:
        payload = json.loads(job.payload)
    except ValueError:
        return job.payload[:200]
    spec = _REGISTRY.get(job.kind)
    if spec is not None and spec.summary is not None:
        return spec.summary(payload)
    return ", ".join(f"{k}={v}" for k, v in sorted(payload.items()))[:200]


def label(kind: str) -> str:
    """The kind's translated name (the kind itself if it has none or is unknown)."""
    spec = _REGISTRY.get(kind)
    return str(spec.label) if spec is not None and spec.label is not None else kind


def dead_jobs_query() -> Any:
    return select(OutboxJob).where(OutboxJob.status == JobStatus.DEAD).order_by(OutboxJob.id.desc())

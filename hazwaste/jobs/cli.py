"""``flask jobs list|retry|run-pending|sweep|worker``."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.jobs import outbox
from hazwaste.jobs.models import JobStatus, OutboxJob
from hazwaste.jobs.queue import get_queue

jobs_cli = AppGroup("jobs", help="After-commit jobs: the outbox, its queue and its workers.")


@jobs_cli.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in JobStatus]),
    default=JobStatus.DEAD.value,
    show_default=True,
)
@click.option("--limit", type=int, default=50, show_default=True)
def list_command(status: str, limit: int) -> None:
    """List jobs by status (default: the dead-letter list), newest first."""
    jobs = db.session.scalars(
        select(OutboxJob)
        .where(OutboxJob.status == JobStatus(status))
        .order_by(OutboxJob.id.desc())
        .limit(limit)
    ).all()
    for job in jobs:
        click.echo(
            f"{job.id}\t{job.kind}\t{job.status.value}\tattempts={job.attempts}\t"
            f"next={job.next_attempt_at.isoformat()}\t{outbox.summary(job)}\t{job.last_error}"
        )
    click.echo(f"{len(jobs)} {status} job(s)", err=True)


@jobs_cli.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Retry every job on the dead-letter list.")
def retry_command(job_ids: tuple[int, ...], all_dead: bool) -> None:
    """Put dead jobs back in the queue with a fresh count of attempts."""
    ids = list(job_ids)
    if all_dead:
        ids += list(db.session.scalars(select(OutboxJob.id).where(OutboxJob.status == "dead")))
    if not ids:
        raise click.UsageError("give job ids or --all-dead")
    now = utcnow()
    try:
        for job_id in ids:
            outbox.retry(db.session, now, job_id)
    except outbox.NotRetryable as exc:
        db.session.rollback()
        raise click.ClickException(f"job {exc} does not exist or is not dead") from exc
    db.session.commit()
    click.echo(f"{len(ids)} job(s) queued again")


@jobs_cli.command("run-pending")
def run_pending_command() -> None:
    """Run every due pending job here and now, without the queue (cron, or no worker)."""
    counts = outbox.run_pending(db.session, utcnow())
    click.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing to run")


@jobs_cli.command("sweep")
def sweep_command() -> None:
    """Re-push pending jobs whose push to the queue was lost (the workers do this too)."""
    ids = outbox.sweep(db.session, utcnow())
    db.session.commit()
    click.echo(f"{len(ids)} job(s) pushed again")


@jobs_cli.command("worker")
@click.option("--workers", type=int, default=None, help="Threads (default HAZWASTE_JOB_WORKERS).")
def worker_command(workers: int | None) -> None:
    """Start a Huey consumer: runs the queued jobs and sweeps the outbox every few seconds.
    Start as many as needed, on as many machines, against one database and one Redis."""
    queue = get_queue(current_app._get_current_object())  # type: ignore[attr-defined]
    if queue is None:
        raise click.ClickException("the queue is off (HAZWASTE_QUEUE_URL=off): use run-pending")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("huey").setLevel(logging.WARNING)  # a line per task and per sweep
    logging.getLogger("huey.consumer").setLevel(logging.INFO)  # start, stop, health
    consumer = queue.consumer(workers or int(current_app.config["JOB_WORKERS"]))
    queue.task("sweep")()  # at start: whatever was left pending while no worker ran
    consumer.run()

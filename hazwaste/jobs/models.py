"""The transactional outbox: one row per job, written in the transaction that asks for it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hazwaste.db import Base, str_enum, utcnow


class JobStatus(enum.StrEnum):
    PENDING = "pending"  # waiting to run (first time, or again after a failure)
    DONE = "done"  # its effect is committed (together with this status)
    DEAD = "dead"  # failed every attempt: on the dead-letter list until retried by hand


class OutboxJob(Base):
    """A unit of after-commit work (kind + JSON payload).

    The row is inserted by :func:`hazwaste.jobs.outbox.enqueue` inside the caller's transaction,
    so it exists if and only if that transaction committed; the job's effect and the row's
    ``done`` status are committed together by :func:`hazwaste.jobs.outbox.run_job`.
    """

    __tablename__ = "outbox_jobs"
    __table_args__ = (
        # The sweeper's and run-pending's scan: pending rows that are due.
        Index("ix_outbox_jobs_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    # At most one job per key (e.g. one reconciliation per receipt): enqueue is idempotent.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus, "outbox_job_status"), default=JobStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)  # failed attempts so far
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the sweeper last re-pushed it to the queue (so a backlog is not pushed every sweep).
    swept_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]

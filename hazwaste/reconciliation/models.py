"""Reconciliation findings (flags) and the record of each run."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.accounts.models import Organization, User
from hazwaste.db import Base, str_enum, utcnow


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"  # ≥ 3 t unexplained: the criminal-referral tier


SEVERITY_ORDER = {s: i for i, s in enumerate(Severity)}


class FlagStatus(enum.StrEnum):
    OPEN = "open"  # the condition held at the last run that evaluated the rule
    RESOLVED = "resolved"  # resolved by data: the condition no longer holds


class CaseStatus(enum.StrEnum):
    NEW = "new"
    INVESTIGATING = "investigating"
    CLOSED = "closed"
    REFERRED = "referred"


class CaseFinding(enum.StrEnum):
    """Why a case was closed (required to close it)."""

    EXPLAINED = "explained"  # explained by the enterprise
    VIOLATION = "violation"  # violation confirmed
    FALSE_ALARM = "false_alarm"


class Flag(Base):
    """One finding, keyed by (rule, subject, period): re-runs update it, never duplicate it."""

    __tablename__ = "flags"
    __table_args__ = (
        UniqueConstraint("rule", "subject_type", "subject_id", "period"),
        Index("ix_flags_status_severity", "status", "severity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40), index=True)
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int]
    period: Mapped[str] = mapped_column(String(60), default="")
    severity: Mapped[Severity] = mapped_column(str_enum(Severity, "flag_severity"))
    status: Mapped[FlagStatus] = mapped_column(
        str_enum(FlagStatus, "flag_status"), default=FlagStatus.OPEN
    )
    case_status: Mapped[CaseStatus] = mapped_column(
        str_enum(CaseStatus, "flag_case_status"), default=CaseStatus.NEW
    )
    quantity_kg: Mapped[Decimal | None]  # the unexplained quantity the severity rests on
    summary: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    producer_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    receiver_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    manifest_id: Mapped[int | None] = mapped_column(ForeignKey("manifests.id"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("reconciliation_runs.id"))
    # The regulator's case (see hazwaste.cases): who works it, how it ended, when it moved.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    case_finding: Mapped[CaseFinding | None] = mapped_column(
        str_enum(CaseFinding, "flag_case_finding")
    )
    case_changed_at: Mapped[datetime | None]

    producer: Mapped[Organization | None] = relationship(foreign_keys=[producer_id])
    carrier: Mapped[Organization | None] = relationship(foreign_keys=[carrier_id])
    receiver: Mapped[Organization | None] = relationship(foreign_keys=[receiver_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[datetime]
    scope: Mapped[str] = mapped_column(String(60), default="full")  # "full" or "manifest:<id>"
    rules: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[RunStatus] = mapped_column(
        str_enum(RunStatus, "run_status"), default=RunStatus.RUNNING
    )
    counts: Mapped[str] = mapped_column(Text, default="{}")  # per rule: found/new/resolved
    error: Mapped[str] = mapped_column(Text, default="")


class ProducerMonth(Base):
    """A producer's movements of one waste code in one China-time month, and the month's
    last stock count: the running totals the balance rules read instead of every ledger
    entry and manifest line.

    Database triggers on ``ledger_entries``, ``manifest_lines`` and ``manifests`` record every
    change as a :class:`ProducerMonthDelta` (migration b7c2d9e4f1a6), whichever write path —
    pages, API, imports, bulk loads — made it; compaction folds the deltas into these rows.
    Readers use :func:`hazwaste.reconciliation.totals.producer_months` (these rows plus the
    deltas not yet folded), never this table alone. ``flask totals verify`` compares that
    with a recomputation and ``flask totals rebuild`` recomputes it.
    *Shipped* is the weighed pickup quantity of the producer's manifests, by pickup month.
    """

    __tablename__ = "monthly_producer_totals"
    # SQLite: the table is its primary-key B-tree, so the rules' scans in key order read it
    # sequentially (rows arrive in random key order, one trigger call at a time).
    __table_args__ = {"sqlite_with_rowid": False}

    producer_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    waste_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)  # the month's first day
    month_end: Mapped[date]  # its last day (stored: cheaper than date arithmetic per row)
    generated_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))
    self_used_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))
    shipped_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))
    count_on: Mapped[date | None]  # the day of the month's last stock count
    count_kg: Mapped[Decimal | None]


class ReceiverMonth(Base):
    """A receiver's accepted (by receipt month, ``method_code`` empty) and disposed (by
    disposal month and method) quantities of one waste code: maintained like
    :class:`ProducerMonth` (from :class:`ReceiverMonthDelta`; read through
    :func:`hazwaste.reconciliation.totals.receiver_months`)."""

    __tablename__ = "monthly_receiver_totals"
    __table_args__ = {"sqlite_with_rowid": False}

    receiver_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    waste_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    month_end: Mapped[date]
    method_code: Mapped[str] = mapped_column(String(8), primary_key=True, default="")
    accepted_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))
    disposed_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))


class ProducerMonthDelta(Base):
    """One change to a :class:`ProducerMonth`, inserted by the triggers in the writer's
    transaction: an INSERT with no unique key, so hand-offs of the same producer, code and
    month never wait on each other (an upsert of the shared total row would, until COMMIT).

    The flows are signed differences (grams); a stock count is a level, not a flow, so a
    change of one (``count_changed`` = 1) says only that the month's last count must be
    read again from the ledger. Folded into the totals and deleted by
    :func:`hazwaste.reconciliation.totals.compact`. No foreign keys: they would cost a
    lookup per insert, and the totals row the delta folds into has them."""

    __tablename__ = "producer_month_deltas"
    __table_args__ = (
        Index("ix_producer_month_deltas_key", "producer_id", "waste_code", "month"),
        # Never reuse an id: compaction folds and deletes "every delta up to id N".
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int]
    waste_code: Mapped[str] = mapped_column(String(10))
    month: Mapped[date]
    month_end: Mapped[date]
    generated_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))
    self_used_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))
    shipped_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))
    count_changed: Mapped[int] = mapped_column(SmallInteger, default=0)


class ReceiverMonthDelta(Base):
    """One change to a :class:`ReceiverMonth` (see :class:`ProducerMonthDelta`)."""

    __tablename__ = "receiver_month_deltas"
    __table_args__ = (
        Index("ix_receiver_month_deltas_key", "receiver_id", "waste_code", "month"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receiver_id: Mapped[int]
    waste_code: Mapped[str] = mapped_column(String(10))
    month: Mapped[date]
    month_end: Mapped[date]
    method_code: Mapped[str] = mapped_column(String(8), default="")
    accepted_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))
    disposed_kg: Mapped[Decimal] = mapped_column(default=Decimal(0))

"""Reconciliation findings (flags) and the record of each run."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
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

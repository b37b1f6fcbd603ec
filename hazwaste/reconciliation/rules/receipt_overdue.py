"""RECEIPT_OVERDUE: arrived, and receipt not confirmed within the working-day deadline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from hazwaste.db import kg_from_grams
from hazwaste.manifests.models import Manifest, ManifestLine, ManifestStatus
from hazwaste.manifests.services import local_date
from hazwaste.reconciliation.models import SEVERITY_ORDER, Severity
from hazwaste.reconciliation.rules.base import (
    Context,
    Finding,
    Rule,
    manifest_total_g,
    register,
    severity_for,
)
from hazwaste.reconciliation.sqltime import china_day_end, scanned
from hazwaste.workdays import working_days_between


@register
class ReceiptOverdue(Rule):
    """The due date (``RECEIPT_WORKING_DAYS`` Chinese working days after arrival, fixed at
    delivery time) has passed without a receipt, or the receipt came after it."""

    code = "RECEIPT_OVERDUE"
    subject_type = "manifest"
    cost = 2
    manifest_scoped = True

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        today = local_date(ctx.as_of)
        stmt = select(
            Manifest.id,
            Manifest.number,
            Manifest.producer_id,
            Manifest.carrier_id,
            Manifest.receiver_id,
            Manifest.delivered_at,
            Manifest.received_at,
            Manifest.receipt_due_date,
            manifest_total_g(ManifestLine.loaded_kg).label("loaded_g"),
        ).where(
            Manifest.receipt_due_date.is_not(None),
            scanned(session, Manifest.delivered_at) <= ctx.as_of,
            or_(
                and_(
                    Manifest.status == ManifestStatus.DELIVERED,
                    Manifest.receipt_due_date < today,
                ),
                and_(
                    Manifest.received_at.is_not(None),
                    scanned(session, Manifest.received_at) <= ctx.as_of,
                    scanned(session, Manifest.received_at)
                    > china_day_end(session, Manifest.receipt_due_date),
                ),
            ),
        )
        if ctx.manifest_id is not None:
            stmt = stmt.where(Manifest.id == ctx.manifest_id)
        return stmt

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        received = row.received_at is not None and row.received_at <= ctx.as_of
        end = local_date(row.received_at) if received else local_date(ctx.as_of)
        late_days = working_days_between(row.receipt_due_date, end)
        loaded = kg_from_grams(row.loaded_g)
        if received:
            severity = Severity.LOW  # it arrived: only the paperwork was late
        else:
            # Waste not acknowledged by anyone: the later and the heavier, the worse; a load
            # of 3 t or more is the referral tier however few days late (same as the others).
            by_time = (
                Severity.HIGH
                if late_days > int(ctx.settings["RECEIPT_WORKING_DAYS"])
                else Severity.MEDIUM
            )
            severity = max(
                by_time, severity_for(loaded, ctx.settings), key=SEVERITY_ORDER.__getitem__
            )
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.id,
            period="",
            severity=severity,
            quantity_kg=None if received else loaded,
            summary=f"{row.number}: receipt {late_days} working day(s) late",
            evidence={
                "number": row.number,
                "delivered_at": row.delivered_at,
                "receipt_due_date": row.receipt_due_date,
                "received_at": row.received_at if received else None,
                "working_days_late": late_days,
                "loaded_kg": loaded,
            },
            producer_id=row.producer_id,
            carrier_id=row.carrier_id,
            receiver_id=row.receiver_id,
            manifest_id=row.id,
        )

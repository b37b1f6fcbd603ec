"""NEVER_PICKED_UP: submitted and neither picked up nor cancelled for too long."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hazwaste.db import kg_from_grams
from hazwaste.manifests.models import Manifest, ManifestLine, ManifestStatus
from hazwaste.reconciliation.rules.base import (
    Context,
    Finding,
    Rule,
    manifest_total_g,
    register,
    severity_for,
)


@register
class NeverPickedUp(Rule):
    """Still ``submitted`` ``NEVER_PICKED_UP_DAYS`` (30) days after submission: the waste
    declared on it is neither moving under this manifest nor declared cancelled."""

    code = "NEVER_PICKED_UP"
    subject_type = "manifest"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        limit = ctx.as_of - timedelta(days=float(ctx.settings["NEVER_PICKED_UP_DAYS"]))
        return select(
            Manifest.id,
            Manifest.number,
            Manifest.producer_id,
            Manifest.carrier_id,
            Manifest.receiver_id,
            Manifest.submitted_at,
            Manifest.planned_date,
            manifest_total_g(ManifestLine.declared_kg).label("declared_g"),
        ).where(Manifest.status == ManifestStatus.SUBMITTED, Manifest.submitted_at < limit)

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        declared = kg_from_grams(row.declared_g)
        days = (ctx.as_of - row.submitted_at).days
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.id,
            period="",
            severity=severity_for(declared, ctx.settings),
            quantity_kg=declared,
            summary=f"{row.number}: submitted {days} days ago, never picked up",
            evidence={
                "number": row.number,
                "submitted_at": row.submitted_at,
                "planned_date": row.planned_date,
                "days": days,
                "declared_kg": declared,
            },
            producer_id=row.producer_id,
            carrier_id=row.carrier_id,
            receiver_id=row.receiver_id,
            manifest_id=row.id,
        )

"""TRANSIT_OVERDUE: picked up, and not arrived within the expected transit time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from hazwaste.db import kg_from_grams
from hazwaste.manifests.models import Manifest, ManifestLine, ManifestStatus
from hazwaste.reconciliation.models import Severity
from hazwaste.reconciliation.rules.base import (
    Context,
    Finding,
    Rule,
    manifest_total_g,
    register,
    severity_for,
)
from hazwaste.reconciliation.sqltime import epoch_seconds, scanned


@register
class TransitOverdue(Rule):
    """A load still in transit after ``TRANSIT_HOURS`` (default 48 h), or one that arrived
    later than that. Quantity: the loaded weight that was (or is) unaccounted for on the road.
    """

    code = "TRANSIT_OVERDUE"
    subject_type = "manifest"
    cost = 2
    manifest_scoped = True

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        hours = float(ctx.settings["TRANSIT_HOURS"])
        limit = ctx.as_of - timedelta(hours=hours)
        transit_s = epoch_seconds(session, Manifest.delivered_at) - epoch_seconds(
            session, Manifest.picked_up_at
        )
        stmt = select(
            Manifest.id,
            Manifest.number,
            Manifest.producer_id,
            Manifest.carrier_id,
            Manifest.receiver_id,
            Manifest.picked_up_at,
            Manifest.delivered_at,
            Manifest.status,
            manifest_total_g(ManifestLine.loaded_kg).label("loaded_g"),
        ).where(
            Manifest.picked_up_at.is_not(None),
            scanned(session, Manifest.picked_up_at) <= ctx.as_of,
            or_(
                and_(Manifest.status == ManifestStatus.IN_TRANSIT, Manifest.picked_up_at < limit),
                and_(
                    Manifest.delivered_at.is_not(None),
                    scanned(session, Manifest.delivered_at) <= ctx.as_of,
                    transit_s > hours * 3600,
                ),
            ),
        )
        if ctx.manifest_id is not None:
            stmt = stmt.where(Manifest.id == ctx.manifest_id)
        return stmt

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        end = row.delivered_at if row.delivered_at and row.delivered_at <= ctx.as_of else ctx.as_of
        hours = Decimal((end - row.picked_up_at).total_seconds() / 3600).quantize(Decimal("0.1"))
        loaded = kg_from_grams(row.loaded_g)
        arrived = row.delivered_at is not None and row.delivered_at <= ctx.as_of
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.id,
            period="",
            # Still missing: the whole load is unexplained. Arrived late: a delay to explain.
            severity=severity_for(loaded, ctx.settings) if not arrived else Severity.LOW,
            quantity_kg=loaded if not arrived else None,
            summary=f"{row.number}: {hours} h " + ("in transit" if not arrived else "to arrive"),
            evidence={
                "number": row.number,
                "picked_up_at": row.picked_up_at,
                "delivered_at": row.delivered_at if arrived else None,
                "hours": hours,
                "limit_hours": ctx.settings["TRANSIT_HOURS"],
                "loaded_kg": loaded,
                "arrived": arrived,
            },
            producer_id=row.producer_id,
            carrier_id=row.carrier_id,
            receiver_id=row.receiver_id,
            manifest_id=row.id,
        )

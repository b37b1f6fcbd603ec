"""The regulator's landing figures, all inside its jurisdiction.

A manifest belongs to the jurisdiction when its producer, carrier or receiver does (the same
rule as manifest visibility); a flag when any party it names does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import Organization
from hazwaste.db import grams, kg_from_grams
from hazwaste.manifests.models import Manifest, ManifestLine, ManifestStatus
from hazwaste.manifests.services import local_date
from hazwaste.reconciliation.models import Flag, FlagStatus, Severity
from hazwaste.reconciliation.sqltime import china_date, month_key

TOP_ENTERPRISES = 10
TREND_MONTHS = 12


def _manifest_in(prefix: str) -> Any:
    inside = select(Organization.id).where(Organization.region_code.startswith(prefix))
    return or_(
        Manifest.producer_id.in_(inside),
        Manifest.carrier_id.in_(inside),
        Manifest.receiver_id.in_(inside),
    )


def _flag_in(prefix: str) -> Any:
    inside = select(Organization.id).where(Organization.region_code.startswith(prefix))
    return or_(
        Flag.producer_id.in_(inside), Flag.carrier_id.in_(inside), Flag.receiver_id.in_(inside)
    )


@dataclass
class TrendMonth:
    month: str
    manifests: int
    kg: Decimal


@dataclass
class Dashboard:
    open_by_severity: dict[str, int]
    in_transit_kg: Decimal
    in_transit_count: int
    transit_overdue: list[Manifest]
    receipt_overdue: list[Manifest]
    top_unexplained: list[tuple[int, str, Decimal, int]]
    trend: list[TrendMonth]


def months_back(now: datetime, count: int) -> list[str]:
    """The last ``count`` months ending with ``now``'s (China time), oldest first."""
    today = local_date(now)
    year, month = today.year, today.month
    out = []
    for _i in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def build(session: Session, now: datetime, prefix: str) -> Dashboard:
    in_scope = _manifest_in(prefix)
    open_by_severity = {s.value: 0 for s in Severity}
    for severity, count in session.execute(
        select(Flag.severity, func.count())
        .where(Flag.status == FlagStatus.OPEN, _flag_in(prefix))
        .group_by(Flag.severity)
    ):
        open_by_severity[severity.value] = count
    transit = session.execute(
        select(
            func.count(func.distinct(Manifest.id)),
            func.sum(func.coalesce(grams(ManifestLine.loaded_kg), 0)),
        )
        .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
        .where(Manifest.status == ManifestStatus.IN_TRANSIT, in_scope)
    ).one()
    hours = int(current_app.config["RECONCILIATION"]["TRANSIT_HOURS"])
    transit_overdue = list(
        session.scalars(
            select(Manifest)
            .where(
                Manifest.status == ManifestStatus.IN_TRANSIT,
                Manifest.picked_up_at < now - timedelta(hours=hours),
                in_scope,
            )
            .order_by(Manifest.picked_up_at)
            .limit(50)
        )
    )
    # The receipt due date (5 working days after arrival) is fixed on the manifest at
    # delivery; overdue once that China-time date has passed.
    receipt_overdue = list(
        session.scalars(
            select(Manifest)
            .where(
                Manifest.status == ManifestStatus.DELIVERED,
                Manifest.receipt_due_date < local_date(now),
                in_scope,
            )
            .order_by(Manifest.receipt_due_date)
            .limit(50)
        )
    )
    top = []
    for column in (Flag.producer_id, Flag.carrier_id, Flag.receiver_id):
        top.append(
            select(
                column.label("org_id"), Flag.id.label("flag_id"), grams(Flag.quantity_kg).label("g")
            ).where(Flag.status == FlagStatus.OPEN, column.is_not(None))
        )
    from sqlalchemy import union

    parties = union(*top).subquery("parties")
    top_rows = session.execute(
        select(
            Organization.id,
            Organization.name,
            func.sum(func.coalesce(parties.c.g, 0)).label("g"),
            func.count(parties.c.flag_id).label("n"),
        )
        .join(parties, parties.c.org_id == Organization.id)
        .where(Organization.region_code.startswith(prefix))
        .group_by(Organization.id, Organization.name)
        .order_by(func.sum(func.coalesce(parties.c.g, 0)).desc(), Organization.name)
        .limit(TOP_ENTERPRISES)
    ).all()
    months = months_back(now, TREND_MONTHS)
    completed_month = month_key(session, china_date(session, Manifest.completed_at))
    trend_rows = {
        r.month: r
        for r in session.execute(
            select(
                completed_month.label("month"),
                func.count(func.distinct(Manifest.id)).label("n"),
                func.sum(func.coalesce(grams(ManifestLine.accepted_kg), 0)).label("g"),
            )
            .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
            .where(Manifest.completed_at.is_not(None), in_scope, completed_month >= months[0])
            .group_by(completed_month)
        )
    }
    trend = [
        TrendMonth(
            m,
            int(trend_rows[m].n) if m in trend_rows else 0,
            kg_from_grams(trend_rows[m].g) if m in trend_rows else Decimal("0.000"),
        )
        for m in months
    ]
    return Dashboard(
        open_by_severity=open_by_severity,
        in_transit_kg=kg_from_grams(transit[1]),
        in_transit_count=int(transit[0] or 0),
        transit_overdue=transit_overdue,
        receipt_overdue=receipt_overdue,
        top_unexplained=[(r.id, r.name, kg_from_grams(r.g), int(r.n)) for r in top_rows],
        trend=trend,
    )

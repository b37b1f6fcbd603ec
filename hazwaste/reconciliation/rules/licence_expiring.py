"""LICENCE_EXPIRING: a receiver's licence ends soon and no other licence takes over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Select, and_, exists, select
from sqlalchemy.orm import Session, aliased

from hazwaste.manifests.services import local_date
from hazwaste.permits.models import Licence
from hazwaste.reconciliation.models import Severity
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register

#: A licence ending within this many days is high (the receiver has a week to renew).
HIGH_WITHIN_DAYS = 7


@register
class LicenceExpiring(Rule):
    """A licence in force that ends within ``LICENCE_EXPIRY_FLAG_DAYS`` (30) days of the
    China date of ``as_of`` while no other licence of the same receiver starts by the day
    after that horizon and runs longer (a renewal). The flag goes to the receiver and to the
    regulators over it; it resolves itself when a renewal is registered, or once the licence
    has ended (then LICENCE_MISMATCH watches every receipt)."""

    code = "LICENCE_EXPIRING"
    subject_type = "licence"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        today = local_date(ctx.as_of)
        horizon = today + timedelta(days=int(ctx.settings["LICENCE_EXPIRY_FLAG_DAYS"]))
        renewal = aliased(Licence)
        stmt = select(
            Licence.id,
            Licence.number,
            Licence.organization_id,
            Licence.valid_to,
            Licence.annual_capacity_kg,
        ).where(
            Licence.revoked_at.is_(None),
            Licence.valid_from <= today,
            Licence.valid_to >= today,
            Licence.valid_to <= horizon,
            ~exists().where(
                and_(
                    renewal.organization_id == Licence.organization_id,
                    renewal.id != Licence.id,
                    renewal.revoked_at.is_(None),
                    # (a bound date, not date arithmetic in SQL: SQLite stores text)
                    renewal.valid_from <= horizon + timedelta(days=1),
                    renewal.valid_to > Licence.valid_to,
                )
            ),
        )
        return cast("Select[Any]", stmt)

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        days_left = (row.valid_to - local_date(ctx.as_of)).days
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.id,
            period="",
            severity=Severity.HIGH if days_left <= HIGH_WITHIN_DAYS else Severity.MEDIUM,
            quantity_kg=None,
            summary=f"licence {row.number} ends on {row.valid_to.isoformat()} ({days_left} days)",
            evidence={
                "licence": row.number,
                "valid_to": row.valid_to,
                "days_left": days_left,
                "annual_capacity_kg": row.annual_capacity_kg,
            },
            receiver_id=row.organization_id,
        )

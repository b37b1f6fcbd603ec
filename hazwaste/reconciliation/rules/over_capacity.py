"""OVER_CAPACITY: a receiver accepted more this year than its licensed annual capacity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hazwaste.db import grams, kg_from_grams
from hazwaste.manifests.services import local_date
from hazwaste.permits.models import Licence
from hazwaste.reconciliation.models import Severity
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register
from hazwaste.reconciliation.totals import receiver_flows


@register
class OverCapacity(Rule):
    """Accepted tonnage in the calendar year of ``as_of`` against the largest annual capacity
    among the receiver's licences valid during that year: ≥ ``CAPACITY_WARN_PCT`` (100 %)
    warns (medium), ≥ ``CAPACITY_HIGH_PCT`` (120 %, a new licence is required) is high, and
    critical once the excess reaches the referral threshold. Period: the year. Accepted
    tonnage comes from the monthly totals (``totals.receiver_flows``)."""

    code = "OVER_CAPACITY"
    subject_type = "organization"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        year = local_date(ctx.as_of).year
        first, last = date(year, 1, 1), date(year, 12, 31)
        flows = receiver_flows(session, ctx.as_of, since=first)
        accepted = (
            select(
                flows.c.receiver_id,
                grams(func.sum(flows.c.accepted_g)).label("accepted_g"),
            )
            .group_by(flows.c.receiver_id)
            .subquery()
        )
        capacity = (
            select(
                Licence.organization_id,
                grams(func.max(grams(Licence.annual_capacity_kg))).label("capacity_g"),
            )
            .where(
                Licence.valid_from <= last, Licence.valid_to >= first, Licence.revoked_at.is_(None)
            )
            .group_by(Licence.organization_id)
            .subquery()
        )
        warn = float(ctx.settings["CAPACITY_WARN_PCT"])
        return (
            select(accepted.c.receiver_id, accepted.c.accepted_g, capacity.c.capacity_g)
            .join(capacity, capacity.c.organization_id == accepted.c.receiver_id)
            .where(accepted.c.accepted_g * 100 >= capacity.c.capacity_g * warn)
        )

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        year = local_date(ctx.as_of).year
        accepted, capacity = kg_from_grams(row.accepted_g), kg_from_grams(row.capacity_g)
        pct = (accepted * 100 / capacity).quantize(Decimal("0.1"))
        excess = max(accepted - capacity, Decimal(0))
        if excess >= Decimal(str(ctx.settings["CRITICAL_KG"])):
            severity = Severity.CRITICAL
        elif pct >= Decimal(str(ctx.settings["CAPACITY_HIGH_PCT"])):
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.receiver_id,
            period=str(year),
            severity=severity,
            quantity_kg=excess,
            summary=f"{year}: accepted {accepted} kg = {pct} % of the licensed capacity",
            evidence={
                "year": year,
                "accepted_kg": accepted,
                "capacity_kg": capacity,
                "percent": pct,
                "excess_kg": excess,
            },
            receiver_id=row.receiver_id,
        )

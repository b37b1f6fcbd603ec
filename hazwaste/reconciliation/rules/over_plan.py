"""OVER_PLAN: generated or shipped tonnage above the management plan for the year."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, literal, select, union_all
from sqlalchemy.orm import Session

from hazwaste.db import grams, kg_from_grams
from hazwaste.manifests.services import local_date
from hazwaste.plans.models import ManagementPlan
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.totals import producer_flows


@register
class OverPlan(Rule):
    """Per producer × waste code in the year of ``as_of``: ledger *generated* above the plan's
    planned generation, or weighed pickups above its planned transfer, by more than
    ``PLAN_EXCESS_PCT`` (10 %). Periods ``YYYY:generation`` and ``YYYY:transfer``. Read from
    the monthly totals (:func:`~hazwaste.reconciliation.totals.producer_flows`)."""

    code = "OVER_PLAN"
    subject_type = "organization"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        year = local_date(ctx.as_of).year
        flows = producer_flows(session, ctx.as_of, since=date(year, 1, 1))
        factor = 100 + float(ctx.settings["PLAN_EXCESS_PCT"])

        def over(actual: Any, planned: Any, kind: str) -> Select[Any]:
            return (
                select(
                    ManagementPlan.id.label("plan_id"),
                    ManagementPlan.producer_id,
                    ManagementPlan.waste_code,
                    literal(kind).label("kind"),
                    grams(planned).label("planned_g"),
                    actual.label("actual_g"),
                )
                .join(
                    flows,
                    (flows.c.producer_id == ManagementPlan.producer_id)
                    & (flows.c.waste_code == ManagementPlan.waste_code),
                )
                .where(ManagementPlan.year == year, actual * 100 > grams(planned) * factor)
            )

        return select(
            union_all(
                over(flows.c.generated_g, ManagementPlan.planned_generation_kg, "generation"),
                over(flows.c.shipped_g, ManagementPlan.planned_transfer_kg, "transfer"),
            ).subquery()
        )

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        year = local_date(ctx.as_of).year
        planned, actual = kg_from_grams(row.planned_g), kg_from_grams(row.actual_g)
        excess = actual - planned
        pct = (actual * 100 / planned).quantize(Decimal("0.1")) if planned else None
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.producer_id,
            period=f"{year}:{row.kind}:{row.waste_code}",
            severity=severity_for(excess, ctx.settings),
            quantity_kg=excess,
            summary=f"{row.waste_code} {year}: {row.kind} {actual} kg vs plan {planned} kg",
            evidence={
                "year": year,
                "waste_code": row.waste_code,
                "kind": row.kind,
                "planned_kg": planned,
                "actual_kg": actual,
                "percent_of_plan": pct,
                "plan_id": row.plan_id,
            },
            producer_id=row.producer_id,
        )

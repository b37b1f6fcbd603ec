"""OVER_PLAN: generated or shipped tonnage above the management plan for the year."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.orm import Session

from hazwaste.db import grams, kg_from_grams
from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.plans.models import ManagementPlan
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import china_midnight, group_key


@register
class OverPlan(Rule):
    """Per producer × waste code in the year of ``as_of``: ledger *generated* above the plan's
    planned generation, or weighed pickups above its planned transfer, by more than
    ``PLAN_EXCESS_PCT`` (10 %). Periods ``YYYY:generation`` and ``YYYY:transfer``."""

    code = "OVER_PLAN"
    subject_type = "organization"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        year = local_date(ctx.as_of).year
        first, last = date(year, 1, 1), min(date(year, 12, 31), local_date(ctx.as_of))
        generated = (
            select(
                LedgerEntry.producer_id,
                LedgerEntry.waste_code,
                grams(func.sum(grams(LedgerEntry.quantity_kg))).label("actual_g"),
            )
            .where(
                LedgerEntry.kind == LedgerKind.GENERATED,
                LedgerEntry.occurred_on >= first,
                LedgerEntry.occurred_on <= last,
            )
            .group_by(LedgerEntry.producer_id, LedgerEntry.waste_code)
            .subquery()
        )
        producer = group_key(Manifest.producer_id)
        shipped = (
            select(
                producer.label("producer_id"),
                ManifestLine.waste_code,
                grams(func.sum(grams(ManifestLine.loaded_kg))).label("actual_g"),
            )
            .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
            .where(
                Manifest.picked_up_at <= ctx.as_of,
                Manifest.picked_up_at >= china_midnight(first),
                Manifest.picked_up_at < china_midnight(last, days=1),
            )
            .group_by(producer, ManifestLine.waste_code)
            .subquery()
        )
        factor = 100 + float(ctx.settings["PLAN_EXCESS_PCT"])

        def over(actual: Any, planned: Any, kind: str) -> Select[Any]:
            return (
                select(
                    ManagementPlan.id.label("plan_id"),
                    ManagementPlan.producer_id,
                    ManagementPlan.waste_code,
                    literal(kind).label("kind"),
                    grams(planned).label("planned_g"),
                    actual.c.actual_g,
                )
                .join(
                    actual,
                    (actual.c.producer_id == ManagementPlan.producer_id)
                    & (actual.c.waste_code == ManagementPlan.waste_code),
                )
                .where(
                    ManagementPlan.year == year, actual.c.actual_g * 100 > grams(planned) * factor
                )
            )

        return select(
            union_all(
                over(generated, ManagementPlan.planned_generation_kg, "generation"),
                over(shipped, ManagementPlan.planned_transfer_kg, "transfer"),
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

"""WEIGHT_GAP: received weight differs from loaded weight beyond tolerance, per line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from hazwaste.db import grams, kg_from_grams
from hazwaste.manifests.models import Manifest, ManifestLine, PhysicalForm
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import scanned


@register
class WeightGap(Rule):
    """|received − loaded| above ``WEIGHT_TOLERANCE_PCT_LIQUID`` (liquids, semi-solids, gases;
    5 %) or ``WEIGHT_TOLERANCE_PCT_SOLID`` (solids; 2 %) of the loaded weight, and above the
    absolute floor ``WEIGHT_FLOOR_KG`` (10 kg). Quantity: the missing (or extra) weight."""

    code = "WEIGHT_GAP"
    subject_type = "manifest_line"
    cost = 2
    manifest_scoped = True

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        s = ctx.settings
        loaded = grams(ManifestLine.loaded_kg)
        received = grams(ManifestLine.received_kg)
        gap = func.abs(received - loaded)
        pct = case(
            (
                ManifestLine.physical_form == PhysicalForm.SOLID,
                float(s["WEIGHT_TOLERANCE_PCT_SOLID"]),
            ),
            else_=float(s["WEIGHT_TOLERANCE_PCT_LIQUID"]),
        )
        floor_g = int(Decimal(str(s["WEIGHT_FLOOR_KG"])) * 1000)
        stmt = (
            select(
                ManifestLine.id,
                ManifestLine.line_no,
                ManifestLine.waste_code,
                ManifestLine.physical_form,
                loaded.label("loaded_g"),
                received.label("received_g"),
                Manifest.id.label("manifest_id"),
                Manifest.number,
                Manifest.producer_id,
                Manifest.carrier_id,
                Manifest.receiver_id,
                pct.label("pct"),
            )
            # Lines first, filtered by their own weights, then their manifest by primary key:
            # scanned() keeps SQLite from walking every manifest and probing its lines.
            .join(Manifest, Manifest.id == scanned(session, ManifestLine.manifest_id))
            .where(
                ManifestLine.loaded_kg.is_not(None),
                ManifestLine.received_kg.is_not(None),
                scanned(session, Manifest.received_at) <= ctx.as_of,
                gap * 100 > loaded * pct,
                gap > floor_g,
            )
        )
        if ctx.manifest_id is not None:
            stmt = stmt.where(Manifest.id == ctx.manifest_id)
        return stmt

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        loaded, received = kg_from_grams(row.loaded_g), kg_from_grams(row.received_g)
        gap = received - loaded
        pct = (gap * 100 / loaded).quantize(Decimal("0.01")) if loaded else None
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.id,
            period="",
            severity=severity_for(gap, ctx.settings),
            quantity_kg=abs(gap),
            summary=f"{row.number} line {row.line_no} {row.waste_code}: {gap} kg ({pct} %)",
            evidence={
                "number": row.number,
                "line_no": row.line_no,
                "waste_code": row.waste_code,
                "physical_form": row.physical_form.value
                if hasattr(row.physical_form, "value")
                else row.physical_form,
                "loaded_kg": loaded,
                "received_kg": received,
                "gap_kg": gap,
                "gap_pct": pct,
                "tolerance_pct": row.pct,
                "floor_kg": ctx.settings["WEIGHT_FLOOR_KG"],
            },
            producer_id=row.producer_id,
            carrier_id=row.carrier_id,
            receiver_id=row.receiver_id,
            manifest_id=row.manifest_id,
        )

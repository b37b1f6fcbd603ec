"""RECEIVER_BALANCE: a receiver disposed of more of a waste code than it accepted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from hazwaste.db import grams, kg_from_grams
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import group_key


@register
class ReceiverBalance(Rule):
    """Per receiver × waste code, all time up to ``as_of``: disposed > accepted. Any excess
    is flagged (waste "disposed" that never arrived under a manifest is either paperwork for
    illegally sourced waste or a false disposal record). Period: the waste code."""

    code = "RECEIVER_BALANCE"
    subject_type = "organization"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        received = Manifest.received_at <= ctx.as_of
        disposed_in_time = ManifestLine.disposal_date <= local_date(ctx.as_of)
        accepted_g = grams(func.sum(case((received, grams(ManifestLine.accepted_kg)), else_=0)))
        disposed_g = grams(
            func.sum(case((disposed_in_time, grams(ManifestLine.disposed_kg)), else_=0))
        )
        receiver = group_key(Manifest.receiver_id)
        return (
            select(
                receiver.label("receiver_id"),
                ManifestLine.waste_code,
                accepted_g.label("accepted_g"),
                disposed_g.label("disposed_g"),
            )
            .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
            .where(Manifest.received_at.is_not(None))
            .group_by(receiver, ManifestLine.waste_code)
            .having(disposed_g > accepted_g)
        )

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        accepted, disposed = kg_from_grams(row.accepted_g), kg_from_grams(row.disposed_g)
        excess = disposed - accepted
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.receiver_id,
            period=row.waste_code,
            severity=severity_for(excess, ctx.settings),
            quantity_kg=excess,
            summary=f"{row.waste_code}: disposed {disposed} kg but accepted {accepted} kg",
            evidence={
                "waste_code": row.waste_code,
                "accepted_kg": accepted,
                "disposed_kg": disposed,
                "excess_kg": excess,
            },
            receiver_id=row.receiver_id,
        )

"""RECEIVER_BALANCE: a receiver disposed of more of a waste code than it accepted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hazwaste.db import kg_from_grams
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.totals import receiver_flows


@register
class ReceiverBalance(Rule):
    """Per receiver × waste code, all time up to ``as_of``: disposed > accepted. Any excess
    is flagged (waste "disposed" that never arrived under a manifest is either paperwork for
    illegally sourced waste or a false disposal record). Period: the waste code. Read from the
    monthly totals (:func:`~hazwaste.reconciliation.totals.receiver_flows`)."""

    code = "RECEIVER_BALANCE"
    subject_type = "organization"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        flows = receiver_flows(session, ctx.as_of)
        return select(
            flows.c.receiver_id,
            flows.c.waste_code,
            flows.c.accepted_g,
            flows.c.disposed_g,
        ).where(flows.c.disposed_g > flows.c.accepted_g)

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

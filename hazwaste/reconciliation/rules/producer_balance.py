"""PRODUCER_BALANCE: a producer's stock does not add up between two stock counts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, literal, select
from sqlalchemy.orm import Session

from hazwaste.db import grams, kg_from_grams
from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import china_date, month_key

EPOCH = date(1900, 1, 1)


@register
class ProducerBalance(Rule):
    """Per producer × waste code × month with a stock count (盘点): previous count +
    generated − shipped − self-used − this count should be zero. *Generated* and
    *self-used* come from the ledger, *shipped* from the manifests' weighed pickup
    quantities (an independent source), counts are the physical inventory. Flagged beyond
    the larger of ``BALANCE_TOLERANCE_PCT`` (1 %) of the stock to account for and
    ``BALANCE_TOLERANCE_KG`` (50 kg). The month's last count closes it; the period between
    counts is what is checked, so months without a count roll into the next one. A code's
    first count is its opening balance."""

    code = "PRODUCER_BALANCE"
    subject_type = "organization"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        as_of_day = ctx.as_of.date()
        qty = grams(LedgerEntry.quantity_kg)
        month = month_key(session, LedgerEntry.occurred_on)
        ranked = (
            select(LedgerEntry.producer_id, LedgerEntry.waste_code, LedgerEntry.occurred_on,
                   qty.label("count_g"), month.label("month"),
                   func.row_number().over(
                       partition_by=(LedgerEntry.producer_id, LedgerEntry.waste_code, month),
                       order_by=(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc()),
                   ).label("rn"))
            .where(LedgerEntry.kind == LedgerKind.STOCK_COUNT,
                   LedgerEntry.occurred_on <= as_of_day)
            .subquery())
        closing = select(ranked).where(ranked.c.rn == 1).subquery()
        paired = (
            select(closing.c.producer_id, closing.c.waste_code, closing.c.month,
                   closing.c.occurred_on.label("this_day"), closing.c.count_g.label("closing_g"),
                   func.lag(closing.c.occurred_on).over(
                       partition_by=(closing.c.producer_id, closing.c.waste_code),
                       order_by=closing.c.occurred_on).label("prev_day"),
                   func.lag(closing.c.count_g).over(
                       partition_by=(closing.c.producer_id, closing.c.waste_code),
                       order_by=closing.c.occurred_on).label("prev_g"))
            .subquery())
        start = func.coalesce(paired.c.prev_day, literal(EPOCH))  # (NULL rows dropped below)

        def ledger_sum(kind: LedgerKind) -> Any:
            return (select(grams(func.coalesce(func.sum(qty), 0)))
                    .where(LedgerEntry.producer_id == paired.c.producer_id,
                           LedgerEntry.waste_code == paired.c.waste_code,
                           LedgerEntry.kind == kind,
                           LedgerEntry.occurred_on > start,
                           LedgerEntry.occurred_on <= paired.c.this_day)
                    .scalar_subquery())

        picked_day = china_date(session, Manifest.picked_up_at)
        shipped = (select(grams(func.coalesce(func.sum(grams(ManifestLine.loaded_kg)), 0)))
                   .join(Manifest, Manifest.id == ManifestLine.manifest_id)
                   .where(Manifest.producer_id == paired.c.producer_id,
                          ManifestLine.waste_code == paired.c.waste_code,
                          Manifest.picked_up_at.is_not(None),
                          and_(picked_day > start, picked_day <= paired.c.this_day))
                   .scalar_subquery())
        flows = (
            select(paired.c.producer_id, paired.c.waste_code, paired.c.month,
                   paired.c.this_day, paired.c.prev_day, paired.c.closing_g,
                   grams(func.coalesce(paired.c.prev_g, 0)).label("opening_g"),
                   ledger_sum(LedgerKind.GENERATED).label("generated_g"),
                   ledger_sum(LedgerKind.SELF_USED).label("self_used_g"),
                   shipped.label("shipped_g"))
            .subquery())
        imbalance = (flows.c.opening_g + flows.c.generated_g - flows.c.shipped_g
                     - flows.c.self_used_g - flows.c.closing_g)
        pct = float(ctx.settings["BALANCE_TOLERANCE_PCT"])
        floor_g = int(Decimal(str(ctx.settings["BALANCE_TOLERANCE_KG"])) * 1000)
        return (
            select(flows, grams(imbalance).label("imbalance_g"))
            # The first count of a code is the opening balance, not something to check.
            .where(flows.c.prev_day.is_not(None), func.abs(imbalance) > floor_g,
                   func.abs(imbalance) * 100 > (flows.c.opening_g + flows.c.generated_g) * pct)
        )

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        imbalance = kg_from_grams(row.imbalance_g)
        return Finding(
            subject_type=self.subject_type, subject_id=row.producer_id,
            period=f"{row.month}:{row.waste_code}",
            severity=severity_for(imbalance, ctx.settings), quantity_kg=abs(imbalance),
            summary=f"{row.waste_code} {row.month}: {imbalance} kg unaccounted for",
            evidence={"waste_code": row.waste_code, "month": row.month,
                      "from": row.prev_day, "to": row.this_day,
                      "opening_kg": kg_from_grams(row.opening_g),
                      "generated_kg": kg_from_grams(row.generated_g),
                      "shipped_kg": kg_from_grams(row.shipped_g),
                      "self_used_kg": kg_from_grams(row.self_used_g),
                      "closing_kg": kg_from_grams(row.closing_g),
                      "imbalance_kg": imbalance},
            producer_id=row.producer_id,
        )

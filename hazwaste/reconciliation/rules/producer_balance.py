"""PRODUCER_BALANCE: a producer's stock does not add up between two stock counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Select, func, literal, select, union_all
from sqlalchemy.orm import Session

from hazwaste.db import grams, kg_from_grams
from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import china_date, month_key


@register
class ProducerBalance(Rule):
    """Per producer × waste code, between consecutive stock counts (盘点): previous count +
    generated − shipped − self-used − this count should be zero. *Generated* and
    *self-used* come from the ledger, *shipped* from the manifests' weighed pickup
    quantities (an independent source), counts are the physical inventory; the month's last
    count is the one checked (period ``YYYY-MM:code``), and a code's first count is its
    opening balance. Flagged beyond the larger of ``BALANCE_TOLERANCE_PCT`` (1 %) of the
    stock to account for (previous count + generated) and ``BALANCE_TOLERANCE_KG`` (50 kg).

    One pass: every movement and count in date order, running sums by window functions.
    """

    code = "PRODUCER_BALANCE"
    subject_type = "organization"

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        today = local_date(ctx.as_of)
        qty = grams(LedgerEntry.quantity_kg)
        zero = literal(0, Integer)

        def ledger(kind: LedgerKind, gen: Any, used: Any) -> Select[Any]:
            return select(
                LedgerEntry.producer_id.label("producer_id"),
                LedgerEntry.waste_code.label("waste_code"),
                LedgerEntry.occurred_on.label("day"),
                literal(0).label("is_count"),
                grams(gen).label("gen_g"),
                zero.label("ship_g"),
                grams(used).label("self_g"),
                zero.label("count_g"),
            ).where(LedgerEntry.kind == kind, LedgerEntry.occurred_on <= today)

        month = month_key(session, LedgerEntry.occurred_on)
        ranked = (
            select(
                LedgerEntry.producer_id,
                LedgerEntry.waste_code,
                LedgerEntry.occurred_on,
                qty.label("count_g"),
                func.row_number()
                .over(
                    partition_by=(LedgerEntry.producer_id, LedgerEntry.waste_code, month),
                    order_by=(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc()),
                )
                .label("rn"),
            )
            .where(LedgerEntry.kind == LedgerKind.STOCK_COUNT, LedgerEntry.occurred_on <= today)
            .subquery()
        )
        counts = select(
            ranked.c.producer_id,
            ranked.c.waste_code,
            ranked.c.occurred_on.label("day"),
            literal(1).label("is_count"),
            zero.label("gen_g"),
            zero.label("ship_g"),
            zero.label("self_g"),
            ranked.c.count_g,
        ).where(ranked.c.rn == 1)
        shipped = (
            select(
                Manifest.producer_id,
                ManifestLine.waste_code,
                china_date(session, Manifest.picked_up_at).label("day"),
                literal(0).label("is_count"),
                zero.label("gen_g"),
                grams(ManifestLine.loaded_kg).label("ship_g"),
                zero.label("self_g"),
                zero.label("count_g"),
            )
            .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
            .where(Manifest.picked_up_at.is_not(None), Manifest.picked_up_at <= ctx.as_of)
        )
        moves = union_all(
            ledger(LedgerKind.GENERATED, qty, zero),
            ledger(LedgerKind.SELF_USED, zero, qty),
            shipped,
            counts,
        ).subquery()
        window: dict[str, Any] = {
            "partition_by": (moves.c.producer_id, moves.c.waste_code),
            "order_by": (moves.c.day, moves.c.is_count),
            "rows": (None, 0),
        }
        running = select(
            moves.c.producer_id,
            moves.c.waste_code,
            moves.c.day,
            moves.c.is_count,
            moves.c.count_g,
            func.sum(moves.c.gen_g).over(**window).label("gen_run"),
            func.sum(moves.c.ship_g).over(**window).label("ship_run"),
            func.sum(moves.c.self_g).over(**window).label("self_run"),
        ).subquery()
        at_counts = select(running).where(running.c.is_count == 1).subquery()
        pair: dict[str, Any] = {
            "partition_by": (at_counts.c.producer_id, at_counts.c.waste_code),
            "order_by": at_counts.c.day,
        }
        paired = select(
            at_counts.c.producer_id,
            at_counts.c.waste_code,
            at_counts.c.day.label("this_day"),
            at_counts.c.count_g.label("closing_g"),
            func.lag(at_counts.c.day).over(**pair).label("prev_day"),
            func.lag(at_counts.c.count_g).over(**pair).label("opening_g"),
            (at_counts.c.gen_run - func.lag(at_counts.c.gen_run).over(**pair)).label("generated_g"),
            (at_counts.c.ship_run - func.lag(at_counts.c.ship_run).over(**pair)).label("shipped_g"),
            (at_counts.c.self_run - func.lag(at_counts.c.self_run).over(**pair)).label(
                "self_used_g"
            ),
        ).subquery()
        imbalance = (
            paired.c.opening_g
            + paired.c.generated_g
            - paired.c.shipped_g
            - paired.c.self_used_g
            - paired.c.closing_g
        )
        pct = float(ctx.settings["BALANCE_TOLERANCE_PCT"])
        floor_g = int(Decimal(str(ctx.settings["BALANCE_TOLERANCE_KG"])) * 1000)
        return (
            select(paired, grams(imbalance).label("imbalance_g"))
            # The first count of a code (no previous one) is the opening balance.
            .where(
                paired.c.prev_day.is_not(None),
                func.abs(imbalance) > floor_g,
                func.abs(imbalance) * 100 > (paired.c.opening_g + paired.c.generated_g) * pct,
            )
        )

    def to_finding(self, row: Any, ctx: Context) -> Finding:
        imbalance = kg_from_grams(row.imbalance_g)
        month = row.this_day.strftime("%Y-%m")
        return Finding(
            subject_type=self.subject_type,
            subject_id=row.producer_id,
            period=f"{month}:{row.waste_code}",
            severity=severity_for(imbalance, ctx.settings),
            quantity_kg=abs(imbalance),
            summary=f"{row.waste_code} {month}: {imbalance} kg unaccounted for",
            evidence={
                "waste_code": row.waste_code,
                "month": month,
                "from": row.prev_day,
                "to": row.this_day,
                "opening_kg": kg_from_grams(row.opening_g),
                "generated_kg": kg_from_grams(row.generated_g),
                "shipped_kg": kg_from_grams(row.shipped_g),
                "self_used_kg": kg_from_grams(row.self_used_g),
                "closing_kg": kg_from_grams(row.closing_g),
                "imbalance_kg": imbalance,
            },
            producer_id=row.producer_id,
        )

"""PRODUCER_BALANCE: a producer's stock does not add up between two stock counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from hazwaste.db import grams, kg_from_grams
from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.reconciliation.rules.base import Context, Finding, Rule, register, severity_for
from hazwaste.reconciliation.sqltime import china_day_start, first_of_month
from hazwaste.reconciliation.totals import producer_months_for_probes


@register
class ProducerBalance(Rule):
    """Per producer × waste code, between consecutive stock counts (盘点): previous count +
    generated − shipped − self-used − this count should be zero. *Generated* and
    *self-used* come from the ledger, *shipped* from the manifests' weighed pickup
    quantities (an independent source), counts are the physical inventory; the month's last
    count is the one checked (period ``YYYY-MM:code``), and a code's first count is its
    opening balance. Flagged beyond the larger of ``BALANCE_TOLERANCE_PCT`` (1 %) of the
    stock to account for (previous count + generated) and ``BALANCE_TOLERANCE_KG`` (50 kg).

    Read from the monthly totals (:func:`~hazwaste.reconciliation.totals.producer_months`,
    which also keep each month's last count) in one ordered pass: a count whose previous
    month was counted too (the rule of monthly stocktaking) is checked against its own
    month's movements and the previous count, both on the same row or the one before it;
    only after a month without a count are earlier months looked up and summed. A count
    taken before its month's last day takes the month's later movements back out, and they
    count towards the next one (index probes, only for such counts).
    """

    code = "PRODUCER_BALANCE"
    subject_type = "organization"
    cost = 5

    def query(self, session: Session, ctx: Context) -> Select[Any]:
        today = local_date(ctx.as_of)
        merged = producer_months_for_probes(session)
        t = merged("t").c
        window: dict[str, Any] = {
            "partition_by": (t.producer_id, t.waste_code),
            "order_by": t.month,
        }
        months = (
            select(
                t.producer_id,
                t.waste_code,
                t.month,
                t.month_end,
                t.count_on,
                grams(t.count_kg).label("count_g"),
                grams(t.generated_kg).label("gen_g"),
                grams(t.shipped_kg).label("ship_g"),
                grams(t.self_used_kg).label("self_g"),
                func.lag(t.count_on).over(**window).label("prev_count_on"),
                func.lag(grams(t.count_kg)).over(**window).label("prev_count_g"),
                func.lag(t.month_end).over(**window).label("prev_month_end"),
            )
            .where(t.month <= first_of_month(today))
            .subquery()
        )
        c = months.c
        q, e = merged("q").c, merged("e").c
        # The month of the previous count when it is not the month before: looked up.
        earlier_count = (
            select(e.month)
            .where(
                e.producer_id == c.producer_id,
                e.waste_code == c.waste_code,
                e.month < c.month,
                e.count_on.is_not(None),
            )
            .order_by(e.month.desc())
            .limit(1)
            .correlate(months)
            .scalar_subquery()
        )
        follows_count = c.prev_count_on.is_not(None)

        def at_open(column: Any) -> Any:
            return (
                select(column)
                .where(
                    q.producer_id == c.producer_id,
                    q.waste_code == c.waste_code,
                    q.month == earlier_count,
                )
                .correlate(months)
                .scalar_subquery()
            )

        def since_open(column: Any) -> Any:
            return (
                select(func.sum(grams(column)))
                .where(
                    q.producer_id == c.producer_id,
                    q.waste_code == c.waste_code,
                    q.month > earlier_count,
                    q.month <= c.month,
                )
                .correlate(months)
                .scalar_subquery()
            )

        counted = (
            select(
                c.producer_id,
                c.waste_code,
                c.month,
                c.month_end,
                c.count_on,
                c.count_g,
                case((follows_count, c.prev_count_on), else_=at_open(q.count_on)).label("open_on"),
                case((follows_count, c.prev_count_g), else_=at_open(grams(q.count_kg))).label(
                    "open_g"
                ),
                case((follows_count, c.prev_month_end), else_=at_open(q.month_end)).label(
                    "open_month_end"
                ),
                case((follows_count, c.gen_g), else_=since_open(q.generated_kg)).label("gen_g"),
                case((follows_count, c.ship_g), else_=since_open(q.shipped_kg)).label("ship_g"),
                case((follows_count, c.self_g), else_=since_open(q.self_used_kg)).label("self_g"),
            )
            .where(c.count_on.is_not(None), c.count_on <= today)
            .subquery()
        )
        k = counted.c

        def later_ledger(kind: LedgerKind, after: Any, until: Any) -> Any:
            return (
                select(func.coalesce(func.sum(grams(LedgerEntry.quantity_kg)), 0))
                .where(
                    LedgerEntry.producer_id == k.producer_id,
                    LedgerEntry.waste_code == k.waste_code,
                    LedgerEntry.kind == kind,
                    LedgerEntry.occurred_on > after,
                    LedgerEntry.occurred_on <= until,
                )
                .scalar_subquery()
            )

        def later_shipped(after: Any, until: Any) -> Any:
            return (
                select(func.coalesce(func.sum(grams(ManifestLine.loaded_kg)), 0))
                .join(Manifest, Manifest.id == ManifestLine.manifest_id)
                .where(
                    Manifest.producer_id == k.producer_id,
                    ManifestLine.waste_code == k.waste_code,
                    Manifest.picked_up_at >= china_day_start(session, after, days=1),
                    Manifest.picked_up_at < china_day_start(session, until, days=1),
                )
                .scalar_subquery()
            )

        def between_counts(months_total: Any, later: Any) -> Any:
            """Movements after the opening count up to this one: the months' totals, plus
            what the opening count's month held after it, minus what this month holds
            after this count."""
            return (
                months_total
                + case((k.open_on < k.open_month_end, later(k.open_on, k.open_month_end)), else_=0)
                - case((k.count_on < k.month_end, later(k.count_on, k.month_end)), else_=0)
            )

        paired = select(
            k.producer_id,
            k.waste_code,
            k.count_on.label("this_day"),
            k.count_g.label("closing_g"),
            k.open_on.label("prev_day"),
            k.open_g.label("opening_g"),
            between_counts(k.gen_g, lambda a, b: later_ledger(LedgerKind.GENERATED, a, b)).label(
                "generated_g"
            ),
            between_counts(k.ship_g, later_shipped).label("shipped_g"),
            between_counts(k.self_g, lambda a, b: later_ledger(LedgerKind.SELF_USED, a, b)).label(
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

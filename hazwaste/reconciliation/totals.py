"""The monthly totals the balance rules read: what they mean, how to check and rebuild them,
and the sums through a point in time.

:class:`~hazwaste.reconciliation.models.ProducerMonth` and
:class:`~hazwaste.reconciliation.models.ReceiverMonth` are kept by database triggers
(migration 5e1f0c3a9b7d): each insert, update or delete of a ledger entry, manifest line or
manifest's pickup/receipt subtracts the old row's contribution and adds the new one's, in the
writer's own transaction. This module states the same totals as set-based queries over the
source rows (:func:`expected_producer_months`, :func:`expected_receiver_months`) so that
``flask totals verify`` can prove the stored ones exact and ``flask totals rebuild`` can
recompute them (after a restore that bypassed the triggers, for instance).

A month's totals hold every movement dated in it, including any recorded after the time a
run evaluates: :func:`producer_flows` and :func:`receiver_flows` subtract those (a few index
probes when the run is as of now), so the rules see exactly the movements up to ``as_of``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    and_,
    delete,
    except_,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from hazwaste.db import grams
from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.reconciliation.models import ProducerMonth, ReceiverMonth
from hazwaste.reconciliation.sqltime import (
    china_midnight,
    first_of_month,
    month_last_day,
    month_start,
)

ZERO = literal(0, Integer)


def _flow(kind: LedgerKind) -> Any:
    return func.coalesce(
        func.sum(grams(LedgerEntry.quantity_kg)).filter(LedgerEntry.kind == kind), 0
    )


def expected_producer_months(session: Session) -> Select[Any]:
    """Producer months recomputed from the ledger and the manifests (rows that would be all
    zero and carry no count are left out)."""
    ledger_month = month_start(session, LedgerEntry.occurred_on)
    ledger = (
        select(
            LedgerEntry.producer_id.label("producer_id"),
            LedgerEntry.waste_code.label("waste_code"),
            ledger_month.label("month"),
            grams(_flow(LedgerKind.GENERATED)).label("generated"),
            grams(_flow(LedgerKind.SELF_USED)).label("self_used"),
            ZERO.label("shipped"),
        )
        .where(
            LedgerEntry.kind.in_([LedgerKind.GENERATED, LedgerKind.SELF_USED]),
        )
        .group_by(LedgerEntry.producer_id, LedgerEntry.waste_code, ledger_month)
    )
    pickup_month = month_start(session, Manifest.picked_up_at, china_time=True)
    shipped = (
        select(
            Manifest.producer_id,
            ManifestLine.waste_code,
            pickup_month,
            ZERO,
            ZERO,
            grams(func.sum(grams(ManifestLine.loaded_kg))),
        )
        .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
        .where(Manifest.picked_up_at.is_not(None), ManifestLine.loaded_kg.is_not(None))
        .group_by(Manifest.producer_id, ManifestLine.waste_code, pickup_month)
    )
    flows = union_all(ledger, shipped).subquery()
    summed = (
        select(
            flows.c.producer_id,
            flows.c.waste_code,
            flows.c.month,
            grams(func.sum(flows.c.generated)).label("generated"),
            grams(func.sum(flows.c.self_used)).label("self_used"),
            grams(func.sum(flows.c.shipped)).label("shipped"),
        )
        .group_by(flows.c.producer_id, flows.c.waste_code, flows.c.month)
        .subquery()
    )
    count_month = month_start(session, LedgerEntry.occurred_on)
    ranked = (
        select(
            LedgerEntry.producer_id,
            LedgerEntry.waste_code,
            count_month.label("month"),
            LedgerEntry.occurred_on,
            grams(LedgerEntry.quantity_kg).label("count_g"),
            func.row_number()
            .over(
                partition_by=(LedgerEntry.producer_id, LedgerEntry.waste_code, count_month),
                order_by=(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc()),
            )
            .label("rn"),
        )
        .where(LedgerEntry.kind == LedgerKind.STOCK_COUNT)
        .subquery()
    )
    counts = select(ranked).where(ranked.c.rn == 1).subquery()
    keys = union_all(
        select(summed.c.producer_id, summed.c.waste_code, summed.c.month),
        select(counts.c.producer_id, counts.c.waste_code, counts.c.month),
    ).subquery()
    unique_keys = select(keys.c.producer_id, keys.c.waste_code, keys.c.month).distinct().subquery()

    def same(other: Any) -> Any:
        return and_(
            other.c.producer_id == unique_keys.c.producer_id,
            other.c.waste_code == unique_keys.c.waste_code,
            other.c.month == unique_keys.c.month,
        )

    rows = (
        select(
            unique_keys.c.producer_id,
            unique_keys.c.waste_code,
            unique_keys.c.month,
            month_last_day(session, unique_keys.c.month).label("month_end"),
            grams(func.coalesce(summed.c.generated, 0)).label("generated"),
            grams(func.coalesce(summed.c.self_used, 0)).label("self_used"),
            grams(func.coalesce(summed.c.shipped, 0)).label("shipped"),
            counts.c.occurred_on.label("count_on"),
            counts.c.count_g,
        )
        .outerjoin(summed, same(summed))
        .outerjoin(counts, same(counts))
        .subquery()
    )
    return select(rows).where(
        or_(
            rows.c.generated != 0,
            rows.c.self_used != 0,
            rows.c.shipped != 0,
            rows.c.count_on.is_not(None),
        )
    )


def expected_receiver_months(session: Session) -> Select[Any]:
    """Receiver months recomputed from the manifest lines (all-zero rows left out)."""
    receipt_month = month_start(session, Manifest.received_at, china_time=True)
    accepted = (
        select(
            Manifest.receiver_id.label("receiver_id"),
            ManifestLine.waste_code.label("waste_code"),
            receipt_month.label("month"),
            literal("").label("method_code"),
            grams(ManifestLine.accepted_kg).label("accepted"),
            ZERO.label("disposed"),
        )
        .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
        .where(
            Manifest.receiver_id.is_not(None),
            Manifest.received_at.is_not(None),
            ManifestLine.accepted_kg.is_not(None),
        )
    )
    disposed = (
        select(
            Manifest.receiver_id,
            ManifestLine.waste_code,
            month_start(session, ManifestLine.disposal_date),
            ManifestLine.disposal_method,
            ZERO,
            grams(ManifestLine.disposed_kg),
        )
        .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
        .where(
            Manifest.receiver_id.is_not(None),
            ManifestLine.disposal_date.is_not(None),
            ManifestLine.disposal_method.is_not(None),
            ManifestLine.disposed_kg.is_not(None),
        )
    )
    moves = union_all(accepted, disposed).subquery()
    accepted_g = grams(func.sum(moves.c.accepted))
    disposed_g = grams(func.sum(moves.c.disposed))
    return (
        select(
            moves.c.receiver_id,
            moves.c.waste_code,
            moves.c.month,
            month_last_day(session, moves.c.month).label("month_end"),
            moves.c.method_code,
            accepted_g.label("accepted"),
            disposed_g.label("disposed"),
        )
        .group_by(moves.c.receiver_id, moves.c.waste_code, moves.c.month, moves.c.method_code)
        .having(or_(accepted_g != 0, disposed_g != 0))
    )


def _stored_producer_months() -> Select[Any]:
    t = ProducerMonth
    return select(
        t.producer_id,
        t.waste_code,
        t.month,
        t.month_end,
        grams(t.generated_kg),
        grams(t.self_used_kg),
        grams(t.shipped_kg),
        t.count_on,
        grams(t.count_kg),
    ).where(
        or_(t.generated_kg != 0, t.self_used_kg != 0, t.shipped_kg != 0, t.count_on.is_not(None))
    )


def _stored_receiver_months() -> Select[Any]:
    t = ReceiverMonth
    return select(
        t.receiver_id,
        t.waste_code,
        t.month,
        t.month_end,
        t.method_code,
        grams(t.accepted_kg),
        grams(t.disposed_kg),
    ).where(or_(t.accepted_kg != 0, t.disposed_kg != 0))


def verify(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Rows that differ between the stored totals and their recomputation, per table:
    ``missing`` (recomputed but not stored as such) and ``extra`` (stored but not
    recomputed). Both lists are empty when the triggers have kept everything exact."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name, expected, stored in (
        ("producer", expected_producer_months(session), _stored_producer_months()),
        ("receiver", expected_receiver_months(session), _stored_receiver_months()),
    ):
        out[f"{name}_missing"] = [tuple(r) for r in session.execute(except_(expected, stored))]
        out[f"{name}_extra"] = [tuple(r) for r in session.execute(except_(stored, expected))]
    return out


def rebuild(session: Session) -> dict[str, int]:
    """Replace the stored totals with their recomputation (the caller commits); returns
    the number of rows written per table."""
    session.execute(delete(ProducerMonth))
    session.execute(delete(ReceiverMonth))
    producer = expected_producer_months(session).subquery()
    session.execute(
        insert(ProducerMonth).from_select(
            [
                "producer_id",
                "waste_code",
                "month",
                "month_end",
                "generated_kg",
                "self_used_kg",
                "shipped_kg",
                "count_on",
                "count_kg",
            ],
            select(producer),
        )
    )
    receiver = expected_receiver_months(session).subquery()
    session.execute(
        insert(ReceiverMonth).from_select(
            [
                "receiver_id",
                "waste_code",
                "month",
                "month_end",
                "method_code",
                "accepted_kg",
                "disposed_kg",
            ],
            select(receiver),
        )
    )
    return {
        "producer": session.scalar(select(func.count()).select_from(ProducerMonth)) or 0,
        "receiver": session.scalar(select(func.count()).select_from(ReceiverMonth)) or 0,
    }


# --- Sums through a point in time, for the rules. ---


def _after(as_of: datetime) -> tuple[date, date, datetime, datetime]:
    """(today, next month's first day) in China time and the same as UTC bounds: movements
    dated after ``as_of`` but inside its month are in that month's totals."""
    today = local_date(as_of)
    next_month = first_of_month(today, 1)
    return today, next_month, as_of, china_midnight(next_month)


def producer_flows(session: Session, as_of: datetime, since: date | None = None) -> Any:
    """Per producer × waste code: generated, self-used and shipped grams dated from the
    month of ``since`` (default: all time) up to ``as_of`` — the stored months up to as_of's
    month, minus what that month holds after ``as_of``. A CTE (computed once however often
    a rule reads it) with columns
    ``producer_id, waste_code, generated_g, self_used_g, shipped_g``."""
    today, next_month, moment, next_month_at = _after(as_of)
    t = ProducerMonth
    # Summed first in primary-key order (no sort), then with the few later movements.
    months = (
        select(
            t.producer_id.label("producer_id"),
            t.waste_code.label("waste_code"),
            grams(func.sum(grams(t.generated_kg))).label("generated_g"),
            grams(func.sum(grams(t.self_used_kg))).label("self_used_g"),
            grams(func.sum(grams(t.shipped_kg))).label("shipped_g"),
        )
        .where(t.month < next_month)
        .group_by(t.producer_id, t.waste_code)
    )
    if since is not None:
        months = months.where(t.month >= first_of_month(since))
    qty = grams(LedgerEntry.quantity_kg)
    later_ledger = select(
        LedgerEntry.producer_id,
        LedgerEntry.waste_code,
        -qty * (LedgerEntry.kind == LedgerKind.GENERATED).cast(Integer),
        -qty * (LedgerEntry.kind == LedgerKind.SELF_USED).cast(Integer),
        ZERO,
    ).where(
        LedgerEntry.kind.in_([LedgerKind.GENERATED, LedgerKind.SELF_USED]),
        LedgerEntry.occurred_on > today,
        LedgerEntry.occurred_on < next_month,
    )
    later_pickups = (
        select(
            Manifest.producer_id,
            ManifestLine.waste_code,
            ZERO,
            ZERO,
            -grams(ManifestLine.loaded_kg),
        )
        .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
        .where(
            Manifest.picked_up_at > moment,
            Manifest.picked_up_at < next_month_at,
            ManifestLine.loaded_kg.is_not(None),
        )
    )
    moves = union_all(months, later_ledger, later_pickups).subquery()
    return (
        select(
            moves.c.producer_id,
            moves.c.waste_code,
            grams(func.sum(moves.c.generated_g)).label("generated_g"),
            grams(func.sum(moves.c.self_used_g)).label("self_used_g"),
            grams(func.sum(moves.c.shipped_g)).label("shipped_g"),
        )
        .group_by(moves.c.producer_id, moves.c.waste_code)
        .cte("producer_flows")
    )


def receiver_flows(session: Session, as_of: datetime, since: date | None = None) -> Any:
    """Per receiver × waste code: accepted grams (by receipt time) and disposed grams (by
    disposal date) from the month of ``since`` (default: all time) up to ``as_of``. A CTE
    with columns ``receiver_id, waste_code, accepted_g, disposed_g``."""
    today, next_month, moment, next_month_at = _after(as_of)
    t = ReceiverMonth
    months = (
        select(
            t.receiver_id.label("receiver_id"),
            t.waste_code.label("waste_code"),
            grams(func.sum(grams(t.accepted_kg))).label("accepted_g"),
            grams(func.sum(grams(t.disposed_kg))).label("disposed_g"),
        )
        .where(t.month < next_month)
        .group_by(t.receiver_id, t.waste_code)
    )
    if since is not None:
        months = months.where(t.month >= first_of_month(since))
    later_receipts = (
        select(
            Manifest.receiver_id,
            ManifestLine.waste_code,
            -grams(ManifestLine.accepted_kg),
            ZERO,
        )
        .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
        .where(
            Manifest.received_at > moment,
            Manifest.received_at < next_month_at,
            ManifestLine.accepted_kg.is_not(None),
        )
    )
    later_disposals = (
        select(
            Manifest.receiver_id,
            ManifestLine.waste_code,
            ZERO,
            -grams(ManifestLine.disposed_kg),
        )
        .select_from(ManifestLine)
        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
        .where(
            ManifestLine.disposal_date > today,
            ManifestLine.disposal_date < next_month,
            ManifestLine.disposal_method.is_not(None),
            ManifestLine.disposed_kg.is_not(None),
        )
    )
    moves = union_all(months, later_receipts, later_disposals).subquery()
    return (
        select(
            moves.c.receiver_id,
            moves.c.waste_code,
            grams(func.sum(moves.c.accepted_g)).label("accepted_g"),
            grams(func.sum(moves.c.disposed_g)).label("disposed_g"),
        )
        .group_by(moves.c.receiver_id, moves.c.waste_code)
        .cte("receiver_flows")
    )

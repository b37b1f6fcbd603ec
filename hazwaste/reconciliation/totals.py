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

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Select,
    and_,
    case,
    delete,
    except_,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from hazwaste.db import Quantity, grams
from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.manifests.services import local_date
from hazwaste.reconciliation.models import (
    ProducerMonth,
    ProducerMonthDelta,
    ReceiverMonth,
    ReceiverMonthDelta,
)
from hazwaste.reconciliation.sqltime import (
    china_midnight,
    first_of_month,
    month_last_day,
    month_start,
)

ZERO = literal(0, Integer)
#: How often the job workers fold the deltas into the totals.
COMPACT_EVERY = timedelta(seconds=30)
#: Advisory-lock key serialising compactions (and rebuilds) on PostgreSQL ("hwtc").
COMPACT_LOCK_KEY = 0x68777463


# --- The totals as readers see them: compacted rows plus the deltas not yet folded. ---


def _latest_count(column: Any, keys: Any) -> Any:
    """The month's last stock count (``column`` of it) for a grouped key: an index probe on
    (producer, code, day), only evaluated for keys whose count changed since compaction."""
    return (
        select(column)
        .where(
            LedgerEntry.producer_id == keys.producer_id,
            LedgerEntry.waste_code == keys.waste_code,
            LedgerEntry.kind == LedgerKind.STOCK_COUNT,
            LedgerEntry.occurred_on >= keys.month,
            LedgerEntry.occurred_on <= keys.month_end,
        )
        .order_by(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc())
        .limit(1)
        .with_hint(LedgerEntry, "INDEXED BY ix_ledger_entries_producer_code_day", "sqlite")
        .scalar_subquery()
    )


def producer_months(name: str = "producer_months") -> Any:
    """:class:`ProducerMonth` as it stands, deltas included: a subquery with its columns
    (``producer_id, waste_code, month, month_end, generated_kg, self_used_kg, shipped_kg,
    count_on, count_kg``), one row per key. Each call gives a new alias.

    Every totals row, adjusted by its key's deltas if it has any (a join with the few
    delta groups), and the delta groups of keys without a totals row yet: with the deltas
    compacted it costs little more than reading the table."""
    t, d = ProducerMonth, ProducerMonthDelta
    deltas = (
        select(
            d.producer_id,
            d.waste_code,
            d.month,
            d.month_end,
            func.sum(grams(d.generated_kg)).label("generated_g"),
            func.sum(grams(d.self_used_kg)).label("self_used_g"),
            func.sum(grams(d.shipped_kg)).label("shipped_g"),
            func.max(d.count_changed).label("count_changed"),
        )
        .group_by(d.producer_id, d.waste_code, d.month, d.month_end)
        .subquery()
    )
    g = deltas.c
    same = and_(g.producer_id == t.producer_id, g.waste_code == t.waste_code, g.month == t.month)

    def plus(column: Any, delta: Any) -> Any:
        return type_coerce(grams(column) + func.coalesce(delta, 0), Quantity())

    changed = func.coalesce(g.count_changed, 0) > 0
    stored = select(
        t.producer_id,
        t.waste_code,
        t.month,
        t.month_end,
        plus(t.generated_kg, g.generated_g).label("generated_kg"),
        plus(t.self_used_kg, g.self_used_g).label("self_used_kg"),
        plus(t.shipped_kg, g.shipped_g).label("shipped_kg"),
        type_coerce(
            case((changed, _latest_count(LedgerEntry.occurred_on, t)), else_=t.count_on), Date
        ).label("count_on"),
        type_coerce(
            case(
                (changed, _latest_count(grams(LedgerEntry.quantity_kg), t)),
                else_=grams(t.count_kg),
            ),
            Quantity(),
        ).label("count_kg"),
    ).outerjoin(deltas, same)
    new = select(
        g.producer_id,
        g.waste_code,
        g.month,
        g.month_end,
        type_coerce(g.generated_g, Quantity()),
        type_coerce(g.self_used_g, Quantity()),
        type_coerce(g.shipped_g, Quantity()),
        type_coerce(case((g.count_changed > 0, _latest_count(LedgerEntry.occurred_on, g))), Date),
        type_coerce(
            case((g.count_changed > 0, _latest_count(grams(LedgerEntry.quantity_kg), g))),
            Quantity(),
        ),
    ).where(~select(t.producer_id).where(same).exists())
    return union_all(stored, new).subquery(name)


def producer_months_for_probes(session: Session) -> Any:
    """A function giving :func:`producer_months` selectables for a query that probes them by
    key from correlated subqueries. PostgreSQL pushes a probe's key conditions into the
    grouped union (index scans); SQLite cannot, and would group everything again for every
    probe: there the rows are computed once (a materialized CTE, probed through an automatic
    index)."""
    if session.get_bind().dialect.name == "postgresql":
        return producer_months
    shared = producer_months().select().cte("producer_months").prefix_with("MATERIALIZED")
    return shared.alias


def receiver_months(name: str = "receiver_months") -> Any:
    """:class:`ReceiverMonth` as it stands, deltas included (same columns, one row per
    key; built like :func:`producer_months`)."""
    t, d = ReceiverMonth, ReceiverMonthDelta
    deltas = (
        select(
            d.receiver_id,
            d.waste_code,
            d.month,
            d.month_end,
            d.method_code,
            func.sum(grams(d.accepted_kg)).label("accepted_g"),
            func.sum(grams(d.disposed_kg)).label("disposed_g"),
        )
        .group_by(d.receiver_id, d.waste_code, d.month, d.month_end, d.method_code)
        .subquery()
    )
    g = deltas.c
    same = and_(
        g.receiver_id == t.receiver_id,
        g.waste_code == t.waste_code,
        g.month == t.month,
        g.method_code == t.method_code,
    )

    def plus(column: Any, delta: Any) -> Any:
        return type_coerce(grams(column) + func.coalesce(delta, 0), Quantity())

    stored = select(
        t.receiver_id,
        t.waste_code,
        t.month,
        t.month_end,
        t.method_code,
        plus(t.accepted_kg, g.accepted_g).label("accepted_kg"),
        plus(t.disposed_kg, g.disposed_g).label("disposed_kg"),
    ).outerjoin(deltas, same)
    new = select(
        g.receiver_id,
        g.waste_code,
        g.month,
        g.month_end,
        g.method_code,
        type_coerce(g.accepted_g, Quantity()),
        type_coerce(g.disposed_g, Quantity()),
    ).where(~select(t.receiver_id).where(same).exists())
    return union_all(stored, new).subquery(name)


# --- Compaction. ---

_PRODUCER_SUMS = (
    "SELECT producer_id, waste_code, month, month_end, SUM(generated_kg) AS g, "
    "SUM(self_used_kg) AS u, SUM(shipped_kg) AS s, MAX(count_changed) AS c FROM {source} "
    "GROUP BY producer_id, waste_code, month, month_end"
)
_LATEST_COUNT = (
    "(SELECT e.{col} FROM ledger_entries e{hint} WHERE e.producer_id = s.producer_id "
    "AND e.waste_code = s.waste_code AND e.kind = 'stock_count' AND e.occurred_on >= s.month "
    "AND e.occurred_on <= s.month_end ORDER BY e.occurred_on DESC, e.id DESC LIMIT 1)"
)
# The count is a level: where it changed, the month's last count is read from the ledger
# (in this statement's snapshot, the one the deltas were read in); elsewhere it is kept.
# Reading the old row and writing it back is safe: only compaction writes totals, one at a
# time (advisory lock on PostgreSQL, the single writer on SQLite).
_PRODUCER_FOLD = (
    "INSERT INTO monthly_producer_totals (producer_id, waste_code, month, month_end, "
    "generated_kg, self_used_kg, shipped_kg, count_on, count_kg) "
    "SELECT s.producer_id, s.waste_code, s.month, s.month_end, s.g, s.u, s.s, "
    "CASE WHEN s.c > 0 THEN {latest_on} ELSE o.count_on END, "
    "CASE WHEN s.c > 0 THEN {latest_kg} ELSE o.count_kg END "
    "FROM ({sums}) s LEFT JOIN monthly_producer_totals o ON o.producer_id = s.producer_id "
    "AND o.waste_code = s.waste_code AND o.month = s.month WHERE true "
    "ON CONFLICT (producer_id, waste_code, month) DO UPDATE SET "
    "generated_kg = monthly_producer_totals.generated_kg + excluded.generated_kg, "
    "self_used_kg = monthly_producer_totals.self_used_kg + excluded.self_used_kg, "
    "shipped_kg = monthly_producer_totals.shipped_kg + excluded.shipped_kg, "
    "count_on = excluded.count_on, count_kg = excluded.count_kg"
)
_RECEIVER_FOLD = (
    "INSERT INTO monthly_receiver_totals (receiver_id, waste_code, month, month_end, "
    "method_code, accepted_kg, disposed_kg) "
    "SELECT receiver_id, waste_code, month, month_end, method_code, SUM(accepted_kg), "
    "SUM(disposed_kg) FROM {source} WHERE true "
    "GROUP BY receiver_id, waste_code, month, month_end, method_code "
    "ON CONFLICT (receiver_id, waste_code, month, method_code) DO UPDATE SET "
    "accepted_kg = monthly_receiver_totals.accepted_kg + excluded.accepted_kg, "
    "disposed_kg = monthly_receiver_totals.disposed_kg + excluded.disposed_kg"
)
_PRODUCER_COLUMNS = (
    "producer_id, waste_code, month, month_end, generated_kg, self_used_kg, shipped_kg, "
    "count_changed"
)
_RECEIVER_COLUMNS = (
    "receiver_id, waste_code, month, month_end, method_code, accepted_kg, disposed_kg"
)


def _fold_statements(dialect: str, table: str) -> list[str]:
    """The SQL folding every delta of ``table`` with ``id <= :upto`` into its totals and
    deleting exactly those deltas.

    PostgreSQL: one statement — the deltas are deleted and their RETURNING rows summed
    (``DELETE … RETURNING`` in a CTE), so what is folded is by construction what is
    deleted; a delta of a transaction still in progress (even with a lower id) is not
    visible to the statement, neither folded nor deleted, and is folded next time.
    SQLite: the fold, then the delete of the same id range — one writer at a time, so no
    delta can appear in between."""
    producer = table == "producer_month_deltas"
    columns = _PRODUCER_COLUMNS if producer else _RECEIVER_COLUMNS
    if dialect == "postgresql":
        source = "moved"
        prefix = f"WITH moved AS (DELETE FROM {table} WHERE id <= :upto RETURNING {columns}) "
    else:
        source, prefix = f"(SELECT * FROM {table} WHERE id <= :upto) moved", ""
    if producer:
        hint = " INDEXED BY ix_ledger_entries_producer_code_day" if dialect == "sqlite" else ""
        sums = _PRODUCER_SUMS.format(source=source)
        fold = _PRODUCER_FOLD.format(
            sums=sums,
            latest_on=_LATEST_COUNT.format(col="occurred_on", hint=hint),
            latest_kg=_LATEST_COUNT.format(col="quantity_kg", hint=hint),
        )
    else:
        fold = _RECEIVER_FOLD.format(source=source)
    if dialect == "postgresql":
        return [prefix + fold]
    return [fold, f"DELETE FROM {table} WHERE id <= :upto"]


def fold(session: Session, table: str, upto: int) -> None:
    """Fold the deltas of ``table`` (``producer_month_deltas`` or ``receiver_month_deltas``)
    with ids up to ``upto`` into the totals and delete them; later ones are left alone.
    The caller holds the compaction lock (:func:`compact` takes it)."""
    for statement in _fold_statements(session.get_bind().dialect.name, table):
        session.execute(text(statement), {"upto": upto})


def _lock(session: Session, wait: bool) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: the transaction already holds the single write lock
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": COMPACT_LOCK_KEY})
        return True
    return bool(
        session.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": COMPACT_LOCK_KEY}
        ).scalar_one()
    )


def compact(session: Session, wait: bool = True) -> dict[str, int] | None:
    """Fold every delta committed so far into the totals, in the caller's transaction (the
    caller commits; the totals rows it changed stay locked until then — no hand-off writes
    them). Returns the number of deltas folded per table, or ``None`` when ``wait`` is
    false and another compaction is running (PostgreSQL)."""
    if not _lock(session, wait):
        return None
    out = {}
    for name, model, table in (
        ("producer", ProducerMonthDelta, "producer_month_deltas"),
        ("receiver", ReceiverMonthDelta, "receiver_month_deltas"),
    ):
        upto, count = session.execute(select(func.max(model.id), func.count(model.id))).one()
        if upto is not None:
            fold(session, table, upto)
        out[name] = int(count or 0)
    return out


def compact_job(session: Session, now: datetime) -> dict[str, int] | None:
    """The job workers' periodic compaction, committed; skipped while another runs."""
    try:
        done = compact(session, wait=False)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return done


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
    t = producer_months().c
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
    t = receiver_months().c
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
    """Rows that differ between the stored totals (with the deltas not yet folded) and
    their recomputation, per table:
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
    the number of rows written per table. The deltas go too: the recomputation covers
    them. On PostgreSQL writers of the source tables wait until the caller commits (a
    write between the delete and the recomputation would otherwise count twice)."""
    _lock(session, wait=True)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE ledger_entries, manifest_lines, manifests IN SHARE MODE"))
    for model in (ProducerMonthDelta, ReceiverMonthDelta, ProducerMonth, ReceiverMonth):
        session.execute(delete(model))
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
    t = producer_months().c
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
    t = receiver_months().c
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

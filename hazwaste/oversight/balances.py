"""Tonnage balances of a jurisdiction: per enterprise (or region), month and waste code.

One set-based query (no per-row loop) gives for each (organization, month, waste code):

* **generated** — the producer's ledger entries of kind ``generated`` (by entry date);
* **shipped** — manifest lines' loaded kg by pickup month (China time), producer side;
* **received** — accepted kg by receipt month, receiver side;
* **disposed** — disposed kg by disposal date, receiver side;
* **stock** — the producer's last stock count of the month if there is one; otherwise the
  last count before (or zero) plus generated − shipped out − used on site since then, all from
  the ledger. Computed with window functions: months are grouped by the number of counts seen
  so far, and each group starts at its count.

Quantities are summed as integer grams in SQL and returned as ``Decimal`` kg.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from hazwaste.accounts.models import Organization
from hazwaste.catalog.models import Region
from hazwaste.db import grams, kg_from_grams
from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.manifests.models import Manifest, ManifestLine
from hazwaste.reconciliation.sqltime import china_date, month_key

MEASURES = ("generated", "shipped", "received", "disposed", "stock")
#: Rows beyond this are not shown on a page (the export has them all, up to EXPORT_MAX).
PAGE_ROWS = 500
EXPORT_MAX = 100_000


@dataclass
class BalanceFilters:
    prefix: str  # region code prefix (the jurisdiction or a region inside it)
    organization_id: int | None = None
    waste_code: str | None = None
    month_from: str | None = None  # "YYYY-MM"
    month_to: str | None = None
    group: str = "enterprise"  # or "region"


@dataclass
class BalanceRow:
    key: str  # organization id or region code
    name: str
    region_code: str
    month: str
    waste_code: str
    generated: Decimal
    shipped: Decimal
    received: Decimal
    disposed: Decimal
    stock: Decimal
    organization_id: int | None = None


@dataclass
class MonthTotals:
    month: str
    values: dict[str, Decimal] = field(default_factory=dict)


def _zero() -> Any:
    return literal(0, BigInteger)


def _parts(session: Session, f: BalanceFilters) -> Any:
    """UNION ALL of every source, each row: org, month, code and one measure in grams."""
    ledger_month = month_key(session, LedgerEntry.occurred_on)
    g = grams(LedgerEntry.quantity_kg)
    ledger = select(
        LedgerEntry.producer_id.label("org_id"),
        ledger_month.label("month"),
        LedgerEntry.waste_code.label("waste_code"),
        func.sum(case((LedgerEntry.kind == LedgerKind.GENERATED, g), else_=0)).label("generated"),
        _zero().label("shipped"),
        _zero().label("received"),
        _zero().label("disposed"),
        func.sum(
            case(
                (LedgerEntry.kind == LedgerKind.GENERATED, g),
                (LedgerEntry.kind.in_([LedgerKind.SHIPPED_OUT, LedgerKind.SELF_USED]), -g),
                else_=0,
            )
        ).label("net"),
    ).group_by(LedgerEntry.producer_id, ledger_month, LedgerEntry.waste_code)

    pickup_month = month_key(session, china_date(session, Manifest.picked_up_at))
    shipped = (
        select(
            Manifest.producer_id.label("org_id"),
            pickup_month.label("month"),
            ManifestLine.waste_code.label("waste_code"),
            _zero().label("generated"),
            func.sum(func.coalesce(grams(ManifestLine.loaded_kg), 0)).label("shipped"),
            _zero().label("received"),
            _zero().label("disposed"),
            _zero().label("net"),
        )
        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
        .where(Manifest.picked_up_at.is_not(None))
        .group_by(Manifest.producer_id, pickup_month, ManifestLine.waste_code)
    )
    receipt_month = month_key(session, china_date(session, Manifest.received_at))
    received = (
        select(
            Manifest.receiver_id.label("org_id"),
            receipt_month.label("month"),
            ManifestLine.waste_code.label("waste_code"),
            _zero().label("generated"),
            _zero().label("shipped"),
            func.sum(func.coalesce(grams(ManifestLine.accepted_kg), 0)).label("received"),
            _zero().label("disposed"),
            _zero().label("net"),
        )
        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
        .where(Manifest.received_at.is_not(None))
        .group_by(Manifest.receiver_id, receipt_month, ManifestLine.waste_code)
    )
    disposal_month = month_key(session, ManifestLine.disposal_date)
    disposed = (
        select(
            Manifest.receiver_id.label("org_id"),
            disposal_month.label("month"),
            ManifestLine.waste_code.label("waste_code"),
            _zero().label("generated"),
            _zero().label("shipped"),
            _zero().label("received"),
            func.sum(func.coalesce(grams(ManifestLine.disposed_kg), 0)).label("disposed"),
            _zero().label("net"),
        )
        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
        .where(ManifestLine.disposal_date.is_not(None))
        .group_by(Manifest.receiver_id, disposal_month, ManifestLine.waste_code)
    )
    return union_all(ledger, shipped, received, disposed).subquery("parts")


def _counts(session: Session) -> Any:
    """The last stock count of each (producer, month, code), in grams."""
    month = month_key(session, LedgerEntry.occurred_on)
    ranked = (
        select(
            LedgerEntry.producer_id.label("org_id"),
            month.label("month"),
            LedgerEntry.waste_code.label("waste_code"),
            grams(LedgerEntry.quantity_kg).label("counted"),
            func.row_number()
            .over(
                partition_by=(LedgerEntry.producer_id, month, LedgerEntry.waste_code),
                order_by=(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc()),
            )
            .label("rn"),
        )
        .where(LedgerEntry.kind == LedgerKind.STOCK_COUNT)
        .subquery("ranked_counts")
    )
    return (
        select(ranked.c.org_id, ranked.c.month, ranked.c.waste_code, ranked.c.counted)
        .where(ranked.c.rn == 1)
        .subquery("counts")
    )


def per_enterprise(session: Session, f: BalanceFilters) -> Any:
    """The per-organization balance rows (a subquery), all months (stock needs the past)."""
    parts = _parts(session, f)
    counts = _counts(session)
    monthly = select(
        parts.c.org_id,
        parts.c.month,
        parts.c.waste_code,
        func.sum(parts.c.generated).label("generated"),
        func.sum(parts.c.shipped).label("shipped"),
        func.sum(parts.c.received).label("received"),
        func.sum(parts.c.disposed).label("disposed"),
        func.sum(parts.c.net).label("net"),
    ).group_by(parts.c.org_id, parts.c.month, parts.c.waste_code)
    if f.waste_code:
        monthly = monthly.where(parts.c.waste_code == f.waste_code)
    if f.organization_id:
        monthly = monthly.where(parts.c.org_id == f.organization_id)
    m = monthly.subquery("monthly")
    # Full outer join of activity and counts: a month with only a count still has a stock.
    keys = union_all(
        select(m.c.org_id, m.c.month, m.c.waste_code),
        select(counts.c.org_id, counts.c.month, counts.c.waste_code),
    ).subquery("keys")
    keyset = select(keys.c.org_id, keys.c.month, keys.c.waste_code).distinct().subquery("keyset")
    joined = (
        select(
            keyset.c.org_id,
            keyset.c.month,
            keyset.c.waste_code,
            func.coalesce(m.c.generated, 0).label("generated"),
            func.coalesce(m.c.shipped, 0).label("shipped"),
            func.coalesce(m.c.received, 0).label("received"),
            func.coalesce(m.c.disposed, 0).label("disposed"),
            func.coalesce(m.c.net, 0).label("net"),
            counts.c.counted,
        )
        .select_from(keyset)
        .outerjoin(
            m,
            and_(
                m.c.org_id == keyset.c.org_id,
                m.c.month == keyset.c.month,
                m.c.waste_code == keyset.c.waste_code,
            ),
        )
        .outerjoin(
            counts,
            and_(
                counts.c.org_id == keyset.c.org_id,
                counts.c.month == keyset.c.month,
                counts.c.waste_code == keyset.c.waste_code,
            ),
        )
    )
    if f.waste_code:
        joined = joined.where(keyset.c.waste_code == f.waste_code)
    if f.organization_id:
        joined = joined.where(keyset.c.org_id == f.organization_id)
    j = joined.subquery("joined")
    series = (j.c.org_id, j.c.waste_code)
    grouped = select(
        j,
        func.count(j.c.counted).over(partition_by=series, order_by=j.c.month).label("grp"),
    ).subquery("grouped")
    anchor = (grouped.c.org_id, grouped.c.waste_code, grouped.c.grp)
    stock = func.coalesce(func.max(grouped.c.counted).over(partition_by=anchor), 0) + func.sum(
        case((grouped.c.counted.is_(None), grouped.c.net), else_=0)
    ).over(partition_by=anchor, order_by=grouped.c.month)
    return select(
        grouped.c.org_id,
        grouped.c.month,
        grouped.c.waste_code,
        grouped.c.generated,
        grouped.c.shipped,
        grouped.c.received,
        grouped.c.disposed,
        stock.label("stock"),
    ).subquery("balances")


def balance_query(session: Session, f: BalanceFilters) -> Select[Any]:
    """The filtered rows, grouped per enterprise or per region code, newest month first."""
    b = per_enterprise(session, f)
    where = [Organization.region_code.startswith(f.prefix)]
    if f.month_from:
        where.append(b.c.month >= f.month_from)
    if f.month_to:
        where.append(b.c.month <= f.month_to)
    sums = [func.sum(b.c[name]).label(name) for name in MEASURES]
    if f.group == "region":
        return (
            select(
                Organization.region_code.label("key"),
                Organization.region_code.label("region_code"),
                Region.name.label("name"),
                b.c.month,
                b.c.waste_code,
                *sums,
            )
            .join(Organization, Organization.id == b.c.org_id)
            .join(Region, Region.code == Organization.region_code)
            .where(*where)
            .group_by(Organization.region_code, Region.name, b.c.month, b.c.waste_code)
            .order_by(b.c.month.desc(), Organization.region_code, b.c.waste_code)
        )
    return (
        select(
            b.c.org_id.label("key"),
            Organization.region_code.label("region_code"),
            Organization.name.label("name"),
            b.c.month,
            b.c.waste_code,
            *[b.c[name].label(name) for name in MEASURES],
        )
        .join(Organization, Organization.id == b.c.org_id)
        .where(*where)
        .order_by(b.c.month.desc(), Organization.name, b.c.waste_code)
    )


def rows(session: Session, f: BalanceFilters, limit: int = PAGE_ROWS) -> list[BalanceRow]:
    out = []
    for r in session.execute(balance_query(session, f).limit(limit)).mappings():
        by_org = f.group != "region"
        out.append(
            BalanceRow(
                key=str(r["key"]),
                name=r["name"],
                region_code=r["region_code"],
                month=r["month"],
                waste_code=r["waste_code"],
                organization_id=int(r["key"]) if by_org else None,
                **{name: kg_from_grams(r[name]) for name in MEASURES},
            )
        )
    return out


def month_totals(session: Session, f: BalanceFilters) -> list[MonthTotals]:
    """Totals per month over the filtered rows, oldest first (the chart's bars)."""
    q = balance_query(session, f).order_by(None).subquery("rows")
    stmt = (
        select(q.c.month, *[func.sum(q.c[name]).label(name) for name in MEASURES])
        .group_by(q.c.month)
        .order_by(q.c.month)
    )
    return [
        MonthTotals(r["month"], {name: kg_from_grams(r[name]) for name in MEASURES})
        for r in session.execute(stmt).mappings()
    ]


@dataclass
class FlowMatrix:
    producers: list[tuple[int, str]]
    receivers: list[tuple[int, str]]
    cells: dict[tuple[int, int], Decimal]
    row_totals: dict[int, Decimal]
    col_totals: dict[int, Decimal]
    total: Decimal


def flow_matrix(session: Session, f: BalanceFilters) -> FlowMatrix:
    """Loaded kg per (producer, receiver) picked up in the period, where the producer or the
    receiver lies in the region; totals per row and column."""
    inside = select(Organization.id).where(Organization.region_code.startswith(f.prefix))
    month = month_key(session, china_date(session, Manifest.picked_up_at))
    stmt = (
        select(
            Manifest.producer_id,
            Manifest.receiver_id,
            func.sum(func.coalesce(grams(ManifestLine.loaded_kg), 0)).label("g"),
        )
        .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
        .where(
            Manifest.picked_up_at.is_not(None),
            or_(Manifest.producer_id.in_(inside), Manifest.receiver_id.in_(inside)),
        )
        .group_by(Manifest.producer_id, Manifest.receiver_id)
    )
    if f.month_from:
        stmt = stmt.where(month >= f.month_from)
    if f.month_to:
        stmt = stmt.where(month <= f.month_to)
    if f.waste_code:
        stmt = stmt.where(ManifestLine.waste_code == f.waste_code)
    if f.organization_id:
        stmt = stmt.where(
            or_(
                Manifest.producer_id == f.organization_id,
                Manifest.receiver_id == f.organization_id,
            )
        )
    cells = {(r.producer_id, r.receiver_id): kg_from_grams(r.g) for r in session.execute(stmt)}
    ids = {p for p, _ in cells} | {r for _, r in cells}
    names = {
        int(r[0]): str(r[1])
        for r in session.execute(
            select(Organization.id, Organization.name).where(Organization.id.in_(ids))
        )
    }
    producers = sorted({p for p, _ in cells}, key=lambda i: names[i])
    receivers = sorted({r for _, r in cells}, key=lambda i: names[i])
    zero = Decimal("0.000")
    # One pass over the cells (not one per producer and receiver).
    row_totals = dict.fromkeys(producers, zero)
    col_totals = dict.fromkeys(receivers, zero)
    for (producer, receiver), value in cells.items():
        row_totals[producer] += value
        col_totals[receiver] += value
    return FlowMatrix(
        producers=[(p, names[p]) for p in producers],
        receivers=[(r, names[r]) for r in receivers],
        cells=cells,
        row_totals=row_totals,
        col_totals=col_totals,
        total=sum(cells.values(), zero),
    )

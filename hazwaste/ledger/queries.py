"""Read side of containers and the ledger: filtered lists, store totals, a container's life.

Everything here is scoped to one producer (or, for a container's history, to what the user
may see) and read-only: no function writes or commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from hazwaste.accounts.models import User
from hazwaste.db import grams, kg_from_grams
from hazwaste.ledger import services
from hazwaste.ledger.models import Container, ContainerStatus, LedgerEntry, LedgerKind

#: Most rows one export may hold; the page asks the user to narrow the filter beyond it.
EXPORT_MAX_ROWS = 100_000


@dataclass
class ContainerFilters:
    status: str | None = None
    waste_code: str | None = None
    q: str | None = None  # part of the digital code (spaces and case forgiven)


def container_list_query(producer_id: int, filters: ContainerFilters) -> Select[Any]:
    """The producer's containers matching ``filters``, newest first."""
    stmt = select(Container).where(Container.producer_id == producer_id)
    if filters.status:
        stmt = stmt.where(Container.status == ContainerStatus(filters.status))
    if filters.waste_code:
        stmt = stmt.where(Container.waste_code == filters.waste_code)
    if filters.q:
        needle = "".join(filters.q.split()).upper().replace("-", "")
        if needle:
            stmt = stmt.where(Container.code.contains(needle, autoescape=True))
    return stmt.order_by(Container.generation_date.desc(), Container.id.desc())


@dataclass
class StoreTotals:
    """Containers physically in the store (stored or assigned, not yet picked up)."""

    count: int
    total_kg: Decimal
    by_status: dict[str, int]


def store_totals(session: Session, producer_id: int) -> StoreTotals:
    """Counts per status and the count and weight in store, in one grouped query."""
    rows = session.execute(
        select(
            Container.status,
            func.count(),
            grams(func.coalesce(func.sum(grams(Container.net_weight_kg)), 0)),
        )
        .where(Container.producer_id == producer_id)
        .group_by(Container.status)
    ).all()
    by_status = {status.value: int(count) for status, count, _ in rows}
    in_store = [(count, total) for status, count, total in rows if status in services.IN_STORE]
    return StoreTotals(
        count=sum(int(c) for c, _ in in_store),
        total_kg=sum((kg_from_grams(t) for _, t in in_store), Decimal(0)),
        by_status=by_status,
    )


@dataclass
class EntryFilters:
    waste_code: str | None = None
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def entry_list_query(producer_id: int, filters: EntryFilters) -> Select[Any]:
    """Rows of (entry, manifest number or None) for the producer's ledger entries matching
    ``filters``, most recent day first."""
    from hazwaste.manifests.models import Manifest

    stmt = (
        select(LedgerEntry, Manifest.number)
        .outerjoin(Manifest, Manifest.id == LedgerEntry.manifest_id)
        .options(joinedload(LedgerEntry.container))
        .where(LedgerEntry.producer_id == producer_id)
    )
    if filters.waste_code:
        stmt = stmt.where(LedgerEntry.waste_code == filters.waste_code)
    if filters.kind:
        stmt = stmt.where(LedgerEntry.kind == LedgerKind(filters.kind))
    if filters.date_from:
        stmt = stmt.where(LedgerEntry.occurred_on >= filters.date_from)
    if filters.date_to:
        stmt = stmt.where(LedgerEntry.occurred_on <= filters.date_to)
    # Two columns per row; typed loosely so that ``paginate`` (one-entity selects) accepts it.
    return cast(Select[Any], stmt.order_by(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc()))


def entries_for_export(session: Session, producer_id: int, filters: EntryFilters) -> list[Any]:
    """Every (entry, manifest number) row of the filter, not just one page, at most
    :data:`EXPORT_MAX_ROWS`."""
    return list(session.execute(entry_list_query(producer_id, filters).limit(EXPORT_MAX_ROWS)))


def summary_total(balances: list[services.MonthBalance]) -> services.MonthBalance:
    """The total row of a monthly summary (all waste codes together)."""

    def total(name: str) -> Decimal:
        return sum((getattr(b, name) for b in balances), Decimal(0))

    return services.MonthBalance(
        "",
        total("opening_kg"),
        total("generated_kg"),
        total("shipped_kg"),
        total("self_used_kg"),
    )


# -- a container's life ---------------------------------------------------------------------


@dataclass
class Step:
    """One step of a container's life, for its page and the API.

    ``kind`` is one of ``filled``, ``stored``, ``assigned``, ``picked_up``, ``delivered``,
    ``received``, ``rejected``, ``missing``, ``disposed``, ``self_disposed``. ``on`` is a
    ledger date or ``at`` an event time (UTC), whichever the step has.
    """

    kind: str
    on: date | None = None
    at: datetime | None = None
    actor: str = ""
    quantity_kg: Decimal | None = None
    manifest_id: int | None = None
    manifest_number: str | None = None
    manifest_visible: bool = False
    vehicle: str = ""
    method_code: str | None = None
    note: str = ""


def container_history(session: Session, user: User, container: Container) -> list[Step]:
    """The container's life in order, from its ledger entries and its manifest's events.

    The manifest is linked only if ``user`` may open it (a regulator may see a container of a
    producer in their region while the manifest is still a draft).
    """
    from hazwaste.manifests import access
    from hazwaste.manifests.models import EventKind, Manifest

    entries = list(
        session.scalars(
            select(LedgerEntry)
            .options(joinedload(LedgerEntry.created_by))
            .where(LedgerEntry.container_id == container.id)
            .order_by(LedgerEntry.id)
        )
    )
    by_kind: dict[LedgerKind, LedgerEntry] = {}
    for entry in entries:
        by_kind.setdefault(entry.kind, entry)
    steps: list[Step] = []
    generated = by_kind.get(LedgerKind.GENERATED)
    steps.append(
        Step(
            "filled",
            on=container.generation_date,
            at=container.created_at,
            actor=container.created_by.name,
            quantity_kg=container.net_weight_kg,
            note=container.source_process,
        )
    )
    stored = by_kind.get(LedgerKind.STORED_IN) or generated
    if stored is not None:
        steps.append(Step("stored", on=stored.occurred_on, quantity_kg=container.net_weight_kg))
    manifest = session.get(Manifest, container.manifest_id) if container.manifest_id else None
    if manifest is not None:
        visible = access.can_view(user, manifest)
        link: dict[str, Any] = {
            "manifest_id": manifest.id,
            "manifest_number": manifest.number,
            "manifest_visible": visible,
        }
        steps.append(Step("assigned", at=manifest.submitted_at or manifest.created_at, **link))
        latest: dict[EventKind, Any] = {}
        for event in manifest.events:  # in id order: a correction's later event wins
            latest[event.kind] = event
        shipped = by_kind.get(LedgerKind.SHIPPED_OUT)
        pickup = latest.get(EventKind.PICKED_UP)
        if pickup is not None or shipped is not None:
            plate = ""
            if pickup is not None and pickup.vehicle is not None:
                plate = pickup.vehicle.plate
            elif manifest.pickup_vehicle is not None:
                plate = manifest.pickup_vehicle.plate
            steps.append(
                Step(
                    "picked_up",
                    on=shipped.occurred_on if shipped else None,
                    at=pickup.occurred_at if pickup else manifest.picked_up_at,
                    actor=pickup.actor.name if pickup else "",
                    vehicle=plate,
                    **link,
                )
            )
        delivered = latest.get(EventKind.DELIVERED)
        if delivered is not None:
            steps.append(
                Step("delivered", at=delivered.occurred_at, actor=delivered.actor.name, **link)
            )
        receipt = latest.get(EventKind.RECEIVED) or latest.get(EventKind.REJECTED)
        if receipt is not None:
            kind = "received"
            if container.status is ContainerStatus.MISSING:
                kind = "missing"
            elif receipt.kind is EventKind.REJECTED:
                kind = "rejected"
            steps.append(Step(kind, at=receipt.occurred_at, actor=receipt.actor.name, **link))
        disposal = latest.get(EventKind.DISPOSED)
        if disposal is not None and container.status is ContainerStatus.DISPOSED:
            line = next(
                (ln for ln in manifest.lines if ln.waste_code == container.waste_code), None
            )
            steps.append(
                Step(
                    "disposed",
                    on=line.disposal_date if line else None,
                    at=disposal.occurred_at,
                    actor=disposal.actor.name,
                    method_code=line.disposal_method if line else None,
                    **link,
                )
            )
    used = by_kind.get(LedgerKind.SELF_USED)
    if used is not None:
        steps.append(
            Step(
                "self_disposed",
                on=used.occurred_on,
                at=used.created_at,
                actor=used.created_by.name,
                quantity_kg=used.quantity_kg,
                method_code=used.method_code,
                note=used.note,
            )
        )
    return steps

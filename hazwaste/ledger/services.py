"""Containers and the management ledger: registration, storage, loading, self-disposal,
monthly balances.

Every container event writes a ledger entry: registering a container writes *generated*
and *stored in*; loading it at pickup writes *shipped out*; using or disposing of it on site
writes *self-used*. Producers without containers enter daily quantities directly.
Functions take the session and ``now``; none commits.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hazwaste.accounts.models import Organization, User, UserRole
from hazwaste.audit import services as audit
from hazwaste.catalog import services as catalog
from hazwaste.catalog.models import TreatmentMethod, WasteCode
from hazwaste.db import grams, kg_from_grams
from hazwaste.errors import Conflict, Forbidden, Invalid, NotFound
from hazwaste.ledger import codes
from hazwaste.ledger.models import (
    Container,
    ContainerSequence,
    ContainerStatus,
    LedgerEntry,
    LedgerKind,
)

#: Containers in these states are physically in the producer's store.
IN_STORE = (ContainerStatus.STORED, ContainerStatus.ASSIGNED)
#: Rows inserted per statement in bulk registration.
BULK_CHUNK = 1000
#: Ids are 32-bit integers: a digit string longer than this is a code, never an id.
MAX_ID_DIGITS = 9
CHINA_TZ = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The calendar date in China of a UTC moment: ledger dates are local dates."""
    return moment.astimezone(CHINA_TZ).date()


def producer_of(user: User) -> Organization:
    """The approved producer ``user`` works for as office staff; ``Forbidden`` otherwise."""
    org = user.organization
    if (
        org is None
        or not org.is_approved
        or not org.is_producer
        or not user.active
        or user.role not in (UserRole.ADMIN, UserRole.MEMBER)
    ):
        raise Forbidden(_("Only staff of an approved producer can do this."))
    return org


# -- sequences and codes ----------------------------------------------------------------------


def _reserve_sequences(
    session: Session, producer_id: int, waste_code: str, day: date, count: int
) -> range:
    """Reserve ``count`` consecutive sequence numbers atomically (safe under concurrency)."""
    builder = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    insert_row = builder(ContainerSequence).values(
        producer_id=producer_id, waste_code=waste_code, generation_date=day, last_sequence=count
    )
    upsert = insert_row.on_conflict_do_update(
        index_elements=[
            ContainerSequence.producer_id,
            ContainerSequence.waste_code,
            ContainerSequence.generation_date,
        ],
        set_={"last_sequence": ContainerSequence.last_sequence + count},
    ).returning(ContainerSequence.last_sequence)
    last = session.execute(upsert).scalar_one()
    if last > codes.MAX_SEQUENCE:
        msg = _("More than %(n)s containers of one waste code on one day.", n=codes.MAX_SEQUENCE)
        raise Invalid(msg, {"generation_date": [msg]})
    return range(last - count + 1, last + 1)


# -- registration -------------------------------------------------------------------------------


class WasteCodeChecker:
    """Is a waste code in the catalogue in force on a date? Answers are cached per date's
    edition and per (code, edition), so a 10,000-row import costs a handful of queries
    instead of two per row."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._editions: dict[date, str | None] = {}
        self._codes: dict[str, set[str]] = {}

    def valid(self, code: str, on: date) -> bool:
        if on not in self._editions:
            edition = catalog.edition_on(self.session, on)
            self._editions[on] = edition.code if edition is not None else None
        edition_code = self._editions[on]
        if edition_code is None:
            return False
        if edition_code not in self._codes:
            self._codes[edition_code] = set(
                self.session.scalars(
                    select(WasteCode.code).where(WasteCode.edition_code == edition_code)
                )
            )
        return code in self._codes[edition_code]


def check_row(checker: WasteCodeChecker, data: dict[str, Any], today: date) -> dict[str, list[str]]:
    """The rules a schema cannot check: waste code in the catalogue in force on the
    generation date, generation date not in the future. ``{field: [messages]}``."""
    errors: dict[str, list[str]] = {}
    if not checker.valid(data["waste_code"], data["generation_date"]):
        errors["waste_code"] = [_("Not a waste code of the catalogue in force on that date.")]
    if data["generation_date"] > today:
        errors["generation_date"] = [_("The generation date is in the future.")]
    return errors


def _container_rows(
    producer: Organization,
    user: User,
    now: datetime,
    rows: Sequence[dict[str, Any]],
    sequences: list[int],
) -> list[dict[str, Any]]:
    out = []
    for data, seq in zip(rows, sequences, strict=True):
        out.append(
            {
                "producer_id": producer.id,
                "code": codes.format_code(
                    producer.uscc, data["waste_code"], data["generation_date"], seq
                ),
                "sequence": seq,
                "waste_code": data["waste_code"],
                "waste_name": data["waste_name"],
                "physical_form": data["physical_form"],
                "hazards": ",".join(data["hazards"]),
                "main_components": data.get("main_components") or "",
                "harmful_components": data.get("harmful_components") or "",
                "packaging_type": data["packaging_type"],
                "net_weight_kg": data["net_weight_kg"],
                "generation_date": data["generation_date"],
                "source_process": data.get("source_process") or "",
                "status": ContainerStatus.STORED,
                "created_by_id": user.id,
                "created_at": now,
                "updated_at": now,
            }
        )
    return out


def register_containers(
    session: Session, now: datetime, user: User, rows: Sequence[dict[str, Any]], today: date
) -> list[Container]:
    """Register filled containers all-or-nothing; each gets its 37-character code.

    ``rows`` are ``ContainerSchema`` results. If any row breaks a rule, ``Invalid`` carries
    ``{"rows": {index: {field: [messages]}}}`` and nothing is written. Writes *generated* and
    *stored in* ledger entries for each container and one audit entry for the batch.
    """
    producer = producer_of(user)
    errors: dict[int, Any] = {}
    checker = WasteCodeChecker(session)
    for index, data in enumerate(rows):
        row_errors = check_row(checker, data, today)
        if row_errors:
            errors[index] = row_errors
    if errors:
        raise Invalid(_("Nothing was registered: correct the rows listed."), {"rows": errors})
    if not rows:
        raise Invalid(_("No containers given."), {"rows": {"_schema": [_("No containers given.")]}})
    # One reservation per (waste code, date) group keeps sequences consecutive and cheap.
    groups: dict[tuple[str, date], list[int]] = defaultdict(list)
    for index, data in enumerate(rows):
        groups[(data["waste_code"], data["generation_date"])].append(index)
    sequences = [0] * len(rows)
    for (waste_code, day), indexes in groups.items():
        for index, seq in zip(
            indexes,
            _reserve_sequences(session, producer.id, waste_code, day, len(indexes)),
            strict=True,
        ):
            sequences[index] = seq
    values = _container_rows(producer, user, now, rows, sequences)
    for start in range(0, len(values), BULK_CHUNK):
        session.execute(insert(Container), values[start : start + BULK_CHUNK])
    created = (
        list(
            session.scalars(
                select(Container)
                .where(Container.code.in_([v["code"] for v in values]))
                .order_by(Container.id)
            )
        )
        if len(values) <= BULK_CHUNK
        else _fetch_by_codes(session, [v["code"] for v in values])
    )
    entries = []
    for container in created:
        for kind in (LedgerKind.GENERATED, LedgerKind.STORED_IN):
            entries.append(
                {
                    "producer_id": producer.id,
                    "waste_code": container.waste_code,
                    "kind": kind,
                    "quantity_kg": container.net_weight_kg,
                    "occurred_on": container.generation_date,
                    "container_id": container.id,
                    "note": "",
                    "created_by_id": user.id,
                    "created_at": now,
                }
            )
    for start in range(0, len(entries), BULK_CHUNK):
        session.execute(insert(LedgerEntry), entries[start : start + BULK_CHUNK])
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="containers.registered",
        object_type="organization",
        object_id=producer.id,
        payload={
            "count": len(created),
            "total_kg": sum((c.net_weight_kg for c in created), Decimal(0)),
            "codes": [c.code for c in created],
        },
    )
    return created


def _fetch_by_codes(session: Session, wanted: list[str]) -> list[Container]:
    found: list[Container] = []
    for start in range(0, len(wanted), BULK_CHUNK):
        found.extend(
            session.scalars(
                select(Container).where(Container.code.in_(wanted[start : start + BULK_CHUNK]))
            )
        )
    return sorted(found, key=lambda c: c.id)


# -- lookups ------------------------------------------------------------------------------------


def get_container(session: Session, user: User, key: str | int) -> Container:
    """A container by id or digital code, if the user may see it (its producer's staff, the
    parties of its manifest, regulators over the producer's region); ``NotFound`` otherwise."""
    text = str(key).strip().upper()
    # Longer digit strings are codes; isascii: str.isdigit accepts "²", which int() refuses.
    if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS:
        container = session.get(Container, int(text))
    else:
        container = session.scalar(select(Container).where(Container.code == text))
    if container is None or not can_view_container(session, user, container):
        raise NotFound()
    return container


def can_view_container(session: Session, user: User, container: Container) -> bool:
    if not user.is_authenticated or not user.active:
        return False
    if user.organization_id == container.producer_id and user.org_approved:
        return True
    if container.manifest_id is not None and user.org_approved:
        from hazwaste.manifests.models import Manifest

        manifest = session.get(Manifest, container.manifest_id)
        if manifest is not None and user.organization_id in manifest.party_ids:
            return True
    if user.regulator_body is not None:
        return container.producer.region_code.startswith(user.regulator_body.jurisdiction_prefix)
    return False


def containers_in_store(
    session: Session, producer_id: int, ids: Iterable[int] | None = None
) -> list[Container]:
    stmt = select(Container).where(
        Container.producer_id == producer_id, Container.status == ContainerStatus.STORED
    )
    if ids is not None:
        stmt = stmt.where(Container.id.in_(list(ids)))
    return list(
        session.scalars(
            stmt.order_by(Container.waste_code, Container.generation_date, Container.sequence)
        )
    )


# -- manifests built from containers -------------------------------------------------------------


def lines_from_containers(containers: Sequence[Container]) -> list[dict[str, Any]]:
    """Manifest lines grouped by waste code: container count and summed net weight."""
    groups: dict[str, list[Container]] = defaultdict(list)
    for container in containers:
        groups[container.waste_code].append(container)
    lines = []
    for waste_code, items in groups.items():
        first = items[0]
        hazards = sorted({h for c in items for h in c.hazard_list}, key=lambda h: "TCIRIn".find(h))
        packagings = sorted({c.packaging_type.value for c in items})
        lines.append(
            {
                "waste_code": waste_code,
                "waste_name": first.waste_name,
                "physical_form": first.physical_form.value,
                "hazards": hazards,
                "packaging": "/".join(packagings),
                "container_count": len(items),
                "declared_kg": sum((c.net_weight_kg for c in items), Decimal(0)),
                "declared_unit": "kg",
            }
        )
    return lines


def assign_to_manifest(
    session: Session,
    now: datetime,
    manifest_id: int,
    container_ids: Sequence[int],
    producer_id: int,
) -> list[Container]:
    """Put stored containers on a manifest. A container can be on only one open manifest:
    the conditional update claims only ``stored`` containers, so of two manifests racing for
    the same drum exactly one gets it and the other gets ``Conflict``."""
    if not container_ids:
        return []
    result = session.execute(
        update(Container)
        .where(
            Container.id.in_(list(container_ids)),
            Container.producer_id == producer_id,
            Container.status == ContainerStatus.STORED,
        )
        .values(status=ContainerStatus.ASSIGNED, manifest_id=manifest_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(set(container_ids)):  # type: ignore[attr-defined]
        msg = _("Some containers are no longer in store (already on another manifest?).")
        raise Conflict(msg, fields={"container_ids": [msg]})
    session.expire_all()
    return list(session.scalars(select(Container).where(Container.manifest_id == manifest_id)))


def release_from_manifest(session: Session, now: datetime, manifest_id: int) -> int:
    """Put a draft's or cancelled manifest's containers back in store."""
    result = session.execute(
        update(Container)
        .where(Container.manifest_id == manifest_id, Container.status == ContainerStatus.ASSIGNED)
        .values(status=ContainerStatus.STORED, manifest_id=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def manifest_containers(session: Session, manifest_id: int) -> list[Container]:
    return list(
        session.scalars(
            select(Container)
            .where(Container.manifest_id == manifest_id)
            .order_by(Container.waste_code, Container.sequence)
        )
    )


@dataclass
class LoadingCheck:
    """Scanned versus expected containers of a manifest (令23号 Art. 13)."""

    expected: list[str]
    scanned: list[str]
    missing: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.foreign or self.invalid)


def loading_check(
    session: Session,
    manifest_id: int,
    scanned: Iterable[str],
    containers: list[Container] | None = None,
) -> LoadingCheck:
    """``containers``: the manifest's, when the caller has them already (else queried)."""
    if containers is None:
        containers = manifest_containers(session, manifest_id)
    expected = [c.code for c in containers]
    seen: list[str] = []
    invalid: list[str] = []
    for raw in scanned:
        parsed = codes.parse_code(raw)
        if parsed is None:
            invalid.append(raw)
        elif str(parsed) not in seen:
            seen.append(str(parsed))
    check = LoadingCheck(expected=expected, scanned=seen, invalid=invalid)
    check.missing = [c for c in expected if c not in seen]
    check.foreign = [c for c in seen if c not in expected]
    return check


def ship_containers(
    session: Session,
    now: datetime,
    user: User,
    manifest_id: int,
    shipped_on: date,
    containers: list[Container] | None = None,
) -> list[Container]:
    """At pickup: containers leave the store; one *shipped out* ledger entry each.
    ``containers``: the manifest's, when the caller has them already (else queried)."""
    if containers is None:
        containers = manifest_containers(session, manifest_id)
    entries = []
    for container in containers:
        container.status = ContainerStatus.SHIPPED
        container.updated_at = now
        entries.append(
            {
                "producer_id": container.producer_id,
                "waste_code": container.waste_code,
                "kind": LedgerKind.SHIPPED_OUT,
                "quantity_kg": container.net_weight_kg,
                "occurred_on": shipped_on,
                "container_id": container.id,
                "manifest_id": manifest_id,
                "created_by_id": user.id,
                "created_at": now,
            }
        )
    if entries:
        # One batched INSERT whatever the number of containers (no ids needed back).
        session.execute(insert(LedgerEntry), entries)
    return containers


def receive_containers(
    session: Session,
    now: datetime,
    manifest_id: int,
    scanned: Iterable[str] | None,
    any_containers: bool = True,
) -> list[str]:
    """At receipt: scanned containers become *received*; if the receiver scanned, the
    expected ones it did not scan are recorded *missing*. Returns the missing codes (in the
    manifest's order: waste code, sequence).

    One ``UPDATE … RETURNING`` whatever the number of containers; none when the caller
    knows the manifest has none (``any_containers=False``).
    """
    if not any_containers:
        return []
    if scanned is None:
        status: Any = ContainerStatus.RECEIVED
    else:
        seen = sorted({str(p) for p in (codes.parse_code(s) for s in scanned) if p is not None})
        status = case(
            (Container.code.in_(seen), ContainerStatus.RECEIVED), else_=ContainerStatus.MISSING
        )
    rows = session.execute(
        update(Container)
        .where(Container.manifest_id == manifest_id)
        .values(status=status, updated_at=now)
        .returning(Container.code, Container.status, Container.waste_code, Container.sequence)
        .execution_options(synchronize_session="fetch")
    ).all()
    missing = [row for row in rows if row.status is ContainerStatus.MISSING]
    return [row.code for row in sorted(missing, key=lambda r: (r.waste_code, r.sequence))]


def dispose_containers(session: Session, now: datetime, manifest_id: int) -> None:
    for container in manifest_containers(session, manifest_id):
        if container.status is ContainerStatus.RECEIVED:
            container.status = ContainerStatus.DISPOSED
            container.updated_at = now


def self_dispose(
    session: Session,
    now: datetime,
    user: User,
    container: Container,
    method_code: str,
    on: date,
    note: str = "",
) -> Container:
    """Use or dispose of a stored container on the producer's own site.

    ``Invalid`` if the method is not a known utilisation/disposal code or the date is before
    the container was filled or in the future; ``Conflict`` if it is no longer in store.
    Writes a *self-used* ledger entry and an audit entry.
    """
    producer = producer_of(user)
    if container.producer_id != producer.id:
        raise NotFound()
    errors: dict[str, list[str]] = {}
    if session.get(TreatmentMethod, method_code) is None:
        errors["method_code"] = [_("Choose a utilisation or disposal method of the list.")]
    if on < container.generation_date:
        errors["on"] = [_("The date is before the container was filled.")]
    elif on > local_date(now):
        errors["on"] = [_("The date is in the future.")]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    result = session.execute(
        update(Container)
        .where(Container.id == container.id, Container.status == ContainerStatus.STORED)
        .values(status=ContainerStatus.SELF_DISPOSED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_("This container is not in store."), status=container.status.value)
    session.add(
        LedgerEntry(
            producer_id=producer.id,
            waste_code=container.waste_code,
            kind=LedgerKind.SELF_USED,
            quantity_kg=container.net_weight_kg,
            occurred_on=on,
            container_id=container.id,
            method_code=method_code,
            note=note,
            created_by_id=user.id,
            created_at=now,
        )
    )
    session.expire(container)
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="container.self_disposed",
        object_type="container",
        object_id=container.id,
        payload={"code": container.code, "method": method_code, "on": on},
    )
    return container


# -- direct ledger entries and balances ------------------------------------------------------------

DIRECT_KINDS = (LedgerKind.GENERATED, LedgerKind.SELF_USED, LedgerKind.STOCK_COUNT)


def add_entry(session: Session, now: datetime, user: User, data: dict[str, Any]) -> LedgerEntry:
    """A daily quantity entered by hand (bulk or pipeline waste without containers).

    ``data`` is a ``LedgerEntrySchema`` result. ``Invalid`` with field messages if the code is
    not in the catalogue in force on the date, the date is after today (China time), the kind
    is not one of :data:`DIRECT_KINDS`, or a self-use lacks a known method.
    """
    producer = producer_of(user)
    errors: dict[str, list[str]] = {}
    if catalog.get_waste_code(session, data["waste_code"], data["occurred_on"]) is None:
        errors["waste_code"] = [_("Not a waste code of the catalogue in force on that date.")]
    if data["occurred_on"] > local_date(now):
        errors["occurred_on"] = [_("The date is in the future.")]
    if LedgerKind(data["kind"]) not in DIRECT_KINDS:
        errors["kind"] = [_("Choose generated, self-used or stock count.")]
    method = data.get("method_code") or None
    if data["kind"] == LedgerKind.SELF_USED.value and not method:
        errors["method_code"] = [_("Give the utilisation or disposal method.")]
    elif method and session.get(TreatmentMethod, method) is None:
        errors["method_code"] = [_("Choose a utilisation or disposal method of the list.")]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    entry = LedgerEntry(
        producer_id=producer.id,
        waste_code=data["waste_code"],
        kind=LedgerKind(data["kind"]),
        quantity_kg=data["quantity_kg"],
        occurred_on=data["occurred_on"],
        method_code=method,
        note=data.get("note") or "",
        created_by_id=user.id,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="ledger.entry_added",
        object_type="ledger_entry",
        object_id=entry.id,
        payload={
            "kind": entry.kind.value,
            "waste_code": entry.waste_code,
            "quantity_kg": entry.quantity_kg,
            "occurred_on": entry.occurred_on,
        },
    )
    return entry


@dataclass
class MonthBalance:
    waste_code: str
    opening_kg: Decimal
    generated_kg: Decimal
    shipped_kg: Decimal
    self_used_kg: Decimal

    @property
    def closing_kg(self) -> Decimal:
        return self.opening_kg + self.generated_kg - self.shipped_kg - self.self_used_kg


def month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def monthly_summary(
    session: Session, producer_id: int, year: int, month: int
) -> list[MonthBalance]:
    """Per waste code: opening stock, generated, shipped out, self-used, closing stock (kg).

    One grouped query; opening stock is everything generated minus everything that left
    before the month. Exact: sums run over integer grams in the database.
    """
    first, last = month_bounds(year, month)
    qty = grams(LedgerEntry.quantity_kg)
    sign = case(
        (LedgerEntry.kind == LedgerKind.GENERATED, 1),
        (LedgerEntry.kind.in_([LedgerKind.SHIPPED_OUT, LedgerKind.SELF_USED]), -1),
        else_=0,
    )

    def in_month(kind: LedgerKind) -> Any:
        return grams(
            func.coalesce(
                func.sum(
                    case(
                        ((LedgerEntry.kind == kind) & (LedgerEntry.occurred_on >= first), qty),
                        else_=0,
                    )
                ),
                0,
            )
        )

    rows = session.execute(
        select(
            LedgerEntry.waste_code,
            grams(
                func.coalesce(
                    func.sum(case((LedgerEntry.occurred_on < first, qty * sign), else_=0)), 0
                )
            ).label("opening"),
            in_month(LedgerKind.GENERATED).label("generated"),
            in_month(LedgerKind.SHIPPED_OUT).label("shipped"),
            in_month(LedgerKind.SELF_USED).label("self_used"),
        )
        .where(LedgerEntry.producer_id == producer_id, LedgerEntry.occurred_on <= last)
        .group_by(LedgerEntry.waste_code)
        .order_by(LedgerEntry.waste_code)
    ).all()
    return [
        MonthBalance(
            r.waste_code,
            kg_from_grams(r.opening),
            kg_from_grams(r.generated),
            kg_from_grams(r.shipped),
            kg_from_grams(r.self_used),
        )
        for r in rows
    ]

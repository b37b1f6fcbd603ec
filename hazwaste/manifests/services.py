"""Manifest drafts, numbering, events, validation of the whole manifest, and queries.

State changes after the draft stage live in :mod:`hazwaste.manifests.lifecycle`.
All functions take the session and ``now``; none commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload, selectinload, with_expression

from hazwaste.accounts.models import Organization, OrgStatus, User
from hazwaste.audit import services as audit
from hazwaste.audit.services import canonical_json
from hazwaste.catalog import services as catalog
from hazwaste.errors import INT_MAX, Forbidden, Invalid, NotFound
from hazwaste.manifests import access
from hazwaste.manifests.geo import site_distance_m
from hazwaste.manifests.models import (
    EventKind,
    Manifest,
    ManifestEvent,
    ManifestLine,
    ManifestSerial,
    ManifestStatus,
    PhysicalForm,
)
from hazwaste.permits import services as permits
from hazwaste.permits.models import Driver, Vehicle

#: Manifest numbers and years follow China Standard Time, not UTC.
CHINA_TZ = ZoneInfo("Asia/Shanghai")
SERIAL_DIGITS = 6
MAX_LINES = 50

Errors = dict[str, Any]


def local_date(moment: datetime) -> date:
    return moment.astimezone(CHINA_TZ).date()


# -- events --------------------------------------------------------------------------------


def record_event(
    session: Session,
    now: datetime,
    manifest: Manifest,
    kind: EventKind,
    actor: User,
    *,
    payload: dict[str, Any] | None = None,
    note: str = "",
    position: dict[str, Any] | None = None,
    vehicle_id: int | None = None,
    total_kg: Decimal | None = None,
    corrects_event_id: int | None = None,
) -> ManifestEvent:
    """Append a hand-off event and its audit-chain entry."""
    position = position or {}
    event = ManifestEvent(
        manifest_id=manifest.id,
        kind=kind,
        occurred_at=now,
        recorded_at=now,
        actor_user_id=actor.id,
        actor_org_id=actor.organization_id,
        latitude=position.get("latitude"),
        longitude=position.get("longitude"),
        accuracy_m=position.get("accuracy_m"),
        position_note=position.get("position_note") or "",
        vehicle_id=vehicle_id,
        note=note,
        payload=canonical_json(payload or {}),
        total_kg=total_kg,
        corrects_event_id=corrects_event_id,
        site_distance_m=site_distance_m(
            manifest, kind, position.get("latitude"), position.get("longitude")
        ),
    )
    session.add(event)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=actor.id,
        action=f"manifest.{kind.value}",
        object_type="manifest",
        object_id=manifest.id,
        payload={
            "event_id": event.id,
            "number": manifest.number,
            "note": note,
            "latitude": event.latitude,
            "longitude": event.longitude,
            "position_note": event.position_note,
            "total_kg": total_kg,
            **(payload or {}),
        },
    )
    return event


# -- numbering ---------------------------------------------------------------------------------


def allocate_number(session: Session, producer: Organization, now: datetime) -> str:
    """Next manifest number ``YYYY`` + province(2) + city(2) + serial(6) for the producer's city.

    One atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per number: concurrent
    submissions in the same city get distinct serials on SQLite and PostgreSQL alike.
    """
    year = local_date(now).year
    city = producer.region_code[:4]
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    insert = builder(ManifestSerial).values(year=year, city_code=city, last_serial=1)
    upsert = insert.on_conflict_do_update(
        index_elements=[ManifestSerial.year, ManifestSerial.city_code],
        set_={"last_serial": ManifestSerial.last_serial + 1},
    ).returning(ManifestSerial.last_serial)
    serial = session.execute(upsert).scalar_one()
    if serial >= 10**SERIAL_DIGITS:
        raise Invalid(_("No manifest numbers left for this city this year."), {})
    return f"{year:04d}{city}{serial:0{SERIAL_DIGITS}d}"


# -- drafts ------------------------------------------------------------------------------------


def _line_from(
    session: Session, data: dict[str, Any], line_no: int, on_date: date, errors: Errors
) -> ManifestLine:
    code = catalog.get_waste_code(session, data["waste_code"], on_date)
    if code is None:
        errors.setdefault("lines", {}).setdefault(line_no - 1, {})["waste_code"] = [
            _("Not a waste code of the catalogue in force on the planned date.")
        ]
    hazards = data.get("hazards") or (code.hazards if code else [])
    return ManifestLine(
        line_no=line_no,
        waste_code=data["waste_code"],
        waste_name=data.get("waste_name") or (code.description[:200] if code else ""),
        physical_form=PhysicalForm(data["physical_form"]),
        hazards=",".join(hazards),
        packaging=data.get("packaging") or "",
        container_count=data.get("container_count") or 0,
        declared_kg=data["declared_kg"],
        declared_unit=data.get("declared_unit") or "kg",
    )


def _header_refs(session: Session, data: dict[str, Any], errors: Errors) -> None:
    """Check that referenced organizations, vehicle and driver exist (rules come at submit)."""
    for field in ("carrier_id", "receiver_id"):
        if data.get(field) is not None and session.get(Organization, data[field]) is None:
            errors[field] = [_("Unknown organization.")]
    if data.get("vehicle_id") is not None and session.get(Vehicle, data["vehicle_id"]) is None:
        errors["vehicle_id"] = [_("Unknown vehicle.")]
    if data.get("driver_id") is not None and session.get(Driver, data["driver_id"]) is None:
        errors["driver_id"] = [_("Unknown driver.")]


def _container_lines(
    session: Session,
    producer_id: int,
    data: dict[str, Any],
    manifest_id: int | None,
    errors: Errors,
) -> list[dict[str, Any]]:
    """Lines built from the chosen containers (counts and net weights per waste code)."""
    from hazwaste.ledger import services as ledger
    from hazwaste.ledger.models import Container, ContainerStatus

    ids = list(dict.fromkeys(data.get("container_ids") or []))
    if not ids:
        return []
    rows = list(session.scalars(select(Container).where(Container.id.in_(ids))))
    usable = [
        c
        for c in rows
        if c.producer_id == producer_id
        and (
            c.status is ContainerStatus.STORED
            or (
                manifest_id is not None
                and c.manifest_id == manifest_id
                and c.status is ContainerStatus.ASSIGNED
            )
        )
    ]
    if len(usable) != len(ids):
        errors["container_ids"] = [
            _(
                "Some containers are not in your store (already on another "
                "manifest, shipped, or not yours)."
            )
        ]
        return []
    return ledger.lines_from_containers(usable)


def _assign_containers(
    session: Session, now: datetime, manifest: Manifest, data: dict[str, Any]
) -> int:
    from hazwaste.ledger import services as ledger

    ledger.release_from_manifest(session, now, manifest.id)
    ids = list(dict.fromkeys(data.get("container_ids") or []))
    ledger.assign_to_manifest(session, now, manifest.id, ids, manifest.producer_id)
    return len(ids)


def _draft_lines(
    session: Session, org_id: int, data: dict[str, Any], manifest_id: int | None, errors: Errors
) -> list[ManifestLine]:
    from_containers = _container_lines(session, org_id, data, manifest_id, errors)
    if not from_containers and not data["lines"] and "container_ids" not in errors:
        errors["lines"] = {"_schema": [_("Add at least one waste line or container.")]}
    return [
        _line_from(session, line, i + 1, data["planned_date"], errors)
        for i, line in enumerate([*from_containers, *data["lines"]])
    ]


def can_create(user: User) -> bool:
    """Whether ``user`` may create manifests: office staff of an approved producer."""
    org = user.organization
    return bool(
        org is not None
        and org.is_approved
        and org.is_producer
        and user.active
        and user.role.value in ("admin", "member")
    )


def ensure_can_create(user: User) -> None:
    """``Forbidden`` unless :func:`can_create`; callers check it before reading a body."""
    if not can_create(user):
        raise Forbidden(_("Only staff of an approved producer can create manifests."))


def create_draft(session: Session, now: datetime, user: User, data: dict[str, Any]) -> Manifest:
    """Save a new draft for the user's producer organization (``ManifestDraftSchema`` data).

    With ``container_ids`` the stored containers are put on the manifest (each container on
    one open manifest only) and lines are built from them, before any typed lines.
    """
    ensure_can_create(user)
    org = user.organization
    assert org is not None  # checked by ensure_can_create
    errors: Errors = {}
    _header_refs(session, data, errors)
    edition = catalog.edition_on(session, data["planned_date"])
    lines = _draft_lines(session, org.id, data, None, errors)
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    manifest = Manifest(
        status=ManifestStatus.DRAFT,
        producer_id=org.id,
        carrier_id=data["carrier_id"],
        receiver_id=data["receiver_id"],
        vehicle_id=data.get("vehicle_id"),
        driver_id=data.get("driver_id"),
        planned_date=data["planned_date"],
        emergency_measures=data.get("emergency_measures") or "",
        catalog_edition=edition.code if edition else "",
        created_by_id=user.id,
        created_at=now,
        updated_at=now,
        lines=lines,
    )
    session.add(manifest)
    session.flush()
    containers = _assign_containers(session, now, manifest, data)
    record_event(
        session,
        now,
        manifest,
        EventKind.CREATED,
        user,
        payload={"lines": len(lines), "containers": containers},
    )
    return manifest


def update_draft(
    session: Session, now: datetime, user: User, manifest: Manifest, data: dict[str, Any]
) -> Manifest:
    """Replace a draft's header, lines and containers. Only drafts change this way (409)."""
    from hazwaste.errors import Conflict

    if not access.acts_for_producer(user, manifest):
        raise Forbidden()
    if manifest.status is not ManifestStatus.DRAFT:
        raise Conflict(
            _("Only drafts can be edited; use a correction after submission."),
            status=manifest.status.value,
        )
    errors: Errors = {}
    _header_refs(session, data, errors)
    lines = _draft_lines(session, manifest.producer_id, data, manifest.id, errors)
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    edition = catalog.edition_on(session, data["planned_date"])
    for key in ("carrier_id", "receiver_id", "vehicle_id", "driver_id", "planned_date"):
        setattr(manifest, key, data.get(key))
    manifest.emergency_measures = data.get("emergency_measures") or ""
    manifest.catalog_edition = edition.code if edition else manifest.catalog_edition
    manifest.lines.clear()
    session.flush()
    manifest.lines.extend(lines)
    manifest.version += 1
    manifest.updated_at = now
    session.flush()
    containers = _assign_containers(session, now, manifest, data)
    record_event(
        session,
        now,
        manifest,
        EventKind.EDITED,
        user,
        payload={"lines": len(lines), "containers": containers},
    )
    return manifest


# -- validation of a whole manifest ----------------------------------------------------------------


def validate_for_submit(session: Session, manifest: Manifest, today: date) -> Errors:
    """Every rule a manifest must meet to be issued; returns field errors (empty if none).

    Receiver licence valid on the planned date and covering every line's code; carrier permit
    valid; vehicle and driver belong to the carrier and are usable; declared total within the
    vehicle's maximum load; at least one line; quantities positive; emergency measures given.
    """
    errors: Errors = {}
    when = manifest.planned_date
    if when < today:
        errors["planned_date"] = [_("The planned date is in the past.")]
    producer = manifest.producer
    if not (producer.is_approved and producer.is_producer):
        errors["_schema"] = [_("The producer organization is not approved.")]
    receiver = manifest.receiver
    if not (receiver.is_approved and receiver.is_receiver):
        errors["receiver_id"] = [_("Choose an approved receiver.")]
    carrier = manifest.carrier
    if not (carrier.is_approved and carrier.is_carrier):
        errors["carrier_id"] = [_("Choose an approved carrier.")]
    elif not permits.carrier_permit_valid(session, carrier.id, when):
        errors["carrier_id"] = [
            _("The carrier has no transport permit valid on %(d)s.", d=when.isoformat())
        ]
    vehicle = manifest.vehicle
    if vehicle is None:
        errors["vehicle_id"] = [_("Choose the vehicle.")]
    elif vehicle.organization_id != carrier.id or not vehicle.active:
        errors["vehicle_id"] = [_("This vehicle is not an active vehicle of the carrier.")]
    driver = manifest.driver
    if driver is None:
        errors["driver_id"] = [_("Choose the driver.")]
    elif driver.organization_id != carrier.id or not driver.active or not driver.user.active:
        errors["driver_id"] = [_("This driver does not drive for the carrier.")]
    elif driver.qualification_valid_to < when:
        errors["driver_id"] = [
            _("The driver's qualification certificate expires before %(d)s.", d=when.isoformat())
        ]
    if not manifest.emergency_measures.strip():
        errors["emergency_measures"] = [_("Describe the emergency measures.")]
    if not manifest.lines:
        errors["lines"] = {"_schema": [_("Add at least one waste line.")]}
    for index, line in enumerate(manifest.lines):
        line_errors: dict[str, list[str]] = {}
        if line.declared_kg <= 0:
            line_errors["declared_qty"] = [_("Must be greater than zero.")]
        if catalog.get_waste_code(session, line.waste_code, when) is None:
            line_errors["waste_code"] = [
                _("Not a waste code of the catalogue in force on the planned date.")
            ]
        elif "receiver_id" not in errors and not permits.licence_covers(
            session, receiver.id, line.waste_code, when
        ):
            line_errors["waste_code"] = [
                _(
                    "The receiver's licence does not cover %(code)s on %(d)s.",
                    code=line.waste_code,
                    d=when.isoformat(),
                )
            ]
        if line_errors:
            errors.setdefault("lines", {})[index] = line_errors
    if vehicle is not None and "vehicle_id" not in errors:
        total = manifest.declared_total_kg
        if total > vehicle.max_load_kg:
            errors["vehicle_id"] = [
                _(
                    "The declared total %(total)s kg exceeds the vehicle's "
                    "maximum load of %(max)s kg.",
                    total=_plain(total),
                    max=_plain(vehicle.max_load_kg),
                )
            ]
    return errors


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


# -- queries ---------------------------------------------------------------------------------


def handoff_options() -> list[Any]:
    """Loader options for a hand-off: the manifest, its lines, its parties, the planned
    vehicle and driver (what the guard, the verb and the API's answer read) and its number
    of containers, all in one query. The hand-off test fails on any lazy load or refresh
    on this path (``tests/functional/test_handoff_statements.py``): a new access shows up
    there rather than as a query per request.

    Not ``raiseload``: the loaded rows are often the requesting user's own (already in the
    session), and raise-on-load options stick to an object for the session's lifetime.
    """
    from hazwaste.ledger.models import Container

    containers = (
        select(func.count(Container.id))
        .where(Container.manifest_id == Manifest.id)
        .correlate(Manifest)
        .scalar_subquery()
    )
    return [
        joinedload(Manifest.lines),
        joinedload(Manifest.producer),
        joinedload(Manifest.carrier),
        joinedload(Manifest.receiver),
        joinedload(Manifest.vehicle),
        joinedload(Manifest.driver).joinedload(Driver.user),
        with_expression(Manifest.container_total, containers),
    ]


def get_visible(session: Session, user: User, key: str | int, *, handoff: bool = False) -> Manifest:
    """The manifest with this id or number if ``user`` may see it; ``NotFound`` otherwise.

    ``handoff``: loaded with :func:`handoff_options` (one query, no lazy loads after).
    """
    options = handoff_options() if handoff else [selectinload(Manifest.lines)]
    stmt = select(Manifest).options(*options)
    text = str(key)
    digits = text.isascii() and text.isdigit()  # str.isdigit alone accepts "²", int() not
    if digits and len(text) == 14:
        stmt = stmt.where(Manifest.number == text)
    elif digits and len(text) <= 10 and int(text) <= INT_MAX:  # a larger id overflows
        stmt = stmt.where(Manifest.id == int(text))
    else:
        raise NotFound()
    manifest = session.scalars(stmt).unique().first()
    if manifest is None or not access.can_view(user, manifest):
        raise NotFound()
    return manifest


@dataclass
class ManifestFilters:
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    counterpart_id: int | None = None
    waste_code: str | None = None
    q: str | None = None


def list_query(user: User, filters: ManifestFilters) -> Select[Any]:
    """Manifests visible to ``user`` matching ``filters``, newest first."""
    stmt = select(Manifest).where(access.visible_filter(user))
    if filters.status:
        stmt = stmt.where(Manifest.status == ManifestStatus(filters.status))
    if filters.date_from:
        stmt = stmt.where(Manifest.planned_date >= filters.date_from)
    if filters.date_to:
        stmt = stmt.where(Manifest.planned_date <= filters.date_to)
    if filters.counterpart_id:
        cid = filters.counterpart_id
        stmt = stmt.where(
            or_(
                Manifest.producer_id == cid, Manifest.carrier_id == cid, Manifest.receiver_id == cid
            )
        )
    if filters.waste_code:
        stmt = stmt.where(
            Manifest.id.in_(
                select(ManifestLine.manifest_id).where(
                    ManifestLine.waste_code == filters.waste_code
                )
            )
        )
    if filters.q:
        stmt = stmt.where(Manifest.number.startswith(filters.q.strip()))
    return stmt.order_by(Manifest.created_at.desc(), Manifest.id.desc())


def counterparts(session: Session, user: User) -> list[Organization]:
    """Organizations appearing with the user's organization on visible manifests."""
    ids = (
        select(func.distinct(Manifest.producer_id))
        .where(access.visible_filter(user))
        .union(
            select(Manifest.carrier_id).where(access.visible_filter(user)),
            select(Manifest.receiver_id).where(access.visible_filter(user)),
        )
    )
    return list(
        session.scalars(
            select(Organization)
            .where(Organization.id.in_(ids))
            .where(Organization.id != user.organization_id)
            .order_by(Organization.name)
        )
    )


def party_choices(session: Session, role: str) -> list[Organization]:
    """Approved organizations holding ``role`` (carrier or receiver), by name."""
    flag = {
        "carrier": Organization.is_carrier,
        "receiver": Organization.is_receiver,
        "producer": Organization.is_producer,
    }[role]
    return list(
        session.scalars(
            select(Organization)
            .where(flag.is_(True), Organization.status == OrgStatus.APPROVED)
            .order_by(Organization.name)
        )
    )

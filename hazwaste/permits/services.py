"""Permit rules: licence coverage, validity, and managing permits, vehicles and drivers.

Functions take the session and ``now``; none commits. Rule violations raise ``Invalid``
with field messages, or ``Forbidden``/``NotFound`` for the wrong organization.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import Organization, User, UserRole
from hazwaste.audit import services as audit
from hazwaste.catalog.models import TreatmentMethod, WasteCategory, WasteCode
from hazwaste.errors import Forbidden, Invalid, NotFound
from hazwaste.permits.models import (
    CarrierPermit,
    Driver,
    Licence,
    LicenceMethod,
    LicenceScope,
    Vehicle,
)

#: Chinese plates (GA 36): province abbreviation, issuing-authority letter (no I/O), then five
#: characters (ordinary, may end in 挂 for trailers, 学/警/港/澳 for special use) or six
#: (new-energy vehicles). Hazardous goods trucks are usually yellow-plate or trailers.
PROVINCE_ABBREVIATIONS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_PATTERN = re.compile(
    rf"^[{PROVINCE_ABBREVIATIONS}][A-HJ-NP-Z]"
    r"(?:[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳]|[DF][A-HJ-NP-Z0-9]{5}|[A-HJ-NP-Z0-9]{5}[DF])$"
)


def normalise_plate(value: str) -> str:
    return re.sub(r"[\s·.\-]", "", value).upper()


def is_valid_plate(value: str) -> bool:
    return bool(PLATE_PATTERN.match(normalise_plate(value)))


# -- coverage ---------------------------------------------------------------------------------


def covering_licences(
    session: Session, receiver_id: int, waste_code: str, on_date: date
) -> list[Licence]:
    """The receiver's licences valid on ``on_date`` whose scope names the code or its category."""
    category = "HW" + waste_code[-2:]
    stmt = (
        select(Licence)
        .where(
            Licence.organization_id == receiver_id,
            Licence.revoked_at.is_(None),
            Licence.valid_from <= on_date,
            Licence.valid_to >= on_date,
            exists().where(
                LicenceScope.licence_id == Licence.id,
                or_(LicenceScope.waste_code == waste_code, LicenceScope.category == category),
            ),
        )
        .order_by(Licence.valid_to.desc())
    )
    return list(session.scalars(stmt))


def licence_covers(
    session: Session, receiver: Organization | int, waste_code: str, on_date: date
) -> bool:
    """True if the receiver holds a licence valid on ``on_date`` covering ``waste_code``.

    Coverage is by the exact code or by its HW category (the last two digits of the code).
    A revoked licence, or one not yet valid or already expired on that date, covers nothing.
    """
    receiver_id = receiver if isinstance(receiver, int) else receiver.id
    return bool(covering_licences(session, receiver_id, waste_code, on_date))


def licence_allows_method(
    session: Session, receiver_id: int, waste_code: str, on_date: date, method_code: str
) -> bool:
    """True if a licence covering the code on that date also lists the method."""
    return any(
        method_code in lic.method_codes
        for lic in covering_licences(session, receiver_id, waste_code, on_date)
    )


def carrier_permit_valid(session: Session, carrier_id: int, on_date: date) -> bool:
    return (
        session.scalar(
            select(
                exists().where(
                    CarrierPermit.organization_id == carrier_id,
                    CarrierPermit.revoked_at.is_(None),
                    CarrierPermit.valid_from <= on_date,
                    CarrierPermit.valid_to >= on_date,
                )
            )
        )
        or False
    )


# -- management -------------------------------------------------------------------------------


def _own_org(actor: User, role: str) -> Organization:
    org = actor.organization
    if org is None or not org.is_approved or role not in org.roles:
        raise Forbidden()
    if actor.role is not UserRole.ADMIN:
        raise Forbidden(_("Only your organization's administrators can manage permits."))
    return org


def _check_dates(valid_from: date, valid_to: date, errors: dict[str, list[str]]) -> None:
    if valid_to < valid_from:
        errors.setdefault("valid_to", []).append(_("The end date is before the start date."))


def _scope_items(
    session: Session, categories: list[str], codes: list[str], errors: dict[str, list[str]]
) -> list[LicenceScope]:
    known_categories = set(session.scalars(select(WasteCategory.code)))
    known_codes = set(session.scalars(select(WasteCode.code)))
    bad_categories = [c for c in categories if c not in known_categories]
    bad_codes = [c for c in codes if c not in known_codes]
    if bad_categories:
        errors["scope_categories"] = [
            _("Unknown categories: %(list)s", list=", ".join(bad_categories))
        ]
    if bad_codes:
        errors["scope_codes"] = [_("Unknown waste codes: %(list)s", list=", ".join(bad_codes))]
    if not categories and not codes:
        errors["scope_codes"] = [_("Give at least one waste code or category.")]
    return [LicenceScope(category=c) for c in dict.fromkeys(categories)] + [
        LicenceScope(waste_code=c) for c in dict.fromkeys(codes)
    ]


def create_licence(session: Session, now: datetime, actor: User, data: dict[str, Any]) -> Licence:
    """Record a receiver's licence. ``data`` comes from ``LicenceSchema``."""
    org = _own_org(actor, "receiver")
    errors: dict[str, list[str]] = {}
    if session.scalar(select(Licence.id).where(Licence.number == data["number"])):
        errors["number"] = [_("A licence with this number is already recorded.")]
    _check_dates(data["valid_from"], data["valid_to"], errors)
    scopes = _scope_items(session, data["scope_categories"], data["scope_codes"], errors)
    known_methods = set(session.scalars(select(TreatmentMethod.code)))
    bad_methods = [m for m in data["methods"] if m not in known_methods]
    if bad_methods:
        errors["methods"] = [_("Unknown methods: %(list)s", list=", ".join(bad_methods))]
    if not data["methods"]:
        errors["methods"] = [_("Choose at least one method.")]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    licence = Licence(
        organization_id=org.id,
        number=data["number"],
        valid_from=data["valid_from"],
        valid_to=data["valid_to"],
        annual_capacity_kg=data["annual_capacity_kg"],
        note=data.get("note") or "",
        created_at=now,
        scopes=scopes,
        methods=[LicenceMethod(method_code=m) for m in dict.fromkeys(data["methods"])],
    )
    session.add(licence)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=actor.id,
        action="licence.created",
        object_type="licence",
        object_id=licence.id,
        payload={
            "number": licence.number,
            "valid_from": licence.valid_from,
            "valid_to": licence.valid_to,
            "annual_capacity_kg": licence.annual_capacity_kg,
            "scope_categories": licence.scope_categories,
            "scope_codes": licence.scope_codes,
            "methods": data["methods"],
        },
    )
    return licence


def revoke_licence(session: Session, now: datetime, actor: User, licence_id: int) -> Licence:
    org = _own_org(actor, "receiver")
    licence = session.get(Licence, licence_id)
    if licence is None or licence.organization_id != org.id:
        raise NotFound()
    if licence.revoked_at is None:
        licence.revoked_at = now
        audit.record(
            session,
            now,
            actor_user_id=actor.id,
            action="licence.revoked",
            object_type="licence",
            object_id=licence.id,
            payload={},
        )
    return licence


def create_carrier_permit(
    session: Session, now: datetime, actor: User, data: dict[str, Any]
) -> CarrierPermit:
    org = _own_org(actor, "carrier")
    errors: dict[str, list[str]] = {}
    if session.scalar(select(CarrierPermit.id).where(CarrierPermit.number == data["number"])):
        errors["number"] = [_("A permit with this number is already recorded.")]
    _check_dates(data["valid_from"], data["valid_to"], errors)
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    permit = CarrierPermit(
        organization_id=org.id,
        number=data["number"],
        valid_from=data["valid_from"],
        valid_to=data["valid_to"],
        created_at=now,
    )
    session.add(permit)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=actor.id,
        action="carrier_permit.created",
        object_type="carrier_permit",
        object_id=permit.id,
        payload={
            "number": permit.number,
            "valid_from": permit.valid_from,
            "valid_to": permit.valid_to,
        },
    )
    return permit


def create_vehicle(session: Session, now: datetime, actor: User, data: dict[str, Any]) -> Vehicle:
    org = _own_org(actor, "carrier")
    plate = normalise_plate(data["plate"])
    errors: dict[str, list[str]] = {}
    if not is_valid_plate(plate):
        errors["plate"] = [_("Not a valid Chinese licence plate (e.g. 蒙K12345 or 蒙KD12345).")]
    elif session.scalar(select(Vehicle.id).where(Vehicle.plate == plate)):
        errors["plate"] = [_("A vehicle with this plate is already registered.")]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    vehicle = Vehicle(
        organization_id=org.id,
        plate=plate,
        vehicle_type=data.get("vehicle_type") or "",
        max_load_kg=data["max_load_kg"],
        created_at=now,
    )
    session.add(vehicle)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=actor.id,
        action="vehicle.created",
        object_type="vehicle",
        object_id=vehicle.id,
        payload={"plate": plate, "max_load_kg": vehicle.max_load_kg},
    )
    return vehicle


def set_vehicle_active(
    session: Session, now: datetime, actor: User, vehicle_id: int, active: bool
) -> Vehicle:
    org = _own_org(actor, "carrier")
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.organization_id != org.id:
        raise NotFound()
    vehicle.active = active
    audit.record(
        session,
        now,
        actor_user_id=actor.id,
        action="vehicle.activated" if active else "vehicle.deactivated",
        object_type="vehicle",
        object_id=vehicle.id,
        payload={},
    )
    return vehicle


def register_driver(session: Session, now: datetime, actor: User, data: dict[str, Any]) -> Driver:
    """Attach driver papers to a user of the carrier whose role is ``driver``."""
    org = _own_org(actor, "carrier")
    user = session.get(User, data["user_id"])
    errors: dict[str, list[str]] = {}
    if user is None or user.organization_id != org.id or user.role is not UserRole.DRIVER:
        errors["user_id"] = [_("Choose a user of your organization with the driver role.")]
    elif session.scalar(select(Driver.id).where(Driver.user_id == user.id)):
        errors["user_id"] = [_("This driver's papers are already recorded.")]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    driver = Driver(
        user_id=data["user_id"],
        organization_id=org.id,
        licence_number=data["licence_number"],
        qualification_number=data["qualification_number"],
        qualification_valid_to=data["qualification_valid_to"],
        created_at=now,
    )
    session.add(driver)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=actor.id,
        action="driver.registered",
        object_type="driver",
        object_id=driver.id,
        payload={
            "user_id": driver.user_id,
            "qualification_valid_to": driver.qualification_valid_to,
        },
    )
    return driver


def org_vehicles(session: Session, org_id: int, active_only: bool = False) -> list[Vehicle]:
    stmt = select(Vehicle).where(Vehicle.organization_id == org_id).order_by(Vehicle.plate)
    if active_only:
        stmt = stmt.where(Vehicle.active.is_(True))
    return list(session.scalars(stmt))


def org_drivers(session: Session, org_id: int, active_only: bool = False) -> list[Driver]:
    stmt = select(Driver).where(Driver.organization_id == org_id).order_by(Driver.id)
    if active_only:
        stmt = stmt.where(Driver.active.is_(True))
    return list(session.scalars(stmt))

"""Permit rules: licence coverage, validity, and managing permits, vehicles and drivers.

Functions take the session and ``now``; none commits. Rule violations raise ``Invalid``
with field messages; ``Forbidden`` when the user's organization or role may not do it;
``NotFound`` for another organization's object (its existence is not revealed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import Organization, OrgStatus, User, UserRole
from hazwaste.accounts.permissions import enterprise_user_ok
from hazwaste.audit import services as audit
from hazwaste.audit.models import AuditEntry
from hazwaste.catalog import services as catalog
from hazwaste.catalog.models import TreatmentMethod, WasteCategory, WasteCode
from hazwaste.errors import Forbidden, Invalid, NotFound
from hazwaste.permits.models import (
    MODES,
    CarrierPermit,
    Driver,
    Licence,
    LicenceMethod,
    LicenceScope,
    Vehicle,
)

#: Modes that treat waste (the others, collect and store, list no methods).
TREATING_MODES = frozenset({"utilise", "dispose"})
#: Which modes a method's kind (``treatment_methods.kind``) needs.
MODES_FOR_KIND = {"利用": frozenset({"utilise"}), "处置": frozenset({"dispose"})}

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


# -- validity ---------------------------------------------------------------------------------

#: Permits are dated in China: a licence valid until 31 December is valid all that day there.
CHINA_TZ = ZoneInfo("Asia/Shanghai")


def local_today(now: datetime) -> date:
    """The calendar date in China at the UTC moment ``now``."""
    return now.astimezone(CHINA_TZ).date()


class Validity(Protocol):
    valid_from: date
    valid_to: date
    revoked_at: datetime | None


def validity_state(permit: Validity, today: date, warning_days: int) -> str:
    """``revoked``, ``expired``, ``future`` (not yet valid), ``expiring`` (the last valid day
    is at most ``warning_days`` away) or ``valid``, judged on ``today``."""
    if permit.revoked_at is not None:
        return "revoked"
    if permit.valid_to < today:
        return "expired"
    if permit.valid_from > today:
        return "future"
    if permit.valid_to - today <= timedelta(days=warning_days):
        return "expiring"
    return "valid"


# -- coverage ---------------------------------------------------------------------------------


def _covering(receiver_id: int, waste_code: str, on_date: date) -> list[Any]:
    category = "HW" + waste_code[-2:]
    return [
        Licence.organization_id == receiver_id,
        Licence.revoked_at.is_(None),
        Licence.valid_from <= on_date,
        Licence.valid_to >= on_date,
        exists().where(
            LicenceScope.licence_id == Licence.id,
            or_(LicenceScope.waste_code == waste_code, LicenceScope.category == category),
        ),
    ]


def covers_clause(receiver_id: int, waste_code: str, on_date: date) -> Any:
    """SQL ``EXISTS``: the receiver holds a licence valid on ``on_date`` covering the code
    (to be combined with other checks in one statement)."""
    return exists().where(*_covering(receiver_id, waste_code, on_date))


def covering_licences(
    session: Session, receiver_id: int, waste_code: str, on_date: date
) -> list[Licence]:
    """The receiver's licences valid on ``on_date`` whose scope names the code or its category."""
    stmt = (
        select(Licence)
        .where(*_covering(receiver_id, waste_code, on_date))
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


@dataclass
class CoverageMatch:
    licence: Licence
    matched_by: str  # "code" (the code itself is in scope) or "category" (its HW class)


@dataclass
class Coverage:
    """The answer to "may this receiver take this waste on that day?"."""

    receiver: Organization
    waste_code: str
    on: date
    entry: WasteCode | None
    matches: list[CoverageMatch] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return bool(self.matches)

    @property
    def licence_numbers(self) -> list[str]:
        return [m.licence.number for m in self.matches]


def may_check_coverage(user: User) -> bool:
    """Any user of an approved enterprise, and any active regulator, may check coverage."""
    return enterprise_user_ok(user) or (user.is_regulator and user.active)


def approved_receivers(session: Session) -> list[Organization]:
    return list(
        session.scalars(
            select(Organization)
            .where(Organization.is_receiver.is_(True), Organization.status == OrgStatus.APPROVED)
            .order_by(Organization.name)
        )
    )


def check_coverage(session: Session, receiver_id: int, waste_code: str, on_date: date) -> Coverage:
    """Which of the receiver's licences cover ``waste_code`` on ``on_date``, and how.

    Raises ``Invalid`` (``receiver_id``) unless the receiver is an approved receiver, and
    (``waste_code``) if the code is not in the national catalogue in force on that date.
    """
    errors: dict[str, list[str]] = {}
    receiver = session.get(Organization, receiver_id)
    if receiver is None or not receiver.is_receiver or not receiver.is_approved:
        errors["receiver_id"] = [_("Choose an approved receiver.")]
    entry = catalog.get_waste_code(session, waste_code, on_date)
    if entry is None:
        errors["waste_code"] = [
            _(
                "This code is not in the national catalogue in force on %(date)s.",
                date=on_date.isoformat(),
            )
        ]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    assert receiver is not None
    matches = [
        CoverageMatch(lic, "code" if waste_code in lic.scope_codes else "category")
        for lic in covering_licences(session, receiver.id, waste_code, on_date)
    ]
    return Coverage(receiver, waste_code, on_date, entry, matches)


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


# -- reading ----------------------------------------------------------------------------------


def member_org(actor: User, role: str) -> Organization:
    """The approved organization holding ``role`` that ``actor`` works for (any user role:
    admins, members and drivers may look); ``Forbidden`` otherwise."""
    if not enterprise_user_ok(actor, (role,)):
        raise Forbidden()
    org = actor.organization
    assert org is not None
    return org


def org_licences(session: Session, org_id: int) -> list[Licence]:
    """The organization's licences, the longest-running first."""
    return list(
        session.scalars(
            select(Licence)
            .where(Licence.organization_id == org_id)
            .order_by(Licence.valid_to.desc(), Licence.id.desc())
        )
    )


def get_licence(session: Session, actor: User, licence_id: int) -> Licence:
    """One of the actor's receiver's licences; ``NotFound`` for any other."""
    org = member_org(actor, "receiver")
    licence = session.get(Licence, licence_id)
    if licence is None or licence.organization_id != org.id:
        raise NotFound()
    return licence


@dataclass
class HistoryItem:
    occurred_at: datetime
    action: str
    actor_name: str
    reason: str  # a revocation's reason, "" otherwise


def licence_history(session: Session, licence_id: int) -> list[HistoryItem]:
    """The licence's audit entries, oldest first, with the acting user's name."""
    rows = session.execute(
        select(AuditEntry, User.name)
        .outerjoin(User, User.id == AuditEntry.actor_user_id)
        .where(AuditEntry.object_type == "licence", AuditEntry.object_id == str(licence_id))
        .order_by(AuditEntry.id)
    )
    return [
        HistoryItem(
            e.occurred_at, e.action, name or "", str(json.loads(e.payload).get("reason") or "")
        )
        for e, name in rows
    ]


def org_carrier_permits(session: Session, org_id: int) -> list[CarrierPermit]:
    return list(
        session.scalars(
            select(CarrierPermit)
            .where(CarrierPermit.organization_id == org_id)
            .order_by(CarrierPermit.valid_to.desc(), CarrierPermit.id.desc())
        )
    )


def driver_candidates(session: Session, org_id: int) -> list[User]:
    """Active users of the organization with the driver role whose papers are not recorded."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.organization_id == org_id,
                User.role == UserRole.DRIVER,
                User.active.is_(True),
                ~exists().where(Driver.user_id == User.id),
            )
            .order_by(User.name, User.id)
        )
    )


# -- management -------------------------------------------------------------------------------


def admin_org(actor: User, role: str) -> Organization:
    """The approved organization holding ``role`` that ``actor`` administers; ``Forbidden``
    for anyone else (members and drivers may look, not manage)."""
    org = actor.organization
    if org is None or not org.is_approved or role not in org.roles:
        raise Forbidden()
    if actor.role is not UserRole.ADMIN:
        raise Forbidden(_("Only your organization's administrators can manage permits."))
    return org


def merge_errors(*parts: dict[str, Any]) -> dict[str, Any]:
    """Field errors from several checks in one mapping, each field's messages in order."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, messages in part.items():
            if isinstance(messages, list) and isinstance(merged.get(key), list):
                merged[key] = merged[key] + [m for m in messages if m not in merged[key]]
            else:
                merged.setdefault(key, messages)
    return merged


def _check_dates(data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    if "valid_from" in data and "valid_to" in data and data["valid_to"] < data["valid_from"]:
        errors.setdefault("valid_to", []).append(_("The end date is before the start date."))


def licence_errors(session: Session, actor: User, data: dict[str, Any]) -> dict[str, list[str]]:
    """The rules a new licence breaks, judged on the fields present in ``data``.

    ``data`` may be partial (the fields a form got right while others failed to parse), so
    a page can report every problem at once.
    """
    errors: dict[str, list[str]] = {}
    number = data.get("number")
    if number and session.scalar(select(Licence.id).where(Licence.number == number)):
        errors["number"] = [_("A licence with this number is already recorded.")]
    _check_dates(data, errors)
    categories, codes = data.get("scope_categories"), data.get("scope_codes")
    if categories:
        known = set(session.scalars(select(WasteCategory.code)))
        bad = [c for c in categories if c not in known]
        if bad:
            errors["scope_categories"] = [_("Unknown categories: %(list)s", list=", ".join(bad))]
    if codes:
        known = set(session.scalars(select(WasteCode.code).where(WasteCode.code.in_(codes))))
        bad = [c for c in codes if c not in known]
        if bad:
            errors["scope_codes"] = [_("Unknown waste codes: %(list)s", list=", ".join(bad))]
    if categories == [] and codes == []:
        errors["scope_codes"] = [_("Give at least one waste code or category.")]
    methods = data.get("methods")
    modes = set(data.get("modes") or MODES)
    if "modes" in data and not data["modes"]:
        errors["modes"] = [_("Choose at least one mode of operation.")]
    if methods is not None:
        kinds = {m.code: m.kind for m in session.scalars(select(TreatmentMethod))}
        bad = [m for m in methods if m not in kinds]
        if bad:
            errors["methods"] = [_("Unknown methods: %(list)s", list=", ".join(bad))]
        elif not methods and modes & TREATING_MODES:
            errors["methods"] = [_("Choose at least one method.")]
        else:
            # A method is something the licence's modes allow: 利用 (R) needs utilise, 处置
            # (D, Y) dispose, the others (C: co-processing, cleaning) either.
            outside = [
                m for m in methods if not MODES_FOR_KIND.get(kinds[m], TREATING_MODES) & modes
            ]
            if outside:
                errors["methods"] = [
                    _(
                        "Not within the licence's modes of operation: %(list)s.",
                        list=", ".join(outside),
                    )
                ]
    return errors


def create_licence(session: Session, now: datetime, actor: User, data: dict[str, Any]) -> Licence:
    """Record a receiver's licence; ``data`` comes from ``LicenceSchema``.

    ``Forbidden`` unless the actor administers an approved receiver; ``Invalid`` with the
    fields of :func:`licence_errors` (duplicate number, dates, unknown scope or methods).
    """
    org = admin_org(actor, "receiver")
    errors = licence_errors(session, actor, data)
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    scopes = [LicenceScope(category=c) for c in dict.fromkeys(data["scope_categories"])] + [
        LicenceScope(waste_code=c) for c in dict.fromkeys(data["scope_codes"])
    ]
    licence = Licence(
        organization_id=org.id,
        number=data["number"],
        valid_from=data["valid_from"],
        valid_to=data["valid_to"],
        annual_capacity_kg=data["annual_capacity_kg"],
        modes=",".join(m for m in MODES if m in set(data.get("modes") or MODES)),
        note=data.get("note") or "",
        created_at=now,
        scopes=scopes,
        # In the order the relationship loads them, so a fresh licence reads like a stored one.
        methods=[LicenceMethod(method_code=m) for m in sorted(set(data["methods"]))],
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


def revoke_licence(
    session: Session, now: datetime, actor: User, licence_id: int, reason: str = ""
) -> Licence:
    """Revoke one of the receiver's licences from ``now`` on: it covers nothing any more.

    Revoking a revoked licence changes nothing (a repeated click, a retried request).
    ``Forbidden`` unless the actor administers the receiver; ``NotFound`` for another
    organization's licence.
    """
    org = admin_org(actor, "receiver")
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
            payload={"number": licence.number, "reason": reason},
        )
    return licence


def carrier_permit_errors(
    session: Session, actor: User, data: dict[str, Any]
) -> dict[str, list[str]]:
    """The rules a new carrier permit breaks (duplicate number, dates); ``data`` may be
    partial."""
    errors: dict[str, list[str]] = {}
    number = data.get("number")
    if number and session.scalar(select(CarrierPermit.id).where(CarrierPermit.number == number)):
        errors["number"] = [_("A permit with this number is already recorded.")]
    _check_dates(data, errors)
    return errors


def create_carrier_permit(
    session: Session, now: datetime, actor: User, data: dict[str, Any]
) -> CarrierPermit:
    """Record a carrier's road transport permit; ``Forbidden`` unless the actor administers
    an approved carrier, ``Invalid`` with the fields of :func:`carrier_permit_errors`."""
    org = admin_org(actor, "carrier")
    errors = carrier_permit_errors(session, actor, data)
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


def vehicle_errors(session: Session, actor: User, data: dict[str, Any]) -> dict[str, list[str]]:
    """The rules a new vehicle breaks (plate format, plate taken); ``data`` may be partial."""
    errors: dict[str, list[str]] = {}
    if "plate" not in data:
        return errors
    plate = normalise_plate(data["plate"])
    if not is_valid_plate(plate):
        errors["plate"] = [_("Not a valid Chinese licence plate (e.g. 蒙K12345 or 蒙KD12345).")]
    elif session.scalar(select(Vehicle.id).where(Vehicle.plate == plate)):
        errors["plate"] = [_("A vehicle with this plate is already registered.")]
    return errors


def create_vehicle(session: Session, now: datetime, actor: User, data: dict[str, Any]) -> Vehicle:
    """Register a carrier's vehicle under its normalised plate (upper case, no separators).

    ``Forbidden`` unless the actor administers an approved carrier; ``Invalid`` with the
    fields of :func:`vehicle_errors`.
    """
    org = admin_org(actor, "carrier")
    plate = normalise_plate(data["plate"])
    errors = vehicle_errors(session, actor, data)
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
    """Take a vehicle out of service (it can no longer be chosen for a manifest) or back in.

    Setting the state it already has changes nothing and writes no audit entry.
    """
    org = admin_org(actor, "carrier")
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.organization_id != org.id:
        raise NotFound()
    if vehicle.active is active:
        return vehicle
    vehicle.active = active
    audit.record(
        session,
        now,
        actor_user_id=actor.id,
        action="vehicle.activated" if active else "vehicle.deactivated",
        object_type="vehicle",
        object_id=vehicle.id,
        payload={"plate": vehicle.plate},
    )
    return vehicle


def driver_errors(
    session: Session, actor: User, data: dict[str, Any], today: date | None = None
) -> dict[str, list[str]]:
    """The rules new driver papers break: the user must be a driver of the actor's
    organization without papers yet; the certificate must not have expired by ``today``.
    ``data`` may be partial."""
    errors: dict[str, list[str]] = {}
    if "user_id" in data:
        user = session.get(User, data["user_id"])
        if (
            user is None
            or user.organization_id != actor.organization_id
            or user.role is not UserRole.DRIVER
        ):
            errors["user_id"] = [_("Choose a user of your organization with the driver role.")]
        elif session.scalar(select(Driver.id).where(Driver.user_id == user.id)):
            errors["user_id"] = [_("This driver's papers are already recorded.")]
    valid_to = data.get("qualification_valid_to")
    if today is not None and valid_to is not None and valid_to < today:
        errors["qualification_valid_to"] = [_("This certificate has already expired.")]
    return errors


def register_driver(session: Session, now: datetime, actor: User, data: dict[str, Any]) -> Driver:
    """Attach driver papers to a user of the carrier whose role is ``driver``.

    ``Forbidden`` unless the actor administers an approved carrier; ``Invalid`` with the
    fields of :func:`driver_errors`.
    """
    org = admin_org(actor, "carrier")
    errors = driver_errors(session, actor, data, local_today(now))
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
